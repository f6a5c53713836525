//! The refresh-family contract (DESIGN.md "Refresh families"), written against the `FamilyStore`
//! trait so that every backend runs the same suite. Today: SQL on SQLite.

use keyward::clock::UnixTime;
use keyward::crypto::token::{PlainToken, TokenHash};
use keyward::store::families::{Families, FamilyStore, Lifetimes, NewFamily, Rotation};

use crate::helpers::TestApp;

const LIFETIMES: Lifetimes = Lifetimes {
    idle: 3600,
    leeway: 0,
};

/// A store under test with a user and a client for its families to belong to.
struct Fixture {
    app: TestApp,
    user: String,
    client: String,
}

impl Fixture {
    async fn sql() -> Self {
        let app = TestApp::spawn().await;
        let user = app.user("owner@example.com", "pw-pw-pw-pw").await;
        let client = app.full_client().await.id;
        Self { app, user, client }
    }

    fn store(&self) -> &Families {
        &self.app.state.families
    }

    fn now(&self) -> UnixTime {
        self.app.clock.now()
    }

    /// A new family whose first refresh token is returned.
    async fn family(&self, absolute: i64) -> (String, TokenHash) {
        let id = uuid::Uuid::new_v4().to_string();
        let first = PlainToken::generate().hashed();
        let now = self.now();
        let new = NewFamily {
            id: &id,
            user_id: &self.user,
            client_id: &self.client,
            scope: "openid",
            auth_time: now,
            absolute_expires_at: now + absolute,
            refresh: Some(&first),
        };
        self.store().create(new, now).await.unwrap();
        (id, first)
    }

    async fn rotate(
        &self,
        presented: &TokenHash,
        at: UnixTime,
        lifetimes: Lifetimes,
    ) -> (Rotation, TokenHash) {
        let successor = PlainToken::generate().hashed();
        let outcome = self
            .store()
            .rotate(presented, &successor, &self.client, at, lifetimes)
            .await
            .unwrap();
        (outcome, successor)
    }
}

#[tokio::test]
async fn rotation_replaces_the_current_token() {
    let f = Fixture::sql().await;
    let (id, first) = f.family(86_400).await;
    let (outcome, second) = f.rotate(&first, f.now(), LIFETIMES).await;
    let Rotation::Rotated(family) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(family.id, id);
    assert_eq!(family.generation, 1);
    let found = f.store().find_by_token(&second).await.unwrap().unwrap();
    assert!(found.current);
    assert!(!f.store().find_by_token(&first).await.unwrap().unwrap().current);
}

#[tokio::test]
async fn presenting_an_earlier_token_revokes_the_family() {
    let f = Fixture::sql().await;
    let (id, first) = f.family(86_400).await;
    let (_, second) = f.rotate(&first, f.now(), LIFETIMES).await;
    let (_, third) = f.rotate(&second, f.now(), LIFETIMES).await;
    let (outcome, _) = f.rotate(&first, f.now(), LIFETIMES).await;
    assert!(
        matches!(outcome, Rotation::Reused(ref fam) if fam.id == id && !fam.active),
        "{outcome:?}"
    );
    assert!(!f.store().find(&id).await.unwrap().unwrap().active);
    let (after, _) = f.rotate(&third, f.now(), LIFETIMES).await;
    assert_eq!(after, Rotation::Invalid);
}

#[tokio::test]
async fn unknown_tokens_and_other_clients_change_nothing() {
    let f = Fixture::sql().await;
    let (id, first) = f.family(86_400).await;
    let (unknown, _) = f.rotate(&TokenHash::of("never issued"), f.now(), LIFETIMES).await;
    assert_eq!(unknown, Rotation::Invalid);
    let other = f
        .store()
        .rotate(&first, &TokenHash::of("x"), "another-client", f.now(), LIFETIMES)
        .await
        .unwrap();
    assert_eq!(other, Rotation::Invalid);
    assert!(f.store().find(&id).await.unwrap().unwrap().active);
    assert!(matches!(
        f.rotate(&first, f.now(), LIFETIMES).await.0,
        Rotation::Rotated(_)
    ));
}

#[tokio::test]
async fn idle_and_absolute_expiry() {
    let f = Fixture::sql().await;
    let (_, first) = f.family(86_400).await;
    let (idle, _) = f.rotate(&first, f.now() + 3600, LIFETIMES).await;
    assert_eq!(idle, Rotation::Invalid, "unused for the idle lifetime");

    let (_, token) = f.family(5000).await;
    let (Rotation::Rotated(_), token) = f.rotate(&token, f.now() + 3000, LIFETIMES).await else {
        panic!()
    };
    let (absolute, _) = f.rotate(&token, f.now() + 5000, LIFETIMES).await;
    assert_eq!(
        absolute,
        Rotation::Invalid,
        "past the absolute lifetime although recently used"
    );
}

#[tokio::test]
async fn leeway_lets_the_previous_token_through_once_per_rotation_window() {
    let f = Fixture::sql().await;
    let leeway = Lifetimes {
        idle: 3600,
        leeway: 30,
    };
    let (id, first) = f.family(86_400).await;
    let (_, lost) = f.rotate(&first, f.now(), leeway).await;
    let (again, current) = f.rotate(&first, f.now() + 10, leeway).await;
    assert!(matches!(again, Rotation::Rotated(_)), "{again:?}");
    assert!(!f.store().find_by_token(&lost).await.unwrap().unwrap().current);
    assert!(f.store().find_by_token(&current).await.unwrap().unwrap().current);
    let (late, _) = f.rotate(&first, f.now() + 31, leeway).await;
    assert!(matches!(late, Rotation::Reused(_)), "{late:?}");
    assert!(!f.store().find(&id).await.unwrap().unwrap().active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_rotations_of_one_token_have_one_winner() {
    let f = Fixture::sql().await;
    let (_, first) = f.family(86_400).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = f.store().clone();
        let (first, client, now) = (first.clone(), f.client.clone(), f.now());
        tasks.push(tokio::spawn(async move {
            store
                .rotate(&first, &PlainToken::generate().hashed(), &client, now, LIFETIMES)
                .await
                .unwrap()
        }));
    }
    let mut winners = 0;
    for task in tasks {
        if matches!(task.await.unwrap(), Rotation::Rotated(_)) {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}

#[tokio::test]
async fn revoking_a_user_ends_all_their_families() {
    let f = Fixture::sql().await;
    let (a, _) = f.family(86_400).await;
    let (b, token_b) = f.family(86_400).await;
    assert_eq!(f.store().revoke_user(&f.user, "test", f.now()).await.unwrap(), 2);
    for id in [a, b] {
        assert!(!f.store().find(&id).await.unwrap().unwrap().active);
    }
    assert_eq!(f.rotate(&token_b, f.now(), LIFETIMES).await.0, Rotation::Invalid);
}

#[tokio::test]
async fn access_tokens_die_with_their_session_or_by_denylist_until_expiry() {
    let f = Fixture::sql().await;
    let (sid, _) = f.family(86_400).await;
    let now = f.now();
    assert!(
        f.store()
            .access_token_live("jti-1", Some(&sid), now)
            .await
            .unwrap()
    );
    assert!(f.store().access_token_live("jti-2", None, now).await.unwrap());
    f.store().deny_access_token("jti-2", now + 60, now).await.unwrap();
    assert!(!f.store().access_token_live("jti-2", None, now).await.unwrap());
    assert!(
        f.store()
            .access_token_live("jti-2", None, now + 60)
            .await
            .unwrap(),
        "the entry expires with the token"
    );
    f.store().revoke(&sid, "test", now).await.unwrap();
    assert!(
        !f.store()
            .access_token_live("jti-1", Some(&sid), now)
            .await
            .unwrap()
    );
    assert!(
        !f.store()
            .access_token_live("jti-3", Some("no-such-session"), now)
            .await
            .unwrap()
    );
}
