//! Links sent by email (email verification, password reset): single use, stored only as the
//! hash of the token they carry, one table per kind with the same shape.

use sqlx::AssertSqlSafe;

use crate::clock::UnixTime;
use crate::crypto::token::TokenHash;
use crate::store::Db;

/// Which kind of link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    Verification,
    PasswordReset,
}

impl LinkKind {
    /// `sql` with `{table}` replaced by this kind's table. The names come from this closed
    /// enum, never from input.
    fn sql(self, sql: &str) -> AssertSqlSafe<String> {
        let table = match self {
            LinkKind::Verification => "email_verifications",
            LinkKind::PasswordReset => "password_resets",
        };
        AssertSqlSafe(sql.replace("{table}", table))
    }
}

/// A link's account and the address it was sent to.
#[derive(Debug)]
pub struct Redeemed {
    pub user_id: String,
    /// The address it was sent to.
    pub email: String,
}

/// Records a new link for `user_id`, voiding the links of its kind sent before it.
pub async fn create(
    db: &Db,
    kind: LinkKind,
    hash: &TokenHash,
    user_id: &str,
    email: &str,
    expires_at: UnixTime,
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query(kind.sql("delete from {table} where user_id = $1"))
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(kind.sql(
        "insert into {table} (hash, user_id, email, expires_at, created_at) values ($1, $2, $3, $4, $5)",
    ))
    .bind(hash.as_str())
    .bind(user_id)
    .bind(email)
    .bind(expires_at)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// A valid link, without using it up.
pub async fn peek(
    db: &Db,
    kind: LinkKind,
    hash: &TokenHash,
    now: UnixTime,
) -> Result<Option<Redeemed>, sqlx::Error> {
    let row: Option<(String, String)> =
        sqlx::query_as(kind.sql("select user_id, email from {table} where hash = $1 and expires_at > $2"))
            .bind(hash.as_str())
            .bind(now)
            .fetch_optional(db)
            .await?;
    Ok(row.map(|(user_id, email)| Redeemed { user_id, email }))
}

/// Uses up a link: it is deleted whether or not it was still valid, so it works at most once.
pub async fn redeem(
    db: &Db,
    kind: LinkKind,
    hash: &TokenHash,
    now: UnixTime,
) -> Result<Option<Redeemed>, sqlx::Error> {
    let row: Option<(String, String, i64)> =
        sqlx::query_as(kind.sql("delete from {table} where hash = $1 returning user_id, email, expires_at"))
            .bind(hash.as_str())
            .fetch_optional(db)
            .await?;
    Ok(row
        .filter(|(_, _, expires_at)| *expires_at > now)
        .map(|(user_id, email, _)| Redeemed { user_id, email }))
}

/// When the newest link of a kind was sent to a user, if one is outstanding.
pub async fn last_sent(db: &Db, kind: LinkKind, user_id: &str) -> Result<Option<UnixTime>, sqlx::Error> {
    sqlx::query_scalar(kind.sql("select max(created_at) from {table} where user_id = $1"))
        .bind(user_id)
        .fetch_one(db)
        .await
}

/// Voids every link of a kind of a user (the password was set another way, say).
pub async fn void(db: &Db, kind: LinkKind, user_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(kind.sql("delete from {table} where user_id = $1"))
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}
