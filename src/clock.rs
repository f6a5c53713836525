//! The only place that reads the system time; tests use a manual clock they can move.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, the unit of every JWT and stored timestamp.
pub type UnixTime = i64;

/// A source of the current time, shared by everything that needs it.
#[derive(Clone, Debug)]
pub struct Clock(Source);

#[derive(Clone, Debug)]
enum Source {
    System,
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// The real time.
    pub fn system() -> Self {
        Self(Source::System)
    }

    /// A clock that stands still at `start` until advanced (for tests).
    pub fn manual(start: UnixTime) -> Self {
        Self(Source::Manual(Arc::new(AtomicI64::new(start))))
    }

    /// Now, in seconds since the Unix epoch.
    pub fn now(&self) -> UnixTime {
        match &self.0 {
            Source::System => system_now(),
            Source::Manual(t) => t.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward; a system clock cannot be moved and ignores this.
    pub fn advance(&self, by: Duration) {
        if let Source::Manual(t) = &self.0 {
            t.fetch_add(seconds(by), Ordering::SeqCst);
        }
    }
}

/// The real time in Unix seconds.
#[allow(clippy::disallowed_methods)] // this module is the one allowed reader of the system time
pub fn system_now() -> UnixTime {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(seconds)
        .unwrap_or(0)
}

/// A duration in whole seconds, saturating at `i64::MAX`.
pub fn seconds(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = Clock::manual(1_000);
        assert_eq!(clock.now(), 1_000);
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.now(), 1_090);
    }
}
