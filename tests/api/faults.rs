//! Outages of a real Redis (issue 3 §4): a throwaway `redis-server` on its own port is stopped
//! mid-run and started again. Ignored by plain `cargo test` (it needs the redis-server binary);
//! `.ci/fault-tests` runs it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use tempfile::TempDir;

use crate::helpers::{TestApp, TestClient};

/// A redis-server of this test's own, keeping nothing on disk unless `appendonly`.
pub(crate) struct ThrowawayRedis {
    port: u16,
    dir: TempDir,
    child: Option<Child>,
    appendonly: bool,
}

impl ThrowawayRedis {
    fn start() -> Self {
        Self::start_with(false)
    }

    /// With `appendonly`, every write goes to an append-only file (fsynced every second, and on
    /// a clean shutdown), as the compose file runs it.
    pub(crate) fn start_with(appendonly: bool) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = Self {
            port,
            dir: tempfile::tempdir().unwrap(),
            child: None,
            appendonly,
        };
        redis.launch();
        redis
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops redis-server with SIGTERM (it writes out its append-only file) and starts it again.
    pub(crate) fn restart_cleanly(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id().to_string();
            Command::new("kill").args(["-TERM", &pid]).status().unwrap();
            child.wait().unwrap();
        }
        assert!(self.launch(), "redis-server did not start again on its port");
    }

    /// Rewrites the append-only file into its RDB base (where a load delay applies), stops
    /// redis-server with SIGTERM and starts it again spending `per_key` loading each key, so it
    /// answers `LOADING` for a while; returns once it does.
    fn restart_loading_slowly(&mut self, per_key: Duration) {
        self.command(b"BGREWRITEAOF\r\n");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self
            .command(b"INFO persistence\r\n")
            .contains("aof_rewrite_in_progress:0")
            || self
                .command(b"INFO persistence\r\n")
                .contains("aof_rewrite_scheduled:1")
        {
            assert!(Instant::now() < deadline, "the AOF rewrite did not finish");
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(mut child) = self.child.take() {
            let pid = child.id().to_string();
            Command::new("kill").args(["-TERM", &pid]).status().unwrap();
            child.wait().unwrap();
        }
        let delay = per_key.as_micros().to_string();
        let slowly = [
            "--key-load-delay",
            delay.as_str(),
            // Answer clients (with LOADING) every KiB loaded rather than every 2 MiB.
            "--loading-process-events-interval-bytes",
            "1024",
        ];
        assert!(
            self.launch_with(&slowly, b"-LOADING"),
            "redis-server did not start loading on its port"
        );
    }

    /// Sends one inline command and returns what arrived within a moment.
    fn command(&self, command: &[u8]) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        stream.write_all(command).unwrap();
        let mut reply = vec![0u8; 16 * 1024];
        let n = stream.read(&mut reply).unwrap_or(0);
        String::from_utf8_lossy(&reply[..n]).into_owned()
    }

    /// Starts redis-server on this port; false if it exited at once (the port was taken).
    fn launch(&mut self) -> bool {
        self.launch_with(&[], b"+PONG\r\n")
    }

    /// Starts redis-server with `extra` arguments and waits until PING is answered `reply`.
    fn launch_with(&mut self, extra: &[&str], reply: &[u8]) -> bool {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                if self.appendonly { "yes" } else { "no" },
                "--appendfsync",
                "everysec",
            ])
            .args(extra)
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed for the fault tests");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers(reply) {
            let exited = self
                .child
                .as_mut()
                .is_some_and(|c| c.try_wait().unwrap().is_some());
            if exited || Instant::now() >= deadline {
                self.stop();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// Whether PING is answered with `expected` (`+PONG`, or `-LOADING` while loading).
    fn answers(&self, expected: &[u8]) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let mut reply = vec![0u8; expected.len()];
        stream.write_all(b"PING\r\n").is_ok() && stream.read_exact(&mut reply).is_ok() && reply == expected
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for ThrowawayRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Fail closed: a token whose state cannot be checked is neither reported active nor accepted;
/// introspection and UserInfo answer 503 with `Retry-After`.
async fn assert_token_state_unavailable(app: &TestApp, client: &TestClient, access: &str) {
    app.introspection(client, access)
        .await
        .assert_oauth_error(503, "temporarily_unavailable");
    let userinfo = app.userinfo(access).await;
    assert_eq!(userinfo.status, 503);
    assert!(userinfo.header("retry-after").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts its own redis-server; run by .ci/fault-tests"]
async fn a_redis_outage_answers_fast_503s_fails_closed_and_recovers() {
    let mut redis = ThrowawayRedis::start();
    let url = redis.url();
    let app = TestApp::with_config(|c| {
        c.redis_url = Some(url);
        c.redis_prefix = "kwfault:".into();
    })
    .await;
    let client = app.full_client().await;
    app.user("ada@example.com", "pw-pw-pw-pw").await;
    let tokens = app.login(&client, "ada@example.com", "pw-pw-pw-pw").await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    redis.stop();
    let timed = Instant::now();
    let login = app
        .password_grant(&client, "ada@example.com", "pw-pw-pw-pw", None)
        .await;
    let login_took = timed.elapsed();
    login.assert_oauth_error(503, "temporarily_unavailable");
    assert!(login.header("retry-after").is_some());

    let timed = Instant::now();
    app.refresh(&client, &refresh)
        .await
        .assert_oauth_error(503, "temporarily_unavailable");
    let refresh_took = timed.elapsed();

    assert_token_state_unavailable(&app, &client, &access).await;

    // Client credentials need no session: they keep working while only Redis is down.
    assert_eq!(app.client_credentials(&client).await.status, 200);

    let ready = app.get("/ready", None).await;
    assert_eq!(ready.status, 503);
    assert_eq!(
        ready.json(),
        json!({"status": "unavailable", "database": "up", "redis": "down", "signing_key": "up"})
    );

    assert!(redis.launch(), "redis-server did not restart on its port");
    let timed = Instant::now();
    loop {
        if app.get("/ready", None).await.status == 200 {
            break;
        }
        assert!(
            timed.elapsed() < Duration::from_secs(30),
            "keyward did not recover after Redis returned"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recovered_after = timed.elapsed();
    // The restarted Redis kept nothing: old sessions are gone, and their tokens fail closed.
    assert_eq!(app.introspect(&client, &access).await, json!({"active": false}));
    let fresh = app.login(&client, "ada@example.com", "pw-pw-pw-pw").await;
    assert_eq!(
        app.refresh(&client, fresh["refresh_token"].as_str().unwrap())
            .await
            .status,
        200
    );

    eprintln!(
        "redis outage: password grant failed in {login_took:?}, refresh in {refresh_took:?}; \
         ready again {recovered_after:?} after Redis returned"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts its own redis-server; run by .ci/fault-tests"]
async fn a_redis_still_loading_its_data_after_a_restart_answers_503_and_keeps_every_session() {
    let mut redis = ThrowawayRedis::start_with(true);
    let url = redis.url();
    let app = TestApp::with_config(|c| {
        c.redis_url = Some(url.clone());
        c.redis_prefix = "kwloading:".into();
    })
    .await;
    let client = app.full_client().await;
    app.user("ada@example.com", "pw-pw-pw-pw").await;
    let tokens = app.login(&client, "ada@example.com", "pw-pw-pw-pw").await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    // Enough data that loading it 20 ms a key takes seconds.
    let mut padding = ::redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    for n in 0..300 {
        let _: () = ::redis::cmd("SET")
            .arg(format!("padding:{n}"))
            .arg("x".repeat(100))
            .query_async(&mut padding)
            .await
            .unwrap();
    }

    redis.restart_loading_slowly(Duration::from_millis(20));
    // Redis answers `LOADING` until its data is back: not a fault of keyward's, not a 500.
    app.refresh(&client, &refresh)
        .await
        .assert_oauth_error(503, "temporarily_unavailable");
    assert_token_state_unavailable(&app, &client, &access).await;

    let timed = Instant::now();
    while app.get("/ready", None).await.status != 200 {
        assert!(
            timed.elapsed() < Duration::from_secs(30),
            "keyward did not recover after Redis loaded its data"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Nothing was lost: the session refreshes with the token it had before the restart.
    assert_eq!(app.introspect(&client, &access).await["active"], true);
    assert_eq!(app.refresh(&client, &refresh).await.status, 200);
}

/// A TCP relay to the real PostgreSQL that the test can cut and restore: to keyward, a cut
/// relay is a database that refuses new connections and has dropped the open ones.
pub(crate) struct Relay {
    pub(crate) port: u16,
    target: String,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    /// A relay to `KEYWARD_TEST_POSTGRES_URL`, and the URL of a new schema reached through it.
    pub(crate) async fn to_test_postgres() -> (Self, String) {
        let base = std::env::var("KEYWARD_TEST_POSTGRES_URL").expect("KEYWARD_TEST_POSTGRES_URL");
        let authority = base
            .split('@')
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap()
            .to_owned();
        let relay = Self::start(&authority).await;
        let through_relay = base.replacen(&authority, &format!("127.0.0.1:{}", relay.port), 1);
        let database_url = crate::helpers::postgres_schema(&through_relay).await;
        (relay, database_url)
    }

    async fn start(target: &str) -> Self {
        // Bound at port 0 and kept: no window in which another test could take the port.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let relay = Self {
            port,
            target: target.to_owned(),
            tasks: Default::default(),
        };
        relay.serve(listener);
        relay
    }

    /// Listens again after a cut; the aborted listener may take a moment to close.
    pub(crate) async fn open(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(listener) => break listener,
                Err(e) if Instant::now() < deadline && e.kind() == std::io::ErrorKind::AddrInUse => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("the relay cannot listen again on {}: {e}", self.port),
            }
        };
        self.serve(listener);
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let (target, tasks) = (self.target.clone(), self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                let relay = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tasks.lock().unwrap().push(relay);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    pub(crate) fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL (KEYWARD_TEST_POSTGRES_URL); run by .ci/fault-tests"]
async fn a_database_outage_answers_fast_503s_and_recovers() {
    let (relay, database_url) = Relay::to_test_postgres().await;
    let app = TestApp::with_config(|c| {
        c.database_url = database_url;
        c.redis_url = None;
    })
    .await;
    let client = app.full_client().await;
    app.user("ada@example.com", "pw-pw-pw-pw").await;
    let tokens = app.login(&client, "ada@example.com", "pw-pw-pw-pw").await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();

    relay.cut();
    // Clients and users read within the cache TTL would still serve (client_credentials needs
    // nothing else); past it, everything that needs the database answers 503.
    app.clock.advance(app.state.config.cache_ttl);
    let timed = Instant::now();
    let login = app
        .password_grant(&client, "ada@example.com", "pw-pw-pw-pw", None)
        .await;
    let login_took = timed.elapsed();
    login.assert_oauth_error(503, "temporarily_unavailable");
    assert_eq!(login.header("retry-after"), Some("5"));
    let timed = Instant::now();
    app.client_credentials(&client)
        .await
        .assert_oauth_error(503, "temporarily_unavailable");
    let issue_took = timed.elapsed();
    assert_token_state_unavailable(&app, &client, &access).await;
    let ready = app.get("/ready", None).await;
    assert_eq!(ready.status, 503);
    assert_eq!(
        ready.json(),
        json!({"status": "unavailable", "database": "down", "signing_key": "up"})
    );

    relay.open().await;
    let timed = Instant::now();
    loop {
        if app.get("/ready", None).await.status == 200 {
            break;
        }
        assert!(
            timed.elapsed() < Duration::from_secs(30),
            "keyward did not recover after the database returned"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recovered_after = timed.elapsed();
    assert_eq!(
        app.introspect(&client, &access).await["active"],
        true,
        "nothing was lost"
    );
    assert_eq!(
        app.login(&client, "ada@example.com", "pw-pw-pw-pw").await["token_type"],
        "Bearer"
    );

    eprintln!(
        "database outage: password grant failed in {login_took:?}, client credentials in \
         {issue_took:?}; ready again {recovered_after:?} after the database returned"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL (KEYWARD_TEST_POSTGRES_URL); run by .ci/fault-tests"]
async fn postgresql_terminating_keywards_connections_is_a_503_at_worst_never_a_500() {
    // What a PostgreSQL restart or failover does to open connections: FATAL 57P01 on each.
    let base = std::env::var("KEYWARD_TEST_POSTGRES_URL").expect("KEYWARD_TEST_POSTGRES_URL");
    let name = format!("kwterm{}", uuid::Uuid::new_v4().simple());
    let database_url = format!(
        "{}&application_name={name}",
        crate::helpers::postgres_schema(&base).await
    );
    let app = std::sync::Arc::new(
        TestApp::with_config(|c| {
            c.database_url = database_url;
            c.redis_url = None;
        })
        .await,
    );
    let client = app.full_client().await;
    app.user("ada@example.com", "pw-pw-pw-pw").await;
    let tokens = app.login(&client, "ada@example.com", "pw-pw-pw-pw").await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let mut refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let admin = keyward::store::connect(&base).await.unwrap();
    let mut unavailable = 0;
    for _ in 0..20 {
        // Requests in flight while their connections are terminated under them.
        let in_flight: Vec<_> = (0..4)
            .map(|_| {
                let (app, client, access) = (app.clone(), client.clone(), access.clone());
                tokio::spawn(async move {
                    let (form, basic) = (format!("token={access}"), client.basic());
                    let answer = app.post_form("/oauth/introspect", &form, Some(&basic));
                    answer.await.status
                })
            })
            .collect();
        sqlx::query("select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1")
            .bind(&name)
            .execute(&admin)
            .await
            .unwrap();
        for task in in_flight {
            let status = task.await.unwrap();
            assert!(status == 200 || status == 503, "answered {status}");
            unavailable += usize::from(status == 503);
        }
        let answer = app.refresh(&client, &refresh).await;
        match answer.status.as_u16() {
            200 => refresh = answer.str("refresh_token"),
            503 => unavailable += 1,
            status => panic!("refresh answered {status}: {}", answer.text()),
        }
    }
    // Once new connections are open, the session refreshes as before.
    let timed = Instant::now();
    loop {
        let answer = app.refresh(&client, &refresh).await;
        if answer.status == 200 {
            break;
        }
        answer.assert_oauth_error(503, "temporarily_unavailable");
        assert!(timed.elapsed() < Duration::from_secs(10), "no recovery");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("terminated connections 20 times: {unavailable} answers 503, none 500");
}
