//! Proof Key for Code Exchange (RFC 7636), `S256` only: `plain` would send the verifier itself
//! through the browser, which is what PKCE exists to avoid (RFC 9700 §2.1.1).

use aws_lc_rs::digest::{SHA256, digest};
use subtle::ConstantTimeEq;

use crate::crypto::token::b64url;

/// The one method served.
pub const S256: &str = "S256";

/// Checks the `code_challenge` and `code_challenge_method` of an authorization request (§4.3);
/// the message says what is wrong.
pub fn check_challenge(challenge: &str, method: Option<&str>) -> Result<(), &'static str> {
    // §4.3: without a method the default is `plain`, which is not served.
    if method != Some(S256) {
        return Err("code_challenge_method must be S256");
    }
    // §4.2: BASE64URL(SHA256(verifier)) is 43 characters of the base64url alphabet.
    if challenge.len() != 43
        || !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err("code_challenge must be the base64url SHA-256 of the code_verifier");
    }
    Ok(())
}

/// Whether `verifier` (§4.1: 43 to 128 unreserved characters) hashes to `challenge` (§4.6).
pub fn verify(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let computed = b64url(digest(&SHA256, verifier.as_bytes()).as_ref());
    well_formed && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_7636_appendix_b_example_verifies() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(check_challenge(challenge, Some("S256")).is_ok());
        assert!(verify(verifier, challenge));
        assert!(!verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl", challenge));
    }

    #[test]
    fn plain_and_a_missing_method_are_refused() {
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(check_challenge(challenge, None).is_err());
        assert!(check_challenge(challenge, Some("plain")).is_err());
        assert!(check_challenge("short", Some("S256")).is_err());
    }

    #[test]
    fn a_verifier_outside_the_grammar_never_verifies() {
        // §4.1: 43 to 128 characters; a short one is refused even if it hashes right.
        let short = "abc";
        let challenge = b64url(digest(&SHA256, short.as_bytes()).as_ref());
        assert!(!verify(short, &challenge));
    }
}
