//! NIST SP 800-63B §5.1.1.2 for passwords users choose: at least 8 and at most 128 characters,
//! no composition rules, and never a commonly used password or the account's own email.

use crate::accounts::ApiError;

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 128;

/// The 8,449 passwords of 8 characters or more among the 20,000 most common ones (Royce
/// Williams' list, as shipped by Django's CommonPasswordValidator), lowercased and sorted.
static COMMON: &str = include_str!("../../assets/common-passwords.txt");

/// Refuses a password the policy does not allow, saying why.
pub fn check(password: &str, email: &str) -> Result<(), ApiError> {
    // §5.1.1.2: every Unicode code point counts as one character.
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(ApiError::invalid(format!(
            "the password must have at least {MIN_CHARS} characters"
        )));
    }
    if chars > MAX_CHARS {
        return Err(ApiError::invalid(format!(
            "the password must have at most {MAX_CHARS} characters"
        )));
    }
    let lowered = password.to_lowercase();
    if is_common(&lowered) {
        return Err(ApiError::invalid(
            "this password is too common; choose one that is harder to guess",
        ));
    }
    let email = email.trim().to_lowercase();
    let local = email.split('@').next().unwrap_or_default();
    if lowered == email || lowered == local {
        return Err(ApiError::invalid("the password must not be the email address"));
    }
    Ok(())
}

fn is_common(lowered: &str) -> bool {
    COMMON.lines().any(|line| line == lowered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_counts_characters_not_bytes() {
        assert!(check("short", "a@example.com").is_err());
        // Eight characters, sixteen bytes.
        assert!(check("ääääääää", "a@example.com").is_ok());
        assert!(check(&"x".repeat(MAX_CHARS), "a@example.com").is_ok());
        assert!(check(&"x".repeat(MAX_CHARS + 1), "a@example.com").is_err());
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        assert!(is_common("password"));
        assert!(check("Password", "a@example.com").is_err());
        assert!(check("qwertyuiop", "a@example.com").is_err());
        assert!(check("correct horse battery staple", "a@example.com").is_ok());
    }

    #[test]
    fn the_list_is_sorted_lowercase_and_long_enough_to_matter() {
        let lines: Vec<&str> = COMMON.lines().collect();
        assert!(lines.len() > 8000);
        assert!(lines.windows(2).all(|w| w[0] < w[1]));
        assert!(
            lines
                .iter()
                .all(|l| l.chars().count() >= MIN_CHARS && *l == l.to_lowercase())
        );
    }

    #[test]
    fn no_composition_rules() {
        // §5.1.1.2: SHOULD NOT impose other composition rules.
        assert!(check("all lowercase words here", "a@example.com").is_ok());
    }

    #[test]
    fn the_email_is_not_a_password() {
        assert!(check("someone.long@example.com", "Someone.Long@example.com").is_err());
        assert!(check("someone.long", "someone.long@example.com").is_err());
    }
}
