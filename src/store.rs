//! SQL storage through sqlx's `Any` driver (SQLite embedded, PostgreSQL in production), and the
//! refresh-family store.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, ConnectOptions, Executor};

/// Clients and users cached briefly in the process.
pub mod cache;
/// SQLite's WAL checkpoints, off the writers' path.
pub mod checkpoints;
/// OAuth clients.
pub mod clients;
/// Authorization codes: single use, in Redis or SQL.
pub mod codes;
/// Consent users gave clients.
pub mod consents;
/// Single-use links sent by email: verification and password reset.
pub mod email_links;
/// Refresh families (sessions) and the access-token denylist: one trait, one backend per engine.
pub mod families;
/// Hot reads on SQLite, run inline on the calling thread.
pub mod inline_reads;
/// The Redis connection shared by the stores that live there.
pub mod redis;
/// Pruning rows that can no longer change any answer.
pub mod retention;
/// Roles and the permissions they grant.
pub mod roles;
/// Signing keys' dates and the automatic-rotation claim.
pub mod signing_keys;
/// Browser sign-in sessions (single sign-on).
pub mod signins;
/// Failed-login counters for brute-force protection.
pub mod throttle;
/// Users and their roles.
pub mod users;
/// The commit a SQLite database in WAL mode is at, without a transaction.
pub mod wal_index;

/// A connection pool to whichever database the URL names. Every query is written in the SQL
/// that SQLite and PostgreSQL share (`$n` placeholders, `returning`, `on conflict`).
pub type Db = AnyPool;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Opens a pool; for SQLite, creates the data folder and the file if missing.
pub async fn connect(url: &str) -> anyhow::Result<Db> {
    sqlx::any::install_default_drivers();
    let sqlite = is_sqlite(url);
    if sqlite {
        create_sqlite_parent(url)?;
    }
    let url = if sqlite && !url.contains("mode=") {
        format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
    } else {
        url.to_owned()
    };
    let options = AnyConnectOptions::from_str(&url)
        .with_context(|| format!("parsing {}", crate::config::redact_url(&url)))?
        // Statements at debug (off by default; the round-trip test counts them), slow ones at
        // warn. sqlx logs the SQL text only, never the bound values.
        .log_statements(log::LevelFilter::Debug)
        .log_slow_statements(log::LevelFilter::Warn, Duration::from_millis(500));
    let pool = AnyPoolOptions::new()
        .max_connections(if sqlite { 8 } else { 16 })
        // Bounded: with the database gone, a request fails within this instead of hanging.
        .acquire_timeout(Duration::from_secs(3))
        // Testing a connection before each use costs a round trip per statement; a connection
        // to a local file cannot go stale, so SQLite skips it.
        .test_before_acquire(!sqlite)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if sqlite {
                    // WAL lets readers proceed during a write; the busy timeout makes concurrent
                    // writers queue instead of failing; foreign keys are off by default in SQLite.
                    conn.execute("pragma journal_mode = wal").await?;
                    conn.execute("pragma busy_timeout = 5000").await?;
                    conn.execute("pragma foreign_keys = on").await?;
                    conn.execute("pragma synchronous = normal").await?;
                    // The server checkpoints in a task of its own (store::checkpoints).
                    conn.execute(checkpoints::WRITER_FALLBACK).await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .with_context(|| format!("connecting to {}", crate::config::redact_url(&url)))?;
    Ok(pool)
}

/// Connects and applies the migrations: what every entry point needs before it can work.
pub async fn open(url: &str) -> anyhow::Result<Db> {
    let db = connect(url).await?;
    migrate(&db, url).await?;
    Ok(db)
}

/// Applies the embedded migrations of the pool's engine.
pub async fn migrate(db: &Db, url: &str) -> anyhow::Result<()> {
    let migrator = if is_sqlite(url) {
        &SQLITE_MIGRATIONS
    } else {
        &POSTGRES_MIGRATIONS
    };
    migrator.run(db).await.context("running migrations")?;
    Ok(())
}

/// Whether the database answers a trivial query.
pub async fn ping(db: &Db) -> bool {
    sqlx::query("select 1").execute(db).await.is_ok()
}

fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// Whether a pool is one to a SQLite database.
pub fn is_sqlite_pool(db: &Db) -> bool {
    is_sqlite(db.connect_options().database_url.as_str())
}

/// The file a SQLite URL names; `None` for another database or an in-memory one.
pub(crate) fn sqlite_path(url: &str) -> Option<&str> {
    if !is_sqlite(url) {
        return None;
    }
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    (!path.is_empty() && !path.starts_with(":memory:")).then_some(path)
}

fn create_sqlite_parent(url: &str) -> anyhow::Result<()> {
    let Some(path) = sqlite_path(url) else {
        return Ok(());
    };
    if let Some(parent) = Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    Ok(())
}

/// Which backing service an error says could not serve the request (a pool timeout, a refused
/// or dropped connection, an I/O timeout, a server still starting), if any, as opposed to a
/// fault in the request or in keyward: the request may succeed when retried, so it is answered
/// 503 with `Retry-After`.
pub fn unavailable_service(err: &anyhow::Error) -> Option<&'static str> {
    err.chain().find_map(|cause| {
        if let Some(sql) = cause.downcast_ref::<sqlx::Error>() {
            return sql_unavailable(sql).then_some("database");
        }
        if let Some(redis) = cause.downcast_ref::<::redis::RedisError>() {
            return redis_unavailable(redis).then_some("redis");
        }
        // A bare I/O error comes from the database driver's socket.
        cause.downcast_ref::<std::io::Error>().map(|_| "database")
    })
}

/// The sqlx errors that mean the database is unreachable or not serving: besides a lost
/// socket, PostgreSQL's connection exceptions (SQLSTATE class 08), a server shutting down or
/// starting up (57P01–57P03) and a full connection table (53300).
pub fn sql_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
            true
        }
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

/// The Redis errors that mean Redis cannot serve now but may shortly: a lost, refused or timed
/// out connection; a server still loading its data after a restart (`LOADING`); a cluster
/// resharding or without a quorum (`MOVED`, `ASK`, `TRYAGAIN`, `CLUSTERDOWN`, `MASTERDOWN`,
/// no node for a slot); a primary demoted in a failover (`READONLY`).
pub fn redis_unavailable(err: &::redis::RedisError) -> bool {
    use ::redis::{ErrorKind, ServerErrorKind};
    err.is_io_error()
        || err.is_timeout()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || err.is_cluster_error()
        || matches!(
            err.kind(),
            ErrorKind::ClusterConnectionNotFound
                | ErrorKind::Server(
                    ServerErrorKind::BusyLoading | ServerErrorKind::MasterDown | ServerErrorKind::ReadOnly
                )
        )
}

/// Whether an error is a unique-constraint violation (a duplicate email, client id, …).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Joins a list for a space-separated text column.
pub(crate) fn join_words<S: AsRef<str>>(words: &[S]) -> String {
    words.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(" ")
}

/// Splits a space-separated text column.
pub(crate) fn split_words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use ::redis::{ErrorKind, RedisError, ServerErrorKind};

    fn redis(kind: ErrorKind) -> anyhow::Error {
        anyhow::Error::new(RedisError::from((kind, "from the server"))).context("rotating")
    }

    #[test]
    fn a_redis_that_cannot_serve_yet_is_unavailable_not_a_fault() {
        for kind in [
            ServerErrorKind::BusyLoading,
            ServerErrorKind::TryAgain,
            ServerErrorKind::ClusterDown,
            ServerErrorKind::MasterDown,
            ServerErrorKind::ReadOnly,
            ServerErrorKind::Moved,
        ] {
            assert_eq!(
                super::unavailable_service(&redis(ErrorKind::Server(kind))),
                Some("redis"),
                "{kind:?}"
            );
        }
        for kind in [
            ErrorKind::Server(ServerErrorKind::ResponseError),
            ErrorKind::Server(ServerErrorKind::NoScript),
            ErrorKind::UnexpectedReturnType,
        ] {
            assert_eq!(super::unavailable_service(&redis(kind)), None, "{kind:?}");
        }
    }
}
