//! The key lifecycle, pending → active → retiring → gone, computed from dates alone so that every
//! replica that has read the same rows agrees at every instant without anyone writing a state.

use serde::Serialize;

use crate::clock::UnixTime;
use crate::crypto::keys::Alg;

/// A key's dates, as the database keeps them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyDates {
    pub kid: String,
    pub alg: Alg,
    pub created_at: UnixTime,
    /// When it starts signing. Until then it is published only.
    pub activates_at: UnixTime,
    /// When it was retired by hand (a compromised key): unpublished from then on.
    pub retired_at: Option<UnixTime>,
}

/// Where a key is in its life at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Published so that caches hold it before it signs.
    Pending,
    /// Signs new tokens (one per algorithm).
    Active,
    /// Signs nothing; published until the last token it signed has expired.
    Retiring,
    /// Unpublished: its tokens no longer verify.
    Gone,
}

impl KeyState {
    pub const ALL: [KeyState; 4] = [
        KeyState::Pending,
        KeyState::Active,
        KeyState::Retiring,
        KeyState::Gone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Pending => "pending",
            KeyState::Active => "active",
            KeyState::Retiring => "retiring",
            KeyState::Gone => "gone",
        }
    }

    /// Whether JWKS shows the key and its signatures verify.
    pub fn published(self) -> bool {
        self != KeyState::Gone
    }
}

/// Every key's dates, and how long a key stays published after it stopped signing.
pub struct Timeline<'a> {
    keys: &'a [KeyDates],
    /// The longest life of a token it signed, plus slack for clocks and reloads.
    retire_after: i64,
}

impl<'a> Timeline<'a> {
    pub fn new(keys: &'a [KeyDates], retire_after: i64) -> Self {
        Self { keys, retire_after }
    }

    /// `key`'s state at `now`.
    pub fn state(&self, key: &KeyDates, now: UnixTime) -> KeyState {
        if !self.published(key, now) {
            KeyState::Gone
        } else if key.activates_at > now {
            KeyState::Pending
        } else if self.active(key.alg, now).is_some_and(|a| a.kid == key.kid) {
            KeyState::Active
        } else {
            KeyState::Retiring
        }
    }

    /// Whether JWKS shows `key` at `now` and its signatures verify: every state but gone. Cheaper
    /// than [`Timeline::state`], which also finds the active key; verification asks this.
    pub fn published(&self, key: &KeyDates, now: UnixTime) -> bool {
        key.retired_at.is_none_or(|at| at > now) && self.gone_at(key).is_none_or(|at| at > now)
    }

    /// The key that signs for `alg` at `now`: of the keys that have activated and are neither
    /// retired nor gone, the one that activated last. When a compromised active key is retired,
    /// its predecessor signs again if it is still published, since every cache still holds it.
    pub fn active(&self, alg: Alg, now: UnixTime) -> Option<&'a KeyDates> {
        self.keys
            .iter()
            .filter(|k| k.alg == alg && k.activates_at <= now)
            .filter(|k| self.published(k, now))
            .max_by(|a, b| order(a).cmp(&order(b)))
    }

    /// When `key` stops being published, once that is known: at once when retired by hand;
    /// otherwise `retire_after` past the activation of the first successor that stays in service
    /// through that window (a successor retired sooner hands signing back, so it does not count).
    pub fn gone_at(&self, key: &KeyDates) -> Option<UnixTime> {
        let succeeded = self
            .keys
            .iter()
            .filter(|s| s.alg == key.alg && order(s) > order(key))
            .map(|s| (s.activates_at + self.retire_after, s.retired_at))
            .filter(|(end, retired)| retired.is_none_or(|at| at >= *end))
            .map(|(end, _)| end)
            .min();
        match (key.retired_at, succeeded) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Keys of one algorithm take turns in the order they activate; the kid breaks ties.
fn order(key: &KeyDates) -> (UnixTime, &str) {
    (key.activates_at, key.kid.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use KeyState::*;

    const WINDOW: i64 = 1_000;

    fn key(kid: &str, alg: Alg, activates_at: UnixTime) -> KeyDates {
        KeyDates {
            kid: kid.into(),
            alg,
            created_at: 0,
            activates_at,
            retired_at: None,
        }
    }

    fn states(keys: &[KeyDates], now: UnixTime) -> Vec<KeyState> {
        let timeline = Timeline::new(keys, WINDOW);
        keys.iter().map(|k| timeline.state(k, now)).collect()
    }

    #[test]
    fn a_rotation_publishes_ahead_then_retires_after_the_window() {
        let keys = [key("a", Alg::RS256, 0), key("b", Alg::RS256, 600)];
        assert_eq!(states(&keys, 599), [Active, Pending]);
        assert_eq!(states(&keys, 600), [Retiring, Active]);
        assert_eq!(states(&keys, 600 + WINDOW - 1), [Retiring, Active]);
        assert_eq!(states(&keys, 600 + WINDOW), [Gone, Active]);
        let timeline = Timeline::new(&keys, WINDOW);
        assert_eq!(timeline.gone_at(&keys[0]), Some(600 + WINDOW));
        assert_eq!(timeline.gone_at(&keys[1]), None);
    }

    #[test]
    fn each_algorithm_has_its_own_active_key() {
        let keys = [
            key("r", Alg::RS256, 0),
            key("e", Alg::ES256, 10),
            key("d", Alg::EdDSA, 20),
        ];
        assert_eq!(states(&keys, 5), [Active, Pending, Pending]);
        assert_eq!(states(&keys, 50_000), [Active, Active, Active]);
        let timeline = Timeline::new(&keys, WINDOW);
        assert_eq!(timeline.active(Alg::ES256, 10).unwrap().kid, "e");
        assert!(timeline.active(Alg::ES256, 9).is_none());
    }

    #[test]
    fn a_retired_key_is_gone_at_once_and_its_predecessor_signs_again_while_published() {
        let mut keys = [key("a", Alg::RS256, 0), key("b", Alg::RS256, 600)];
        keys[1].retired_at = Some(700);
        assert_eq!(states(&keys, 699), [Retiring, Active]);
        assert_eq!(states(&keys, 700), [Active, Gone]);
        // "a" no longer has a successor that outlived its window: it stays.
        assert_eq!(states(&keys, 600 + WINDOW + 1), [Active, Gone]);
    }

    #[test]
    fn retiring_a_long_gone_keys_successor_does_not_bring_it_back() {
        let mut keys = [key("a", Alg::RS256, 0), key("b", Alg::RS256, 600)];
        keys[1].retired_at = Some(600 + WINDOW + 5);
        assert_eq!(states(&keys, 600 + WINDOW + 5), [Gone, Gone]);
        assert!(
            Timeline::new(&keys, WINDOW)
                .active(Alg::RS256, 600 + WINDOW + 5)
                .is_none()
        );
    }

    #[test]
    fn a_pending_key_retired_before_it_activates_leaves_the_active_one_alone() {
        let mut keys = [key("a", Alg::RS256, 0), key("b", Alg::RS256, 600)];
        keys[1].retired_at = Some(300);
        assert_eq!(states(&keys, 300), [Active, Gone]);
        assert_eq!(states(&keys, 600 + WINDOW * 5), [Active, Gone]);
    }

    #[test]
    fn activating_a_retiring_key_again_makes_it_sign_and_retires_the_other() {
        // "a" was activated again at 800 (a forced roll-back): it now comes after "b".
        let keys = [key("b", Alg::RS256, 600), key("a", Alg::RS256, 800)];
        assert_eq!(states(&keys, 800), [Retiring, Active]);
        assert_eq!(states(&keys, 800 + WINDOW), [Gone, Active]);
    }
}
