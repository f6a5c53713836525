//! Hot reads on SQLite, run inline on the calling thread through connections of their own.
//!
//! sqlx runs every SQLite connection on a thread of its own: a statement is a message to that
//! thread and a message back, two futex wake-ups that cost more than the read itself (a third of
//! the server's CPU under introspection load, measured). A read in WAL mode never waits for a
//! writer, so the liveness check of every bearer request runs here instead, on the request's own
//! thread, in a few microseconds. It reads the committed state at the time of the request, as
//! the pool would. A live answer is then kept (`families::live_tokens`) only until the next
//! commit of any process, which the wal-index header tells without a read ([`WalIndex`]), so a
//! revocation is still seen at once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::wal_index::{Commit, WalIndex};

/// How much of the database file each connection maps (address space, not memory: the pages
/// are the kernel's page cache, shared by every connection).
const MMAP_BYTES: i64 = 1 << 30;

/// Read connections to one SQLite file.
pub struct InlineReads {
    connections: Vec<Mutex<Connection>>,
    /// Which commit the file is at, for answers remembered until the next one.
    wal_index: Option<WalIndex>,
}

impl InlineReads {
    /// Connections to the SQLite file of `db`; `None` for PostgreSQL, an in-memory database, or
    /// a file these connections cannot open (logged: the pool then serves every read).
    pub fn for_pool(db: &super::Db) -> Option<Arc<Self>> {
        Self::open(db.connect_options().database_url.as_str())
            .inspect_err(|err| tracing::warn!(error = %format!("{err:#}"), "inline SQLite reads unavailable"))
            .ok()
            .flatten()
            .map(Arc::new)
    }

    /// Connections to the file `url` names; `None` for another database or an in-memory one.
    /// One per core: a read holds its connection for microseconds and never yields.
    pub fn open(url: &str) -> anyhow::Result<Option<Self>> {
        let Some(path) = super::sqlite_path(url) else {
            return Ok(None);
        };
        let count = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut connections = Vec::with_capacity(count);
        for _ in 0..count {
            let connection = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            // A WAL reader waits only while a crashed writer's log is recovered; it must not
            // hold the thread long even then (the caller falls back to the pool).
            connection.busy_timeout(Duration::from_millis(20))?;
            connection.pragma_update(None, "query_only", true)?;
            // Pages through a memory map rather than a read system call each: with a million
            // sessions a lookup touches pages no connection's own cache holds.
            connection.pragma_update(None, "mmap_size", MMAP_BYTES)?;
            connections.push(Mutex::new(connection));
        }
        // Without it every check reads the database, as before: slower, never wrong.
        let wal_index = WalIndex::open(path.as_ref())
            .inspect_err(|err| tracing::warn!(%err, "SQLite's wal-index unreadable; liveness is read on every request"))
            .ok()
            .flatten();
        Ok(Some(Self {
            connections,
            wal_index,
        }))
    }

    /// The commit the database is at now; `None` when that cannot be told without a read
    /// (another journal mode, or a writer rewriting the header at this very moment).
    pub fn commit(&self) -> Option<Commit> {
        self.wal_index.as_ref()?.commit()
    }

    /// Runs `read` on a free connection. `None` when every connection is in use or the read
    /// failed: the caller asks the pool instead, which sorts and reports errors.
    pub fn read<T>(
        &self,
        summary: &'static str,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Option<T> {
        let connection = self.connections.iter().find_map(|c| c.try_lock().ok())?;
        // Counted by the round-trip guard like sqlx's statement log.
        tracing::debug!(target: "keyward::sql", summary, "inline read");
        read(&connection)
            .inspect_err(|err| tracing::debug!(%err, summary, "inline read failed; asking the pool"))
            .ok()
    }
}
