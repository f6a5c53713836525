//! Which commit a SQLite database in WAL mode is at, read from its wal-index header in shared
//! memory: no transaction, no lock, two dozen loads.
//!
//! Every commit of every connection, in this process or another, rewrites the header (the WAL
//! file format, <https://sqlite.org/walformat.html> §2.1) and increments its change counter, so
//! an unchanged header means an unchanged database. `PRAGMA data_version` says the same but is a
//! read transaction of its own, with the `-shm` file locks that make a read cost microseconds.

use std::ffi::{c_int, c_void};
use std::path::Path;
use std::ptr::NonNull;
use std::sync::Mutex;
use std::sync::atomic::{Ordering, fence};

use rusqlite::{Connection, OpenFlags, ffi};

/// A copy of the header is 48 bytes (`WalIndexHdr`); the second copy follows the first.
const WORDS: usize = 12;
/// The size of the regions SQLite maps the wal-index in (`WALINDEX_PGSZ`).
const REGION_BYTES: c_int = 32 * 1024;
/// The wal-index version SQLite writes in a header's first word (`WALINDEX_MAX_VERSION`).
const WAL_INDEX_VERSION: u32 = 3_007_000;

/// A database's commit, as its wal-index header identifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Commit([u32; WORDS]);

#[cfg(test)]
impl Commit {
    /// A made-up commit, numbered, for tests of what is kept per commit.
    pub fn numbered(n: u32) -> Self {
        let mut words = [0; WORDS];
        words[2] = n;
        Self(words)
    }
}

/// The wal-index header of one SQLite file, as SQLite itself maps it.
pub struct WalIndex {
    /// SQLite's mapping of the wal-index's first region, two copies of the header at its start.
    header: NonNull<u32>,
    /// The connection whose mapping `header` points into: the mapping lives as long as it does
    /// and, while it is open, no other process can delete or truncate the `-shm` file (SQLite
    /// holds a shared lock on it for every open connection).
    _connection: Mutex<Connection>,
}

// SAFETY: `header` points into shared memory that lives as long as `_connection`, which the
// struct owns; it is only read, with volatile loads, as other processes write it anyway.
unsafe impl Send for WalIndex {}
// SAFETY: as above; `&self` gives access to nothing but those loads.
unsafe impl Sync for WalIndex {}

impl WalIndex {
    /// The wal-index of the database at `path`; `None` when the database is not in WAL mode or
    /// its VFS keeps no shared wal-index.
    pub fn open(path: &Path) -> rusqlite::Result<Option<Self>> {
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // A read maps the wal-index; the journal mode says whether there is one.
        connection.query_row("select count(*) from sqlite_schema", [], |_| Ok(()))?;
        let mode: String = connection.query_row("pragma journal_mode", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Ok(None);
        }
        let Some(header) = first_region(&connection) else {
            return Ok(None);
        };
        let index = Self {
            header,
            _connection: Mutex::new(connection),
        };
        Ok(index
            .commit()
            .filter(|commit| commit.0[0] == WAL_INDEX_VERSION)
            .map(|_| index))
    }

    /// The commit the database is at; `None` while a writer is rewriting the header (the two
    /// copies differ) or before it was ever written.
    pub fn commit(&self) -> Option<Commit> {
        // SQLite writes the second copy, then (after a barrier) the first; read in the other
        // order, equal copies are one whole header (the same protocol as SQLite's readers).
        let first = self.copy(0);
        fence(Ordering::Acquire);
        let second = self.copy(WORDS);
        // Nothing the caller reads next may be read before the header was.
        fence(Ordering::Acquire);
        let initialised = first[3].to_ne_bytes()[0] == 1;
        (first == second && initialised).then_some(Commit(first))
    }

    fn copy(&self, start: usize) -> [u32; WORDS] {
        let mut words = [0; WORDS];
        for (i, word) in words.iter_mut().enumerate() {
            // SAFETY: the region is 32 KiB, page-aligned and mapped while `_connection` is open;
            // the two copies are its first 96 bytes. Other processes write it without Rust's
            // knowledge, so the loads are volatile; a torn read shows as unequal copies.
            *word = unsafe { self.header.add(start + i).read_volatile() };
        }
        words
    }
}

/// SQLite's mapping of the first wal-index region of `connection`'s main database, which its
/// first read mapped.
fn first_region(connection: &Connection) -> Option<NonNull<u32>> {
    let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
    // SAFETY: SQLITE_FCNTL_FILE_POINTER writes the main database's `sqlite3_file` pointer, valid
    // while the connection is open, into `file`; the handle is live as `connection` is.
    let rc = unsafe {
        ffi::sqlite3_file_control(
            connection.handle(),
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_FILE_POINTER,
            (&raw mut file).cast(),
        )
    };
    if rc != ffi::SQLITE_OK || file.is_null() {
        return None;
    }
    // SAFETY: `file` is SQLite's open file object; its methods table outlives it.
    let methods = unsafe { (*file).pMethods.as_ref()? };
    // xShmMap exists from version 2 of the methods table on.
    if methods.iVersion < 2 {
        return None;
    }
    let map = methods.xShmMap?;
    let mut region: *mut c_void = std::ptr::null_mut();
    // SAFETY: with `bExtend` 0 this only returns the region SQLite already mapped for this
    // connection (or null), as SQLite's own WAL code asks for it; the call takes the shared
    // memory's own mutex.
    let rc = unsafe { map(file, 0, REGION_BYTES, 0, &raw mut region) };
    if rc != ffi::SQLITE_OK || region.cast::<u32>().align_offset(align_of::<u64>()) != 0 {
        return None;
    }
    NonNull::new(region.cast())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wal_database(dir: &tempfile::TempDir) -> (std::path::PathBuf, Connection) {
        let path = dir.path().join("db.sqlite");
        let writer = Connection::open(&path).unwrap();
        writer.pragma_update(None, "journal_mode", "wal").unwrap();
        writer.execute("create table t (x integer)", []).unwrap();
        (path, writer)
    }

    #[test]
    fn every_commit_of_another_connection_changes_the_commit_and_reads_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let (path, writer) = wal_database(&dir);
        let index = WalIndex::open(&path).unwrap().unwrap();
        let before = index.commit().unwrap();
        writer
            .query_row("select count(*) from t", [], |_| Ok(()))
            .unwrap();
        assert_eq!(index.commit(), Some(before), "a read commits nothing");
        writer.execute("insert into t values (1)", []).unwrap();
        let after = index.commit().unwrap();
        assert_ne!(after, before);
        // A statement that changes no row commits no frame.
        writer.execute("delete from t where x = 2", []).unwrap();
        assert_eq!(index.commit(), Some(after));
        // A checkpoint that restarts the log, and the commit after it, still read as new.
        writer
            .query_row("pragma wal_checkpoint(truncate)", [], |_| Ok(()))
            .unwrap();
        writer.execute("insert into t values (1)", []).unwrap();
        let restarted = index.commit().unwrap();
        assert_ne!(restarted, after);
        assert_ne!(restarted, before);
    }

    #[test]
    fn a_database_in_another_journal_mode_has_no_wal_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        Connection::open(&path)
            .unwrap()
            .execute("create table t (x integer)", [])
            .unwrap();
        assert!(WalIndex::open(&path).unwrap().is_none());
    }
}
