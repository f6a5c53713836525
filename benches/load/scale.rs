//! The growth benchmark: `cargo bench --bench load -- --scale 10k,100k,1m [--postgres URL]
//! [--redis URL]`. For each size, a fresh server whose database (and Redis) is seeded in bulk
//! with that many users, clients and live sessions, then the same scenarios at every size:
//! password, refresh (spread over the sessions), introspection and UserInfo over a working set
//! of distinct access tokens, a page of the admin's account listing, and the ten-minute
//! housekeeping pass run while refreshes go on. It prints the storage each live session takes
//! and, at the end, how each p99 grew from the smallest size to the largest.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::StreamExt;
use keyward::crypto::keys::Alg;
use keyward::crypto::token::TokenHash;
use keyward::store::families::{Families, FamilyStore, NewFamily};
use keyward::store::retention::{Cutoffs, prune};
use keyward::store::{self, Db};

use crate::Options;
use crate::client::Connection;
use crate::limits;
use crate::postgres::Schema;
use crate::scenarios::{Bound, Ctx, Summary, Work, json_field, mb, share_of};
use crate::server::Server;

/// Rows per `insert` statement while seeding.
const BATCH: usize = 500;
/// Sessions the refresh scenarios spread over (fewer when the size is smaller).
const REFRESHED: usize = 8192;
/// One in this many seeded sessions has gone idle, for the housekeeping pass to remove.
const EXPIRED_EVERY: usize = 100;
/// What every seeded session was granted: UserInfo needs `openid`, so each refresh carries an
/// ID token too (two signatures).
const SESSION_SCOPE: &str = "openid api";
/// The scenarios compared across sizes.
const COMPARED: [&str; 6] = [
    "password",
    "refresh",
    "introspect",
    "userinfo",
    "admin list",
    "refresh+housekeeping",
];

/// One size's figures.
struct Measured {
    size: usize,
    summaries: Vec<Summary>,
}

pub async fn run(options: &Options) {
    let backend = match (&options.postgres, &options.redis) {
        (Some(_), Some(_)) => "PostgreSQL + Redis",
        (Some(_), None) => "PostgreSQL",
        (None, Some(_)) => "SQLite + Redis",
        (None, None) => "SQLite",
    };
    println!(
        "keyward growth benchmark: {backend}, sizes {:?}, {} workers, {:?} per scenario, introspection \
         over up to {} distinct tokens",
        options.scale, options.concurrency, options.duration, options.working_set
    );
    let limits = limits::measure(Duration::from_secs(3), Alg::RS256).await;
    println!(
        "limits ({} cores): RS256 sign {:.0}/s, verify {:.0}/s, Argon2id {:.1}/s",
        limits.cores, limits.signs_per_sec, limits.verifies_per_sec, limits.hashes_per_sec
    );
    let mut measured = Vec::new();
    for &size in &options.scale {
        let schema = match &options.postgres {
            Some(base) => Some(Schema::create(base).await),
            None => None,
        };
        let server = Server::start(options, schema.as_ref().map(Schema::url), Alg::RS256);
        println!("\n== {size} users, clients and live sessions");
        let seeded = seed(&server, options, size).await;
        let summaries = measure(&server, options, &limits, &seeded).await;
        measured.push(Measured { size, summaries });
        drop(server);
        if let Some(schema) = schema {
            schema.drop().await;
        }
    }
    compare(&measured);
    // The CI smoke run relies on this: a scenario that failed requests fails the run.
    let errors: u64 = measured.iter().flat_map(|m| &m.summaries).map(|s| s.errors).sum();
    assert_eq!(errors, 0, "requests failed (see the statuses above)");
}

/// What seeding left for the scenarios.
struct Seeded {
    size: usize,
    /// The live sessions' refresh tokens, in seeding order.
    refresh_tokens: Vec<String>,
    /// An account id from the middle of the listing: the admin page's cursor.
    middle_user: String,
    /// Idle sessions seeded for the housekeeping pass (none in Redis, where keys expire).
    idle: usize,
}

/// Seeds `size` users, clients and live sessions (plus 1 % idle sessions for housekeeping),
/// in bulk, straight into the server's stores; prints the time and the storage per session.
async fn seed(server: &Server, options: &Options, size: usize) -> Seeded {
    let started = Instant::now();
    server.admin("admin@scale.test");
    let db = store::connect(&server.database_url()).await.expect("database");
    let (password_hash,): (String,) =
        sqlx::query_as("select password_hash from users where email_normalized = 'admin@scale.test'")
            .fetch_one(&db)
            .await
            .expect("the admin's password hash");
    let (secret_hash,): (String,) = sqlx::query_as("select secret_hash from clients where id = $1")
        .bind(&server.client_id)
        .fetch_one(&db)
        .await
        .expect("the bench client's secret hash");
    let now = keyward::clock::system_now();
    let user_id =
        |i: usize| uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + i as u128).to_string();

    insert(
        &db,
        "users (id, email, email_normalized, password_hash, status, email_verified, created_at, updated_at)",
        size,
        |i| {
            let email = format!("u{i}@scale.test");
            vec![
                V::S(user_id(i)),
                V::S(email.clone()),
                V::S(email),
                V::S(password_hash.clone()),
                V::S("active".into()),
                V::I(1),
                V::I(now),
                V::I(now),
            ]
        },
    )
    .await;
    insert(
        &db,
        "clients (id, name, secret_hash, is_public, grant_types, scopes, redirect_uris, created_at, updated_at)",
        size,
        |i| {
            vec![
                V::S(format!("scale-client-{i}")),
                V::S(format!("Client {i}")),
                V::S(secret_hash.clone()),
                V::I(0),
                V::S("client_credentials".into()),
                V::S("api".into()),
                V::S(String::new()),
                V::I(now),
                V::I(now),
            ]
        },
    )
    .await;
    let users_done = started.elapsed();

    // Sessions: every one of the bench client (so the benchmark can refresh it), one per user.
    let storage_before = storage(server, &db).await;
    let idle = 3600; // the benchmark server's idle and absolute lifetimes
    let family_id =
        |i: usize| uuid::Uuid::from_u128(0x0191_0000_0000_4000_8000_0000_0000_0000 + i as u128).to_string();
    let token = |i: usize| {
        let secret = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            format!("scale session {i}").as_bytes(),
        ));
        format!("{}.{secret}", family_id(i))
    };
    let expired = size / EXPIRED_EVERY;
    let total = size + expired;
    // Seeded in the order of their ids, as sessions opened over time would be.
    let rotated_at = |i: usize| if i >= size { now - 2 * idle } else { now };
    match server.redis_prefix() {
        None => {
            insert(
                &db,
                "families (id, user_id, client_id, scope, auth_time, created_at, absolute_expires_at, \
                 current_hash, generation, rotated_at)",
                total,
                |i| {
                    vec![
                        V::S(family_id(i)),
                        V::S(user_id(i % size)),
                        V::S(server.client_id.clone()),
                        V::S(SESSION_SCOPE.into()),
                        V::I(rotated_at(i)),
                        V::I(rotated_at(i)),
                        V::I(rotated_at(i) + idle),
                        V::S(TokenHash::of(&token(i)).as_str().to_owned()),
                        V::I(0),
                        V::I(rotated_at(i)),
                    ]
                },
            )
            .await;
        }
        Some(prefix) => {
            // Through keyward's own store: its keys and indexes, pipelined 256 at a time.
            let config = keyward::config::Config {
                redis_url: options.redis.clone(),
                redis_prefix: prefix,
                ..keyward::config::Config::default()
            };
            let families = Families::from_config(&config, db.clone(), None)
                .await
                .expect("Redis");
            let families = &families;
            let user_ids: Vec<String> = (0..size).map(user_id).collect();
            let user_ids = &user_ids;
            let client_id = server.client_id.as_str();
            futures_util::stream::iter(0..size)
                .map(|i| async move {
                    let id = family_id(i);
                    let hash = TokenHash::of(&token(i));
                    families
                        .create(
                            NewFamily {
                                id: &id,
                                user_id: &user_ids[i],
                                client_id,
                                scope: SESSION_SCOPE,
                                auth_time: now,
                                absolute_expires_at: now + idle,
                                expires_at: now + idle,
                                refresh: Some(&hash),
                                signin_id: None,
                            },
                            now,
                        )
                        .await
                        .expect("a family in Redis");
                })
                .buffer_unordered(256)
                .collect::<Vec<()>>()
                .await;
        }
    }
    if !server.database_url().starts_with("sqlite") {
        // As autovacuum would after a bulk load: the planner needs the new tables' statistics.
        sqlx::query("analyze").execute(&db).await.expect("analyze");
    }
    let storage_after = storage(server, &db).await;
    let per_session = (storage_after - storage_before) / size as f64;
    println!(
        "seeded in {:.1} s (users and clients {:.1} s); storage per live session: {:.0} bytes ({})",
        started.elapsed().as_secs_f64(),
        users_done.as_secs_f64(),
        per_session,
        storage_kind(server)
    );
    db.close().await;
    Seeded {
        size,
        refresh_tokens: (0..size).map(token).collect(),
        middle_user: user_id(size / 2),
        idle: if server.redis_prefix().is_some() {
            0
        } else {
            expired
        },
    }
}

/// What the per-session storage figure counts.
fn storage_kind(server: &Server) -> &'static str {
    match (server.redis_prefix(), server.database_url().starts_with("sqlite")) {
        (Some(_), _) => "Redis used_memory growth",
        (None, true) => "SQLite file growth after a checkpoint",
        (None, false) => "PostgreSQL families + refresh_tokens, tables and indexes",
    }
}

/// The storage the sessions live in, in bytes.
async fn storage(server: &Server, db: &Db) -> f64 {
    if server.redis_prefix().is_some() {
        let client = redis::Client::open(server.env_redis_url()).expect("Redis URL");
        let mut conn = client.get_multiplexed_async_connection().await.expect("Redis");
        let info: String = redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut conn)
            .await
            .expect("INFO");
        return info
            .lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0);
    }
    let url = server.database_url();
    if let Some(path) = url.strip_prefix("sqlite://") {
        let _ = sqlx::query("pragma wal_checkpoint(truncate)").execute(db).await;
        return std::fs::metadata(path).map_or(0.0, |m| m.len() as f64);
    }
    let (bytes,): (i64,) = sqlx::query_as(
        "select (pg_total_relation_size('families') + pg_total_relation_size('refresh_tokens'))::bigint",
    )
    .fetch_one(db)
    .await
    .expect("relation sizes");
    bytes as f64
}

/// A value to bind while seeding.
enum V {
    S(String),
    I(i64),
}

/// Inserts `rows` rows made by `row` into `target` ("table (columns)"), `BATCH` rows a
/// statement, in transactions of a few thousand.
async fn insert(db: &Db, target: &str, rows: usize, row: impl Fn(usize) -> Vec<V>) {
    let mut at = 0;
    while at < rows {
        let mut tx = db.begin().await.expect("begin");
        for _ in 0..20 {
            if at >= rows {
                break;
            }
            let end = (at + BATCH).min(rows);
            let values: Vec<Vec<V>> = (at..end).map(&row).collect();
            let width = values[0].len();
            let tuples: Vec<String> = (0..values.len())
                .map(|r| {
                    let marks: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
                    format!("({})", marks.join(", "))
                })
                .collect();
            let sql = format!("insert into {target} values {}", tuples.join(", "));
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for value in values.into_iter().flatten() {
                query = match value {
                    V::S(s) => query.bind(s),
                    V::I(i) => query.bind(i),
                };
            }
            query
                .execute(&mut *tx)
                .await
                .unwrap_or_else(|e| panic!("seeding {target}: {e:#}"));
            at = end;
        }
        tx.commit().await.expect("commit");
    }
}

/// The scenarios at one size.
async fn measure(
    server: &Server,
    options: &Options,
    limits: &limits::Limits,
    seeded: &Seeded,
) -> Vec<Summary> {
    let basic = server.basic_authorization();
    let ctx = Ctx {
        server,
        basic: &basic,
        limits,
        options,
    };
    let workers = options.concurrency;
    let size = seeded.size;
    // Sessions spread evenly over the table, in disjoint sets: a quarter (by index modulo 4)
    // for the refresh scenario, a quarter for the housekeeping pass, half to mint the
    // introspection set from.
    let spread = |count: usize, classes: &[usize]| -> Vec<String> {
        let pool: Vec<usize> = (0..size).filter(|i| classes.contains(&(i % 4))).collect();
        let count = count.clamp(1, pool.len());
        (0..count)
            .map(|k| seeded.refresh_tokens[pool[k * pool.len() / count]].clone())
            .collect()
    };
    let refreshed = REFRESHED.min(size / 4).max(workers);
    let first = spread(refreshed, &[0]);
    let second = spread(refreshed, &[1]);
    let minted_from = spread(options.working_set.min(size / 2).max(workers), &[2, 3]);
    let access_tokens = mint(server, &basic, &minted_from, workers).await;

    let mut summaries = Vec::new();
    summaries.push(
        ctx.scenario("password", Bound::Hashes, workers, |i| Work::Password {
            username: format!("u{}@scale.test", i * size / workers),
            scope: "api",
        })
        .await,
    );
    summaries.push(
        ctx.scenario("refresh", Bound::Signatures(2.0), workers, |i| {
            Work::RefreshEach {
                tokens: share_of(&first, i, workers),
                next: 0,
            }
        })
        .await,
    );
    summaries.push(
        ctx.scenario("introspect", Bound::Verifications, workers, |i| {
            Work::Introspect {
                tokens: share_of(&access_tokens, i, workers),
                next: 0,
            }
        })
        .await,
    );
    summaries.push(
        ctx.scenario("userinfo", Bound::Verifications, workers, |i| Work::Userinfo {
            tokens: share_of(&access_tokens, i, workers),
            next: 0,
        })
        .await,
    );
    let admin = admin_token(server, &basic).await;
    summaries.push(
        ctx.scenario("admin list", Bound::None, workers, |_| Work::AdminList {
            bearer: admin.clone(),
            after: seeded.middle_user.clone(),
        })
        .await,
    );
    // The housekeeping pass, run by another process on the same database half a second into a
    // refresh scenario: the refreshes' tail shows whether it blocked them.
    let url = server.database_url();
    let pass = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let db = store::connect(&url).await.expect("database");
        let now = keyward::clock::system_now();
        let started = Instant::now();
        let pruned = prune(
            &db,
            Cutoffs {
                now,
                ended_before: now - 900,
                idle_before: now - 3600 - 900,
                forget_before: now - 86_400,
                signin_idle_before: now - 86_400,
            },
        )
        .await
        .expect("housekeeping pass");
        (started.elapsed(), pruned.families)
    });
    summaries.push(
        ctx.scenario("refresh+housekeeping", Bound::Signatures(2.0), workers, |i| {
            Work::RefreshEach {
                tokens: share_of(&second, i, workers),
                next: 0,
            }
        })
        .await,
    );
    let (took, families) = pass.await.expect("housekeeping task");
    println!(
        "housekeeping pass: {:.1} ms, {families} idle sessions removed (of {} seeded idle); slowest \
         refresh during it {:.1} ms, without it {:.1} ms",
        took.as_secs_f64() * 1000.0,
        seeded.idle,
        summaries[5].max,
        summaries[1].max
    );
    let (idle, _) = server.rss();
    println!("server RSS after the scenarios: {:.1} MB", mb(idle));
    summaries
}

/// Access tokens, one per session of `sessions`, minted by refreshing each once (16 at a time).
async fn mint(server: &Server, basic: &str, sessions: &[String], workers: usize) -> Vec<String> {
    let started = Instant::now();
    let chunks: Vec<Vec<String>> = (0..workers).map(|i| share_of(sessions, i, workers)).collect();
    let port = server.port;
    let minted = futures_util::future::join_all(chunks.into_iter().map(|chunk| async move {
        let mut connection = Connection::open(port).await;
        let mut tokens = Vec::with_capacity(chunk.len());
        let headers = [
            ("content-type", "application/x-www-form-urlencoded"),
            ("authorization", basic),
        ];
        for refresh in chunk {
            let body = format!(
                "grant_type=refresh_token&refresh_token={}",
                crate::scenarios::encode(&refresh)
            );
            let answer = connection
                .send(hyper::Method::POST, "/oauth/token", &headers, body.into())
                .await;
            assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
            tokens.push(json_field(&answer.body, "access_token"));
        }
        tokens
    }))
    .await;
    let tokens: Vec<String> = minted.into_iter().flatten().collect();
    println!(
        "minted {} distinct access tokens in {:.1} s",
        tokens.len(),
        started.elapsed().as_secs_f64()
    );
    tokens
}

/// An access token of the seeded administrator.
async fn admin_token(server: &Server, basic: &str) -> String {
    let mut connection = Connection::open(server.port).await;
    let body = format!(
        "grant_type=password&username=admin%40scale.test&password={}&scope=api",
        crate::scenarios::encode(crate::server::PASSWORD)
    );
    let headers = [
        ("content-type", "application/x-www-form-urlencoded"),
        ("authorization", basic),
    ];
    let answer = connection
        .send(hyper::Method::POST, "/oauth/token", &headers, body.into())
        .await;
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    json_field(&answer.body, "access_token")
}

/// How each scenario's p99 grew from the smallest size to the largest (target: at most 1.5x).
fn compare(measured: &[Measured]) {
    let (Some(small), Some(large)) = (measured.first(), measured.last()) else {
        return;
    };
    println!("\np99 in ms by size, and the largest size's p99 over the smallest's (target <= 1.5):");
    let sizes: Vec<String> = measured.iter().map(|m| format!("{:>10}", m.size)).collect();
    println!("{:<22}{}   ratio", "scenario", sizes.join(""));
    for (i, name) in COMPARED.iter().enumerate() {
        let cells: Vec<String> = measured
            .iter()
            .map(|m| format!("{:>10.2}", m.summaries[i].p99))
            .collect();
        let ratio = large.summaries[i].p99 / small.summaries[i].p99.max(0.001);
        println!(
            "{:<22}{}   {:.2}{}",
            name,
            cells.join(""),
            ratio,
            if ratio <= 1.5 { "" } else { "  (above 1.5)" }
        );
    }
    let throughput: Vec<String> = COMPARED
        .iter()
        .enumerate()
        .map(|(i, name)| {
            format!(
                "{name} {:.2}",
                large.summaries[i].rps / small.summaries[i].rps.max(0.001)
            )
        })
        .collect();
    println!("throughput, largest over smallest: {}", throughput.join(", "));
}
