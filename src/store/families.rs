//! Refresh families: one per sign-in session, the chain of refresh tokens it rotates through,
//! and the access-token denylist. One trait, so the SQL and Redis backends pass one contract.

use std::future::Future;

use crate::clock::UnixTime;
use crate::crypto::token::{PlainToken, TokenHash, random_b64url};

/// Access tokens found live, remembered while a SQLite database is unchanged.
mod live_tokens;
/// The Redis backend: one Lua script per atomic step, every key of a family in one hash slot.
pub mod redis;
/// The SQL backend.
pub mod sql;

/// A refresh token names its family: `<family id>.<256 random bits>`. The id lets a store find
/// the family without an index (on Redis Cluster: its hash slot); only the SHA-256 of the whole
/// token is stored, and the id reveals nothing that `sid` in the access token does not. A token
/// made up around a known id is simply unknown: reuse needs a hash the family really issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub family_id: String,
    pub hash: TokenHash,
}

impl RefreshToken {
    /// A new token of `family_id`: the value for the client, and what the store keeps.
    pub fn issue(family_id: &str) -> (PlainToken, Self) {
        let plain = PlainToken::presented(format!("{family_id}.{}", random_b64url::<32>()));
        let token = Self {
            family_id: family_id.to_owned(),
            hash: plain.hashed(),
        };
        (plain, token)
    }

    /// Reads a presented token; `None` if it cannot be one of ours.
    pub fn parse(presented: &str) -> Option<Self> {
        let (family_id, secret) = presented.split_once('.')?;
        (uuid::Uuid::try_parse(family_id).is_ok() && secret.len() == 43).then(|| Self {
            family_id: family_id.to_owned(),
            hash: TokenHash::of(presented),
        })
    }
}

/// A session and the state of its refresh chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// The session id: `sid` in every token of the family.
    pub id: String,
    pub user_id: String,
    pub client_id: String,
    /// The scope granted at sign-in; a refresh may narrow the scope of its access token, never this.
    pub scope: String,
    pub auth_time: UnixTime,
    /// Never extended by rotation.
    pub absolute_expires_at: UnixTime,
    /// The last rotation (or the sign-in); idle expiry counts from here.
    pub rotated_at: UnixTime,
    pub generation: i64,
    pub active: bool,
    /// The browser's sign-in session it was started through, if any.
    pub signin_id: Option<String>,
}

impl Family {
    /// When the current refresh token dies if unused.
    pub fn expires_at(&self, lifetimes: Lifetimes) -> UnixTime {
        self.rotated_at
            .saturating_add(lifetimes.idle)
            .min(self.absolute_expires_at)
    }

    /// Whether the family's current refresh token may still be used at `now`.
    pub fn refreshable(&self, now: UnixTime, lifetimes: Lifetimes) -> bool {
        self.active && now < self.expires_at(lifetimes)
    }
}

/// What a new family starts with.
#[derive(Debug)]
pub struct NewFamily<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub client_id: &'a str,
    pub scope: &'a str,
    pub auth_time: UnixTime,
    pub absolute_expires_at: UnixTime,
    /// When the first refresh token dies unused: the idle or the absolute expiry, whichever is
    /// first (stores that expire keys use it as the first TTL).
    pub expires_at: UnixTime,
    /// The first refresh token, if the client may refresh at all.
    pub refresh: Option<&'a TokenHash>,
    /// The browser's sign-in session it was started through, if any: it ends with that session.
    pub signin_id: Option<&'a str>,
}

/// Idle lifetime and reuse leeway, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub idle: i64,
    pub leeway: i64,
}

/// The outcome of presenting a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current: the successor is now the family's one live token.
    Rotated(Family),
    /// The token was an earlier one of the family: the family is now revoked.
    Reused(Family),
    /// Unknown, expired, revoked, or another client's token; nothing changed.
    Invalid,
}

/// A refresh token looked up without using it (introspection, revocation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    pub family: Family,
    /// Whether it is the family's current token (earlier ones are dead).
    pub current: bool,
}

/// The store of refresh families. Every method is one atomic step of the backend.
pub trait FamilyStore: Send + Sync {
    /// Records a new family and its first refresh token.
    fn create(&self, family: NewFamily<'_>, now: UnixTime)
    -> impl Future<Output = anyhow::Result<()>> + Send;

    /// Presents a refresh token on behalf of `client_id`; if it is current, or was replaced
    /// less than the leeway ago (a lost response, a stale duplicate), makes `successor` current
    /// and starts the leeway of the token it replaces. A token replaced longer ago revokes the
    /// family.
    fn rotate(
        &self,
        presented: &RefreshToken,
        successor: &TokenHash,
        client_id: &str,
        now: UnixTime,
        lifetimes: Lifetimes,
    ) -> impl Future<Output = anyhow::Result<Rotation>> + Send;

    /// The family that issued a refresh token, and whether the token is its current one.
    fn find_by_token(
        &self,
        token: &RefreshToken,
    ) -> impl Future<Output = anyhow::Result<Option<Presented>>> + Send;

    /// A family by id.
    fn find(&self, id: &str) -> impl Future<Output = anyhow::Result<Option<Family>>> + Send;

    /// Ends a session: its refresh tokens die and its access tokens turn inactive.
    fn revoke(
        &self,
        id: &str,
        reason: &str,
        now: UnixTime,
    ) -> impl Future<Output = anyhow::Result<bool>> + Send;

    /// Ends every session of a user but `except` (the caller's own, when it keeps it); returns
    /// how many were active.
    fn revoke_user(
        &self,
        user_id: &str,
        except: Option<&str>,
        reason: &str,
        now: UnixTime,
    ) -> impl Future<Output = anyhow::Result<u64>> + Send;

    /// Ends every session started through the sign-in session `signin_id`; returns how many
    /// were active.
    fn revoke_signin(
        &self,
        signin_id: &str,
        reason: &str,
        now: UnixTime,
    ) -> impl Future<Output = anyhow::Result<u64>> + Send;

    /// Denylists an access token (of session `sid`, if a user's) until it would have expired.
    fn deny_access_token(
        &self,
        jti: &str,
        sid: Option<&str>,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;

    /// Whether an access token is neither denylisted nor of an ended session.
    fn access_token_live(
        &self,
        jti: &str,
        sid: Option<&str>,
        now: UnixTime,
    ) -> impl Future<Output = anyhow::Result<bool>> + Send;
}

/// The configured backend: Redis when `KEYWARD_REDIS_URL` is set, the SQL database otherwise.
#[derive(Clone)]
pub enum Families {
    Sql(sql::SqlFamilies),
    Redis(redis::RedisFamilies),
}

impl Families {
    /// Families kept in the application database, read inline through `inline` where given.
    pub fn for_database(
        db: crate::store::Db,
        inline: Option<std::sync::Arc<crate::store::inline_reads::InlineReads>>,
    ) -> Self {
        Families::Sql(sql::SqlFamilies::new(db, inline))
    }

    /// The Redis connection, when families live there.
    pub fn redis(&self) -> Option<&crate::store::redis::Redis> {
        match self {
            Families::Sql(_) => None,
            Families::Redis(families) => Some(families.redis()),
        }
    }

    /// Whether a separate families backend answers: `None` when families live in the
    /// application database (whose own check covers them).
    pub async fn ping(&self) -> Option<bool> {
        match self {
            Families::Sql(_) => None,
            Families::Redis(families) => Some(families.redis().ping().await),
        }
    }

    /// The backend the configuration names; `inline` as for [`Families::for_database`].
    pub async fn from_config(
        config: &crate::config::Config,
        db: crate::store::Db,
        inline: Option<std::sync::Arc<crate::store::inline_reads::InlineReads>>,
    ) -> anyhow::Result<Self> {
        Ok(match &config.redis_url {
            Some(url) => Families::Redis(redis::RedisFamilies::new(
                crate::store::redis::Redis::connect(url, &config.redis_prefix).await?,
            )),
            None => Families::for_database(db, inline),
        })
    }
}

/// Forwards a call to whichever backend is configured.
macro_rules! dispatch {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            Families::Sql($store) => $call.await,
            Families::Redis($store) => $call.await,
        }
    };
}

impl FamilyStore for Families {
    async fn create(&self, family: NewFamily<'_>, now: UnixTime) -> anyhow::Result<()> {
        dispatch!(self, s => s.create(family, now))
    }

    async fn rotate(
        &self,
        presented: &RefreshToken,
        successor: &TokenHash,
        client_id: &str,
        now: UnixTime,
        lifetimes: Lifetimes,
    ) -> anyhow::Result<Rotation> {
        dispatch!(self, s => s.rotate(presented, successor, client_id, now, lifetimes))
    }

    async fn find_by_token(&self, token: &RefreshToken) -> anyhow::Result<Option<Presented>> {
        dispatch!(self, s => s.find_by_token(token))
    }

    async fn find(&self, id: &str) -> anyhow::Result<Option<Family>> {
        dispatch!(self, s => s.find(id))
    }

    async fn revoke(&self, id: &str, reason: &str, now: UnixTime) -> anyhow::Result<bool> {
        dispatch!(self, s => s.revoke(id, reason, now))
    }

    async fn revoke_user(
        &self,
        user_id: &str,
        except: Option<&str>,
        reason: &str,
        now: UnixTime,
    ) -> anyhow::Result<u64> {
        dispatch!(self, s => s.revoke_user(user_id, except, reason, now))
    }

    async fn revoke_signin(&self, signin_id: &str, reason: &str, now: UnixTime) -> anyhow::Result<u64> {
        dispatch!(self, s => s.revoke_signin(signin_id, reason, now))
    }

    async fn deny_access_token(
        &self,
        jti: &str,
        sid: Option<&str>,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> anyhow::Result<()> {
        dispatch!(self, s => s.deny_access_token(jti, sid, expires_at, now))
    }

    async fn access_token_live(&self, jti: &str, sid: Option<&str>, now: UnixTime) -> anyhow::Result<bool> {
        dispatch!(self, s => s.access_token_live(jti, sid, now))
    }
}
