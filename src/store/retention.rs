//! Deleting rows that can no longer change any answer, so SQL does not grow without bound.
//! Families keep their `signin_id` after the sign-in session row is gone: ending it again
//! would find nothing active anyway.

use sqlx::AssertSqlSafe;

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

/// Rows of the tables that grow with the number of sessions are examined this many at a time.
const CHUNK: i64 = 1000;
/// The pause between chunks: a writer of another process that found SQLite busy sleeps in its
/// busy handler (1, 2, 5, 10 ms …) and needs a gap to land in; measured, without it a refresh
/// still waited 67 ms during a pass over 100,000 sessions.
const BETWEEN_CHUNKS: std::time::Duration = std::time::Duration::from_millis(10);

/// Deletes the rows of `table` that match `condition` (whose `$3`, `$4`, … are `cutoffs`), one
/// chunk of `CHUNK` ids at a time, each chunk a statement of its own. Neither engine has an
/// index on the expiry times (rotation would have to update it on every refresh), so one
/// statement would scan the whole table while holding SQLite's write lock: measured, a pass
/// over 100,000 sessions stalled refreshes for 66 ms, and it grows with the table. A chunk
/// scans a range of the primary key in about a millisecond, and writers get their turn in the
/// pause between chunks.
async fn delete_in_chunks(
    db: &Db,
    table: &str,
    condition: &str,
    cutoffs: &[i64],
) -> Result<u64, sqlx::Error> {
    let mut after = String::new();
    let mut deleted = 0;
    loop {
        // The last id of the next chunk, if the table goes on that far.
        let boundary: Option<(String,)> = sqlx::query_as(AssertSqlSafe(format!(
            "select id from {table} where id > $1 order by id limit 1 offset {}",
            CHUNK - 1
        )))
        .bind(&after)
        .fetch_optional(db)
        .await?;
        let upper = match &boundary {
            Some(_) => "id <= $2",
            None => "$2 = $2",
        };
        let mut statement = sqlx::query(AssertSqlSafe(format!(
            "delete from {table} where id > $1 and {upper} and ({condition})"
        )))
        .bind(&after)
        .bind(boundary.as_ref().map_or("", |(id,)| id.as_str()));
        for cutoff in cutoffs {
            statement = statement.bind(*cutoff);
        }
        deleted += statement.execute(db).await?.rows_affected();
        let Some((last,)) = boundary else {
            return Ok(deleted);
        };
        after = last;
        tokio::time::sleep(BETWEEN_CHUNKS).await;
    }
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
    let families = delete_in_chunks(
        db,
        "families",
        "(status = 'revoked' and revoked_at < $3) or absolute_expires_at < $3 or rotated_at < $4",
        &[ended_before, idle_before],
    )
    .await?;
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
    let signins = delete_in_chunks(
        db,
        "signin_sessions",
        "ended_at < $3 or absolute_expires_at <= $3 or last_seen_at < $4",
        &[now, signin_idle_before],
    )
    .await?;
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
