//! One replica's view of the signing keys: their dates, their public JWKs and, where this replica
//! holds the PEM file, the private key. Which key signs and which are published follows from the
//! dates and the time asked about (see `lifecycle`).

use std::collections::HashMap;
use std::sync::Arc;

use jsonwebtoken::jwk::JwkSet;

use crate::clock::UnixTime;
use crate::crypto::keys::{Alg, PublicKey, SigningKey};
use crate::crypto::lifecycle::{KeyDates, KeyState, Timeline};

/// No key can sign for an algorithm now: every token request fails with 503 until one can.
#[derive(Debug, thiserror::Error)]
#[error("no active {0} signing key with its private key on this replica")]
pub struct NoSigningKey(pub Alg);

/// A key as one replica sees it.
pub struct KeyEntry {
    pub dates: KeyDates,
    pub public: PublicKey,
    /// The private key, when this replica has its file.
    pub private: Option<Arc<SigningKey>>,
}

/// Every known key at one reload.
pub struct KeySet {
    /// Ordered by activation.
    dates: Vec<KeyDates>,
    entries: HashMap<String, KeyEntry>,
    retire_after: i64,
}

impl KeySet {
    /// From every key's entry; `retire_after` is how long a key stays published after its
    /// successor activates.
    pub fn new(entries: Vec<KeyEntry>, retire_after: i64) -> Self {
        let mut dates: Vec<KeyDates> = entries.iter().map(|e| e.dates.clone()).collect();
        dates.sort_by(|a, b| (a.activates_at, &a.kid).cmp(&(b.activates_at, &b.kid)));
        let entries = entries.into_iter().map(|e| (e.dates.kid.clone(), e)).collect();
        Self {
            dates,
            entries,
            retire_after,
        }
    }

    /// One key, active since the epoch and forever: for tools and tests that sign outside a
    /// server.
    pub fn standalone(key: SigningKey) -> anyhow::Result<Self> {
        let public = PublicKey::from_jwk(key.alg(), key.jwk().clone())?;
        let dates = KeyDates {
            kid: key.kid().to_owned(),
            alg: key.alg(),
            created_at: 0,
            activates_at: 0,
            retired_at: None,
        };
        Ok(Self::new(
            vec![KeyEntry {
                dates,
                public,
                private: Some(Arc::new(key)),
            }],
            i64::MAX / 4,
        ))
    }

    fn timeline(&self) -> Timeline<'_> {
        Timeline::new(&self.dates, self.retire_after)
    }

    /// The key that signs for `alg` at `now`.
    pub fn signing(&self, alg: Alg, now: UnixTime) -> Result<&Arc<SigningKey>, NoSigningKey> {
        self.timeline()
            .active(alg, now)
            .and_then(|dates| self.entries.get(&dates.kid)?.private.as_ref())
            .ok_or(NoSigningKey(alg))
    }

    /// The key `kid` if it is published at `now`: its signatures verify.
    pub fn published(&self, kid: &str, now: UnixTime) -> Option<&PublicKey> {
        let entry = self.entries.get(kid)?;
        self.timeline()
            .published(&entry.dates, now)
            .then_some(&entry.public)
    }

    /// The JWKS document at `now`: every pending, active and retiring key, public members only.
    pub fn jwks(&self, now: UnixTime) -> JwkSet {
        JwkSet {
            keys: self
                .dates
                .iter()
                .filter(|d| self.timeline().published(d, now))
                .filter_map(|d| self.entries.get(&d.kid))
                .map(|e| e.public.jwk.clone())
                .collect(),
        }
    }

    /// `key`'s state at `now`.
    pub fn state(&self, key: &KeyDates, now: UnixTime) -> KeyState {
        self.timeline().state(key, now)
    }

    /// When `key` stops being published, once known.
    pub fn gone_at(&self, key: &KeyDates) -> Option<UnixTime> {
        self.timeline().gone_at(key)
    }

    /// Every key, in the order they activate.
    pub fn keys(&self) -> impl Iterator<Item = &KeyEntry> {
        self.dates.iter().filter_map(|d| self.entries.get(&d.kid))
    }

    /// The key `kid`, whatever its state.
    pub fn get(&self, kid: &str) -> Option<&KeyEntry> {
        self.entries.get(kid)
    }
}
