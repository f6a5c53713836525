//! The `keyward serve` process itself: graceful shutdown on SIGTERM, and replicas that start
//! together on one empty `keys/` folder.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A `keyward serve` child process on its own port.
pub struct Server {
    pub port: u16,
    child: Child,
}

impl Server {
    /// Starts `keyward serve` in `dir` with `env`; waits until `/health` answers. A port picked
    /// free may be taken by a parallel test before the child binds it: then another is tried.
    pub fn start(dir: &Path, keys: &Path, env: &[(&str, String)]) -> Self {
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
            command
                .arg("serve")
                .current_dir(dir)
                .env("KEYWARD_BIND", format!("127.0.0.1:{port}"))
                .env("KEYWARD_ISSUER", format!("http://127.0.0.1:{port}"))
                .env("KEYWARD_KEYS_DIR", keys)
                .env(
                    "KEYWARD_DATABASE_URL",
                    format!("sqlite://{}/kw.db", dir.display()),
                )
                .env("KEYWARD_PASSWORD_CONCURRENCY", "1")
                .stdout(Stdio::null())
                // Appended, so a restarted replica keeps what the killed one logged.
                .stderr(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(dir.join("keyward.log"))
                        .unwrap(),
                );
            for (name, value) in env {
                command.env(name, value);
            }
            let mut server = Self {
                port,
                child: command.spawn().unwrap(),
            };
            if server.wait_healthy() {
                return server;
            }
            let _ = server.child.kill();
        }
        panic!("keyward did not start");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits for `/health`; false if the process exited (its port was taken) or never answered.
    fn wait_healthy(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = stream.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                let mut reply = String::new();
                let _ = stream.read_to_string(&mut reply);
                if reply.starts_with("HTTP/1.1 200") {
                    return true;
                }
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Sends `signal` (`STOP`, `CONT`, …) to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Waits for the process to exit, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "keyward did not exit within {limit:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn sigterm_finishes_the_request_in_flight_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &dir.path().join("keys"), &[]);
    // A request whose body is still arriving when the signal comes.
    let body = "grant_type=client_credentials&client_id=nobody&client_secret=x";
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    write!(
        stream,
        "POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{}",
        body.len(),
        &body[..10]
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    server.terminate();
    std::thread::sleep(Duration::from_millis(300));
    // No new connections once stopping.
    assert!(
        TcpStream::connect(("127.0.0.1", server.port)).is_err(),
        "still accepting after SIGTERM"
    );
    stream.write_all(&body.as_bytes()[10..]).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(
        reply.starts_with("HTTP/1.1 401"),
        "the request in flight was answered: {reply}"
    );
    assert!(reply.contains("invalid_client"));
    let status = server.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_stalled_client_cannot_hold_shutdown_past_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(
        dir.path(),
        &dir.path().join("keys"),
        &[("KEYWARD_SHUTDOWN_GRACE", "1s".into())],
    );
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .write_all(b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nabc")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let asked = Instant::now();
    server.terminate();
    let status = server.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
    assert!(
        asked.elapsed() >= Duration::from_secs(1),
        "the grace period is honoured"
    );
}

#[test]
fn replicas_starting_together_share_one_generated_key() {
    let keys = tempfile::tempdir().unwrap();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let handles: Vec<_> = dirs
        .iter()
        .map(|dir| {
            let (dir, keys) = (dir.path().to_owned(), keys.path().to_owned());
            std::thread::spawn(move || Server::start(&dir, &keys, &[]))
        })
        .collect();
    let servers: Vec<Server> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let pems = std::fs::read_dir(keys.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "pem"))
        .count();
    assert_eq!(pems, 1, "exactly one key generated");
    let jwks: Vec<String> = servers
        .iter()
        .map(|s| {
            let reply = http_get(s.port, "/.well-known/jwks.json");
            reply.split("\r\n\r\n").nth(1).unwrap().to_owned()
        })
        .collect();
    assert!(
        jwks.iter().all(|j| j == &jwks[0]),
        "every replica publishes the same key"
    );
}

/// A plain HTTP/1.1 GET; returns the whole reply, head and body.
fn http_get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
}

#[test]
fn metrics_are_served_on_their_own_listener_and_not_on_the_public_port() {
    let dir = tempfile::tempdir().unwrap();
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Server::start(
        dir.path(),
        &dir.path().join("keys"),
        &[("KEYWARD_METRICS_BIND", format!("127.0.0.1:{metrics_port}"))],
    );
    http_get(server.port, "/.well-known/jwks.json");
    let deadline = Instant::now() + Duration::from_secs(10);
    let scraped = loop {
        if TcpStream::connect(("127.0.0.1", metrics_port)).is_ok() {
            break http_get(metrics_port, "/metrics");
        }
        assert!(Instant::now() < deadline, "no metrics listener");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(scraped.starts_with("HTTP/1.1 200"), "{scraped}");
    let body = scraped.split("\r\n\r\n").nth(1).unwrap();
    let parsed = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).unwrap();
    let names: Vec<&str> = parsed.samples.iter().map(|s| s.metric.as_str()).collect();
    for name in [
        "keyward_build_info",
        "keyward_signing_keys",
        "keyward_http_requests_total",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    assert!(http_get(server.port, "/metrics").starts_with("HTTP/1.1 404"));
}
