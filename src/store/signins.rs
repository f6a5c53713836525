//! Browser sign-in sessions: the record behind the session cookie, found by the SHA-256 of the
//! cookie's secret, with an idle and an absolute expiry.

use sqlx::FromRow;

use crate::clock::UnixTime;
use crate::crypto::token::TokenHash;
use crate::store::Db;

/// A live sign-in session.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct SigninSession {
    pub id: String,
    pub user_id: String,
    /// When the user last entered their password.
    pub auth_time: UnixTime,
    pub last_seen_at: UnixTime,
    pub absolute_expires_at: UnixTime,
}

/// Records a session that begins now.
pub async fn create(
    db: &Db,
    session: &SigninSession,
    secret: &TokenHash,
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into signin_sessions (id, secret_hash, user_id, auth_time, created_at, last_seen_at, absolute_expires_at)
         values ($1, $2, $3, $4, $5, $5, $6)",
    )
    .bind(&session.id)
    .bind(secret.as_str())
    .bind(&session.user_id)
    .bind(session.auth_time)
    .bind(now)
    .bind(session.absolute_expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// The live session whose cookie secret hashes to `secret`: not ended, not past its absolute
/// expiry, used within the last `idle` seconds.
pub async fn find_live(
    db: &Db,
    secret: &TokenHash,
    now: UnixTime,
    idle: i64,
) -> Result<Option<SigninSession>, sqlx::Error> {
    sqlx::query_as(
        "select id, user_id, auth_time, last_seen_at, absolute_expires_at from signin_sessions
         where secret_hash = $1 and ended_at is null and absolute_expires_at > $2 and last_seen_at > $3",
    )
    .bind(secret.as_str())
    .bind(now)
    .bind(now.saturating_sub(idle))
    .fetch_optional(db)
    .await
}

/// Marks a session used at `now` (idle expiry counts from here); with `reauthenticated`, the
/// password was just entered again.
pub async fn touch(db: &Db, id: &str, now: UnixTime, reauthenticated: bool) -> Result<(), sqlx::Error> {
    let sql = if reauthenticated {
        "update signin_sessions set last_seen_at = $2, auth_time = $2 where id = $1 and ended_at is null"
    } else {
        "update signin_sessions set last_seen_at = $2 where id = $1 and ended_at is null"
    };
    sqlx::query(sql).bind(id).bind(now).execute(db).await?;
    Ok(())
}

/// Ends a session; false if it had ended already.
pub async fn end(db: &Db, id: &str, now: UnixTime) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("update signin_sessions set ended_at = $2 where id = $1 and ended_at is null")
        .bind(id)
        .bind(now)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends every session of a user; returns their ids.
pub async fn end_user(db: &Db, user_id: &str, now: UnixTime) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "update signin_sessions set ended_at = $2 where user_id = $1 and ended_at is null returning id",
    )
    .bind(user_id)
    .bind(now)
    .fetch_all(db)
    .await
}

/// Whether the session `id` is live (see [`find_live`]).
pub async fn is_live(db: &Db, id: &str, now: UnixTime, idle: i64) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar(
        "select 1 from signin_sessions
         where id = $1 and ended_at is null and absolute_expires_at > $2 and last_seen_at > $3",
    )
    .bind(id)
    .bind(now)
    .bind(now.saturating_sub(idle))
    .fetch_optional(db)
    .await?;
    Ok(found.is_some())
}
