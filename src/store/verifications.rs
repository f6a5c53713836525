//! Email-verification links: single use, stored only as the hash of the token they carry.

use crate::clock::UnixTime;
use crate::crypto::token::TokenHash;
use crate::store::Db;

/// A verification link that was redeemed.
#[derive(Debug)]
pub struct Redeemed {
    pub user_id: String,
    /// The address it was sent to.
    pub email: String,
}

/// Records a new link for `user_id`, voiding the links sent before it.
pub async fn create(
    db: &Db,
    hash: &TokenHash,
    user_id: &str,
    email: &str,
    expires_at: UnixTime,
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query("delete from email_verifications where user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "insert into email_verifications (hash, user_id, email, expires_at, created_at)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(hash.as_str())
    .bind(user_id)
    .bind(email)
    .bind(expires_at)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Uses up a link: it is deleted whether or not it was still valid, so it works at most once.
pub async fn redeem(db: &Db, hash: &TokenHash, now: UnixTime) -> Result<Option<Redeemed>, sqlx::Error> {
    let row: Option<(String, String, i64)> = sqlx::query_as(
        "delete from email_verifications where hash = $1 returning user_id, email, expires_at",
    )
    .bind(hash.as_str())
    .fetch_optional(db)
    .await?;
    Ok(row
        .filter(|(_, _, expires_at)| *expires_at > now)
        .map(|(user_id, email, _)| Redeemed { user_id, email }))
}

/// When the newest link of a user was sent, if one is outstanding.
pub async fn last_sent(db: &Db, user_id: &str) -> Result<Option<UnixTime>, sqlx::Error> {
    sqlx::query_scalar("select max(created_at) from email_verifications where user_id = $1")
        .bind(user_id)
        .fetch_one(db)
        .await
}
