//! SQLite's WAL checkpoints, run by a task of their own instead of by whichever writer commits
//! past the threshold.
//!
//! By default the writer whose commit takes the log past a thousand pages copies the log back into
//! the database file and syncs it, while it still holds this process's write turn: every writer
//! queued behind it waits for random writes into the file and an fsync. Here writers checkpoint
//! only past ten thousand pages, [`WRITER_FALLBACK`] (if this task falls behind), and this task runs a passive
//! checkpoint a few times a second on a pool connection, beside the writers: a passive checkpoint
//! takes no lock a writer or reader needs. With the log copied back, the next writer restarts it
//! from the beginning, and readers of a quiet database read the file without searching the log.

use std::time::Duration;

use super::Db;

/// How often the log is copied back.
pub const EVERY: Duration = Duration::from_millis(250);

/// Pages of log (4 KiB each) past which a writer checkpoints by itself: the log's bound when this
/// task is not running (the CLI, tests) or cannot keep up. Set on every pool connection.
pub const WRITER_FALLBACK: &str = "pragma wal_autocheckpoint = 10000";

/// Runs passive checkpoints forever on a SQLite pool; returns at once for another database.
pub async fn run_periodically(db: Db) {
    if !super::is_sqlite_pool(&db) {
        return;
    }
    let mut every = tokio::time::interval(EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(e) = checkpoint(&db).await {
            tracing::warn!(error = %e, "checkpointing the SQLite log failed");
        }
    }
}

/// One passive checkpoint: how many pages the log holds, and how many of them are now in the
/// database file.
pub async fn checkpoint(db: &Db) -> Result<(i64, i64), sqlx::Error> {
    let (_busy, log, copied): (i64, i64, i64) = sqlx::query_as("pragma wal_checkpoint(passive)")
        .fetch_one(db)
        .await?;
    Ok((log, copied))
}
