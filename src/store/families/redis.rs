//! Refresh families in Redis: every atomic step is one Lua script over the keys of one family,
//! which share the hash tag `{family-id}` so that the scripts run unchanged on Redis Cluster.
//! Only SHA-256 hashes of tokens are stored; a dump of Redis yields no usable token.

use std::sync::LazyLock;
use std::time::Duration;

use anyhow::Context;
use futures_util::{StreamExt, TryStreamExt};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, Script, ScriptInvocation};

use super::{Family, FamilyStore, Lifetimes, NewFamily, Presented, RefreshToken, Rotation};
use crate::clock::UnixTime;
use crate::crypto::token::TokenHash;

static CREATE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("redis/create.lua")));
static ROTATE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("redis/rotate.lua")));
static FIND: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("redis/find.lua")));
static REVOKE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("redis/revoke.lua")));
static LIVE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("redis/live.lua")));

/// How long a Redis call may take before the request fails instead of hanging.
const TIMEOUT: Duration = Duration::from_secs(2);
/// Family revocations in flight at once when a user's sessions all end.
const REVOKE_AT_ONCE: usize = 64;

/// What ending a user's sessions found of one family.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ended {
    Now,
    Before,
    Expired,
}

/// A single Redis server (reconnecting by itself) or a cluster.
#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// Families in Redis.
#[derive(Clone)]
pub struct RedisFamilies {
    conn: Connection,
    prefix: String,
}

impl RedisFamilies {
    /// Connects to `url`: one `redis://` URL, or several comma-separated seed URLs (or a
    /// `redis+cluster://` URL) for a cluster.
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        anyhow::ensure!(
            !prefix.contains(['{', '}']),
            "KEYWARD_REDIS_PREFIX must not contain braces: they would break the per-family hash tag"
        );
        let seeds: Vec<String> = url
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.replacen("redis+cluster://", "redis://", 1))
            .collect();
        let shown = crate::config::redact_url(url);
        let conn = if seeds.len() > 1 || url.starts_with("redis+cluster://") {
            let client = ClusterClientBuilder::new(seeds)
                .connection_timeout(TIMEOUT)
                .response_timeout(TIMEOUT)
                .build()
                .with_context(|| format!("Redis Cluster {shown}"))?;
            let conn = client
                .get_async_connection()
                .await
                .with_context(|| format!("connecting to Redis Cluster {shown}"))?;
            Connection::Cluster(conn)
        } else {
            let client = redis::Client::open(url).with_context(|| format!("Redis URL {shown}"))?;
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(TIMEOUT))
                .set_response_timeout(Some(TIMEOUT))
                .set_number_of_retries(2)
                .set_max_delay(Duration::from_millis(500));
            let conn = ConnectionManager::new_with_config(client, config)
                .await
                .with_context(|| format!("connecting to Redis {shown}"))?;
            Connection::Single(conn)
        };
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
        })
    }

    /// Whether Redis answers a PING.
    pub async fn ping(&self) -> bool {
        self.query::<String>(&redis::cmd("PING")).await.is_ok()
    }

    fn family_key(&self, id: &str) -> String {
        format!("{}{{{id}}}:family", self.prefix)
    }

    fn tokens_key(&self, id: &str) -> String {
        format!("{}{{{id}}}:tokens", self.prefix)
    }

    fn user_key(&self, user_id: &str) -> String {
        format!("{}user:{user_id}:families", self.prefix)
    }

    /// A user token's denylist entry shares its session's hash slot, so one script checks both.
    fn deny_key(&self, jti: &str, sid: Option<&str>) -> String {
        match sid {
            Some(sid) => format!("{}{{{sid}}}:deny:{jti}", self.prefix),
            None => format!("{}deny:{jti}", self.prefix),
        }
    }

    async fn run<T: FromRedisValue>(&self, invocation: &ScriptInvocation<'_>) -> anyhow::Result<T> {
        // EVALSHA, falling back to EVAL (which loads the script) after a restart or failover.
        let result = match &self.conn {
            Connection::Single(c) => invocation.invoke_async(&mut c.clone()).await,
            Connection::Cluster(c) => invocation.invoke_async(&mut c.clone()).await,
        };
        result.context("Redis script failed")
    }

    /// Several commands on one key (one hash slot) in one round trip.
    async fn pipeline(&self, pipe: &redis::Pipeline) -> anyhow::Result<()> {
        let result: redis::RedisResult<()> = match &self.conn {
            Connection::Single(c) => pipe.query_async(&mut c.clone()).await,
            Connection::Cluster(c) => pipe.query_async(&mut c.clone()).await,
        };
        result.context("Redis pipeline failed")
    }

    async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> anyhow::Result<T> {
        let result = match &self.conn {
            Connection::Single(c) => cmd.query_async(&mut c.clone()).await,
            Connection::Cluster(c) => cmd.query_async(&mut c.clone()).await,
        };
        result.context("Redis command failed")
    }
}

/// The family fields in script order: id, user_id, client_id, scope, auth_time,
/// absolute_expires_at, rotated_at, generation, status.
fn family(fields: &[Option<String>]) -> anyhow::Result<Family> {
    let text = |i: usize| -> anyhow::Result<String> {
        fields
            .get(i)
            .cloned()
            .flatten()
            .with_context(|| format!("family field {i} missing"))
    };
    let number = |i: usize| -> anyhow::Result<i64> { Ok(text(i)?.parse()?) };
    Ok(Family {
        id: text(0)?,
        user_id: text(1)?,
        client_id: text(2)?,
        scope: text(3)?,
        auth_time: number(4)?,
        absolute_expires_at: number(5)?,
        rotated_at: number(6)?,
        generation: number(7)?,
        active: text(8)? == "active",
    })
}

impl FamilyStore for RedisFamilies {
    async fn create(&self, family: NewFamily<'_>, now: UnixTime) -> anyhow::Result<()> {
        // The user's index first: if the family write then fails, a dangling id is harmless,
        // whereas a family missing from the index would survive the user's deletion.
        let user_key = self.user_key(family.user_id);
        let mut index = redis::pipe();
        index.cmd("SADD").arg(&user_key).arg(family.id).ignore();
        index
            .cmd("EXPIREAT")
            .arg(&user_key)
            .arg(family.absolute_expires_at)
            .ignore();
        self.pipeline(&index).await?;
        self.run::<i64>(
            CREATE
                .key(self.family_key(family.id))
                .key(self.tokens_key(family.id))
                .arg(family.id)
                .arg(family.user_id)
                .arg(family.client_id)
                .arg(family.scope)
                .arg(family.auth_time)
                .arg(family.absolute_expires_at)
                .arg(now)
                .arg(family.refresh.map_or("", TokenHash::as_str))
                .arg(family.expires_at),
        )
        .await?;
        Ok(())
    }

    async fn rotate(
        &self,
        presented: &RefreshToken,
        successor: &TokenHash,
        client_id: &str,
        now: UnixTime,
        lifetimes: Lifetimes,
    ) -> anyhow::Result<Rotation> {
        let reply: Vec<Option<String>> = self
            .run(
                ROTATE
                    .key(self.family_key(&presented.family_id))
                    .key(self.tokens_key(&presented.family_id))
                    .arg(presented.hash.as_str())
                    .arg(successor.as_str())
                    .arg(client_id)
                    .arg(now)
                    .arg(lifetimes.idle)
                    .arg(lifetimes.leeway),
            )
            .await?;
        match reply.first().cloned().flatten().as_deref() {
            Some("rotated") => Ok(Rotation::Rotated(family(&reply[1..])?)),
            Some("reused") => Ok(Rotation::Reused(family(&reply[1..])?)),
            _ => Ok(Rotation::Invalid),
        }
    }

    async fn find_by_token(&self, token: &RefreshToken) -> anyhow::Result<Option<Presented>> {
        let reply: Option<Vec<Option<String>>> = self
            .run(
                FIND.key(self.family_key(&token.family_id))
                    .key(self.tokens_key(&token.family_id))
                    .arg(token.hash.as_str()),
            )
            .await?;
        let Some(fields) = reply else {
            return Ok(None);
        };
        let current = fields.get(9).cloned().flatten().as_deref() == Some(token.hash.as_str());
        Ok(Some(Presented {
            family: family(&fields)?,
            current,
        }))
    }

    async fn find(&self, id: &str) -> anyhow::Result<Option<Family>> {
        let fields: Vec<Option<String>> = self
            .query(redis::cmd("HMGET").arg(self.family_key(id)).arg(&[
                "id",
                "user_id",
                "client_id",
                "scope",
                "auth_time",
                "absolute_expires_at",
                "rotated_at",
                "generation",
                "status",
            ]))
            .await?;
        if fields.first().cloned().flatten().is_none() {
            return Ok(None);
        }
        Ok(Some(family(&fields)?))
    }

    async fn revoke(&self, id: &str, reason: &str, now: UnixTime) -> anyhow::Result<bool> {
        let revoked: i64 = self
            .run(REVOKE.key(self.family_key(id)).arg(reason).arg(now))
            .await?;
        Ok(revoked == 1)
    }

    async fn revoke_user(
        &self,
        user_id: &str,
        except: Option<&str>,
        reason: &str,
        now: UnixTime,
    ) -> anyhow::Result<u64> {
        let user_key = self.user_key(user_id);
        let ids: Vec<String> = self.query(redis::cmd("SMEMBERS").arg(&user_key)).await?;
        // Each family is revoked atomically in its own slot. Many at once: the connection
        // pipelines them, so ending a thousand sessions costs a few round trips, not a thousand.
        let outcomes: Vec<(String, Ended)> =
            futures_util::stream::iter(ids.into_iter().filter(|id| Some(id.as_str()) != except))
                .map(|id| async move {
                    let ended = if self.revoke(&id, reason, now).await? {
                        Ended::Now
                    } else if self.find(&id).await?.is_none() {
                        Ended::Expired
                    } else {
                        Ended::Before
                    };
                    anyhow::Ok((id, ended))
                })
                .buffer_unordered(REVOKE_AT_ONCE)
                .try_collect()
                .await?;
        let ended = outcomes.iter().filter(|(_, e)| *e == Ended::Now).count();
        // Families that expired leave the index.
        let expired: Vec<&str> = outcomes
            .iter()
            .filter(|(_, e)| *e == Ended::Expired)
            .map(|(id, _)| id.as_str())
            .collect();
        if !expired.is_empty() {
            self.query::<()>(redis::cmd("SREM").arg(&user_key).arg(&expired))
                .await?;
        }
        Ok(ended as u64)
    }

    async fn deny_access_token(
        &self,
        jti: &str,
        sid: Option<&str>,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> anyhow::Result<()> {
        if expires_at <= now {
            return Ok(());
        }
        // The value is the expiry, checked against the application clock; EXAT reclaims the key.
        let key = self.deny_key(jti, sid);
        self.query::<()>(
            redis::cmd("SET")
                .arg(&key)
                .arg(expires_at)
                .arg("EXAT")
                .arg(expires_at),
        )
        .await
    }

    async fn access_token_live(&self, jti: &str, sid: Option<&str>, now: UnixTime) -> anyhow::Result<bool> {
        let mut invocation = LIVE.key(self.deny_key(jti, sid));
        if let Some(sid) = sid {
            invocation.key(self.family_key(sid));
        }
        let live: i64 = self.run(invocation.arg(now)).await?;
        Ok(live == 1)
    }
}
