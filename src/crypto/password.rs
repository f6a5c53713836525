//! Argon2id password hashing (m=19 MiB, t=2, p=1), run on blocking threads behind a semaphore.

use std::fmt;
use std::sync::Arc;

use anyhow::Context;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

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

/// Hashes and verifies passwords without blocking the async runtime, at most `permits` at once.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// Verified against when the account does not exist, so that an unknown email costs
    /// exactly as much as a wrong password and timing reveals no account.
    dummy_hash: Arc<str>,
}

impl PasswordHasher {
    /// `concurrency` of 0 means one Argon2 computation per CPU.
    pub fn new(concurrency: usize) -> anyhow::Result<Self> {
        let permits = match concurrency {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let dummy_hash = hash_blocking(&Password::new(
            crate::crypto::token::PlainToken::generate().expose(),
        ))?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(permits)),
            dummy_hash: dummy_hash.into(),
        })
    }

    /// A new PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
    pub async fn hash(&self, password: Password) -> anyhow::Result<String> {
        let _permit = self.permits.acquire().await?;
        tokio::task::spawn_blocking(move || hash_blocking(&password)).await?
    }

    /// Whether `password` matches `stored`; with no stored hash, the dummy is verified and the
    /// answer is false, after the same work.
    pub async fn verify(&self, password: Password, stored: Option<String>) -> anyhow::Result<bool> {
        let _permit = self.permits.acquire().await?;
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| self.dummy_hash.to_string());
        let matched = tokio::task::spawn_blocking(move || verify_blocking(&password, &phc)).await??;
        Ok(known && matched)
    }
}

fn argon2() -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_blocking(password: &Password) -> anyhow::Result<String> {
    let hash = argon2()?
        .hash_password(password.expose().as_bytes())
        .map_err(|e| anyhow::anyhow!("argon2 hash: {e}"))?;
    Ok(hash.to_string())
}

fn verify_blocking(password: &Password, phc: &str) -> anyhow::Result<bool> {
    let parsed = PasswordHash::new(phc)
        .map_err(|e| anyhow::anyhow!("stored password hash is not a PHC string: {e}"))
        .context("verifying a password")?;
    Ok(argon2()?
        .verify_password(password.expose().as_bytes(), &parsed)
        .is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_verifies_its_password_only() {
        let hasher = PasswordHasher::new(1).unwrap();
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

    #[tokio::test]
    async fn unknown_account_verifies_the_dummy_and_fails() {
        let hasher = PasswordHasher::new(1).unwrap();
        assert!(!hasher.verify(Password::new("anything"), None).await.unwrap());
    }

    #[test]
    fn debug_hides_the_password() {
        assert!(!format!("{:?}", Password::new("hunter2")).contains("hunter2"));
    }
}
