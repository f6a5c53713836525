//! The scenarios, each a fixed number of workers with a connection of their own, and the report.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use hyper::Method;

use keyward::crypto::keys::Alg;

use crate::Options;
use crate::client::{Answer, Connection};
use crate::limits::{self, Limits};
use crate::postgres::Schema;
use crate::server::{PASSWORD, Server, WEB_REDIRECT_URI};

/// What a scenario's throughput is compared with.
#[derive(Clone, Copy)]
pub enum Bound {
    /// Signatures with the access-token algorithm, this many per request.
    Signatures(f64),
    /// Argon2id hashes, one per request.
    Hashes,
    /// Verifications with the access-token algorithm, one per request.
    Verifications,
    None,
}

/// What one worker sends next.
pub enum Work {
    ClientCredentials,
    Password {
        username: String,
        scope: &'static str,
    },
    Refresh {
        token: String,
    },
    /// Each worker cycles through its share of the working set of distinct tokens.
    Introspect {
        tokens: Vec<String>,
        next: usize,
    },
    /// Each worker refreshes its sessions in turn, one request each (the growth benchmark).
    RefreshEach {
        tokens: Vec<String>,
        next: usize,
    },
    /// UserInfo with each access token of the worker's share in turn.
    Userinfo {
        tokens: Vec<String>,
        next: usize,
    },
    /// A page of the admin's listing of accounts, from a cursor.
    AdminList {
        bearer: String,
        after: String,
    },
    Discovery {
        turn: bool,
    },
    /// The authorization endpoint with a live sign-in cookie (SSO, first-party: straight back
    /// with a code), then the code's exchange: one "request" is the pair.
    Code {
        cookie: String,
    },
}

/// What the refresh scenario's sessions were granted: an ID token comes with every refresh.
const REFRESH_SCOPE: &str = "openid offline_access";

/// A PKCE pair (RFC 7636 Appendix B): the benchmark measures the server, not its own hashing.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

struct Outcome {
    latencies: Vec<Duration>,
    statuses: BTreeMap<u16, u64>,
    /// 503s that carried Retry-After.
    shed_with_retry_after: u64,
    /// Latencies of the 503s alone.
    shed: Vec<Duration>,
}

pub async fn run(options: &Options) {
    for &alg in &options.access_algs {
        let schema = match &options.postgres {
            Some(base) => Some(Schema::create(base).await),
            None => None,
        };
        let mut server = Server::start(options, schema.as_ref().map(Schema::url), alg);
        measure(options, &server, alg).await;
        let startup = server.restart_until_ready();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (idle, _) = server.rss();
        println!(
            "\nrestart on the database of this run: exec to /ready green {:.0} ms, idle RSS {:.1} MB; \
             binary {:.1} MB",
            startup.as_secs_f64() * 1000.0,
            mb(idle),
            mb(Server::binary_size())
        );
        drop(server);
        if let Some(schema) = schema {
            schema.drop().await;
        }
        println!();
    }
}

async fn measure(options: &Options, server: &Server, alg: Alg) {
    let wanted = |name: &str| options.only.is_empty() || options.only.iter().any(|o| o == name);
    println!(
        "keyward load benchmark: {} workers, {:?} per scenario, access tokens {alg}, backend: {}{}",
        options.concurrency,
        options.duration,
        if options.postgres.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        if options.redis.is_some() { " + Redis" } else { "" },
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (idle, _) = server.rss();
    println!("idle RSS after start: {:.1} MB", mb(idle));

    println!("measuring the limits on all cores ...");
    let limits = limits::measure(Duration::from_secs(3), alg).await;
    println!(
        "limits ({} cores): {} sign {:.0}/s, {} verify {:.0}/s, Argon2id (m=19MiB,t=2,p=1) {:.1}/s\n",
        limits.cores,
        limits.alg,
        limits.signs_per_sec,
        limits.alg,
        limits.verifies_per_sec,
        limits.hashes_per_sec
    );
    let users: Vec<String> = (0..options.concurrency.max(1))
        .map(|i| format!("bench{i}@example.com"))
        .collect();
    if ["password", "refresh", "introspect", "code", "overload"]
        .iter()
        .any(|s| wanted(s))
    {
        for user in &users {
            server.user(user);
        }
    }
    println!(
        "{:<20} {:>5} {:>9} {:>8} {:>8} {:>8} {:>9} {:>9} {:>10}  statuses",
        "scenario", "conns", "req/s", "p50 ms", "p99 ms", "max ms", "cpu/req", "peak RSS", "ratio",
    );
    let basic = server.basic_authorization();
    let ctx = Ctx {
        server,
        basic: &basic,
        limits: &limits,
        options,
    };
    if wanted("cc") {
        ctx.scenario(
            "client_credentials",
            Bound::Signatures(1.0),
            options.concurrency,
            |_| Work::ClientCredentials,
        )
        .await;
    }
    if wanted("password") {
        ctx.scenario("password", Bound::Hashes, options.concurrency, |i| {
            Work::Password {
                username: users[i % users.len()].clone(),
                scope: "api",
            }
        })
        .await;
    }
    if wanted("refresh") {
        // As a relying party refreshes: an ID token and an access token per answer.
        let chains = ctx.sign_in_all(&users, "refresh_token", REFRESH_SCOPE).await;
        ctx.scenario("refresh", Bound::Signatures(2.0), options.concurrency, |i| {
            Work::Refresh {
                token: chains[i].clone(),
            }
        })
        .await;
    }
    if wanted("introspect") {
        let tokens = ctx.distinct_access_tokens(&users).await;
        ctx.scenario("introspect", Bound::Verifications, options.concurrency, |i| {
            Work::Introspect {
                tokens: share_of(&tokens, i, options.concurrency),
                next: 0,
            }
        })
        .await;
    }
    if wanted("code") {
        let cookies = ctx.browser_sign_in_all(&users).await;
        // Two signatures per pair: the access token and the ID token.
        ctx.scenario(
            "code exchange",
            Bound::Signatures(2.0),
            options.concurrency,
            |i| Work::Code {
                cookie: cookies[i].clone(),
            },
        )
        .await;
    }
    if wanted("jwks") {
        ctx.scenario("jwks+discovery", Bound::None, options.concurrency, |i| {
            Work::Discovery { turn: i % 2 == 0 }
        })
        .await;
    }
    if wanted("overload") {
        ctx.scenario(
            &format!("password x{}", options.overload),
            Bound::Hashes,
            options.overload,
            |i| Work::Password {
                username: users[i % users.len()].clone(),
                scope: "api",
            },
        )
        .await;
        // The cheap endpoints, with ten times the connections of the run's other scenarios...
        let burst = 10 * options.concurrency;
        ctx.scenario(
            &format!("client_credentials x{burst}"),
            Bound::Signatures(1.0),
            burst,
            |_| Work::ClientCredentials,
        )
        .await;
        // ...and a burst far beyond what any queue should hold.
        let tokens = ctx.distinct_access_tokens(&users).await;
        ctx.scenario(
            &format!("introspect x{}", options.burst),
            Bound::Verifications,
            options.burst,
            |i| Work::Introspect {
                tokens: share_of(&tokens, i, options.burst),
                next: 0,
            },
        )
        .await;
    }
}

pub struct Ctx<'a> {
    pub server: &'a Server,
    pub basic: &'a str,
    pub limits: &'a Limits,
    pub options: &'a Options,
}

/// What a scenario measured, for the growth benchmark's comparison across sizes.
#[derive(Clone, Copy, Default)]
pub struct Summary {
    pub rps: f64,
    pub p99: f64,
    /// Answers other than 200 and 503.
    pub errors: u64,
    pub max: f64,
}

impl Ctx<'_> {
    /// Signs every user in once (outside the measurement); returns one field of each response.
    pub async fn sign_in_all(&self, users: &[String], field: &str, scope: &'static str) -> Vec<String> {
        let mut connection = Connection::open(self.server.port).await;
        let mut values = Vec::new();
        for i in 0..self.options.concurrency {
            let answer = self
                .send(
                    &mut connection,
                    &Work::Password {
                        username: users[i % users.len()].clone(),
                        scope,
                    },
                )
                .await;
            assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
            values.push(json_field(&answer.body, field));
        }
        values
    }

    /// The introspection working set: `--tokens` distinct user access tokens (outside the
    /// measurement), minted by refreshing one session per worker. More tokens than keyward's
    /// cache of verified signatures holds, so every introspection verifies a signature, as it
    /// does for a resource server that sees many users.
    pub async fn distinct_access_tokens(&self, users: &[String]) -> Vec<String> {
        let mut chains = self.sign_in_all(users, "refresh_token", "api").await;
        let mut connection = Connection::open(self.server.port).await;
        let mut tokens = Vec::with_capacity(self.options.tokens);
        while tokens.len() < self.options.tokens {
            let chain = &mut chains[tokens.len() % self.options.concurrency];
            let answer = self
                .send(&mut connection, &Work::Refresh { token: chain.clone() })
                .await;
            assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
            *chain = json_field(&answer.body, "refresh_token");
            tokens.push(json_field(&answer.body, "access_token"));
        }
        tokens
    }

    /// Signs every user in on the sign-in page once (outside the measurement); returns each
    /// browser's session cookie. The CSRF pair is the benchmark's own: the check compares the
    /// cookie with the form field.
    async fn browser_sign_in_all(&self, users: &[String]) -> Vec<String> {
        let mut connection = Connection::open(self.server.port).await;
        let csrf = "b".repeat(43);
        let mut cookies = Vec::new();
        for i in 0..self.options.concurrency {
            let body = format!(
                "csrf={csrf}&email={}&password={}",
                encode(&users[i % users.len()]),
                encode(PASSWORD)
            );
            let cookie = format!("kw_csrf={csrf}");
            let headers = [
                ("content-type", "application/x-www-form-urlencoded"),
                ("cookie", cookie.as_str()),
            ];
            let answer = connection
                .send(Method::POST, "/login", &headers, body.into())
                .await;
            assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
            let session = answer
                .cookies
                .iter()
                .find(|c| c.starts_with("kw_session="))
                .and_then(|c| c.split(';').next())
                .expect("a session cookie")
                .to_owned();
            cookies.push(session);
        }
        cookies
    }

    /// An authorization request with the browser's cookie, then the exchange of its code.
    async fn code_exchange(&self, connection: &mut Connection, cookie: &str) -> Answer {
        let path = format!(
            "/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid%20api\
             &state=s&nonce=n&code_challenge={CHALLENGE}&code_challenge_method=S256",
            self.server.web_client_id,
            encode(WEB_REDIRECT_URI)
        );
        let authorized = connection
            .send(Method::GET, &path, &[("cookie", cookie)], Bytes::new())
            .await;
        let Some(code) = authorized
            .location
            .as_deref()
            .and_then(|l| l.split("code=").nth(1))
            .and_then(|rest| rest.split('&').next())
            .map(str::to_owned)
        else {
            return authorized;
        };
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                self.server.web_client_id, self.server.web_client_secret
            ))
        );
        let body = format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
            encode(WEB_REDIRECT_URI)
        );
        let headers = [
            ("content-type", "application/x-www-form-urlencoded"),
            ("authorization", basic.as_str()),
        ];
        let mut exchanged = connection
            .send(Method::POST, "/oauth/token", &headers, body.into())
            .await;
        exchanged.latency += authorized.latency;
        exchanged
    }

    async fn send(&self, connection: &mut Connection, work: &Work) -> Answer {
        let form = [
            ("content-type", "application/x-www-form-urlencoded"),
            ("authorization", self.basic),
        ];
        match work {
            Work::ClientCredentials => {
                connection
                    .send(
                        Method::POST,
                        "/oauth/token",
                        &form,
                        Bytes::from_static(b"grant_type=client_credentials&scope=api"),
                    )
                    .await
            }
            Work::Password { username, scope } => {
                let body = format!(
                    "grant_type=password&username={}&password={}&scope={}",
                    encode(username),
                    encode(PASSWORD),
                    encode(scope)
                );
                connection
                    .send(Method::POST, "/oauth/token", &form, body.into())
                    .await
            }
            Work::Refresh { token } => {
                let body = format!("grant_type=refresh_token&refresh_token={}", encode(token));
                connection
                    .send(Method::POST, "/oauth/token", &form, body.into())
                    .await
            }
            Work::Introspect { tokens, next } => {
                let body = format!("token={}", encode(&tokens[*next % tokens.len()]));
                connection
                    .send(Method::POST, "/oauth/introspect", &form, body.into())
                    .await
            }
            Work::Code { cookie } => self.code_exchange(connection, cookie).await,
            Work::RefreshEach { tokens, next } => {
                let token = &tokens[*next % tokens.len()];
                let body = format!("grant_type=refresh_token&refresh_token={}", encode(token));
                connection
                    .send(Method::POST, "/oauth/token", &form, body.into())
                    .await
            }
            Work::Userinfo { tokens, next } => {
                let bearer = format!("Bearer {}", tokens[*next % tokens.len()]);
                connection
                    .send(
                        Method::GET,
                        "/userinfo",
                        &[("authorization", &bearer)],
                        Bytes::new(),
                    )
                    .await
            }
            Work::AdminList { bearer, after } => {
                let path = format!("/api/v1/users?after={}", encode(after));
                let bearer = format!("Bearer {bearer}");
                connection
                    .send(Method::GET, &path, &[("authorization", &bearer)], Bytes::new())
                    .await
            }
            Work::Discovery { turn } => {
                let path = if *turn {
                    "/.well-known/jwks.json"
                } else {
                    "/.well-known/openid-configuration"
                };
                connection.send(Method::GET, path, &[], Bytes::new()).await
            }
        }
    }

    pub async fn scenario(
        &self,
        name: &str,
        bound: Bound,
        workers: usize,
        work: impl Fn(usize) -> Work,
    ) -> Summary {
        let deadline = Instant::now() + self.options.duration;
        let mut connections = Vec::new();
        for _ in 0..workers {
            connections.push(Connection::open(self.server.port).await);
        }
        self.server.reset_peak();
        let cpu_before = self.server.cpu_time();
        let started = Instant::now();
        let tasks = connections.into_iter().enumerate().map(|(i, mut connection)| {
            let mut next = work(i);
            async move {
                let mut outcome = Outcome {
                    latencies: Vec::new(),
                    statuses: BTreeMap::new(),
                    shed_with_retry_after: 0,
                    shed: Vec::new(),
                };
                while Instant::now() < deadline {
                    let answer = self.send(&mut connection, &next).await;
                    *outcome.statuses.entry(answer.status).or_default() += 1;
                    if answer.status == 200 {
                        outcome.latencies.push(answer.latency);
                        if let Work::Refresh { token } = &mut next {
                            *token = json_field(&answer.body, "refresh_token");
                        }
                        if let Work::Discovery { turn } = &mut next {
                            *turn = !*turn;
                        }
                        match &mut next {
                            Work::Introspect { next, .. } | Work::Userinfo { next, .. } => *next += 1,
                            Work::RefreshEach { tokens, next } => {
                                let at = *next % tokens.len();
                                tokens[at] = json_field(&answer.body, "refresh_token");
                                *next += 1;
                            }
                            _ => {}
                        }
                    } else if answer.status == 503 {
                        outcome.shed.push(answer.latency);
                        outcome.shed_with_retry_after += u64::from(answer.retry_after);
                        // A shed client backs off briefly, as Retry-After asks (scaled down).
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                outcome
            }
        });
        let outcomes = futures_util::future::join_all(tasks).await;
        let elapsed = started.elapsed();
        let cpu = self.server.cpu_time().saturating_sub(cpu_before);
        let (_, peak) = self.server.rss();
        self.report(name, bound, workers, elapsed, cpu, peak, outcomes)
    }

    #[allow(clippy::too_many_arguments)]
    fn report(
        &self,
        name: &str,
        bound: Bound,
        workers: usize,
        elapsed: Duration,
        cpu: Duration,
        peak: u64,
        outcomes: Vec<Outcome>,
    ) -> Summary {
        let mut latencies: Vec<Duration> = outcomes
            .iter()
            .flat_map(|o| o.latencies.iter().copied())
            .collect();
        let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
        for outcome in &outcomes {
            for (status, count) in &outcome.statuses {
                *statuses.entry(*status).or_default() += count;
            }
        }
        latencies.sort();
        let ok = latencies.len() as f64;
        let total: u64 = statuses.values().sum();
        let rps = ok / elapsed.as_secs_f64();
        let percentile = |p: f64| {
            latencies
                .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
                .map_or(0.0, ms)
        };
        let ratio = match bound {
            Bound::Signatures(per) => format!("{:.2} sign", rps * per / self.limits.signs_per_sec),
            Bound::Hashes => format!("{:.2} hash", rps / self.limits.hashes_per_sec),
            Bound::Verifications => format!("{:.2} verify", rps / self.limits.verifies_per_sec),
            Bound::None => "-".to_owned(),
        };
        let statuses_text: Vec<String> = statuses.iter().map(|(s, n)| format!("{s}:{n}")).collect();
        println!(
            "{:<20} {:>5} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>7.3}ms {:>7.1}MB {:>10}  {}",
            name,
            workers,
            rps,
            percentile(0.50),
            percentile(0.99),
            latencies.last().map_or(0.0, ms),
            if total > 0 {
                cpu.as_secs_f64() * 1000.0 / total as f64
            } else {
                0.0
            },
            mb(peak),
            ratio,
            statuses_text.join(" "),
        );
        let mut shed: Vec<Duration> = outcomes.iter().flat_map(|o| o.shed.iter().copied()).collect();
        if !shed.is_empty() {
            shed.sort();
            let with_retry: u64 = outcomes.iter().map(|o| o.shed_with_retry_after).sum();
            println!(
                "{:<20} shed {} with 503 ({} with Retry-After): p50 {:.2} ms, p99 {:.2} ms",
                "",
                shed.len(),
                with_retry,
                ms(&shed[shed.len() / 2]),
                ms(&shed[(shed.len() * 99 / 100).min(shed.len() - 1)]),
            );
        }
        Summary {
            rps,
            p99: percentile(0.99),
            errors: statuses
                .iter()
                .filter(|(status, _)| ![200, 503].contains(*status))
                .map(|(_, n)| n)
                .sum(),
            max: latencies.last().map_or(0.0, ms),
        }
    }
}

/// Worker `i`'s part of the working set (at least one token, whatever the number of workers).
pub fn share_of(tokens: &[String], i: usize, workers: usize) -> Vec<String> {
    let share = (tokens.len() / workers).max(1);
    tokens
        .iter()
        .cycle()
        .skip(i * share)
        .take(share)
        .cloned()
        .collect()
}

pub fn json_field(body: &[u8], field: &str) -> String {
    let value: serde_json::Value = serde_json::from_slice(body).expect("JSON response");
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {value}"))
        .to_owned()
}

pub fn encode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

pub fn ms(d: &Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
