//! Rows read on every request, cached in the process for a couple of seconds: every token
//! request authenticates a client, every token check asks whether its client still exists and
//! who its user is now, and a database round trip for each (on SQLite, a hop to sqlx's worker
//! thread) costs more than the rest of the request but the signature. Changes made through this
//! process take effect at once (the code that makes them forgets the entry); changes made
//! elsewhere (another replica, the CLI) within the TTL (`KEYWARD_CACHE_TTL`, 2 s; 0 turns
//! caching off). Sessions are never cached: a disabled or deleted account's sessions end in the
//! family store, which is asked every time.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use crate::clock::UnixTime;

/// More entries than this and the cache starts over (keys come from requests).
const MAX_ENTRIES: usize = 10_000;

/// Each value with when it was read.
type Entries<V> = HashMap<String, (UnixTime, Arc<V>)>;

/// Values by id for at most `ttl` seconds. Absent values are not cached.
pub struct TtlCache<V> {
    entries: Arc<Mutex<Entries<V>>>,
    ttl: i64,
}

impl<V> Clone for TtlCache<V> {
    fn clone(&self) -> Self {
        Self {
            entries: self.entries.clone(),
            ttl: self.ttl,
        }
    }
}

impl<V> TtlCache<V> {
    /// A cache that believes a value for `ttl` seconds; 0 keeps nothing.
    pub fn new(ttl: i64) -> Self {
        Self {
            entries: Arc::new(Mutex::new(HashMap::new())),
            ttl,
        }
    }

    /// The cached value of `id`, or what `load` reads (cached if present).
    pub async fn get_or_load<E, F>(&self, id: &str, now: UnixTime, load: F) -> Result<Option<Arc<V>>, E>
    where
        F: Future<Output = Result<Option<V>, E>>,
    {
        if let Some(value) = self.cached(id, now) {
            return Ok(Some(value));
        }
        let Some(value) = load.await? else {
            return Ok(None);
        };
        let value = Arc::new(value);
        if self.ttl <= 0 {
            return Ok(Some(value));
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(id.to_owned(), (now, value.clone()));
        }
        Ok(Some(value))
    }

    /// Drops a value this process changed.
    pub fn forget(&self, id: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(id);
        }
    }

    /// Drops every value (a change that touches many, such as deleting a role).
    pub fn forget_all(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }

    fn cached(&self, id: &str, now: UnixTime) -> Option<Arc<V>> {
        let entries = self.entries.lock().ok()?;
        let (fetched, value) = entries.get(id)?;
        (now >= *fetched && now < fetched + self.ttl).then(|| value.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_zero_ttl_reads_every_time() {
        let cache = TtlCache::new(0);
        for value in ["one", "two"] {
            let got = cache.get_or_load("a", 100, load(Some(value))).await;
            assert_eq!(*got.unwrap().unwrap(), value);
        }
    }

    async fn load(value: Option<&'static str>) -> Result<Option<&'static str>, ()> {
        Ok(value)
    }

    #[tokio::test]
    async fn values_live_for_the_ttl_and_until_forgotten() {
        let cache = TtlCache::new(2);
        assert_eq!(
            *cache
                .get_or_load("a", 100, load(Some("one")))
                .await
                .unwrap()
                .unwrap(),
            "one"
        );
        // Within the TTL the loader is not asked.
        assert_eq!(
            *cache
                .get_or_load("a", 101, load(Some("two")))
                .await
                .unwrap()
                .unwrap(),
            "one"
        );
        assert_eq!(
            *cache
                .get_or_load("a", 102, load(Some("two")))
                .await
                .unwrap()
                .unwrap(),
            "two"
        );
        cache.forget("a");
        assert_eq!(
            *cache
                .get_or_load("a", 102, load(Some("three")))
                .await
                .unwrap()
                .unwrap(),
            "three"
        );
        cache.forget_all();
        assert!(cache.get_or_load("a", 102, load(None)).await.unwrap().is_none());
        // Absent values are not cached.
        assert_eq!(
            *cache
                .get_or_load("a", 102, load(Some("four")))
                .await
                .unwrap()
                .unwrap(),
            "four"
        );
    }
}
