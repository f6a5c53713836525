//! Request limits of the account endpoints anyone may call: counters in SQL (so every replica
//! sees the same ones) per client address and, where there is one, per email address. A streak
//! is forgotten after an hour without a request; past its limit the answer is 429 with
//! `Retry-After`.

use std::net::IpAddr;

use crate::accounts::ApiError;
use crate::app::AppState;
use crate::store::throttle;

/// How long a streak of requests is remembered without a new one.
pub const WINDOW: i64 = 3600;
/// Requests per client address within a streak: more than one person (an office behind one
/// address) needs, too few to flood mailboxes or the account table.
pub const PER_ADDRESS: i64 = 20;

/// The counter of `action` for a client address; requests whose address is unknown share one.
pub fn by_address(action: &str, address: Option<IpAddr>) -> (String, i64) {
    let address = address.map_or_else(|| "unknown".to_owned(), |a| a.to_string());
    (format!("{action}:addr:{address}"), PER_ADDRESS)
}

/// Counts one request against each `(counter, limit)`; refused if any passes its limit.
pub async fn count(app: &AppState, counters: &[(String, i64)]) -> Result<(), ApiError> {
    let now = app.clock.now();
    for (key, limit) in counters {
        let count = throttle::record_failure(&app.db, key, now, now - WINDOW).await?;
        if count > *limit {
            return Err(ApiError::TooManyAttempts {
                retry_after: WINDOW.unsigned_abs(),
            });
        }
    }
    Ok(())
}
