//! How families lie in Redis (the suite's Redis stages; on SQL these tests have nothing to check):
//! one hash per family, owners indexed in shared sorted sets, and families written in the layout
//! from before 2026-12-05 upgraded when first touched.

use keyward::crypto::token::TokenHash;
use keyward::store::families::{FamilyStore, Lifetimes, NewFamily, RefreshToken, Rotation};
use keyward::store::redis::Redis;

use crate::helpers::TestApp;

const LIFETIMES: Lifetimes = Lifetimes {
    idle: 3600,
    leeway: 0,
};

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Every key under the test's prefix.
async fn keys(redis: &Redis) -> Vec<String> {
    let mut keys: Vec<String> = redis.query(redis::cmd("KEYS").arg(redis.key("*"))).await.unwrap();
    keys.sort();
    keys
}

async fn create(app: &TestApp, user_id: &str, signin_id: Option<&str>) -> RefreshToken {
    let id = uuid();
    let (_, first) = RefreshToken::issue(&id);
    let now = app.clock.now();
    let family = NewFamily {
        id: &id,
        user_id,
        client_id: "client",
        scope: "openid",
        auth_time: now,
        absolute_expires_at: now + 86_400,
        expires_at: now + LIFETIMES.idle,
        refresh: Some(&first.hash),
        signin_id,
    };
    app.state.families.create(family, now).await.unwrap();
    first
}

#[tokio::test]
async fn a_family_is_one_hash_and_its_owners_entries_live_in_shared_sets() {
    let app = TestApp::spawn().await;
    let Some(redis) = app.state.families.redis() else {
        return;
    };
    let first = create(&app, &uuid(), Some(&uuid())).await;
    let (_, second) = RefreshToken::issue(&first.family_id);
    let rotated = app
        .state
        .families
        .rotate(&first, &second.hash, "client", app.clock.now(), LIFETIMES)
        .await
        .unwrap();
    assert!(matches!(rotated, Rotation::Rotated(_)));
    let keys = keys(redis).await;
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys.contains(&redis.key(&format!("{{{}}}:s", first.family_id))));
    assert_eq!(
        keys.iter()
            .filter(|k| k.starts_with(&redis.key("families:user:")))
            .count(),
        1
    );
    assert_eq!(
        keys.iter()
            .filter(|k| k.starts_with(&redis.key("families:signin:")))
            .count(),
        1
    );
    // Both issued hashes stay in the family's hash: the first is now reuse, not unknown.
    let (_, third) = RefreshToken::issue(&first.family_id);
    let reused = app
        .state
        .families
        .rotate(&first, &third.hash, "client", app.clock.now(), LIFETIMES)
        .await
        .unwrap();
    assert!(matches!(reused, Rotation::Reused(_)));
}

#[tokio::test]
async fn ending_a_users_sessions_spares_the_other_owners_sharing_its_sets() {
    let app = TestApp::spawn().await;
    let Some(redis) = app.state.families.redis() else {
        return;
    };
    // A thousand owners over 16,384 sets: some share one (the chance that none does is e^-30).
    let users: Vec<String> = (0..1000).map(|_| uuid()).collect();
    let mut families = Vec::new();
    for user in &users {
        families.push(create(&app, user, None).await.family_id);
    }
    let mut shared = 0;
    let sets = keys(redis).await;
    for key in sets
        .iter()
        .filter(|k| k.starts_with(&redis.key("families:user:")))
    {
        let entries: usize = redis.query(redis::cmd("ZCARD").arg(key)).await.unwrap();
        shared += usize::from(entries > 1);
    }
    assert!(shared > 0, "no two owners shared a set");

    let now = app.clock.now();
    for user in users.iter().step_by(2) {
        let ended = app
            .state
            .families
            .revoke_user(user, None, "test", now)
            .await
            .unwrap();
        assert_eq!(ended, 1);
    }
    for (i, id) in families.iter().enumerate() {
        let family = app.state.families.find(id).await.unwrap().unwrap();
        assert_eq!(family.active, i % 2 == 1, "family {i}");
    }
}

/// A family as keyward before 2026-12-05 wrote it: a hash with long field names, a set of issued
/// hashes, and the id in a set of the user's families.
async fn legacy_family(redis: &Redis, user_id: &str, now: i64, issued: &[&TokenHash]) -> String {
    let id = uuid();
    let current = issued.last().unwrap().as_str();
    let family_key = redis.key(&format!("{{{id}}}:family"));
    let tokens_key = redis.key(&format!("{{{id}}}:tokens"));
    let index_key = redis.key(&format!("user:{user_id}:families"));
    let mut pipe = redis::pipe();
    pipe.cmd("HSET")
        .arg(&family_key)
        .arg(&[
            ("id", id.as_str()),
            ("user_id", user_id),
            ("client_id", "client"),
            ("scope", "openid offline_access"),
            ("auth_time", &now.to_string()),
            ("absolute_expires_at", &(now + 86_400).to_string()),
            ("rotated_at", &now.to_string()),
            ("generation", &(issued.len() - 1).to_string()),
            ("status", "active"),
            ("current", current),
            ("previous", ""),
            ("signin_id", ""),
        ])
        .ignore();
    pipe.cmd("EXPIREAT").arg(&family_key).arg(now + 3600).ignore();
    for hash in issued {
        pipe.cmd("SADD").arg(&tokens_key).arg(hash.as_str()).ignore();
    }
    pipe.cmd("EXPIREAT").arg(&tokens_key).arg(now + 3600).ignore();
    redis.pipeline(&pipe).await.unwrap();
    // Another hash slot: a command of its own.
    let _: i64 = redis
        .query(redis::cmd("SADD").arg(&index_key).arg(&id))
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn families_in_the_earlier_layout_keep_working_and_move_to_the_new_one_when_touched() {
    let app = TestApp::spawn().await;
    let Some(redis) = app.state.families.redis() else {
        return;
    };
    let store = &app.state.families;
    let now = app.clock.now();
    let user = uuid();
    let older = TokenHash::of("older");
    let current_token = format!("{}.{}", uuid(), "x".repeat(43));
    let a = legacy_family(redis, &user, now, &[&older, &TokenHash::of(&current_token)]).await;
    let b = legacy_family(redis, &user, now, &[&TokenHash::of("b")]).await;

    // Read without being touched by a script: an access token of the session is live.
    assert!(store.access_token_live("jti", Some(&a), now).await.unwrap());
    // Found by its current token, with every field.
    let current = RefreshToken {
        family_id: a.clone(),
        hash: TokenHash::of(&current_token),
    };
    let presented = store.find_by_token(&current).await.unwrap().unwrap();
    assert!(presented.current);
    assert_eq!(presented.family.user_id, user);
    assert_eq!(presented.family.scope, "openid offline_access");
    assert_eq!(presented.family.generation, 1);
    assert!(presented.family.active);
    let keys_now = keys(redis).await;
    assert!(keys_now.contains(&redis.key(&format!("{{{a}}}:s"))));
    assert!(!keys_now.contains(&redis.key(&format!("{{{a}}}:family"))));
    assert!(!keys_now.contains(&redis.key(&format!("{{{a}}}:tokens"))));
    let ttl: i64 = redis
        .query(redis::cmd("TTL").arg(redis.key(&format!("{{{a}}}:s"))))
        .await
        .unwrap();
    assert!((3590..=3600).contains(&ttl), "the expiry moved with it: {ttl}");

    // It rotates; the older token it issued before the upgrade is still reuse.
    let (_, next) = RefreshToken::issue(&a);
    let rotated = store
        .rotate(&current, &next.hash, "client", now, LIFETIMES)
        .await
        .unwrap();
    assert!(matches!(rotated, Rotation::Rotated(f) if f.generation == 2));
    let replayed = RefreshToken {
        family_id: a.clone(),
        hash: older,
    };
    let (_, other) = RefreshToken::issue(&a);
    let reused = store
        .rotate(&replayed, &other.hash, "client", now, LIFETIMES)
        .await
        .unwrap();
    assert!(matches!(reused, Rotation::Reused(_)));
    assert!(!store.access_token_live("jti", Some(&a), now).await.unwrap());

    // The user's earlier index still ends the family never touched since.
    assert!(store.access_token_live("jti", Some(&b), now).await.unwrap());
    assert_eq!(store.revoke_user(&user, None, "test", now).await.unwrap(), 1);
    assert!(!store.find(&b).await.unwrap().unwrap().active);
    assert!(!store.access_token_live("jti", Some(&b), now).await.unwrap());
}
