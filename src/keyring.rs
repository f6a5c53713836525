//! The signing keys every replica agrees on: their dates in the database, private keys as PEM
//! files in `keys/`, a snapshot each replica reloads every few seconds, and rotation by hand or
//! on a schedule.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use arc_swap::ArcSwap;
use jsonwebtoken::jwk::Jwk;

use crate::clock::{UnixTime, seconds};
use crate::config::Config;
use crate::crypto::keys::{self, Alg, PublicKey, SigningKey};
use crate::crypto::keyset::{KeyEntry, KeySet, NoSigningKey};
use crate::crypto::lifecycle::{KeyDates, KeyState};
use crate::store::Db;
use crate::store::signing_keys::{self, KeyRow};

/// How often each replica rereads the keys' dates: a key activated or retired by hand takes
/// effect everywhere within this.
pub const RELOAD_EVERY: Duration = Duration::from_secs(5);
/// Added to a token's lifetime before its key is unpublished: clocks that disagree a little, and
/// a replica that has not reloaded yet after a forced activation.
const RETIRE_SLACK: i64 = 60;
/// A replica that claimed an automatic rotation and died before recording the key is replaced
/// after this.
const CLAIM_EXPIRES: i64 = 60;

/// When keys start and stop signing.
#[derive(Clone, Debug)]
pub struct KeyPolicy {
    /// How long a new key is published before it signs.
    pub publish_ahead: i64,
    /// How long a key stays published after its successor starts signing.
    pub retire_after: i64,
    /// Rotate automatically this long after the newest key activated.
    pub rotation: Option<i64>,
    /// What access tokens are signed with (ID tokens are always RS256).
    pub access_alg: Alg,
}

impl KeyPolicy {
    pub fn from_config(config: &Config) -> Self {
        Self {
            publish_ahead: seconds(config.publish_ahead()),
            // ID tokens live as long as access tokens; no other token is signed.
            retire_after: seconds(config.access_token_ttl) + RETIRE_SLACK,
            rotation: config.key_rotation.map(seconds),
            access_alg: config.access_token_alg,
        }
    }

    /// The algorithms that sign: RS256 for ID tokens, and the access-token algorithm.
    pub fn algs(&self) -> Vec<Alg> {
        let mut algs = vec![Alg::RS256];
        if self.access_alg != Alg::RS256 {
            algs.push(self.access_alg);
        }
        algs
    }
}

/// What `retire` did.
#[derive(Debug)]
pub struct Retired {
    /// The key that signs for the retired key's algorithm now, if any.
    pub signing: Option<String>,
    /// A key generated and activated at once because nothing else could sign.
    pub replacement: Option<String>,
}

/// A key as `keys list` shows it.
#[derive(Debug, Clone)]
pub struct KeyStatus {
    pub dates: KeyDates,
    pub state: KeyState,
    /// When it stops being published, once known.
    pub gone_at: Option<UnixTime>,
    /// Whether this replica holds its private key.
    pub private_key: bool,
}

/// The shared key set, reloaded in place.
#[derive(Clone)]
pub struct Keyring {
    current: Arc<ArcSwap<KeySet>>,
    /// The rows the current set was built from, and whether every private key was found.
    loaded: Arc<Mutex<(Vec<KeyRow>, bool)>>,
    db: Db,
    dir: PathBuf,
    policy: KeyPolicy,
}

impl Keyring {
    /// Records the keys of a first start (or of a folder from before key dates were kept),
    /// generates a key for any algorithm in use that has none, and loads the set.
    pub async fn open(db: Db, dir: &Path, policy: KeyPolicy, now: UnixTime) -> anyhow::Result<Self> {
        bootstrap(&db, dir, &policy, now).await?;
        let (set, rows, complete) = load(&db, dir, &policy).await?;
        Ok(Self {
            current: Arc::new(ArcSwap::from_pointee(set)),
            loaded: Arc::new(Mutex::new((rows, complete))),
            db,
            dir: dir.to_owned(),
            policy,
        })
    }

    /// The key set as last loaded.
    pub fn current(&self) -> Arc<KeySet> {
        self.current.load_full()
    }

    /// The rules this ring follows.
    pub fn policy(&self) -> &KeyPolicy {
        &self.policy
    }

    /// The key that signs access tokens at `now`: the configured algorithm's active key, or the
    /// RS256 one while a newly configured algorithm's first key is still being published.
    pub fn access_signer<'a>(
        &self,
        set: &'a KeySet,
        now: UnixTime,
    ) -> Result<&'a Arc<SigningKey>, NoSigningKey> {
        set.signing(self.policy.access_alg, now)
            .or_else(|_| set.signing(Alg::RS256, now))
    }

    /// Rereads the dates; rebuilds the set when they changed or a private key was missing.
    pub async fn reload(&self) -> anyhow::Result<()> {
        let rows = signing_keys::list(&self.db).await?;
        {
            let loaded = self
                .loaded
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if loaded.0 == rows && loaded.1 {
                return Ok(());
            }
        }
        let (set, rows, complete) = build(rows, &self.dir, &self.policy)?;
        self.current.store(Arc::new(set));
        *self
            .loaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = (rows, complete);
        Ok(())
    }

    /// Generates a key for `alg` that signs after the publish-ahead window (or at once, for a
    /// key that must replace a compromised one), records it, and reloads.
    pub async fn rotate(&self, alg: Alg, now: UnixTime, at_once: bool) -> anyhow::Result<KeyDates> {
        let activates_at = if at_once {
            self.next_turn(alg, None, now)
        } else {
            now + self.policy.publish_ahead
        };
        let dates = add_key(&self.db, &self.dir, alg, now, activates_at).await?;
        self.reload().await?;
        Ok(dates)
    }

    /// Makes `kid` sign from `now` (an emergency: caches that have not fetched it yet reject its
    /// tokens until they refetch). Only a published key can be activated.
    pub async fn activate(&self, kid: &str, now: UnixTime) -> anyhow::Result<()> {
        let set = self.current();
        let entry = set.get(kid).with_context(|| format!("no key {kid}"))?;
        if !set.state(&entry.dates, now).published() {
            bail!("key {kid} is gone: only a pending or retiring key can be activated");
        }
        let at = self.next_turn(entry.dates.alg, Some(kid), now);
        if !signing_keys::activate(&self.db, kid, at).await? {
            bail!("key {kid} is retired");
        }
        self.reload().await
    }

    /// The earliest time from `now` at which a key of `alg` comes after every key of `alg` that
    /// has activated (but `kid`, and retired keys): keys take turns in activation order, and a second activation
    /// within the same second must still come last.
    fn next_turn(&self, alg: Alg, kid: Option<&str>, now: UnixTime) -> UnixTime {
        let set = self.current();
        let last = set
            .keys()
            .filter(|e| e.dates.alg == alg && e.dates.retired_at.is_none())
            .filter(|e| Some(e.dates.kid.as_str()) != kid)
            .map(|e| e.dates.activates_at)
            .filter(|at| *at <= now)
            .max();
        last.map_or(now, |last| now.max(last + 1))
    }

    /// Unpublishes `kid` at once (a compromised key): every token it signed stops verifying. When
    /// nothing else can sign for its algorithm, a new key is generated and signs at once.
    pub async fn retire(&self, kid: &str, now: UnixTime) -> anyhow::Result<Retired> {
        let alg = self
            .current()
            .get(kid)
            .with_context(|| format!("no key {kid}"))?
            .dates
            .alg;
        if !signing_keys::retire(&self.db, kid, now).await? {
            bail!("key {kid} is retired already");
        }
        self.reload().await?;
        let mut replacement = None;
        if self.current().signing(alg, now).is_err() && self.policy.algs().contains(&alg) {
            replacement = Some(self.rotate(alg, now, true).await?.kid);
        }
        let signing = self.current().signing(alg, now).ok().map(|k| k.kid().to_owned());
        Ok(Retired { signing, replacement })
    }

    /// With automatic rotation on, adds a pending key for every algorithm in use whose newest
    /// key activated a rotation period ago. One replica does it: the one whose claim in the
    /// database succeeds.
    pub async fn rotate_if_due(&self, now: UnixTime) -> anyhow::Result<Vec<KeyDates>> {
        let Some(period) = self.policy.rotation else {
            return Ok(Vec::new());
        };
        let set = self.current();
        let mut added = Vec::new();
        for alg in self.policy.algs() {
            let newest = set
                .keys()
                .filter(|e| e.dates.alg == alg && e.dates.retired_at.is_none())
                .map(|e| e.dates.activates_at)
                .max();
            if newest.is_some_and(|at| at + period > now) {
                continue;
            }
            if signing_keys::claim_rotation(&self.db, alg.as_str(), now, now - CLAIM_EXPIRES).await? {
                let dates = self.rotate(alg, now, false).await?;
                tracing::info!(target: "keyward::audit", kid = %dates.kid, %alg, activates_at = dates.activates_at, "signing key rotated automatically");
                added.push(dates);
            }
        }
        Ok(added)
    }

    /// Each key and its state at `now`, for listing and metrics.
    pub fn states(&self, now: UnixTime) -> Vec<KeyStatus> {
        let set = self.current();
        set.keys()
            .map(|e| KeyStatus {
                dates: e.dates.clone(),
                state: set.state(&e.dates, now),
                gone_at: set.gone_at(&e.dates),
                private_key: e.private.is_some(),
            })
            .collect()
    }
}

/// Under the folder's lock, so that replicas starting together agree: records the PEM files of a
/// folder no row describes yet (the newest signs, the others retire normally), and generates a
/// key for each algorithm in use that has none. On a first start they sign at once; otherwise a
/// new algorithm's key is published ahead like any rotation.
async fn bootstrap(db: &Db, dir: &Path, policy: &KeyPolicy, now: UnixTime) -> anyhow::Result<()> {
    let rows = signing_keys::list(db).await?;
    let has_key = |rows: &[KeyRow], alg: Alg| rows.iter().any(|r| r.alg == alg.as_str());
    if !rows.is_empty() && policy.algs().into_iter().all(|alg| has_key(&rows, alg)) {
        return Ok(());
    }
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(dir.join(".generate.lock"))
        .with_context(|| format!("opening the key lock in {}", dir.display()))?;
    lock.lock()
        .with_context(|| format!("locking {}", dir.display()))?;
    let mut rows = signing_keys::list(db).await?;
    let fresh = if rows.is_empty() {
        let mut found = keys::read_dir(dir)?;
        found.sort_by_key(|k| k.modified());
        let count = found.len() as i64;
        for (i, key) in found.iter().enumerate() {
            // Kept in file order, one second apart, the newest signing now.
            let at = now - (count - 1 - i as i64);
            signing_keys::insert(db, &row_for(key, at, at)?).await?;
            tracing::info!(kid = key.kid(), alg = %key.alg(), "recorded a signing key found in the folder");
        }
        rows = signing_keys::list(db).await?;
        found.is_empty()
    } else {
        false
    };
    for alg in policy.algs() {
        if !has_key(&rows, alg) {
            let activates_at = if fresh { now } else { now + policy.publish_ahead };
            add_key(db, dir, alg, now, activates_at).await?;
        }
    }
    lock.unlock()?;
    Ok(())
}

/// Writes a new key's PEM file, then its row: a replica that sees the row finds the file.
async fn add_key(
    db: &Db,
    dir: &Path,
    alg: Alg,
    now: UnixTime,
    activates_at: UnixTime,
) -> anyhow::Result<KeyDates> {
    let key = keys::generate(dir, alg)?;
    let row = row_for(&key, now, activates_at)?;
    signing_keys::insert(db, &row).await?;
    dates_of(&row)
}

fn row_for(key: &SigningKey, created_at: UnixTime, activates_at: UnixTime) -> anyhow::Result<KeyRow> {
    Ok(KeyRow {
        kid: key.kid().to_owned(),
        alg: key.alg().as_str().to_owned(),
        public_jwk: serde_json::to_string(key.jwk())?,
        created_at,
        activates_at,
        retired_at: None,
    })
}

fn dates_of(row: &KeyRow) -> anyhow::Result<KeyDates> {
    Ok(KeyDates {
        kid: row.kid.clone(),
        alg: row.alg.parse()?,
        created_at: row.created_at,
        activates_at: row.activates_at,
        retired_at: row.retired_at,
    })
}

async fn load(db: &Db, dir: &Path, policy: &KeyPolicy) -> anyhow::Result<(KeySet, Vec<KeyRow>, bool)> {
    build(signing_keys::list(db).await?, dir, policy)
}

/// The set the rows describe, with every private key the folder holds. Returns whether every
/// unretired key's private key was found (if not, the next reload looks again).
fn build(rows: Vec<KeyRow>, dir: &Path, policy: &KeyPolicy) -> anyhow::Result<(KeySet, Vec<KeyRow>, bool)> {
    let mut private: HashMap<String, SigningKey> = keys::read_dir(dir)?
        .into_iter()
        .map(|k| (k.kid().to_owned(), k))
        .collect();
    let mut complete = true;
    let mut entries = Vec::with_capacity(rows.len());
    for row in &rows {
        let entry = (|| -> anyhow::Result<KeyEntry> {
            let dates = dates_of(row)?;
            let jwk: Jwk = serde_json::from_str(&row.public_jwk)?;
            let public = PublicKey::from_jwk(dates.alg, jwk)?;
            let key = private.remove(&row.kid).map(Arc::new);
            Ok(KeyEntry {
                dates,
                public,
                private: key,
            })
        })();
        match entry {
            Ok(entry) => {
                if entry.private.is_none() && entry.dates.retired_at.is_none() {
                    complete = false;
                    tracing::debug!(kid = %row.kid, "no private key file for this key (yet)");
                }
                entries.push(entry);
            }
            Err(e) => {
                tracing::warn!(kid = %row.kid, error = %format!("{e:#}"), "skipping an unreadable signing-key row")
            }
        }
    }
    Ok((KeySet::new(entries, policy.retire_after), rows, complete))
}
