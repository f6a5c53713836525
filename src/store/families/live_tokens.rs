//! Access tokens found live on SQLite, remembered while the database stays at the commit at
//! which they were found: the first commit of any process after it forgets them all.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::store::wal_index::Commit;

/// More tokens than this and the view starts over. An entry is two ids, about a hundred bytes,
/// so the view stays under two megabytes; at this size it holds the working set of a resource
/// server that introspects a few thousand users' tokens at once.
const MAX_ENTRIES: usize = 16_384;

/// Token id to its session id. Keys are the jti of tokens whose signature verified, so no caller
/// can choose colliding ones.
type Entries = HashMap<Box<str>, Option<Box<str>>, foldhash::quality::RandomState>;

/// Access tokens live at one commit.
#[derive(Default)]
pub struct LiveTokens {
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    /// The commit at which every entry was found live.
    at: Option<Commit>,
    tokens: Entries,
}

impl LiveTokens {
    /// Whether token `jti` of session `sid` was found live at `at`, the commit the database is at
    /// now. A new commit forgets every answer found before it.
    pub fn contains(&self, at: Commit, jti: &str, sid: Option<&str>) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            return false;
        };
        if seen.at != Some(at) {
            seen.at = Some(at);
            seen.tokens.clear();
            return false;
        }
        seen.tokens
            .get(jti)
            .is_some_and(|seen_sid| seen_sid.as_deref() == sid)
    }

    /// Remembers token `jti` of session `sid` as live at `at`, which the caller read before it
    /// read the token's liveness. Ignored when the database has moved on since.
    pub fn insert(&self, at: Commit, jti: &str, sid: Option<&str>) {
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        if seen.at != Some(at) {
            return;
        }
        if seen.tokens.len() >= MAX_ENTRIES {
            seen.tokens.clear();
        }
        seen.tokens.insert(jti.into(), sid.map(Into::into));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_remembered_only_at_the_commit_at_which_it_was_found_live() {
        let live = LiveTokens::default();
        let (first, second) = (Commit::numbered(1), Commit::numbered(2));
        assert!(!live.contains(first, "t1", Some("s1")));
        live.insert(first, "t1", Some("s1"));
        assert!(live.contains(first, "t1", Some("s1")));
        assert!(
            !live.contains(first, "t1", Some("s2")),
            "another session is another token"
        );
        assert!(!live.contains(first, "t1", None));
        // A commit forgets it, and an answer read before that commit is not kept.
        assert!(!live.contains(second, "t1", Some("s1")));
        live.insert(first, "t1", Some("s1"));
        assert!(!live.contains(second, "t1", Some("s1")));
        assert!(
            !live.contains(first, "t1", Some("s1")),
            "the older commit was forgotten too"
        );
    }
}
