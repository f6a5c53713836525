//! Refresh families in Redis: each family is one hash, every atomic step one Lua script over the
//! keys of one family, which share the hash tag `{family-id}` so that the scripts run unchanged on
//! Redis Cluster. Only SHA-256 hashes of tokens are stored; a dump of Redis yields no usable token.

use std::sync::LazyLock;

use anyhow::Context;
use futures_util::{StreamExt, TryStreamExt};
use redis::Script;

use super::{Family, FamilyStore, Lifetimes, NewFamily, Presented, RefreshToken, Rotation};
use crate::clock::UnixTime;
use crate::crypto::token::TokenHash;
use crate::store::redis::Redis;

/// A script run after the upgrade of a family still in the layout from before 2026-12-05.
fn upgrading(script: &str) -> Script {
    Script::new(&format!("{}\n{script}", include_str!("redis/upgrade.lua")))
}

static CREATE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("redis/create.lua")));
static ROTATE: LazyLock<Script> = LazyLock::new(|| upgrading(include_str!("redis/rotate.lua")));
static FIND: LazyLock<Script> = LazyLock::new(|| upgrading(include_str!("redis/find.lua")));
static REVOKE: LazyLock<Script> = LazyLock::new(|| upgrading(include_str!("redis/revoke.lua")));
static LIVE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("redis/live.lua")));

/// Family revocations in flight at once when many sessions end together.
const REVOKE_AT_ONCE: usize = 64;

/// Sorted sets each index is spread over. A user with one session then costs one entry in a
/// shared set (about 50 bytes), not a key of its own (about 200). Redis keeps a sorted set of up
/// to 128 entries of up to 64 bytes as one compact allocation; 16,384 sets keep a million
/// sessions (61 a set) well inside that.
const BUCKETS: u16 = 16_384;

/// How long an index entry outlives its family's absolute expiry. Redis expires the family's key
/// by its own clock; should that clock lag keyward's, the family (and its access tokens) lives a
/// little longer, and ending the owner's sessions must still find it.
const INDEX_MARGIN: i64 = 24 * 3600;

/// What ending a group of sessions found of one family.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ended {
    Now,
    Before,
    Expired,
}

/// An index of families by owner.
#[derive(Clone, Copy)]
enum Index {
    /// By user: ending a user's sessions (logout everywhere, password change, deletion).
    User,
    /// By the browser's sign-in session they were started through: ending it ends them.
    Signin,
}

impl Index {
    fn name(self) -> &'static str {
        match self {
            Index::User => "user",
            Index::Signin => "signin",
        }
    }
}

/// An owner id as an index member's prefix: a UUID's 16 bytes (every id keyward makes), or the
/// id's own bytes.
fn owner_bytes(owner: &str) -> Vec<u8> {
    match uuid::Uuid::try_parse(owner) {
        Ok(id) if id.hyphenated().to_string() == owner => id.as_bytes().to_vec(),
        _ => owner.as_bytes().to_vec(),
    }
}

/// An index member: the owner, then the family id's 16 bytes.
fn member(owner: &str, family_id: &str) -> anyhow::Result<Vec<u8>> {
    let family = uuid::Uuid::try_parse(family_id)
        .ok()
        .filter(|id| id.hyphenated().to_string() == family_id)
        .with_context(|| format!("family id {family_id:?} is not a lowercase hyphenated UUID"))?;
    let mut member = owner_bytes(owner);
    member.extend_from_slice(family.as_bytes());
    Ok(member)
}

/// The family id in an index member of `owner`, if the member is one of that owner's.
fn family_of(member: &[u8], owner: &[u8]) -> Option<String> {
    let family = member.strip_prefix(owner)?;
    Some(uuid::Uuid::from_slice(family).ok()?.hyphenated().to_string())
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

    /// The family's hash.
    fn family_key(&self, id: &str) -> String {
        self.redis.key(&format!("{{{id}}}:s"))
    }

    /// The family's hash and the two keys it was kept in before 2026-12-05, for the upgrade prelude.
    fn family_keys(&self, id: &str) -> [String; 3] {
        [
            self.family_key(id),
            self.redis.key(&format!("{{{id}}}:family")),
            self.redis.key(&format!("{{{id}}}:tokens")),
        ]
    }

    /// The sorted set of `index` that holds `owner`'s families.
    fn index_key(&self, index: Index, owner: &str) -> String {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, owner.as_bytes());
        let bucket = u16::from_be_bytes([digest.as_ref()[0], digest.as_ref()[1]]) % BUCKETS;
        self.redis.key(&format!("families:{}:{bucket}", index.name()))
    }

    /// The set of `owner`'s family ids before 2026-12-05, read while such families can be alive.
    fn legacy_index_key(&self, index: Index, owner: &str) -> String {
        self.redis.key(&format!("{}:{owner}:families", index.name()))
    }

    /// A user token's denylist entry shares its session's hash slot, so one script checks both.
    fn deny_key(&self, jti: &str, sid: Option<&str>) -> String {
        match sid {
            Some(sid) => self.redis.key(&format!("{{{sid}}}:deny:{jti}")),
            None => self.redis.key(&format!("deny:{jti}")),
        }
    }

    /// Adds a family to `owner`'s entry of `index` and drops the entries whose absolute expiry
    /// passed more than [`INDEX_MARGIN`] ago. The set lives as long as its longest-lived entry.
    async fn list(
        &self,
        index: Index,
        owner: &str,
        family_id: &str,
        absolute_expires_at: UnixTime,
        now: UnixTime,
    ) -> anyhow::Result<()> {
        let key = self.index_key(index, owner);
        let mut pipe = redis::pipe();
        pipe.cmd("ZADD")
            .arg(&key)
            .arg(absolute_expires_at)
            .arg(member(owner, family_id)?)
            .ignore();
        pipe.cmd("ZREMRANGEBYSCORE")
            .arg(&key)
            .arg("-inf")
            .arg(now - INDEX_MARGIN)
            .ignore();
        // NX gives a new set its expiry; GT only ever lengthens it, whatever lifetimes other
        // families were created with.
        for condition in ["NX", "GT"] {
            pipe.cmd("EXPIREAT")
                .arg(&key)
                .arg(absolute_expires_at + INDEX_MARGIN)
                .arg(condition)
                .ignore();
        }
        self.redis.pipeline(&pipe).await
    }

    /// Ends every family `owner` has in `index` but `except`; returns how many were active.
    /// Each family is revoked atomically in its own slot. Many at once: the connection pipelines
    /// them, so ending a thousand sessions costs a few round trips, not a thousand.
    async fn revoke_listed(
        &self,
        index: Index,
        owner: &str,
        except: Option<&str>,
        reason: &str,
        now: UnixTime,
    ) -> anyhow::Result<u64> {
        let key = self.index_key(index, owner);
        let legacy = self.legacy_index_key(index, owner);
        // Every entry, expired or not: a family whose key still exists is ended, as in SQL.
        let members: Vec<Vec<u8>> = self
            .redis
            .query(redis::cmd("ZRANGE").arg(&key).arg(0).arg(-1))
            .await?;
        let owner_prefix = owner_bytes(owner);
        let mut ids: Vec<String> = members
            .iter()
            .filter_map(|m| family_of(m, &owner_prefix))
            .collect();
        let legacy_ids: Vec<String> = self.redis.query(redis::cmd("SMEMBERS").arg(&legacy)).await?;
        ids.extend(legacy_ids);
        ids.sort_unstable();
        ids.dedup();
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
        // Families whose key is gone leave the index.
        let mut pipe = redis::pipe();
        pipe.cmd("ZREMRANGEBYSCORE")
            .arg(&key)
            .arg("-inf")
            .arg(now - INDEX_MARGIN)
            .ignore();
        for (id, _) in outcomes.iter().filter(|(_, e)| *e == Ended::Expired) {
            pipe.cmd("ZREM").arg(&key).arg(member(owner, id)?).ignore();
        }
        self.redis.pipeline(&pipe).await?;
        Ok(ended as u64)
    }
}

/// The family fields in script order: user_id, client_id, scope, auth_time, absolute_expires_at,
/// rotated_at, generation, why it ended (absent: active), signin_id.
fn family(id: &str, fields: &[Option<String>]) -> anyhow::Result<Family> {
    let text = |i: usize| -> anyhow::Result<String> {
        fields
            .get(i)
            .cloned()
            .flatten()
            .with_context(|| format!("family field {i} missing"))
    };
    let number = |i: usize| -> anyhow::Result<i64> { Ok(text(i)?.parse()?) };
    Ok(Family {
        id: id.to_owned(),
        user_id: text(0)?,
        client_id: text(1)?,
        scope: text(2)?,
        auth_time: number(3)?,
        absolute_expires_at: number(4)?,
        rotated_at: number(5)?,
        generation: number(6)?,
        active: fields.get(7).cloned().flatten().is_none(),
        signin_id: fields.get(8).cloned().flatten().filter(|id| !id.is_empty()),
    })
}

impl FamilyStore for RedisFamilies {
    async fn create(&self, family: NewFamily<'_>, now: UnixTime) -> anyhow::Result<()> {
        // The indexes first: if the family write then fails, a dangling entry is harmless,
        // whereas a family missing from an index would survive the user's deletion.
        self.list(
            Index::User,
            family.user_id,
            family.id,
            family.absolute_expires_at,
            now,
        )
        .await?;
        if let Some(signin_id) = family.signin_id {
            self.list(
                Index::Signin,
                signin_id,
                family.id,
                family.absolute_expires_at,
                now,
            )
            .await?;
        }
        self.redis
            .run::<i64>(
                CREATE
                    .key(self.family_key(family.id))
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
                    .key(&self.family_keys(&presented.family_id))
                    .arg(presented.hash.as_str())
                    .arg(successor.as_str())
                    .arg(client_id)
                    .arg(now)
                    .arg(lifetimes.idle)
                    .arg(lifetimes.leeway),
            )
            .await?;
        let id = &presented.family_id;
        match reply.first().cloned().flatten().as_deref() {
            Some("rotated") => Ok(Rotation::Rotated(family(id, &reply[1..])?)),
            Some("reused") => Ok(Rotation::Reused(family(id, &reply[1..])?)),
            _ => Ok(Rotation::Invalid),
        }
    }

    async fn find_by_token(&self, token: &RefreshToken) -> anyhow::Result<Option<Presented>> {
        let reply: Option<Vec<Option<String>>> = self
            .redis
            .run(
                FIND.key(&self.family_keys(&token.family_id))
                    .arg(token.hash.as_str()),
            )
            .await?;
        let Some(fields) = reply else {
            return Ok(None);
        };
        let current = fields.get(9).cloned().flatten().as_deref() == Some(token.hash.as_str());
        Ok(Some(Presented {
            family: family(&token.family_id, &fields)?,
            current,
        }))
    }

    async fn find(&self, id: &str) -> anyhow::Result<Option<Family>> {
        let reply: Option<Vec<Option<String>>> =
            self.redis.run(FIND.key(&self.family_keys(id)).arg("")).await?;
        reply.map(|fields| family(id, &fields)).transpose()
    }

    async fn revoke(&self, id: &str, reason: &str, now: UnixTime) -> anyhow::Result<bool> {
        let revoked: i64 = self
            .redis
            .run(REVOKE.key(&self.family_keys(id)).arg(reason).arg(now))
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
        self.revoke_listed(Index::User, user_id, except, reason, now)
            .await
    }

    async fn revoke_signin(&self, signin_id: &str, reason: &str, now: UnixTime) -> anyhow::Result<u64> {
        self.revoke_listed(Index::Signin, signin_id, None, reason, now)
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
            let [family, legacy, _] = self.family_keys(sid);
            invocation.key(family).key(legacy);
        }
        let live: i64 = self.redis.run(invocation.arg(now)).await?;
        Ok(live == 1)
    }
}
