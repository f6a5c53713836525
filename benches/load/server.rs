//! The keyward process under test: started from the benchmark's own build, prepared through the
//! CLI, observed through /proc.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Options;

pub const PASSWORD: &str = "bench passphrase that is long";
/// Where the web app's codes go; nothing listens, the benchmark reads `Location`.
pub const WEB_REDIRECT_URI: &str = "http://127.0.0.1/cb";

pub struct Server {
    pub port: u16,
    pub client_id: String,
    pub client_secret: String,
    /// A first-party web app of the code flow, redirecting to a loopback address.
    pub web_client_id: String,
    pub web_client_secret: String,
    child: Child,
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Server {
    /// Starts keyward on `database_url`, or on SQLite in a temporary folder.
    pub fn start(
        options: &Options,
        database_url: Option<String>,
        access_alg: keyward::crypto::keys::Alg,
    ) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut env = vec![
            ("KEYWARD_BIND".to_owned(), format!("127.0.0.1:{port}")),
            ("KEYWARD_ISSUER".to_owned(), format!("http://127.0.0.1:{port}")),
            (
                "KEYWARD_KEYS_DIR".to_owned(),
                dir.path().join("keys").display().to_string(),
            ),
            (
                "KEYWARD_DATABASE_URL".to_owned(),
                format!("sqlite://{}/kw.db", dir.path().display()),
            ),
            // Every worker signs in from 127.0.0.1; the benchmark measures work, not lockouts.
            ("KEYWARD_LOGIN_MAX_FAILURES".to_owned(), "1000000".to_owned()),
            // The thousands of sessions a run opens expire from Redis within the hour.
            ("KEYWARD_REFRESH_IDLE_TTL".to_owned(), "1h".to_owned()),
            ("KEYWARD_REFRESH_ABSOLUTE_TTL".to_owned(), "1h".to_owned()),
            ("RUST_LOG".to_owned(), "warn".to_owned()),
            (
                "KEYWARD_ACCESS_TOKEN_ALG".to_owned(),
                access_alg.as_str().to_owned(),
            ),
        ];
        if let Some(url) = database_url {
            env.push(("KEYWARD_DATABASE_URL".to_owned(), url));
        }
        if let Some(url) = &options.redis {
            env.push(("KEYWARD_REDIS_URL".to_owned(), url.clone()));
            env.push((
                "KEYWARD_REDIS_PREFIX".to_owned(),
                format!("kwbench:{}:", std::process::id()),
            ));
        }
        let mut server = Self {
            port,
            client_id: String::new(),
            client_secret: String::new(),
            web_client_id: String::new(),
            web_client_secret: String::new(),
            child: Command::new("true").spawn().expect("true"),
            dir,
            env,
        };
        let created = server.cli(
            &[
                "client",
                "create",
                "--name",
                "bench",
                "--grant",
                "client_credentials",
                "--grant",
                "password",
                "--grant",
                "refresh_token",
                "--scope",
                "api openid offline_access",
                "--json",
            ],
            None,
        );
        let created: serde_json::Value = serde_json::from_str(&created).expect("client JSON");
        server.client_id = created["client_id"].as_str().expect("client_id").to_owned();
        server.client_secret = created["client_secret"]
            .as_str()
            .expect("client_secret")
            .to_owned();
        let web = server.cli(
            &[
                "client",
                "create",
                "--name",
                "bench-web",
                "--grant",
                "authorization_code",
                "--scope",
                "openid api",
                "--redirect-uri",
                WEB_REDIRECT_URI,
                "--first-party",
                "--json",
            ],
            None,
        );
        let web: serde_json::Value = serde_json::from_str(&web).expect("client JSON");
        server.web_client_id = web["client_id"].as_str().expect("client_id").to_owned();
        server.web_client_secret = web["client_secret"].as_str().expect("client_secret").to_owned();
        server.child = server
            .command(&["serve"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(server.dir.path().join("keyward.log")).expect("log file"))
            .spawn()
            .expect("keyward serve");
        server.wait_healthy();
        server
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .envs(self.env.iter().cloned());
        command
    }

    /// Runs a CLI command against the server's database; returns its standard output.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> String {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("keyward CLI");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("stdin");
        }
        drop(child.stdin.take());
        let output = child.wait_with_output().expect("keyward CLI");
        assert!(
            output.status.success(),
            "keyward {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `Basic …` credentials of the benchmark's client.
    pub fn basic_authorization(&self) -> String {
        use base64::Engine;
        let credentials = format!("{}:{}", self.client_id, self.client_secret);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        )
    }

    /// The database the server runs on (the last `KEYWARD_DATABASE_URL` given wins).
    pub fn database_url(&self) -> String {
        self.env_value("KEYWARD_DATABASE_URL").expect("a database URL")
    }

    /// The Redis prefix of the server's keys, when families live in Redis.
    pub fn redis_prefix(&self) -> Option<String> {
        self.env_value("KEYWARD_REDIS_PREFIX")
    }

    /// The Redis URL the server was given.
    pub fn env_redis_url(&self) -> String {
        self.env_value("KEYWARD_REDIS_URL").expect("a Redis URL")
    }

    fn env_value(&self, name: &str) -> Option<String> {
        self.env
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    /// Creates an administrator with the benchmark password.
    pub fn admin(&self, email: &str) {
        self.cli(
            &[
                "user",
                "create",
                "--email",
                email,
                "--role",
                "admin",
                "--password-stdin",
                "--json",
            ],
            Some(PASSWORD),
        );
    }

    /// Creates a user with the benchmark password.
    pub fn user(&self, email: &str) {
        self.cli(
            &["user", "create", "--email", email, "--password-stdin", "--json"],
            Some(PASSWORD),
        );
    }

    /// Stops the server and starts it again on the same database; returns the time from exec to
    /// `/ready` answering 200 (migrations checked, keys loaded, database and Redis reachable).
    pub fn restart_until_ready(&mut self) -> Duration {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let started = Instant::now();
        self.child = self
            .command(&["serve"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.path().join("keyward-restart.log")).expect("log file"))
            .spawn()
            .expect("keyward serve");
        let deadline = started + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = stream.write_all(b"GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                let mut reply = String::new();
                let _ = std::io::Read::read_to_string(&mut stream, &mut reply);
                if reply.starts_with("HTTP/1.1 200") {
                    return started.elapsed();
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        panic!("keyward was not ready within a minute of a restart");
    }

    /// The size of the keyward binary under test, in bytes.
    pub fn binary_size() -> u64 {
        std::fs::metadata(env!("CARGO_BIN_EXE_keyward")).map_or(0, |m| m.len())
    }

    fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!("keyward exited: {status}");
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("keyward did not start");
    }

    fn proc_path(&self, file: &str) -> PathBuf {
        Path::new("/proc").join(self.child.id().to_string()).join(file)
    }

    /// User plus system CPU time the process has used so far.
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(self.proc_path("stat")).unwrap_or_default();
        let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
        let fields: Vec<&str> = after.split_whitespace().collect();
        let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
        // After the name: state, ppid, …; utime and stime are the 12th and 13th.
        let ticks = field(11) + field(12);
        // In clock ticks of USER_HZ, which Linux fixes at 100 per second.
        Duration::from_millis(ticks * 10)
    }

    /// Resident memory now and its peak since the last [`Server::reset_peak`], in bytes.
    pub fn rss(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(self.proc_path("status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|kb| kb.parse::<u64>().ok())
                .map_or(0, |kb| kb * 1024)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// Starts a new peak-RSS measurement (writing 5 to clear_refs resets VmHWM).
    pub fn reset_peak(&self) {
        let _ = std::fs::write(self.proc_path("clear_refs"), "5");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
