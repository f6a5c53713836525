//! The physical limits on this machine, measured with keyward's own code and parameters on all
//! cores: signatures and verifications per second with the access-token algorithm under test,
//! Argon2id hashes per second.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use keyward::crypto::jwt::{self, ACCESS_TOKEN_TYP};
use keyward::crypto::keys::Alg;
use keyward::crypto::keyset::KeySet;
use keyward::crypto::password::{Password, PasswordHasher};
use serde_json::json;

pub struct Limits {
    pub cores: usize,
    /// The algorithm the signing and verification limits are for.
    pub alg: Alg,
    pub signs_per_sec: f64,
    pub verifies_per_sec: f64,
    pub hashes_per_sec: f64,
}

const ISSUER: &str = "http://127.0.0.1";

fn claims() -> serde_json::Value {
    // The shape and size of a user access token.
    json!({
        "iss": ISSUER, "sub": "01a1fd27-f20f-7718-9037-a6f136435534", "aud": ISSUER,
        "exp": 4_000_000_000i64, "iat": 1_795_000_000, "jti": "9f20fc20-8f5e-4019-8091-23f0fc24840b",
        "client_id": "aaaqeayeaudaocajbifqydiob4", "scope": "api",
        "sid": "f764c208-4000-46b8-8836-57575c0371a2", "auth_time": 1_795_000_000, "roles": ["user"]
    })
}

/// Runs `work` on every core for `span`; returns completions per second.
fn on_all_cores(cores: usize, span: Duration, work: impl Fn() + Send + Sync + 'static) -> f64 {
    let work = Arc::new(work);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..cores)
        .map(|_| {
            let (work, stop, done) = (work.clone(), stop.clone(), done.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    work();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(span);
    stop.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().expect("worker");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

pub async fn measure(span: Duration, alg: Alg) -> Limits {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let dir = tempfile::tempdir().expect("tempdir");
    let key = keyward::crypto::keys::generate(dir.path(), alg).expect("key");
    let keys = Arc::new(KeySet::standalone(key).expect("keys"));
    let claims = claims();

    let signer = keys.clone();
    let signing_claims = claims.clone();
    let signs_per_sec = on_all_cores(cores, span, move || {
        jwt::sign(
            signer.signing(alg, 0).expect("key"),
            ACCESS_TOKEN_TYP,
            &signing_claims,
        )
        .expect("sign");
    });
    let token = jwt::sign(keys.signing(alg, 0).expect("key"), ACCESS_TOKEN_TYP, &claims).expect("sign");
    let verifier = keys.clone();
    let verifies_per_sec = on_all_cores(cores, span, move || {
        jwt::verify::<serde_json::Value>(&verifier, 0, &token, ACCESS_TOKEN_TYP, ISSUER).expect("verify");
    });
    // Argon2id through keyward's hasher, which runs on blocking threads `cores` at a time.
    let hasher = PasswordHasher::new(cores, 0).expect("hasher");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let hashes_per_sec = std::thread::spawn(move || {
        runtime.block_on(async move {
            let done = Arc::new(AtomicU64::new(0));
            let started = Instant::now();
            let tasks: Vec<_> = (0..cores)
                .map(|_| {
                    let (hasher, done) = (hasher.clone(), done.clone());
                    tokio::spawn(async move {
                        while started.elapsed() < span {
                            hasher
                                .hash(Password::new("bench passphrase"))
                                .await
                                .expect("hash");
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("hash task");
            }
            done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
        })
    })
    .join()
    .expect("argon2 thread");
    Limits {
        cores,
        alg,
        signs_per_sec,
        verifies_per_sec,
        hashes_per_sec,
    }
}
