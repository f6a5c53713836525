//! JWTs whose signature was already verified, by their exact text, with their payload. A
//! resource server introspects the same token many times; the RS256 verification is done once
//! and the payload kept, with the kid that signed it (a key retired by hand still ends its
//! tokens). Only the signature is remembered: expiry, revocation, the session and the client are
//! checked on every request as before.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// More tokens than this and the cache starts over: a few MB at most.
const MAX_ENTRIES: usize = 4096;

/// A token's JSON payload.
type Payload = Arc<[u8]>;
/// The kid of the key that signed it.
type Kid = Arc<str>;
/// Token text to what its verification found. Hashed with foldhash's seeded quality hasher:
/// only verified tokens are keys, so no caller can choose colliding ones.
type Entries = HashMap<Box<str>, (Kid, Payload), foldhash::quality::RandomState>;

/// Verified tokens and their payloads.
#[derive(Clone, Default)]
pub struct VerifiedTokens {
    entries: Arc<Mutex<Entries>>,
}

impl VerifiedTokens {
    /// The signing kid and payload of `token`, if its signature was verified before.
    pub fn get(&self, token: &str) -> Option<(Kid, Payload)> {
        self.entries.lock().ok()?.get(token).cloned()
    }

    /// Remembers a token whose signature verified, with its payload.
    pub fn insert(&self, token: &str, kid: Kid, payload: Payload) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(token.into(), (kid, payload));
        }
    }
}
