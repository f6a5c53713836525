//! Refresh families in Redis: every atomic step is one Lua script over the keys of one family,
//! which share the hash tag `{family-id}` so that the scripts run unchanged on Redis Cluster.
//! Only SHA-256 hashes of tokens are stored; a dump of Redis yields no usable token.

use std::sync::LazyLock;

use anyhow::Context;
use futures_util::{StreamExt, TryStreamExt};
use redis::Script;

use super::{Family, FamilyStore, Lifetimes, NewFamily, Presented, RefreshToken, Rotation};
use crate::clock::UnixTime;
use crate::crypto::token::TokenHash;
use crate::store::redis::Redis;

static CREATE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("redis/create.lua")));
static ROTATE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("redis/rotate.lua")));
static FIND: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("redis/find.lua")));
static REVOKE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("redis/revoke.lua")));
static LIVE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("redis/live.lua")));

/// Family revocations in flight at once when many sessions end together.
const REVOKE_AT_ONCE: usize = 64;

/// What ending a group of sessions found of one family.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ended {
    Now,
    Before,
    Expired,
}

/// Families in Redis.
#[derive(Clone)]
pub struct RedisFamilies {
    redis: Redis,
}

impl RedisFamilies {
    pub fn new(redis: Redis) -> Self {
        Self { redis }
    }

    /// The connection, shared with the other stores that live in Redis.
    pub fn redis(&self) -> &Redis {
        &self.redis
    }

    fn family_key(&self, id: &str) -> String {
        self.redis.key(&format!("{{{id}}}:family"))
    }

    fn tokens_key(&self, id: &str) -> String {
        self.redis.key(&format!("{{{id}}}:tokens"))
    }

    /// The ids of a user's families.
    fn user_key(&self, user_id: &str) -> String {
        self.redis.key(&format!("user:{user_id}:families"))
    }

    /// The ids of the families started through a sign-in session.
    fn signin_key(&self, signin_id: &str) -> String {
        self.redis.key(&format!("signin:{signin_id}:families"))
    }

    /// A user token's denylist entry shares its session's hash slot, so one script checks both.
    fn deny_key(&self, jti: &str, sid: Option<&str>) -> String {
        match sid {
            Some(sid) => self.redis.key(&format!("{{{sid}}}:deny:{jti}")),
            None => self.redis.key(&format!("deny:{jti}")),
        }
    }

    /// Ends every family listed in the set `index` but `except`; returns how many were active.
    /// Each family is revoked atomically in its own slot. Many at once: the connection pipelines
    /// them, so ending a thousand sessions costs a few round trips, not a thousand.
    async fn revoke_listed(
        &self,
        index: &str,
        except: Option<&str>,
        reason: &str,
        now: UnixTime,
    ) -> anyhow::Result<u64> {
        let ids: Vec<String> = self.redis.query(redis::cmd("SMEMBERS").arg(index)).await?;
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
            self.redis
                .query::<()>(redis::cmd("SREM").arg(index).arg(&expired))
                .await?;
        }
        Ok(ended as u64)
    }
}

/// The family fields in script order: id, user_id, client_id, scope, auth_time,
/// absolute_expires_at, rotated_at, generation, status, signin_id (absent or empty: none).
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
        signin_id: fields.get(9).cloned().flatten().filter(|id| !id.is_empty()),
    })
}

impl FamilyStore for RedisFamilies {
    async fn create(&self, family: NewFamily<'_>, now: UnixTime) -> anyhow::Result<()> {
        // The user's index first: if the family write then fails, a dangling id is harmless,
        // whereas a family missing from the index would survive the user's deletion.
        let mut indexes = vec![self.user_key(family.user_id)];
        if let Some(signin_id) = family.signin_id {
            indexes.push(self.signin_key(signin_id));
        }
        for index in indexes {
            let mut pipe = redis::pipe();
            pipe.cmd("SADD").arg(&index).arg(family.id).ignore();
            // Every family has the same absolute lifetime, so the newest lives longest.
            pipe.cmd("EXPIREAT")
                .arg(&index)
                .arg(family.absolute_expires_at)
                .ignore();
            self.redis.pipeline(&pipe).await?;
        }
        self.redis
            .run::<i64>(
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
                    .arg(family.expires_at)
                    .arg(family.signin_id.unwrap_or_default()),
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
            .redis
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
            .redis
            .run(
                FIND.key(self.family_key(&token.family_id))
                    .key(self.tokens_key(&token.family_id))
                    .arg(token.hash.as_str()),
            )
            .await?;
        let Some(fields) = reply else {
            return Ok(None);
        };
        let current = fields.get(10).cloned().flatten().as_deref() == Some(token.hash.as_str());
        Ok(Some(Presented {
            family: family(&fields)?,
            current,
        }))
    }

    async fn find(&self, id: &str) -> anyhow::Result<Option<Family>> {
        let fields: Vec<Option<String>> = self
            .redis
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
                "signin_id",
            ]))
            .await?;
        if fields.first().cloned().flatten().is_none() {
            return Ok(None);
        }
        Ok(Some(family(&fields)?))
    }

    async fn revoke(&self, id: &str, reason: &str, now: UnixTime) -> anyhow::Result<bool> {
        let revoked: i64 = self
            .redis
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
        self.revoke_listed(&self.user_key(user_id), except, reason, now)
            .await
    }

    async fn revoke_signin(&self, signin_id: &str, reason: &str, now: UnixTime) -> anyhow::Result<u64> {
        self.revoke_listed(&self.signin_key(signin_id), None, reason, now)
            .await
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
        self.redis
            .query::<()>(
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
        let live: i64 = self.redis.run(invocation.arg(now)).await?;
        Ok(live == 1)
    }
}
