//! Failed-login counters, in SQL so that every replica sharing the database sees the same ones.

use crate::clock::UnixTime;
use crate::store::Db;

/// A failure streak is forgotten after a day without failures.
pub const FORGET_AFTER: i64 = 24 * 3600;

/// `locked_until` of each of `keys` that has a failure streak; empty when none has.
pub async fn streaks(db: &Db, keys: [&str; 2]) -> Result<Vec<UnixTime>, sqlx::Error> {
    sqlx::query_scalar("select locked_until from login_throttle where key in ($1, $2)")
        .bind(keys[0])
        .bind(keys[1])
        .fetch_all(db)
        .await
}

/// Counts one more failure on `key` and returns the consecutive count; a streak whose last
/// failure is older than `forget_before` starts again from one.
pub async fn record_failure(
    db: &Db,
    key: &str,
    now: UnixTime,
    forget_before: UnixTime,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "insert into login_throttle (key, failures, locked_until, updated_at) values ($1, 1, 0, $2)
         on conflict (key) do update set
             failures = case when login_throttle.updated_at < $3 then 1 else login_throttle.failures + 1 end,
             updated_at = $2
         returning failures",
    )
    .bind(key)
    .bind(now)
    .bind(forget_before)
    .fetch_one(db)
    .await
}

/// Locks `key` until `until`.
pub async fn lock(db: &Db, key: &str, until: UnixTime) -> Result<(), sqlx::Error> {
    sqlx::query("update login_throttle set locked_until = $2 where key = $1")
        .bind(key)
        .bind(until)
        .execute(db)
        .await?;
    Ok(())
}

/// Ends the streaks of `keys` after a successful login.
pub async fn clear(db: &Db, keys: [&str; 2]) -> Result<(), sqlx::Error> {
    sqlx::query("delete from login_throttle where key in ($1, $2)")
        .bind(keys[0])
        .bind(keys[1])
        .execute(db)
        .await?;
    Ok(())
}
