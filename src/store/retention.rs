//! Deleting rows that can no longer change any answer, so SQL does not grow without bound.
//! Families keep their `signin_id` after the sign-in session row is gone: ending it again
//! would find nothing active anyway.

use crate::clock::UnixTime;
use crate::store::Db;

/// How many rows one pass removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub families: u64,
    pub denylist: u64,
    pub throttle: u64,
    pub verifications: u64,
    /// Authorization codes, expired or kept past use.
    pub codes: u64,
    /// Sign-in sessions and password-reset links.
    pub signins: u64,
    pub resets: u64,
}

/// Which rows are old enough to go, as times: rows that ended or expired before them.
#[derive(Debug, Clone, Copy)]
pub struct Cutoffs {
    pub now: UnixTime,
    /// Sessions that ended before this can go (every access token of them has expired).
    pub ended_before: UnixTime,
    /// Refresh families last rotated before this are idle and gone.
    pub idle_before: UnixTime,
    /// Login streaks last touched before this are forgotten.
    pub forget_before: UnixTime,
    /// Sign-in sessions last used before this are idle and gone.
    pub signin_idle_before: UnixTime,
}

/// Removes families that ended or expired before `ended_before` or went idle before
/// `idle_before` (their issued-token rows go with them), denylist entries of expired tokens,
/// expired email-verification and password-reset links, login streaks last touched before
/// `forget_before` and no longer locked, expired or long-used authorization codes, and sign-in
/// sessions that ended, expired or went idle. The caller picks the cut-offs so that every access
/// token of a removed family has expired as well.
pub async fn prune(db: &Db, cut: Cutoffs) -> Result<Pruned, sqlx::Error> {
    let Cutoffs {
        now,
        ended_before,
        idle_before,
        forget_before,
        signin_idle_before,
    } = cut;
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
    let codes = sqlx::query("delete from authorization_codes where expires_at <= $1")
        .bind(now)
        .execute(db)
        .await?
        .rows_affected();
    let signins = sqlx::query(
        "delete from signin_sessions
         where ended_at < $1 or absolute_expires_at <= $2 or last_seen_at < $3",
    )
    .bind(now)
    .bind(now)
    .bind(signin_idle_before)
    .execute(db)
    .await?
    .rows_affected();
    let resets = sqlx::query("delete from password_resets where expires_at <= $1")
        .bind(now)
        .execute(db)
        .await?
        .rows_affected();
    Ok(Pruned {
        families,
        denylist,
        throttle,
        verifications,
        codes,
        signins,
        resets,
    })
}
