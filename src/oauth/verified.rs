//! Access tokens whose signature was already verified, by their exact text. A resource server
//! introspects the same token many times; the RS256 verification is done once and the claims
//! kept. Only the signature is remembered: expiry, revocation, the session and the client are
//! checked on every request as before.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::oauth::tokens::AccessClaims;

/// More tokens than this and the cache starts over: a few MB at most.
const MAX_ENTRIES: usize = 4096;

#[derive(Clone, Default)]
pub struct VerifiedTokens {
    entries: Arc<Mutex<HashMap<Box<str>, Arc<AccessClaims>>>>,
}

impl VerifiedTokens {
    /// The claims of `token`, if it was verified before.
    pub fn get(&self, token: &str) -> Option<Arc<AccessClaims>> {
        self.entries.lock().ok()?.get(token).cloned()
    }

    /// Remembers a token whose signature verified.
    pub fn insert(&self, token: &str, claims: Arc<AccessClaims>) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(token.into(), claims);
        }
    }
}
