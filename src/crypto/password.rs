//! Argon2id password hashing (m=19 MiB, t=2, p=1), run on dedicated threads with a bounded queue.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

use crate::crypto::token::random_bytes;

/// A password as typed by its owner; `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Hashes and verifies passwords without blocking the async runtime: on `concurrency` threads of
/// its own, at most `queue` more requests waiting.
#[derive(Clone)]
pub struct PasswordHasher {
    /// Jobs for the hashing threads. Dedicated threads, rather than tokio's blocking pool, keep
    /// Argon2's 19 MiB working memory in as many allocator arenas as there are threads, so
    /// resident memory stays bounded however many requests come.
    jobs: std::sync::mpsc::Sender<Job>,
    /// Jobs sent and not yet taken by a thread.
    waiting: Arc<AtomicUsize>,
    /// Requests hashing or waiting to hash; beyond `capacity` they are refused at once, so an
    /// overload gets fast answers instead of an unbounded queue.
    admitted: Arc<AtomicUsize>,
    capacity: usize,
}

type Job = Box<dyn FnOnce() + Send>;

/// Verified against when the account does not exist, so that an unknown email costs exactly as
/// much as a wrong password and timing reveals no account. Its password was random and thrown
/// away; knowing it would not matter, since a match without an account is still a failure. A
/// constant, rather than one made at start, so a server that has not yet checked a password
/// holds none of Argon2's memory. Its parameters must stay keyward's (a test checks).
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$+Lm0aC12WSO9PwxanbNnEQ$Dpx4hTeEwzGe/eYsSWQohm6l3Fwg4szjL/7g9FZGhf0";

/// Every hashing thread is busy and the queue is full: the caller should answer 503 at once.
#[derive(Debug, thiserror::Error)]
#[error("password hashing is at capacity")]
pub struct Overloaded;

/// A place among the admitted requests, taken before any other work and given back on drop.
pub struct Reservation<'a> {
    hasher: &'a PasswordHasher,
    _admitted: Admitted,
}

struct Admitted(Arc<AtomicUsize>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PasswordHasher {
    /// `concurrency` of 0 means one Argon2 thread per CPU; `queue` requests may wait beyond
    /// those (0: eight per thread), so an accepted request waits a bounded number of hash times.
    pub fn new(concurrency: usize, queue: usize) -> anyhow::Result<Self> {
        let threads = match concurrency {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let queue = if queue == 0 { 8 * threads } else { queue };
        let (jobs, receiver) = std::sync::mpsc::channel::<Job>();
        let receiver = Arc::new(std::sync::Mutex::new(receiver));
        let waiting = Arc::new(AtomicUsize::new(0));
        for i in 0..threads {
            let (receiver, waiting) = (receiver.clone(), waiting.clone());
            std::thread::Builder::new()
                .name(format!("keyward-argon2-{i}"))
                .spawn(move || {
                    // Ends when every sender (every clone of the hasher) is gone.
                    while let Some(job) = next_job(&receiver) {
                        waiting.fetch_sub(1, Ordering::AcqRel);
                        job();
                        // Nothing queued: give the working memory back rather than hold it idle
                        // (with the binary's fixed mmap threshold, back to the system).
                        if waiting.load(Ordering::Acquire) == 0 {
                            MEMORY.with_borrow_mut(|memory| *memory = Vec::new());
                        }
                    }
                })
                .context("starting a password-hashing thread")?;
        }
        Ok(Self {
            jobs,
            waiting,
            admitted: Arc::new(AtomicUsize::new(0)),
            capacity: threads + queue,
        })
    }

    /// Requests hashing or waiting to hash now.
    pub fn admitted(&self) -> usize {
        self.admitted.load(Ordering::Acquire)
    }

    /// Takes a place for one hash or verification, or refuses at once when all are taken.
    pub fn reserve(&self) -> Result<Reservation<'_>, Overloaded> {
        if self.admitted.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(Overloaded);
        }
        Ok(Reservation {
            hasher: self,
            _admitted: Admitted(self.admitted.clone()),
        })
    }

    /// A new PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
    pub async fn hash(&self, password: Password) -> anyhow::Result<String> {
        self.reserve()?.hash(password).await
    }

    /// Whether `password` matches `stored`; with no stored hash, the dummy is verified and the
    /// answer is false, after the same work.
    pub async fn verify(&self, password: Password, stored: Option<String>) -> anyhow::Result<bool> {
        self.reserve()?.verify(password, stored).await
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.waiting.fetch_add(1, Ordering::AcqRel);
        self.jobs
            .send(Box::new(move || {
                let _ = done.send(work());
            }))
            .map_err(|_| anyhow::anyhow!("the password-hashing threads have stopped"))?;
        result
            .await
            .map_err(|_| anyhow::anyhow!("a password-hashing thread failed"))
    }
}

impl Reservation<'_> {
    /// As [`PasswordHasher::hash`], in the place taken.
    pub async fn hash(self, password: Password) -> anyhow::Result<String> {
        self.hasher.run(move || hash_blocking(&password)).await?
    }

    /// As [`PasswordHasher::verify`], in the place taken.
    pub async fn verify(self, password: Password, stored: Option<String>) -> anyhow::Result<bool> {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let matched = self
            .hasher
            .run(move || verify_blocking(&password, &phc))
            .await??;
        Ok(known && matched)
    }
}

/// keyward's parameters: OWASP's first Argon2id configuration (m=19 MiB, t=2, p=1).
fn params() -> anyhow::Result<Params> {
    Params::new(19 * 1024, 2, 1, Some(32)).map_err(|e| anyhow::anyhow!("argon2 params: {e}"))
}

thread_local! {
    /// Argon2's working memory, kept by each hashing thread while work is waiting: allocating
    /// 19 MiB per hash fragments the allocator's arenas until each holds several copies
    /// (measured: 475 MB peak under load; reused, at most threads x 19 MiB).
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

fn next_job(receiver: &std::sync::Mutex<std::sync::mpsc::Receiver<Job>>) -> Option<Job> {
    receiver.lock().ok()?.recv().ok()
}

/// Runs Argon2 over `password` and `salt` into `out`, in this thread's reused memory.
fn compute(argon2: &Argon2<'_>, password: &[u8], salt: &[u8], out: &mut [u8]) -> anyhow::Result<()> {
    let blocks = argon2.params().block_count();
    MEMORY.with_borrow_mut(|memory| {
        if memory.len() < blocks {
            memory.resize(blocks, Block::new());
        }
        argon2
            .hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))
    })
}

fn hash_blocking(password: &Password) -> anyhow::Result<String> {
    let params = params()?;
    let salt = random_bytes::<16>();
    let mut out = [0u8; 32];
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    compute(&argon2, password.expose().as_bytes(), &salt, &mut out)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?,
        salt: Some(Salt::new(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?),
        hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("output: {e}"))?),
    };
    Ok(phc.to_string())
}

/// Recomputes the stored hash's function (with its own parameters, which may be older than
/// keyward's) and compares outputs in constant time.
fn verify_blocking(password: &Password, phc: &str) -> anyhow::Result<bool> {
    let invalid = |e: &dyn std::fmt::Display| anyhow::anyhow!("stored password hash is not usable: {e}");
    let parsed = PasswordHash::new(phc).map_err(|e| invalid(&e))?;
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return Ok(false);
    };
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(|e| invalid(&e))?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(|e| invalid(&e))?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).map_err(|e| invalid(&e))?;
    let mut out = vec![0u8; expected.as_bytes().len()];
    compute(
        &Argon2::new(algorithm, version, params),
        password.expose().as_bytes(),
        salt,
        &mut out,
    )?;
    Ok(bool::from(out.as_slice().ct_eq(expected.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_verifies_its_password_only() {
        let hasher = PasswordHasher::new(1, 0).unwrap();
        let phc = hasher.hash(Password::new("correct horse")).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            hasher
                .verify(Password::new("correct horse"), Some(phc.clone()))
                .await
                .unwrap()
        );
        assert!(!hasher.verify(Password::new("wrong"), Some(phc)).await.unwrap());
    }

    #[test]
    fn the_dummy_hash_has_keywards_parameters() {
        let parsed = PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(Params::try_from(&parsed).unwrap(), params().unwrap());
        assert_eq!(parsed.algorithm, Algorithm::Argon2id.ident());
    }

    #[test]
    fn hashes_interoperate_with_the_argon2_crate() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let theirs = Argon2::default()
            .hash_password(b"correct horse")
            .unwrap()
            .to_string();
        assert!(verify_blocking(&Password::new("correct horse"), &theirs).unwrap());
        assert!(!verify_blocking(&Password::new("correct horsf"), &theirs).unwrap());
        let ours = hash_blocking(&Password::new("correct horse")).unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
    }

    #[tokio::test]
    async fn unknown_account_verifies_the_dummy_and_fails() {
        let hasher = PasswordHasher::new(1, 0).unwrap();
        assert!(!hasher.verify(Password::new("anything"), None).await.unwrap());
    }

    #[tokio::test]
    async fn beyond_the_queue_requests_are_refused_at_once() {
        let hasher = PasswordHasher::new(1, 1).unwrap();
        let busy: Vec<_> = (0..2)
            .map(|_| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.hash(Password::new("one of two admitted")).await })
            })
            .collect();
        // Give both a moment to be admitted (one hashing, one queued).
        while hasher.admitted.load(Ordering::Acquire) < 2 {
            tokio::task::yield_now().await;
        }
        let refused = hasher.verify(Password::new("x"), None).await.unwrap_err();
        assert!(refused.downcast_ref::<Overloaded>().is_some());
        for task in busy {
            task.await.unwrap().unwrap();
        }
        assert_eq!(hasher.admitted.load(Ordering::Acquire), 0);
        assert!(!hasher.verify(Password::new("x"), None).await.unwrap());
    }

    #[test]
    fn debug_hides_the_password() {
        assert!(!format!("{:?}", Password::new("hunter2")).contains("hunter2"));
    }
}
