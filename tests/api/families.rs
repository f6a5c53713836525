//! The refresh-family contract (DESIGN.md "Refresh families"), written against the `FamilyStore`
//! trait so that every backend runs the same suite: SQL on SQLite or PostgreSQL, or Redis when
//! `KEYWARD_TEST_REDIS_URL` is set (see `helpers::TestApp`).

use keyward::clock::UnixTime;
use keyward::crypto::token::TokenHash;
use keyward::store::families::{Families, FamilyStore, Lifetimes, NewFamily, RefreshToken, Rotation};

use crate::helpers::{TestApp, claims};

const LIFETIMES: Lifetimes = Lifetimes {
    idle: 3600,
    leeway: 0,
};

/// As [`LIFETIMES`], with 30 s of reuse leeway.
const WITH_LEEWAY: Lifetimes = Lifetimes {
    leeway: 30,
    ..LIFETIMES
};

/// A store under test with a user and a client for its families to belong to.
struct Fixture {
    app: TestApp,
    user: String,
    client: String,
}

impl Fixture {
    async fn new() -> Self {
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
    async fn family(&self, absolute: i64) -> (String, RefreshToken) {
        self.family_in(absolute, None).await
    }

    /// As [`Fixture::family`], started through the sign-in session `signin_id`.
    async fn family_in(&self, absolute: i64, signin_id: Option<&str>) -> (String, RefreshToken) {
        let id = uuid::Uuid::new_v4().to_string();
        let (_, first) = RefreshToken::issue(&id);
        let now = self.now();
        let new = NewFamily {
            id: &id,
            user_id: &self.user,
            client_id: &self.client,
            scope: "openid",
            auth_time: now,
            absolute_expires_at: now + absolute,
            expires_at: (now + LIFETIMES.idle).min(now + absolute),
            refresh: Some(&first.hash),
            signin_id,
        };
        self.store().create(new, now).await.unwrap();
        (id, first)
    }

    async fn rotate(
        &self,
        presented: &RefreshToken,
        at: UnixTime,
        lifetimes: Lifetimes,
    ) -> (Rotation, RefreshToken) {
        let (_, successor) = RefreshToken::issue(&presented.family_id);
        let outcome = self
            .store()
            .rotate(presented, &successor.hash, &self.client, at, lifetimes)
            .await
            .unwrap();
        (outcome, successor)
    }
}

#[tokio::test]
async fn rotation_replaces_the_current_token() {
    let f = Fixture::new().await;
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
    let f = Fixture::new().await;
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
    let f = Fixture::new().await;
    let (id, first) = f.family(86_400).await;
    // A token made up around the real family id is unknown, not reuse: the family lives on.
    let made_up = RefreshToken {
        family_id: id.clone(),
        hash: TokenHash::of("never issued"),
    };
    let (unknown, _) = f.rotate(&made_up, f.now(), LIFETIMES).await;
    assert_eq!(unknown, Rotation::Invalid);
    let (_, elsewhere) = RefreshToken::issue(&uuid::Uuid::new_v4().to_string());
    assert_eq!(
        f.rotate(&elsewhere, f.now(), LIFETIMES).await.0,
        Rotation::Invalid
    );
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
    let f = Fixture::new().await;
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
    let f = Fixture::new().await;
    let leeway = WITH_LEEWAY;
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

#[tokio::test]
async fn within_the_leeway_any_token_replaced_moments_ago_gets_a_successor() {
    let f = Fixture::new().await;
    let leeway = WITH_LEEWAY;
    let (id, first) = f.family(86_400).await;
    let (_, second) = f.rotate(&first, f.now(), leeway).await;
    let (_, third) = f.rotate(&second, f.now() + 1, leeway).await;
    // `first` was replaced 20 s ago, two rotations back: a stale duplicate, not reuse.
    let (stale, fourth) = f.rotate(&first, f.now() + 20, leeway).await;
    assert!(matches!(stale, Rotation::Rotated(_)), "{stale:?}");
    assert!(f.store().find_by_token(&fourth).await.unwrap().unwrap().current);
    // `third` was current until now: its leeway starts now, not at its own issue.
    let (again, _) = f.rotate(&third, f.now() + 45, leeway).await;
    assert!(matches!(again, Rotation::Rotated(_)), "{again:?}");
    // `second` was replaced at +1: now it is past its leeway, whatever happened since.
    let (late, _) = f.rotate(&second, f.now() + 46, leeway).await;
    assert!(matches!(late, Rotation::Reused(_)), "{late:?}");
    assert!(!f.store().find(&id).await.unwrap().unwrap().active);
}

/// Takes back the time `token` was replaced, as a token replaced before that time was kept
/// (migration 20261206000006; in Redis, the field's value) has none.
async fn forget_when_replaced(f: &Fixture, token: &RefreshToken) {
    if let Some(redis) = f.store().redis() {
        let key = redis.key(&format!("{{{}}}:s", token.family_id));
        let _: i64 = redis
            .query(redis::cmd("HSET").arg(key).arg(token.hash.as_str()).arg(""))
            .await
            .unwrap();
    } else {
        sqlx::query("update refresh_tokens set replaced_at = null where hash = $1")
            .bind(token.hash.as_str())
            .execute(&f.app.state.db)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_previous_token_replaced_before_its_time_was_kept_has_one_leeway_from_that_rotation() {
    let f = Fixture::new().await;
    let leeway = WITH_LEEWAY;
    let (id, first) = f.family(86_400).await;
    let (_, second) = f.rotate(&first, f.now(), leeway).await;
    forget_when_replaced(&f, &first).await;
    // Its time falls back to the family's last rotation, at +0; each replay inside that window
    // rotates the family again, which must not move the window along with it.
    for at in [10, 20, 29] {
        let (replay, _) = f.rotate(&first, f.now() + at, leeway).await;
        assert!(matches!(replay, Rotation::Rotated(_)), "at +{at}: {replay:?}");
    }
    let (late, _) = f.rotate(&first, f.now() + 31, leeway).await;
    assert!(matches!(late, Rotation::Reused(_)), "{late:?}");
    assert!(!f.store().find(&id).await.unwrap().unwrap().active);
    // The family's tokens: `second` was replaced at +10 and is refused with the rest.
    assert_eq!(f.rotate(&second, f.now() + 31, leeway).await.0, Rotation::Invalid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_rotations_of_one_token_have_one_winner() {
    let f = Fixture::new().await;
    let (_, first) = f.family(86_400).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = f.store().clone();
        let (first, client, now) = (first.clone(), f.client.clone(), f.now());
        tasks.push(tokio::spawn(async move {
            store
                .rotate(
                    &first,
                    &RefreshToken::issue(&first.family_id).1.hash,
                    &client,
                    now,
                    LIFETIMES,
                )
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
    let f = Fixture::new().await;
    let (a, _) = f.family(86_400).await;
    let (b, token_b) = f.family(86_400).await;
    assert_eq!(
        f.store()
            .revoke_user(&f.user, None, "test", f.now())
            .await
            .unwrap(),
        2
    );
    for id in [a, b] {
        assert!(!f.store().find(&id).await.unwrap().unwrap().active);
    }
    assert_eq!(f.rotate(&token_b, f.now(), LIFETIMES).await.0, Rotation::Invalid);
}

#[tokio::test]
async fn revoking_a_user_can_spare_the_callers_own_family() {
    let f = Fixture::new().await;
    let (kept, _) = f.family(86_400).await;
    let (ended, _) = f.family(86_400).await;
    let count = f
        .store()
        .revoke_user(&f.user, Some(&kept), "password changed", f.now())
        .await
        .unwrap();
    assert_eq!(count, 1);
    assert!(f.store().find(&kept).await.unwrap().unwrap().active);
    assert!(!f.store().find(&ended).await.unwrap().unwrap().active);
}

#[tokio::test]
async fn revoking_a_user_with_many_sessions_ends_each_once_and_counts_them() {
    let f = Fixture::new().await;
    // More families than the Redis store revokes at once, some already ended, one spared.
    let mut ids = Vec::new();
    for _ in 0..150 {
        ids.push(f.family(86_400).await.0);
    }
    for id in &ids[..10] {
        assert!(f.store().revoke(id, "earlier", f.now()).await.unwrap());
    }
    let kept = &ids[149];
    let count = f
        .store()
        .revoke_user(&f.user, Some(kept), "deleted", f.now())
        .await
        .unwrap();
    assert_eq!(count, 139);
    for id in &ids[..149] {
        assert!(!f.store().find(id).await.unwrap().unwrap().active);
    }
    assert!(f.store().find(kept).await.unwrap().unwrap().active);
    assert_eq!(
        f.store()
            .revoke_user(&f.user, None, "again", f.now())
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn access_tokens_die_with_their_session_or_by_denylist_until_expiry() {
    let f = Fixture::new().await;
    let (sid, _) = f.family(86_400).await;
    let now = f.now();
    assert!(
        f.store()
            .access_token_live("jti-1", Some(&sid), now)
            .await
            .unwrap()
    );
    assert!(f.store().access_token_live("jti-2", None, now).await.unwrap());
    f.store()
        .deny_access_token("jti-2", None, now + 60, now)
        .await
        .unwrap();
    f.store()
        .deny_access_token("jti-4", Some(&sid), now + 60, now)
        .await
        .unwrap();
    assert!(
        !f.store()
            .access_token_live("jti-4", Some(&sid), now)
            .await
            .unwrap()
    );
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

#[tokio::test]
async fn sessions_and_revocations_live_in_the_configured_backend_only() {
    // With Redis configured, families and denylist entries live there, never in SQL.
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    app.user("ada@example.com", "pw-pw-pw-pw").await;
    let tokens = app.login(&client, "ada@example.com", "pw-pw-pw-pw").await;
    app.revoke(&client, tokens["access_token"].as_str().unwrap())
        .await;
    let count = |table: &'static str| {
        let db = app.state.db.clone();
        async move {
            let sql = match table {
                "families" => "select count(*) from families",
                "refresh_tokens" => "select count(*) from refresh_tokens",
                _ => "select count(*) from access_denylist",
            };
            sqlx::query_scalar::<_, i64>(sql).fetch_one(&db).await.unwrap()
        }
    };
    let in_sql = i64::from(app.state.config.redis_url.is_none());
    assert_eq!(count("families").await, in_sql);
    assert_eq!(count("refresh_tokens").await, in_sql);
    assert_eq!(count("access_denylist").await, in_sql);
    let sid = claims(tokens["access_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(app.state.families.find(&sid).await.unwrap().is_some());
}

#[tokio::test]
async fn pruning_removes_only_what_can_no_longer_matter() {
    use std::time::Duration;
    let app = TestApp::with_config(|c| {
        c.refresh_idle_ttl = Duration::from_secs(3600);
        c.refresh_absolute_ttl = Duration::from_secs(7200);
    })
    .await;
    let sql_families = app.state.config.redis_url.is_none();
    let client = app.full_client().await;
    app.user("ada@example.com", "pw-pw-pw-pw").await;
    let old = app.login(&client, "ada@example.com", "pw-pw-pw-pw").await;
    app.revoke(&client, old["access_token"].as_str().unwrap()).await;
    app.password_grant(&client, "ghost@example.com", "x", None).await;
    assert_eq!(
        app.state.prune().await.unwrap(),
        Default::default(),
        "nothing has ended yet"
    );

    // Past the session's absolute lifetime and the last access token's expiry.
    app.clock.advance(Duration::from_secs(7200 + 900 + 1));
    let fresh = app.login(&client, "ada@example.com", "pw-pw-pw-pw").await;
    let pruned = app.state.prune().await.unwrap();
    assert_eq!(pruned.families, u64::from(sql_families));
    assert_eq!(pruned.denylist, u64::from(sql_families));
    assert_eq!(pruned.throttle, 0, "a streak is kept for a day");
    let fresh_sid = claims(fresh["access_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(app.state.families.find(&fresh_sid).await.unwrap().is_some());
    // The removed family's issued tokens went with it (foreign-key cascade).
    let orphans: i64 = sqlx::query_scalar("select count(*) from refresh_tokens where family_id <> $1")
        .bind(&fresh_sid)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(orphans, 0);
    assert_eq!(
        app.refresh(&client, fresh["refresh_token"].as_str().unwrap())
            .await
            .status,
        200
    );

    app.clock.advance(Duration::from_secs(24 * 3600));
    assert_eq!(app.state.prune().await.unwrap().throttle, 1);
}

#[tokio::test]
async fn ending_a_sign_in_session_ends_exactly_its_families() {
    let f = Fixture::new().await;
    let (a1, _) = f.family_in(86_400, Some("signin-a")).await;
    let (a2, a2_token) = f.family_in(86_400, Some("signin-a")).await;
    let (b, b_token) = f.family_in(86_400, Some("signin-b")).await;
    let (plain, _) = f.family(86_400).await;
    // The family knows its sign-in session (logout by ID token hint finds it this way).
    let found = f.store().find(&a1).await.unwrap().unwrap();
    assert_eq!(found.signin_id.as_deref(), Some("signin-a"));
    assert_eq!(f.store().find(&plain).await.unwrap().unwrap().signin_id, None);
    let presented = f.store().find_by_token(&b_token).await.unwrap().unwrap();
    assert_eq!(presented.family.signin_id.as_deref(), Some("signin-b"));
    assert_eq!(
        f.store()
            .revoke_signin("signin-a", "signed out", f.now())
            .await
            .unwrap(),
        2
    );
    for (id, active) in [(&a1, false), (&a2, false), (&b, true), (&plain, true)] {
        assert_eq!(f.store().find(id).await.unwrap().unwrap().active, active, "{id}");
    }
    assert_eq!(f.rotate(&a2_token, f.now(), LIFETIMES).await.0, Rotation::Invalid);
    assert!(matches!(
        f.rotate(&b_token, f.now(), LIFETIMES).await.0,
        Rotation::Rotated(_)
    ));
    // Ending it again finds nothing active.
    assert_eq!(
        f.store()
            .revoke_signin("signin-a", "signed out", f.now())
            .await
            .unwrap(),
        0
    );
}

/// The pass works through the families a chunk of ids at a time (so SQLite's write lock is
/// never held for a whole-table scan): with several chunks' worth of sessions, live and idle
/// interleaved, it removes every idle one and keeps every live one.
#[tokio::test]
async fn pruning_works_through_more_families_than_one_chunk() {
    let app = TestApp::spawn().await;
    if app.state.config.redis_url.is_some() {
        return; // families in Redis expire by their key TTLs
    }
    let client = app.full_client().await;
    let user = app.user("ada@example.com", "pw-pw-pw-pw").await;
    let now = app.clock.now();
    let idle = keyward::clock::seconds(app.state.config.refresh_idle_ttl);
    let access = keyward::clock::seconds(app.state.config.access_token_ttl);
    let sessions = 2_500;
    for batch in (0..sessions).collect::<Vec<_>>().chunks(250) {
        let rows: Vec<String> = batch
            .iter()
            .map(|i| {
                // Random ids: idle and live sessions are spread over every chunk.
                let rotated = if i % 2 == 0 { now } else { now - idle - access - 1 };
                format!(
                    "('{}', '{user}', '{}', 'api', {rotated}, {rotated}, {}, {rotated})",
                    uuid::Uuid::new_v4(),
                    client.id,
                    now + 3600 * 24 * 365
                )
            })
            .collect();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "insert into families (id, user_id, client_id, scope, auth_time, created_at, absolute_expires_at, rotated_at)
             values {}",
            rows.join(", ")
        )))
        .execute(&app.state.db)
        .await
        .unwrap();
    }
    assert_eq!(app.state.prune().await.unwrap().families, sessions as u64 / 2);
    let left: i64 = sqlx::query_scalar("select count(*) from families where rotated_at = $1")
        .bind(now)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let all: i64 = sqlx::query_scalar("select count(*) from families")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!((left, all), (sessions / 2, sessions / 2));
}
