//! Scopes: space-delimited, case-sensitive sets of NQCHAR tokens (RFC 6749 §3.3).

use std::collections::BTreeSet;
use std::fmt;

use crate::oauth::OAuthError;

/// A set of scope tokens, kept sorted so the same set always prints the same.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope(BTreeSet<String>);

impl Scope {
    /// Parses a `scope` parameter; a token outside NQCHAR is `invalid_scope`.
    pub fn parse(text: &str) -> Result<Self, OAuthError> {
        let mut set = BTreeSet::new();
        for token in text.split(' ').filter(|t| !t.is_empty()) {
            // scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
            if !token
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
            {
                return Err(OAuthError::InvalidScope(
                    "scope contains a character outside NQCHAR".into(),
                ));
            }
            set.insert(token.to_owned());
        }
        Ok(Self(set))
    }

    /// A scope from stored words (already valid).
    pub fn from_words<S: AsRef<str>>(words: &[S]) -> Self {
        Self(words.iter().map(|w| w.as_ref().to_owned()).collect())
    }

    /// Adds a token known to be valid.
    pub fn insert(&mut self, token: &str) {
        self.0.insert(token.to_owned());
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_subset(&self, of: &Scope) -> bool {
        self.0.is_subset(&of.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// §3.3: the requested scope, which must lie within `allowed`; when none is requested,
    /// the pre-defined default is everything `allowed` holds.
    pub fn resolve(requested: Option<Scope>, allowed: &Scope) -> Result<Scope, OAuthError> {
        match requested {
            None => Ok(allowed.clone()),
            Some(scope) if scope.is_subset(allowed) => Ok(scope),
            Some(scope) => {
                let extra: Vec<&str> = scope.iter().filter(|t| !allowed.contains(t)).collect();
                Err(OAuthError::InvalidScope(
                    format!("scope not granted to this client: {}", extra.join(" ")).into(),
                ))
            }
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for token in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(token)?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_sorted() {
        assert_eq!(
            Scope::parse("profile openid  email").unwrap().to_string(),
            "email openid profile"
        );
    }

    #[test]
    fn quote_and_backslash_are_not_nqchar() {
        assert_eq!(Scope::parse("a\"b").unwrap_err().code(), "invalid_scope");
        assert_eq!(Scope::parse("a\\b").unwrap_err().code(), "invalid_scope");
    }

    #[test]
    fn requested_scope_must_be_a_subset() {
        let allowed = Scope::parse("openid email").unwrap();
        assert!(Scope::resolve(Some(Scope::parse("email").unwrap()), &allowed).is_ok());
        assert_eq!(Scope::resolve(None, &allowed).unwrap(), allowed);
        let err = Scope::resolve(Some(Scope::parse("admin").unwrap()), &allowed).unwrap_err();
        assert_eq!(err.code(), "invalid_scope");
    }
}
