//! Deleting rows that can no longer change any answer, so SQL does not grow without bound.

use crate::clock::UnixTime;
use crate::store::Db;

/// How many rows one pass removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub families: u64,
    pub denylist: u64,
    pub throttle: u64,
    pub verifications: u64,
}

/// Removes families that ended or expired before `ended_before` or went idle before
/// `idle_before` (their issued-token rows go with them), denylist entries of expired tokens, and
/// expired email-verification links, login streaks last touched before `forget_before` and no longer locked. The caller picks the
/// cut-offs so that every access token of a removed family has expired as well.
pub async fn prune(
    db: &Db,
    now: UnixTime,
    ended_before: UnixTime,
    idle_before: UnixTime,
    forget_before: UnixTime,
) -> Result<Pruned, sqlx::Error> {
    let families = sqlx::query(
        "delete from families
         where (status = 'revoked' and revoked_at < $1) or absolute_expires_at < $1 or rotated_at < $2",
    )
    .bind(ended_before)
    .bind(idle_before)
    .execute(db)
    .await?
    .rows_affected();
    let denylist = sqlx::query("delete from access_denylist where expires_at <= $1")
        .bind(now)
        .execute(db)
        .await?
        .rows_affected();
    let throttle = sqlx::query("delete from login_throttle where updated_at < $1 and locked_until <= $2")
        .bind(forget_before)
        .bind(now)
        .execute(db)
        .await?
        .rows_affected();
    let verifications = sqlx::query("delete from email_verifications where expires_at <= $1")
        .bind(now)
        .execute(db)
        .await?
        .rows_affected();
    Ok(Pruned {
        families,
        denylist,
        throttle,
        verifications,
    })
}
