//! Refresh families: one per sign-in session, the chain of refresh tokens it rotates through,
//! and the access-token denylist. One trait, so the SQL and Redis backends pass one contract.

use std::future::Future;

use crate::clock::UnixTime;
use crate::crypto::token::TokenHash;

/// The SQL backend.
pub mod sql;

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
    /// The first refresh token, if the client may refresh at all.
    pub refresh: Option<&'a TokenHash>,
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

    /// Presents `presented` on behalf of `client_id`; if it is current (or, within the leeway,
    /// the one just replaced), makes `successor` current. An earlier token revokes the family.
    fn rotate(
        &self,
        presented: &TokenHash,
        successor: &TokenHash,
        client_id: &str,
        now: UnixTime,
        lifetimes: Lifetimes,
    ) -> impl Future<Output = anyhow::Result<Rotation>> + Send;

    /// The family that issued a refresh token, and whether the token is its current one.
    fn find_by_token(
        &self,
        hash: &TokenHash,
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

    /// Ends every session of a user; returns how many were active.
    fn revoke_user(
        &self,
        user_id: &str,
        reason: &str,
        now: UnixTime,
    ) -> impl Future<Output = anyhow::Result<u64>> + Send;

    /// Denylists an access token until it would have expired.
    fn deny_access_token(
        &self,
        jti: &str,
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

/// The configured backend.
#[derive(Clone)]
pub enum Families {
    Sql(sql::SqlFamilies),
}

impl Families {
    /// Families kept in the application database.
    pub fn for_database(db: crate::store::Db) -> Self {
        Families::Sql(sql::SqlFamilies::new(db))
    }
}

impl FamilyStore for Families {
    async fn create(&self, family: NewFamily<'_>, now: UnixTime) -> anyhow::Result<()> {
        match self {
            Families::Sql(s) => s.create(family, now).await,
        }
    }

    async fn rotate(
        &self,
        presented: &TokenHash,
        successor: &TokenHash,
        client_id: &str,
        now: UnixTime,
        lifetimes: Lifetimes,
    ) -> anyhow::Result<Rotation> {
        match self {
            Families::Sql(s) => s.rotate(presented, successor, client_id, now, lifetimes).await,
        }
    }

    async fn find_by_token(&self, hash: &TokenHash) -> anyhow::Result<Option<Presented>> {
        match self {
            Families::Sql(s) => s.find_by_token(hash).await,
        }
    }

    async fn find(&self, id: &str) -> anyhow::Result<Option<Family>> {
        match self {
            Families::Sql(s) => s.find(id).await,
        }
    }

    async fn revoke(&self, id: &str, reason: &str, now: UnixTime) -> anyhow::Result<bool> {
        match self {
            Families::Sql(s) => s.revoke(id, reason, now).await,
        }
    }

    async fn revoke_user(&self, user_id: &str, reason: &str, now: UnixTime) -> anyhow::Result<u64> {
        match self {
            Families::Sql(s) => s.revoke_user(user_id, reason, now).await,
        }
    }

    async fn deny_access_token(&self, jti: &str, expires_at: UnixTime, now: UnixTime) -> anyhow::Result<()> {
        match self {
            Families::Sql(s) => s.deny_access_token(jti, expires_at, now).await,
        }
    }

    async fn access_token_live(&self, jti: &str, sid: Option<&str>, now: UnixTime) -> anyhow::Result<bool> {
        match self {
            Families::Sql(s) => s.access_token_live(jti, sid, now).await,
        }
    }
}
