//! Application state (pools, family store, keys, clock, configuration) and the router serving it.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::password::PasswordHasher;
use crate::crypto::verified::VerifiedTokens;
use crate::keyring::{KeyPolicy, Keyring};
use crate::mail::Mailer;
use crate::store::cache::TtlCache;
use crate::store::clients::Client;
use crate::store::codes::Codes;
use crate::store::families::{Families, Lifetimes};
use crate::store::retention::{self, Cutoffs, Pruned};
use crate::store::users::User;
use crate::store::{self, Db};

pub use crate::http::router;

/// Everything a request needs, behind one `Arc`: axum clones the state for every request and
/// every middleware, and one reference count is cheaper than one per field.
#[derive(Clone)]
pub struct AppState(Arc<Parts>);

impl std::ops::Deref for AppState {
    type Target = Parts;

    fn deref(&self) -> &Parts {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Parts {
    pub config: Arc<Config>,
    pub db: Db,
    pub families: Families,
    /// Authorization codes, beside the families.
    pub codes: Codes,
    /// The signing keys, reloaded every few seconds.
    pub keys: Keyring,
    pub clock: Clock,
    pub passwords: PasswordHasher,
    pub mailer: Mailer,
    /// Clients and users by id, for at most two seconds.
    pub clients: TtlCache<Client>,
    pub users: TtlCache<User>,
    /// The origins of every registered redirect URI, for CORS.
    pub redirect_origins: TtlCache<Vec<String>>,
    /// Access tokens whose signature verified.
    pub verified: VerifiedTokens,
    /// On SQLite, reads of the hot paths run inline on connections of their own.
    pub inline: Option<Arc<crate::store::inline_reads::InlineReads>>,
    /// Peers whose `X-Forwarded-For` names the real client.
    pub trusted_proxies: Arc<[std::net::IpAddr]>,
}

impl AppState {
    /// Connects, migrates and loads (or generates) the keys.
    pub async fn build(config: Config, clock: Clock) -> anyhow::Result<Self> {
        let db = store::open(&config.database_url).await?;
        Self::from_parts(config, db, clock).await
    }

    /// Assembles state on a database opened already: loads (or generates) the keys.
    pub async fn from_parts(config: Config, db: Db, clock: Clock) -> anyhow::Result<Self> {
        let keys = Keyring::open(
            db.clone(),
            &config.keys_dir,
            KeyPolicy::from_config(&config),
            clock.now(),
        )
        .await?;
        crate::telemetry::install();
        let passwords = PasswordHasher::new(config.password_concurrency, config.password_queue)?;
        let trusted_proxies = config.trusted_proxy_addrs()?.into();
        let mailer = Mailer::from_config(&config)?;
        let cache_ttl = crate::clock::seconds(config.cache_ttl);
        // One set of inline connections for the process: the families' liveness check and the
        // user lookups share it.
        let inline = crate::store::inline_reads::InlineReads::for_pool(&db);
        let families = Families::from_config(&config, db.clone(), inline.clone()).await?;
        Ok(Self(Arc::new(Parts {
            trusted_proxies,
            codes: Codes::beside(&families, db.clone()),
            families,
            config: Arc::new(config),
            db,
            keys,
            clock,
            passwords,
            mailer,
            clients: TtlCache::new(cache_ttl),
            users: TtlCache::new(cache_ttl),
            redirect_origins: TtlCache::new(cache_ttl),
            verified: VerifiedTokens::default(),
            inline,
        })))
    }

    /// Deletes what can no longer matter: ended sessions whose access tokens have expired too,
    /// expired denylist entries, forgotten login streaks. Families in Redis expire by themselves.
    pub async fn prune(&self) -> anyhow::Result<Pruned> {
        let now = self.clock.now();
        let access = crate::clock::seconds(self.config.access_token_ttl);
        let idle = self.lifetimes().idle;
        let cutoffs = Cutoffs {
            now,
            ended_before: now - access,
            idle_before: now.saturating_sub(idle).saturating_sub(access),
            forget_before: now - crate::store::throttle::FORGET_AFTER,
            signin_idle_before: now.saturating_sub(crate::clock::seconds(self.config.session_idle_ttl)),
        };
        Ok(retention::prune(&self.db, cutoffs).await?)
    }

    /// A registered client, through the cache.
    pub async fn client(&self, id: &str) -> Result<Option<Arc<Client>>, sqlx::Error> {
        let now = self.clock.now();
        self.clients
            .get_or_load(id, now, crate::store::clients::find(&self.db, id))
            .await
    }

    /// A live account, through the cache.
    pub async fn user(&self, id: &str) -> Result<Option<Arc<User>>, sqlx::Error> {
        let now = self.clock.now();
        self.users
            .get_or_load(
                id,
                now,
                crate::store::users::find_with(&self.db, self.inline.as_deref(), id),
            )
            .await
    }

    /// Refresh-token lifetimes in seconds.
    pub fn lifetimes(&self) -> Lifetimes {
        Lifetimes {
            idle: crate::clock::seconds(self.config.refresh_idle_ttl),
            leeway: crate::clock::seconds(self.config.refresh_reuse_leeway),
        }
    }
}
