//! The load benchmark: `cargo bench --bench load [-- OPTIONS]`.
//!
//! Starts `keyward serve` as a child process (embedded defaults, or PostgreSQL and Redis when
//! their URLs are given), creates a client and users through the CLI, measures the hardware
//! limits (signatures and verifications, Argon2id hashes, with keyward's own code and
//! parameters, on all cores), then drives real HTTP load at fixed concurrency from this process
//! and prints, per scenario, throughput, latency, errors, the server's CPU time per request,
//! its peak RSS, and the ratio to the limit that bounds it.

mod client;
mod limits;
mod postgres;
mod scale;
mod scenarios;
mod server;

use std::time::Duration;

/// Command-line options.
pub struct Options {
    pub duration: Duration,
    pub concurrency: usize,
    pub postgres: Option<String>,
    pub redis: Option<String>,
    pub only: Vec<String>,
    /// Concurrent logins for the overload scenario.
    pub overload: usize,
    /// Sizes of the growth benchmark (`--scale 10k,100k,1m`); empty for the usual run.
    pub scale: Vec<usize>,
    /// Distinct access tokens of the growth benchmark's introspection, at most.
    pub working_set: usize,
    /// Connections of the introspection burst in the overload scenarios.
    pub burst: usize,
    /// Distinct access tokens the introspection scenario cycles through.
    pub tokens: usize,
    /// Access-token algorithms: the whole run is repeated for each, on a server of its own.
    pub access_algs: Vec<keyward::crypto::keys::Alg>,
}

fn options() -> Options {
    let mut options = Options {
        duration: Duration::from_secs(10),
        concurrency: 16,
        postgres: None,
        redis: None,
        only: Vec::new(),
        overload: 200,
        tokens: 8192,
        burst: 1000,
        scale: Vec::new(),
        working_set: 100_000,
        access_algs: vec![keyward::crypto::keys::Alg::RS256],
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--duration" => options.duration = humantime::parse_duration(&value()).expect("--duration"),
            "--concurrency" => options.concurrency = value().parse().expect("--concurrency"),
            "--postgres" => options.postgres = Some(value()),
            "--redis" => options.redis = Some(value()),
            "--only" => options.only = value().split(',').map(str::to_owned).collect(),
            "--overload" => options.overload = value().parse().expect("--overload"),
            "--tokens" => options.tokens = value().parse().expect("--tokens"),
            "--burst" => options.burst = value().parse().expect("--burst"),
            "--scale" => options.scale = value().split(',').map(size).collect(),
            "--working-set" => options.working_set = size(&value()),
            "--access-alg" => {
                options.access_algs = value()
                    .split(',')
                    .map(|a| a.parse().expect("--access-alg RS256,ES256,EdDSA"))
                    .collect()
            }
            // `cargo bench` passes this to every bench target.
            "--bench" => {}
            other => panic!(
                "unknown option {other}; options: --duration 10s --concurrency 16 --postgres URL --redis URL \
                 --only cc,password,refresh,introspect,code,jwks,overload --overload 200 \
                 --tokens 8192 --burst 1000 --scale 10k,100k,1m --working-set 100k --access-alg RS256,ES256,EdDSA"
            ),
        }
    }
    options
}

/// `10k`, `1m`, `2500`: a count.
fn size(text: &str) -> usize {
    let text = text.trim().to_ascii_lowercase();
    let (digits, factor) = match text.strip_suffix('k') {
        Some(d) => (d, 1_000),
        None => match text.strip_suffix('m') {
            Some(d) => (d, 1_000_000),
            None => (text.as_str(), 1),
        },
    };
    digits.parse::<usize>().expect("a size such as 10k or 1m") * factor
}

fn main() {
    let options = options();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if options.scale.is_empty() {
        runtime.block_on(scenarios::run(&options));
    } else {
        runtime.block_on(scale::run(&options));
    }
}
