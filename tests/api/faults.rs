//! Outages of a real Redis (issue 3 §4): a throwaway `redis-server` on its own port is stopped
//! mid-run and started again. Ignored by plain `cargo test` (it needs the redis-server binary);
//! `.ci/fault-tests` runs it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use tempfile::TempDir;

use crate::helpers::TestApp;

/// A redis-server of this test's own, keeping nothing on disk.
struct ThrowawayRedis {
    port: u16,
    dir: TempDir,
    child: Option<Child>,
}

impl ThrowawayRedis {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = Self {
            port,
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        redis.launch();
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn launch(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed for the fault tests");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
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

    // Fail closed: a token whose state cannot be checked is never reported active.
    let introspection = app
        .post_form(
            "/oauth/introspect",
            &format!("token={access}"),
            Some(&client.basic()),
        )
        .await;
    introspection.assert_oauth_error(503, "temporarily_unavailable");
    let userinfo = app.userinfo(&access).await;
    assert_eq!(userinfo.status, 503);
    assert!(userinfo.header("retry-after").is_some());

    // Client credentials need no session: they keep working while only Redis is down.
    assert_eq!(app.client_credentials(&client).await.status, 200);

    let ready = app.get("/ready", None).await;
    assert_eq!(ready.status, 503);
    assert_eq!(
        ready.json(),
        json!({"status": "unavailable", "database": "up", "redis": "down"})
    );

    redis.launch();
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
