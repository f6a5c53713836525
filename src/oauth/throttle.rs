//! Brute-force protection of the password grant (RFC 6749 §4.3.2 MUST, §10.10): consecutive
//! failures per account and per client address lead to a lockout that doubles with each further
//! failure. A locked attempt is answered before any Argon2 work.

use std::net::IpAddr;

use crate::app::AppState;
use crate::clock::{UnixTime, seconds};
use crate::oauth::OAuthError;
use crate::store::throttle::{self, FORGET_AFTER};
use crate::store::users::normalize_email;

/// An address may fail this many times more often than one account before it is locked, since
/// many users can share one address (NAT, proxies).
const ADDRESS_ALLOWANCE: u32 = 4;

/// The counters one login attempt touches.
pub struct Attempt {
    account: String,
    address: String,
    has_streak: bool,
}

impl Attempt {
    fn keys(&self) -> [&str; 2] {
        [&self.account, &self.address]
    }
}

/// Refuses the attempt with `TooManyAttempts` if the account or the address is locked.
/// Unknown accounts are counted too, so a lockout reveals nothing about which accounts exist.
pub async fn check(app: &AppState, username: &str, address: Option<IpAddr>) -> Result<Attempt, OAuthError> {
    let attempt = Attempt {
        account: format!("account:{}", normalize_email(username)),
        address: format!(
            "addr:{}",
            address.map_or_else(|| "unknown".to_owned(), |a| a.to_string())
        ),
        has_streak: false,
    };
    let now = app.clock.now();
    let streaks = throttle::streaks(&app.db, attempt.keys()).await?;
    if let Some(until) = streaks.iter().copied().filter(|until| *until > now).max() {
        return Err(OAuthError::TooManyAttempts {
            retry_after: (until - now).unsigned_abs(),
        });
    }
    Ok(Attempt {
        has_streak: !streaks.is_empty(),
        ..attempt
    })
}

/// Counts a failed attempt, locking whichever counter reached its limit.
pub async fn failed(app: &AppState, attempt: &Attempt) -> Result<(), OAuthError> {
    let now = app.clock.now();
    let limits = [
        app.config.login_max_failures,
        app.config.login_max_failures.saturating_mul(ADDRESS_ALLOWANCE),
    ];
    for (key, limit) in attempt.keys().into_iter().zip(limits) {
        let failures = throttle::record_failure(&app.db, key, now, now - FORGET_AFTER).await?;
        if let Some(lock) = lockout(failures, limit, app) {
            tracing::warn!(
                key = key.split(':').next().unwrap_or_default(),
                failures,
                lock,
                "login throttled"
            );
            throttle::lock(&app.db, key, now + lock).await?;
        }
    }
    Ok(())
}

/// Ends both streaks after a successful login (a no-op when there were none).
pub async fn succeeded(app: &AppState, attempt: &Attempt) -> Result<(), OAuthError> {
    if attempt.has_streak {
        throttle::clear(&app.db, attempt.keys()).await?;
    }
    Ok(())
}

/// Seconds of lockout after `failures` consecutive failures: none below `limit`, then the base
/// lockout doubling per further failure, up to the maximum.
fn lockout(failures: i64, limit: u32, app: &AppState) -> Option<UnixTime> {
    lockout_seconds(
        failures,
        limit,
        seconds(app.config.login_lockout),
        seconds(app.config.login_lockout_max),
    )
}

fn lockout_seconds(failures: i64, limit: u32, base: i64, max: i64) -> Option<i64> {
    let over = failures - i64::from(limit);
    if limit == 0 || over < 0 {
        return None;
    }
    let factor = if over >= 62 { i64::MAX } else { 1_i64 << over };
    Some(base.saturating_mul(factor).min(max))
}

#[cfg(test)]
mod tests {
    use super::lockout_seconds;

    #[test]
    fn lockout_starts_at_the_limit_and_doubles_up_to_the_cap() {
        assert_eq!(lockout_seconds(4, 5, 30, 900), None);
        assert_eq!(lockout_seconds(5, 5, 30, 900), Some(30));
        assert_eq!(lockout_seconds(6, 5, 30, 900), Some(60));
        assert_eq!(lockout_seconds(9, 5, 30, 900), Some(480));
        assert_eq!(lockout_seconds(10, 5, 30, 900), Some(900));
        assert_eq!(lockout_seconds(500, 5, 30, 900), Some(900));
    }

    #[test]
    fn a_zero_limit_disables_the_lockout() {
        assert_eq!(lockout_seconds(100, 0, 30, 900), None);
    }
}
