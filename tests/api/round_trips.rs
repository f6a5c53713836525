//! The regression guard of the hot paths, independent of timing: how many SQL statements and
//! Redis commands each request makes, counted from a real `keyward serve` (sqlx's statement log;
//! keyward's own log of the reads it runs inline on SQLite; Redis MONITOR). A change that adds a query to a hot path fails here and must say why.
//! With `KEYWARD_TEST_POSTGRES_URL` and `KEYWARD_TEST_REDIS_URL` it runs on those servers.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::cli::{json as stdout_json, keyward_with};
use crate::helpers::postgres_schema;
use crate::process::Server;

const PASSWORD: &str = "correct horse battery staple";

/// One counted request: SQL statements (transaction control not counted) and Redis commands
/// sent by keyward (a script is one).
struct Step {
    name: &'static str,
    sql: usize,
    redis: usize,
}

#[tokio::test]
async fn each_hot_path_makes_a_fixed_number_of_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let mut env: Vec<(&str, String)> = vec![
        ("KEYWARD_LOG_FORMAT", "json".into()),
        // Counts must not depend on how fast a loaded machine runs the walk: cached rows stay
        // cached for the whole test.
        ("KEYWARD_CACHE_TTL", "1h".into()),
        (
            "RUST_LOG",
            "warn,sqlx::query=debug,keyward::sql=debug,tower_http::trace=debug".into(),
        ),
    ];
    let postgres = std::env::var("KEYWARD_TEST_POSTGRES_URL").is_ok();
    if let Ok(base) = std::env::var("KEYWARD_TEST_POSTGRES_URL") {
        env.push(("KEYWARD_DATABASE_URL", postgres_schema(&base).await));
    }
    let redis = std::env::var("KEYWARD_TEST_REDIS_URL").ok();
    let prefix = format!("kwtest:{}:", uuid::Uuid::new_v4().simple());
    if let Some(url) = &redis {
        env.push(("KEYWARD_REDIS_URL", url.clone()));
        env.push(("KEYWARD_REDIS_PREFIX", prefix.clone()));
    }
    keyward_with(&dir, &["migrate"], None, &env);
    let client = stdout_json(&keyward_with(
        &dir,
        &[
            "client",
            "create",
            "--name",
            "app",
            "--grant",
            "password",
            "--grant",
            "refresh_token",
            "--grant",
            "client_credentials",
            "--scope",
            "openid api",
            "--json",
        ],
        None,
        &env,
    ));
    // Ada, an admin, walks the hot paths and lists the accounts; the listing's statements must
    // not grow with the page.
    keyward_with(
        &dir,
        &[
            "user",
            "create",
            "--email",
            "ada@example.com",
            "--role",
            "admin",
            "--password-stdin",
        ],
        Some(PASSWORD),
        &env,
    );
    for email in ["grace@example.com", "alan@example.com"] {
        keyward_with(&dir, &["user", "create", "--email", email], None, &env);
    }
    let (id, secret) = (
        client["client_id"].as_str().unwrap().to_owned(),
        client["client_secret"].as_str().unwrap().to_owned(),
    );
    let mut server = Server::start(dir.path(), &dir.path().join("keys"), &env);
    let base = server.url();
    let http = reqwest::Client::new();
    // On a cluster, every seed node is watched and their counts added up.
    let mut monitor = match &redis {
        Some(urls) => {
            let mut nodes = Vec::new();
            for url in urls.split(',') {
                nodes.push(Monitor::start(url, &prefix).await);
            }
            Some(nodes)
        }
        None => None,
    };

    // Everything once to warm up (pool connections, script loading), then the counted walk.
    let mut counted: Vec<(&str, usize)> = Vec::new();
    for round in 0..2 {
        let form = |body: Vec<(&'static str, String)>, path: &'static str| {
            http.post(format!("{base}{path}"))
                .basic_auth(&id, Some(&secret))
                .form(&body)
        };
        let mut steps: Vec<(&'static str, reqwest::RequestBuilder)> = Vec::new();
        steps.push((
            "client_credentials",
            form(vec![("grant_type", "client_credentials".into())], "/oauth/token"),
        ));
        let tokens: Value = form(
            vec![
                ("grant_type", "password".into()),
                ("username", "ada@example.com".into()),
                ("password", PASSWORD.into()),
                ("scope", "openid api".into()),
            ],
            "/oauth/token",
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        if let Some(nodes) = monitor.as_mut() {
            for node in nodes.iter_mut() {
                node.mark().await;
            }
        }
        let access = tokens["access_token"].as_str().unwrap().to_owned();
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        steps.push((
            "refresh_token",
            form(
                vec![("grant_type", "refresh_token".into()), ("refresh_token", refresh)],
                "/oauth/token",
            ),
        ));
        steps.push((
            "introspect",
            form(vec![("token", access.clone())], "/oauth/introspect"),
        ));
        steps.push((
            "userinfo",
            http.get(format!("{base}/userinfo")).bearer_auth(&access),
        ));
        steps.push((
            "account me",
            http.get(format!("{base}/api/v1/users/me")).bearer_auth(&access),
        ));
        steps.push((
            "admin list users",
            http.get(format!("{base}/api/v1/users")).bearer_auth(&access),
        ));
        steps.push((
            "revoke access token",
            form(vec![("token", access.clone())], "/oauth/revoke"),
        ));
        for (name, request) in steps {
            let status = request.send().await.unwrap().status();
            assert!(status.is_success(), "{name}: {status}");
            let mut redis_commands = 0;
            for node in monitor.iter_mut().flatten() {
                redis_commands += node.mark().await;
            }
            if round == 1 {
                counted.push((name, redis_commands));
            }
        }
    }
    server.terminate();
    server.wait_exit(Duration::from_secs(15));

    let log = std::fs::read_to_string(dir.path().join("keyward.log")).unwrap();
    let per_request = statements_per_request(&log);
    // The second round's requests: the last ones of the log, after the warm-up's and the
    // uncounted password grants.
    let statements = &per_request[per_request.len() - counted.len()..];
    let seen: Vec<Step> = counted
        .iter()
        .zip(statements)
        .map(|((name, redis), sql)| Step {
            name,
            sql: sql.len(),
            redis: *redis,
        })
        .collect();
    // On SQLite the liveness check of bearer requests is an inline read (store::inline_reads),
    // and its answer is remembered until the next commit: UserInfo and the account, right after
    // the introspection of the same token, read nothing.
    let sqlite = !postgres && redis.is_none();
    if sqlite {
        for (step, statements) in counted.iter().zip(statements) {
            if step.0 == "introspect" {
                assert!(
                    statements[0].starts_with("inline: "),
                    "{}: {statements:?}",
                    step.0
                );
            }
        }
    }
    let expected = expected(redis.is_some(), sqlite);
    let show = |steps: &[Step]| {
        steps
            .iter()
            .map(|s| format!("{}: sql {} redis {}", s.name, s.sql, s.redis))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        show(&seen),
        show(&expected),
        "round trips per request changed; the statements were:\n{statements:#?}"
    );
}

/// Today's counts. Change them only with a reason in the commit.
fn expected(redis: bool, sqlite: bool) -> Vec<Step> {
    let step = |name, sql, redis| Step { name, sql, redis };
    if redis {
        vec![
            step("client_credentials", 0, 0),
            step("refresh_token", 0, 1),
            step("introspect", 0, 1),
            step("userinfo", 0, 1),
            step("account me", 0, 1),
            step("admin list users", 2, 1),
            step("revoke access token", 0, 1),
        ]
    } else {
        vec![
            step("client_credentials", 0, 0),
            // One compare-and-set `update`; a trigger records the successor.
            step("refresh_token", 1, 0),
            step("introspect", 1, 0),
            // On SQLite the token's liveness, read by the introspection, is remembered until the
            // next commit (the revocation): UserInfo, the account and the listing skip that read.
            step("userinfo", usize::from(!sqlite), 0),
            step("account me", usize::from(!sqlite), 0),
            step("admin list users", 3 - usize::from(sqlite), 0),
            step("revoke access token", 2, 0),
        ]
    }
}

/// SQL statements between the ends of consecutive requests, from the JSON log: each request
/// ends with tower-http's "finished processing request". Connection set-up is not counted.
fn statements_per_request(log: &str) -> Vec<Vec<String>> {
    let mut counts = Vec::new();
    let mut current = Vec::new();
    for line in log.lines() {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let message = event["fields"]["message"].as_str().unwrap_or_default();
        // keyward's inline SQLite reads (store::inline_reads) log their statements too.
        if event["target"] == "sqlx::query" || event["target"] == "keyward::sql" {
            let statement = event["fields"]["db.statement"]
                .as_str()
                .unwrap_or(message)
                .trim_start()
                .to_lowercase();
            let summary = event["fields"]["summary"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase();
            // Connection set-up, and transaction control (which PostgreSQL logs and SQLite
            // does not), are not counted.
            let uncounted = ["pragma", "set ", "begin", "commit", "rollback"];
            if !uncounted
                .iter()
                .any(|u| summary.starts_with(u) || statement.starts_with(u))
            {
                let inline = if event["target"] == "keyward::sql" {
                    "inline: "
                } else {
                    ""
                };
                current.push(format!("{inline}{summary}"));
            }
        } else if message == "finished processing request" {
            counts.push(std::mem::take(&mut current));
        }
    }
    counts
}

/// Redis MONITOR on its own connection: counts the commands keyward sends under this test's
/// prefix (not those a script runs inside Redis, nor other tests' sharing the server), between
/// markers this test sends.
struct Monitor {
    lines: tokio::io::Lines<BufReader<tokio::net::TcpStream>>,
    marker: tokio::net::TcpStream,
    prefix: String,
    serial: u64,
}

impl Monitor {
    async fn start(url: &str, prefix: &str) -> Self {
        let address = url
            .trim_start_matches("redis+cluster://")
            .trim_start_matches("redis://")
            .trim_end_matches('/');
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream.write_all(b"MONITOR\r\n").await.unwrap();
        let mut lines = BufReader::new(stream).lines();
        assert_eq!(lines.next_line().await.unwrap().unwrap(), "+OK");
        let marker = tokio::net::TcpStream::connect(address).await.unwrap();
        let mut monitor = Self {
            lines,
            marker,
            prefix: prefix.to_owned(),
            serial: 0,
        };
        monitor.mark().await;
        monitor
    }

    /// Sends a marker and returns the commands seen since the previous one.
    async fn mark(&mut self) -> usize {
        self.serial += 1;
        let token = format!("kw-round-trip-marker-{}-{}", std::process::id(), self.serial);
        let command = format!("*2\r\n$4\r\nECHO\r\n${}\r\n{token}\r\n", token.len());
        self.marker.write_all(command.as_bytes()).await.unwrap();
        let mut count = 0;
        loop {
            let line = tokio::time::timeout(Duration::from_secs(10), self.lines.next_line())
                .await
                .expect("MONITOR went quiet")
                .unwrap()
                .unwrap();
            if line.contains(&token) {
                return count;
            }
            if line.contains(&self.prefix) && !line.contains(" lua]") {
                count += 1;
            }
        }
    }
}
