//! Chaos soak with a ledger (issue 12 §3): three `keyward serve` replicas on PostgreSQL (through a
//! relay the test can cut) and a Redis of the test's own with append-only persistence. Simulated
//! clients hold sessions and refresh them, introspect, revoke access tokens and sign out, while
//! faults arrive at random: a replica SIGKILLed and restarted, Redis restarted, PostgreSQL cut off
//! for a few seconds, PostgreSQL terminating every connection (as a restart does), a replica
//! paused (SIGSTOP) past the clients' timeout. A ledger records
//! every token the clients were given and every explicit revocation and sign-out. At the end,
//! with every fault healed: every session not explicitly ended still refreshes (no lost
//! sessions), every revoked token and every token of an ended session is inactive on every
//! replica (no resurrected tokens), no answer was a 500, and 503s came only during a fault.
//! `SOAK_SECONDS` sets the length (180 by default); `SOAK_SEED` replays a fault schedule;
//! `SOAK_FAULTS` (a comma-separated subset of [`FAULTS`]) picks the faults.
//! Ignored by plain `cargo test`; `.ci/soak-tests` runs it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::faults::{Relay, ThrowawayRedis};
use crate::process::Server;
use crate::replicas::cli;

/// Simulated clients, each holding one session at a time.
const CLIENTS: usize = 8;
/// How long a client waits for an answer before trying again elsewhere.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);
/// After a fault heals, how long its effects (reconnects) may still show as 503s.
const GRACE: Duration = Duration::from_secs(10);

/// A small deterministic generator (xorshift64*), so a seed replays a schedule.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Counts kept by everyone.
#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    status_503: AtomicU64,
    status_503_outside_faults: AtomicU64,
    status_500: AtomicU64,
    no_answer: AtomicU64,
    refreshes: AtomicU64,
    logins: AtomicU64,
    revocations: AtomicU64,
    sign_outs: AtomicU64,
    lost_sessions: AtomicU64,
}

/// What the clients were given and what they ended.
#[derive(Default)]
struct Ledger {
    /// Access tokens revoked one by one (RFC 7009).
    revoked_access: Vec<String>,
    /// Every access and refresh token of sessions signed out.
    ended: Vec<String>,
    /// Sessions lost: a refresh token of a session never ended refused.
    lost: Vec<String>,
}

/// The system under test and its faults.
struct Soak {
    replicas: Mutex<Vec<Option<String>>>,
    servers: Mutex<Vec<Option<Server>>>,
    env: Vec<(&'static str, String)>,
    dirs: Vec<tempfile::TempDir>,
    keys: tempfile::TempDir,
    redis: Mutex<ThrowawayRedis>,
    relay: Relay,
    /// PostgreSQL reached directly (not through the relay), and the `application_name` the
    /// replicas connect with, so their connections can be terminated as a restart would.
    postgres: sqlx::AnyPool,
    application_name: String,
    client: (String, String),
    http: reqwest::Client,
    counts: Counts,
    ledger: Mutex<Ledger>,
    /// When each fault began and healed (None while it lasts).
    faults: Mutex<Vec<(Instant, Option<Instant>)>>,
    fault_counts: Mutex<HashMap<&'static str, u64>>,
}

/// One answer, or none within the timeout.
enum Answer {
    Status(u16, Value),
    None,
}

impl Soak {
    fn during_fault(&self, at: Instant) -> bool {
        self.faults
            .lock()
            .unwrap()
            .iter()
            .any(|(start, end)| at >= *start && end.is_none_or(|end| at <= end + GRACE))
    }

    fn replica(&self, n: usize) -> Option<String> {
        let replicas = self.replicas.lock().unwrap();
        (0..replicas.len())
            .map(|i| (n + i) % replicas.len())
            .find_map(|i| replicas[i].clone())
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        self.counts.requests.fetch_add(1, Ordering::Relaxed);
        let target = request
            .try_clone()
            .and_then(|r| r.build().ok())
            .map(|r| r.url().path().to_owned())
            .unwrap_or_default();
        let sent = Instant::now();
        let Ok(response) = request.timeout(CLIENT_TIMEOUT).send().await else {
            self.counts.no_answer.fetch_add(1, Ordering::Relaxed);
            return Answer::None;
        };
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        if status == 503 {
            self.counts.status_503.fetch_add(1, Ordering::Relaxed);
            if !self.during_fault(sent) {
                self.counts
                    .status_503_outside_faults
                    .fetch_add(1, Ordering::Relaxed);
                eprintln!("503 outside any fault: {body}");
            }
        }
        if status >= 500 && status != 503 {
            self.counts.status_500.fetch_add(1, Ordering::Relaxed);
            eprintln!("{status} from {target}: {body}");
        }
        Answer::Status(status, body)
    }

    async fn form(&self, replica: usize, path: &str, form: &[(&str, &str)]) -> Answer {
        let Some(url) = self.replica(replica) else {
            return Answer::None;
        };
        let (id, secret) = &self.client;
        let request = self
            .http
            .post(format!("{url}{path}"))
            .basic_auth(id, Some(secret))
            .form(form);
        self.send(request).await
    }

    /// Signs in, trying replicas in turn until one answers 200.
    async fn login(&self, rng: &mut Rng) -> (String, String) {
        let asked = Instant::now();
        loop {
            assert!(asked.elapsed() < Duration::from_secs(60), "no replica signed in");
            let form = [
                ("grant_type", "password"),
                ("username", "ada@example.com"),
                ("password", "pw-pw-pw-pw"),
                ("scope", "openid"),
            ];
            if let Answer::Status(200, body) = self.form(rng.below(3) as usize, "/oauth/token", &form).await {
                self.counts.logins.fetch_add(1, Ordering::Relaxed);
                return (field(&body, "refresh_token"), field(&body, "access_token"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Repeats an explicit ending until a replica confirms it: a client does not forget it asked.
    async fn until_done(&self, rng: &mut Rng, path: &str, form: &[(&str, &str)], bearer: Option<&str>) {
        let asked = Instant::now();
        loop {
            assert!(
                asked.elapsed() < Duration::from_secs(60),
                "{path} never succeeded"
            );
            let answer = match bearer {
                Some(token) => match self.replica(rng.below(3) as usize) {
                    Some(url) => {
                        self.send(self.http.post(format!("{url}{path}")).bearer_auth(token))
                            .await
                    }
                    None => Answer::None,
                },
                None => self.form(rng.below(3) as usize, path, form).await,
            };
            if let Answer::Status(status, _) = answer
                && status < 300
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Refreshes until a replica answers: a new pair, or `None` if the session was refused.
    async fn refresh_now(&self, rng: &mut Rng, refresh: &str) -> Option<(String, String)> {
        let asked = Instant::now();
        loop {
            assert!(
                asked.elapsed() < Duration::from_secs(60),
                "no replica answered a refresh"
            );
            let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
            match self.form(rng.below(3) as usize, "/oauth/token", &form).await {
                Answer::Status(200, body) => {
                    self.counts.refreshes.fetch_add(1, Ordering::Relaxed);
                    return Some((field(&body, "refresh_token"), field(&body, "access_token")));
                }
                Answer::Status(400, body) => {
                    self.counts.lost_sessions.fetch_add(1, Ordering::Relaxed);
                    eprintln!("{} a session was lost: {body}", now());
                    self.ledger.lock().unwrap().lost.push(refresh.to_owned());
                    return None;
                }
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// One simulated client until `until`.
    async fn client(self: Arc<Self>, seed: u64, until: Instant) -> (String, String) {
        let mut rng = Rng(seed | 1);
        let (mut refresh, mut access) = self.login(&mut rng).await;
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(200 + rng.below(400))).await;
            let replica = rng.below(3) as usize;
            match rng.below(100) {
                0..=79 => {
                    let form = [
                        ("grant_type", "refresh_token"),
                        ("refresh_token", refresh.as_str()),
                    ];
                    match self.form(replica, "/oauth/token", &form).await {
                        Answer::Status(200, body) => {
                            self.counts.refreshes.fetch_add(1, Ordering::Relaxed);
                            refresh = field(&body, "refresh_token");
                            access = field(&body, "access_token");
                        }
                        Answer::Status(400, body) => {
                            self.counts.lost_sessions.fetch_add(1, Ordering::Relaxed);
                            eprintln!("{} a session was lost: {body}", now());
                            self.ledger.lock().unwrap().lost.push(refresh.clone());
                            (refresh, access) = self.login(&mut rng).await;
                        }
                        // No answer or 503: the rotation may or may not have happened; the
                        // same token is presented again (the leeway covers a lost answer).
                        _ => {}
                    }
                }
                80..=89 => {
                    let answer = self
                        .form(replica, "/oauth/introspect", &[("token", access.as_str())])
                        .await;
                    if let Answer::Status(200, body) = answer
                        && body["active"] != true
                    {
                        // A live session's latest access token must be active.
                        self.counts.lost_sessions.fetch_add(1, Ordering::Relaxed);
                        eprintln!("a live session's access token was inactive");
                        self.ledger.lock().unwrap().lost.push(refresh.clone());
                    }
                }
                90..=95 => {
                    self.until_done(&mut rng, "/oauth/revoke", &[("token", access.as_str())], None)
                        .await;
                    self.counts.revocations.fetch_add(1, Ordering::Relaxed);
                    self.ledger.lock().unwrap().revoked_access.push(access.clone());
                    // The session goes on with a new access token.
                    (refresh, access) = match self.refresh_now(&mut rng, &refresh).await {
                        Some(pair) => pair,
                        None => self.login(&mut rng).await,
                    };
                }
                _ => {
                    self.until_done(&mut rng, "/api/v1/logout", &[], Some(&access))
                        .await;
                    self.counts.sign_outs.fetch_add(1, Ordering::Relaxed);
                    self.ledger
                        .lock()
                        .unwrap()
                        .ended
                        .extend([refresh.clone(), access.clone()]);
                    (refresh, access) = self.login(&mut rng).await;
                }
            }
        }
        (refresh, access)
    }

    fn fault_started(&self, kind: &'static str) -> usize {
        // The wall clock, as the replicas' logs write it, so a failure can be laid beside them.
        eprintln!("{} fault: {kind}", now());
        *self.fault_counts.lock().unwrap().entry(kind).or_default() += 1;
        let mut faults = self.faults.lock().unwrap();
        faults.push((Instant::now(), None));
        faults.len() - 1
    }

    fn fault_healed(&self, n: usize) {
        eprintln!("{} healed", now());
        self.faults.lock().unwrap()[n].1 = Some(Instant::now());
    }

    fn start_replica(&self, n: usize) {
        let server = Server::start(self.dirs[n].path(), self.keys.path(), &self.env);
        self.replicas.lock().unwrap()[n] = Some(server.url());
        self.servers.lock().unwrap()[n] = Some(server);
    }

    /// Injects random faults until `until`, one at a time, each healed before the next.
    /// `kinds` names the faults that may be injected (see [`FAULTS`]).
    async fn faults(self: Arc<Self>, seed: u64, until: Instant, kinds: Vec<&'static str>) {
        let mut rng = Rng(seed | 1);
        while Instant::now() + Duration::from_secs(15) < until {
            tokio::time::sleep(Duration::from_millis(4000 + rng.below(6000))).await;
            let replica = rng.below(3) as usize;
            match kinds[rng.below(kinds.len() as u64) as usize] {
                "kill" => {
                    let n = self.fault_started("replica SIGKILLed and restarted");
                    self.replicas.lock().unwrap()[replica] = None;
                    let server = self.servers.lock().unwrap()[replica].take();
                    if let Some(mut server) = server {
                        server.kill();
                    }
                    tokio::time::sleep(Duration::from_millis(500 + rng.below(2000))).await;
                    let soak = self.clone();
                    tokio::task::spawn_blocking(move || soak.start_replica(replica))
                        .await
                        .unwrap();
                    self.fault_healed(n);
                }
                "redis" => {
                    let n = self.fault_started("Redis restarted");
                    let soak = self.clone();
                    tokio::task::spawn_blocking(move || soak.redis.lock().unwrap().restart_cleanly())
                        .await
                        .unwrap();
                    self.fault_healed(n);
                }
                "cut" => {
                    let n = self.fault_started("PostgreSQL cut off and restored");
                    self.relay.cut();
                    tokio::time::sleep(Duration::from_millis(1000 + rng.below(4000))).await;
                    self.relay.open().await;
                    self.fault_healed(n);
                }
                "terminate" => {
                    // What a PostgreSQL restart or failover does: FATAL 57P01 on every
                    // connection, in flight or idle; the pools open new ones.
                    let n = self.fault_started("PostgreSQL terminated every connection");
                    sqlx::query(
                        "select pg_terminate_backend(pid) from pg_stat_activity \
                         where application_name = $1",
                    )
                    .bind(&self.application_name)
                    .execute(&self.postgres)
                    .await
                    .unwrap();
                    self.fault_healed(n);
                }
                _ => {
                    let n = self.fault_started("replica paused past the client timeout");
                    let paused = self.servers.lock().unwrap()[replica]
                        .as_ref()
                        .map(|s| s.signal("STOP"));
                    tokio::time::sleep(CLIENT_TIMEOUT + Duration::from_millis(500 + rng.below(3000))).await;
                    if paused.is_some()
                        && let Some(server) = self.servers.lock().unwrap()[replica].as_ref()
                    {
                        server.signal("CONT");
                    }
                    self.fault_healed(n);
                }
            }
        }
    }
}

/// The faults the soak injects, as `SOAK_FAULTS` names them: a replica SIGKILLed and
/// restarted, Redis restarted, PostgreSQL cut off, PostgreSQL terminating every connection, a
/// replica paused past the client timeout.
const FAULTS: [&str; 5] = ["kill", "redis", "cut", "terminate", "pause"];

/// The wall clock to the millisecond: the replicas are other processes logging real time, and
/// no settable clock reaches them.
#[allow(clippy::disallowed_methods)]
fn now() -> humantime::Rfc3339Timestamp {
    humantime::format_rfc3339_millis(std::time::SystemTime::now())
}

fn field(v: &Value, name: &str) -> String {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {v}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL and redis-server; run by .ci/soak-tests"]
async fn a_chaos_soak_loses_no_session_and_resurrects_no_token() {
    let seconds: u64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(180);
    let seed: u64 = std::env::var("SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| keyward::clock::system_now().unsigned_abs());
    eprintln!("chaos soak: {seconds} s, SOAK_SEED={seed}");

    let (relay, database_url) = Relay::to_test_postgres().await;
    let application_name = format!("kwsoak{}", uuid::Uuid::new_v4().simple());
    let database_url = format!("{database_url}&application_name={application_name}");
    let postgres = keyward::store::connect(
        &std::env::var("KEYWARD_TEST_POSTGRES_URL").expect("KEYWARD_TEST_POSTGRES_URL"),
    )
    .await
    .unwrap();
    let redis = ThrowawayRedis::start_with(true);
    let env = vec![
        ("KEYWARD_DATABASE_URL", database_url),
        ("KEYWARD_REDIS_URL", redis.url()),
        ("KEYWARD_ISSUER", "http://keyward.soak.test".to_owned()),
        ("KEYWARD_REFRESH_REUSE_LEEWAY", "30s".to_owned()),
        ("KEYWARD_LOGIN_MAX_FAILURES", "1000000".to_owned()),
    ];
    let created = cli(
        &env,
        &[
            "client",
            "create",
            "--name",
            "soak",
            "--grant",
            "password",
            "--grant",
            "refresh_token",
            "--scope",
            "openid",
            "--json",
        ],
        None,
    );
    cli(
        &env,
        &["user", "create", "--email", "ada@example.com", "--password-stdin"],
        Some("pw-pw-pw-pw"),
    );
    let soak = Arc::new(Soak {
        replicas: Mutex::new(vec![None, None, None]),
        servers: Mutex::new(vec![None, None, None]),
        env,
        dirs: (0..3).map(|_| tempfile::tempdir().unwrap()).collect(),
        keys: tempfile::tempdir().unwrap(),
        redis: Mutex::new(redis),
        relay,
        postgres,
        application_name,
        client: (field(&created, "client_id"), field(&created, "client_secret")),
        http: reqwest::Client::new(),
        counts: Counts::default(),
        ledger: Mutex::new(Ledger::default()),
        faults: Mutex::new(Vec::new()),
        fault_counts: Mutex::new(HashMap::new()),
    });
    for n in 0..3 {
        let soak = soak.clone();
        tokio::task::spawn_blocking(move || soak.start_replica(n))
            .await
            .unwrap();
    }

    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let kinds: Vec<&'static str> = match std::env::var("SOAK_FAULTS") {
        Ok(list) => FAULTS
            .into_iter()
            .filter(|kind| list.split(',').any(|k| k.trim() == *kind))
            .collect(),
        Err(_) => FAULTS.to_vec(),
    };
    assert!(!kinds.is_empty(), "SOAK_FAULTS names none of {FAULTS:?}");
    eprintln!("faults: {kinds:?}");
    let faults = tokio::spawn(soak.clone().faults(seed, until, kinds));
    let clients: Vec<_> = (0..CLIENTS as u64)
        .map(|i| {
            tokio::spawn(
                soak.clone()
                    .client(seed.wrapping_mul(31).wrapping_add(i + 1), until),
            )
        })
        .collect();
    faults.await.unwrap();
    let mut sessions = Vec::new();
    for client in clients {
        sessions.push(client.await.unwrap());
    }
    let healed = Instant::now();

    // Every fault is healed: each session still held refreshes, on some replica.
    let mut rng = Rng(seed | 1);
    for (refresh, _) in &sessions {
        loop {
            let form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.as_str()),
            ];
            match soak.form(rng.below(3) as usize, "/oauth/token", &form).await {
                Answer::Status(200, _) => break,
                Answer::Status(400, body) => {
                    soak.counts.lost_sessions.fetch_add(1, Ordering::Relaxed);
                    eprintln!("{} a session was lost: {body}", now());
                    break;
                }
                _ => {
                    assert!(
                        healed.elapsed() < Duration::from_secs(60),
                        "the replicas did not recover"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }
    // Every ended token is inactive on every replica.
    let (revoked, ended) = {
        let ledger = soak.ledger.lock().unwrap();
        (ledger.revoked_access.clone(), ledger.ended.clone())
    };
    let mut resurrected = 0;
    for token in revoked.iter().chain(&ended) {
        for replica in 0..3 {
            loop {
                match soak
                    .form(replica, "/oauth/introspect", &[("token", token.as_str())])
                    .await
                {
                    Answer::Status(200, body) => {
                        if body["active"] != false {
                            resurrected += 1;
                            eprintln!("an ended token is active again on replica {replica}");
                        }
                        break;
                    }
                    _ => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        }
    }

    let c = &soak.counts;
    let faults_injected: u64 = soak.fault_counts.lock().unwrap().values().sum();
    eprintln!(
        "chaos soak ledger after {:.0} s: {} requests ({} refreshes, {} sign-ins, {} access tokens \
         revoked, {} sign-outs); {} faults ({:?}); {} answers 503 ({} outside a fault), {} 5xx \
         other than 503, {} requests unanswered within {CLIENT_TIMEOUT:?}; {} sessions lost, {} \
         tokens checked inactive on 3 replicas, {resurrected} resurrected",
        started.elapsed().as_secs_f64(),
        c.requests.load(Ordering::Relaxed),
        c.refreshes.load(Ordering::Relaxed),
        c.logins.load(Ordering::Relaxed),
        c.revocations.load(Ordering::Relaxed),
        c.sign_outs.load(Ordering::Relaxed),
        faults_injected,
        soak.fault_counts.lock().unwrap(),
        c.status_503.load(Ordering::Relaxed),
        c.status_503_outside_faults.load(Ordering::Relaxed),
        c.status_500.load(Ordering::Relaxed),
        c.no_answer.load(Ordering::Relaxed),
        c.lost_sessions.load(Ordering::Relaxed),
        revoked.len() + ended.len(),
    );
    if c.status_500.load(Ordering::Relaxed) + c.lost_sessions.load(Ordering::Relaxed) > 0 {
        // What the replicas logged of their faults, and of reuse, names the cause.
        for (replica, dir) in soak.dirs.iter().enumerate() {
            let log = std::fs::read_to_string(dir.path().join("keyward.log")).unwrap_or_default();
            let telling = |l: &&str| l.contains("ERROR") || l.contains("reuse");
            for line in log.lines().filter(telling).take(20) {
                eprintln!("replica {replica}: {line}");
            }
        }
    }
    assert_eq!(c.lost_sessions.load(Ordering::Relaxed), 0, "lost sessions");
    assert_eq!(resurrected, 0, "resurrected tokens");
    assert_eq!(c.status_500.load(Ordering::Relaxed), 0, "5xx other than 503");
    assert_eq!(
        c.status_503_outside_faults.load(Ordering::Relaxed),
        0,
        "503 outside a fault"
    );
    assert!(faults_injected > 0 || seconds < 30, "no fault was injected");
}
