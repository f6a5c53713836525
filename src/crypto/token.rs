//! Opaque bearer values (refresh tokens, client secrets) and the SHA-256 hashes we store instead.

use std::fmt;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

/// A secret value as handed to its holder once; never stored, never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainToken(String);

impl PlainToken {
    /// 256 bits from the OS CSPRNG, base64url without padding (43 characters).
    pub fn generate() -> Self {
        Self(random_b64url::<32>())
    }

    /// Wraps a value presented by a client.
    pub fn presented(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one response or printout that hands it over.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The hash under which the value is stored.
    pub fn hashed(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl fmt::Debug for PlainToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainToken(<redacted>)")
    }
}

/// SHA-256 of a token, base64url: what the stores hold. A fast hash suffices because every
/// hashed value carries at least 256 bits of entropy, so there is nothing to brute-force.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    /// Hashes any presented string.
    pub fn of(value: &str) -> Self {
        Self(URL_SAFE_NO_PAD.encode(digest(&SHA256, value.as_bytes())))
    }

    /// Wraps a hash read back from storage.
    pub fn from_stored(hash: String) -> Self {
        Self(hash)
    }

    /// The stored form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Compares in constant time, so a timing probe learns nothing about a stored hash.
    pub fn matches(&self, other: &TokenHash) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A hash is not a credential, but a prefix is all anyone needs to correlate logs.
        write!(f, "TokenHash({}…)", self.0.get(..8).unwrap_or_default())
    }
}

/// `N` bytes from the OS CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The OS generator failing is not recoverable: nothing secure can be issued without it.
    #[allow(clippy::expect_used)]
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the OS random number generator failed");
    bytes
}

/// `N` bytes from the OS CSPRNG, base64url without padding.
pub fn random_b64url<const N: usize>() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<N>())
}

/// base64url without padding, as JOSE uses everywhere.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_carry_256_bits_and_differ() {
        let a = PlainToken::generate();
        let b = PlainToken::generate();
        assert_eq!(a.expose().len(), 43);
        assert_ne!(a, b);
    }

    #[test]
    fn debug_prints_no_token() {
        let token = PlainToken::presented("s3cret-value");
        assert!(!format!("{token:?}").contains("s3cret"));
        assert!(!format!("{:?}", token.hashed()).contains(token.hashed().as_str()));
    }

    #[test]
    fn hash_matches_only_its_own_value() {
        let token = PlainToken::generate();
        assert!(token.hashed().matches(&TokenHash::of(token.expose())));
        assert!(!token.hashed().matches(&TokenHash::of("other")));
    }
}
