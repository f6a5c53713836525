//! The signing-key lifecycle: rotation published ahead, retirement after the last token expired,
//! compromised keys retired at once, other algorithms for access tokens, replicas that agree.

use std::time::Duration;

use keyward::app::AppState;
use keyward::crypto::keys::Alg;
use keyward::crypto::lifecycle::KeyState;
use keyward::store;
use serde_json::Value;

use crate::helpers::{TestApp, TestClient, claims, jwt_header};

/// Another replica: its own pool and key set, on the same database, folder and clock.
async fn replica(app: &TestApp) -> AppState {
    let config = (*app.state.config).clone();
    let db = store::open(&config.database_url).await.unwrap();
    AppState::from_parts(config, db, app.clock.clone()).await.unwrap()
}

async fn jwks_kids(app: &TestApp) -> Vec<String> {
    let jwks = app.get("/.well-known/jwks.json", None).await.json();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

async fn issued(app: &TestApp, client: &TestClient) -> String {
    app.client_credentials(client).await.str("access_token")
}

fn kid(token: &str) -> String {
    jwt_header(token)["kid"].as_str().unwrap().to_owned()
}

fn state_of(app: &TestApp, kid: &str) -> KeyState {
    let now = app.clock.now();
    app.state
        .keys
        .states(now)
        .into_iter()
        .find(|k| k.dates.kid == kid)
        .map(|k| k.state)
        .unwrap()
}

#[tokio::test]
async fn a_new_key_is_published_ahead_signs_after_the_window_and_the_old_one_leaves_after_its_last_token() {
    let app = TestApp::spawn().await;
    let client = app.client(&["client_credentials"], "api").await;
    let old = app.signing_key().kid().to_owned();
    let jwks = app.get("/.well-known/jwks.json", None).await;
    // Explicit and configurable; the publish-ahead window is twice it.
    assert_eq!(jwks.header("cache-control"), Some("public, max-age=300"));

    let new = app
        .state
        .keys
        .rotate(Alg::RS256, app.clock.now(), false)
        .await
        .unwrap();
    assert_eq!(new.activates_at, app.clock.now() + 600);
    assert_eq!(jwks_kids(&app).await, [old.clone(), new.kid.clone()]);
    assert_eq!(state_of(&app, &new.kid), KeyState::Pending);
    app.clock.advance(Duration::from_secs(599));
    let last_of_old = issued(&app, &client).await;
    assert_eq!(kid(&last_of_old), old, "a pending key never signs");

    app.clock.advance(Duration::from_secs(1));
    let first_of_new = issued(&app, &client).await;
    assert_eq!(kid(&first_of_new), new.kid);
    assert_eq!(state_of(&app, &old), KeyState::Retiring);
    // The old key's tokens still verify while it retires.
    assert_eq!(app.introspect(&client, &last_of_old).await["active"], true);
    assert_eq!(jwks_kids(&app).await.len(), 2);

    // Published until its last token expired (15 min access tokens, plus a minute of slack).
    app.clock.advance(Duration::from_secs(15 * 60 + 59));
    assert!(jwks_kids(&app).await.contains(&old));
    app.clock.advance(Duration::from_secs(1));
    assert_eq!(jwks_kids(&app).await, std::slice::from_ref(&new.kid));
    assert_eq!(state_of(&app, &old), KeyState::Gone);
    assert_eq!(app.introspect(&client, &last_of_old).await["active"], false);
    let later = issued(&app, &client).await;
    assert_eq!(app.introspect(&client, &later).await["active"], true);
}

#[tokio::test]
async fn a_retired_key_is_unpublished_at_once_and_its_tokens_are_inactive_even_when_cached() {
    let app = TestApp::spawn().await;
    let client = app.client(&["client_credentials"], "api").await;
    let compromised = app.signing_key().kid().to_owned();
    let token = issued(&app, &client).await;
    // Introspected once, so its verified signature is cached.
    assert_eq!(app.introspect(&client, &token).await["active"], true);

    let retired = app
        .state
        .keys
        .retire(&compromised, app.clock.now())
        .await
        .unwrap();
    // Nothing else could sign: a replacement signs at once.
    let replacement = retired.replacement.unwrap();
    assert_eq!(retired.signing.as_deref(), Some(replacement.as_str()));
    assert_eq!(app.introspect(&client, &token).await["active"], false);
    assert_eq!(
        app.get("/api/v1/users/me", Some(&format!("Bearer {token}")))
            .await
            .status,
        401
    );
    assert_eq!(jwks_kids(&app).await, std::slice::from_ref(&replacement));
    let fresh = issued(&app, &client).await;
    assert_eq!(kid(&fresh), replacement);
    assert_eq!(app.introspect(&client, &fresh).await["active"], true);
}

/// An app with a client, its first key, and a second RS256 key just added (pending).
async fn rotated() -> (TestApp, TestClient, String, String) {
    let app = TestApp::spawn().await;
    let client = app.client(&["client_credentials"], "api").await;
    let first = app.signing_key().kid().to_owned();
    let now = app.clock.now();
    let second = app.state.keys.rotate(Alg::RS256, now, false).await.unwrap();
    (app, client, first, second.kid)
}

#[tokio::test]
async fn retiring_the_active_key_hands_signing_back_to_the_retiring_one_every_cache_holds() {
    let (app, client, first, second) = rotated().await;
    app.clock.advance(Duration::from_secs(600));
    assert_eq!(kid(&issued(&app, &client).await), second);
    let retired = app.state.keys.retire(&second, app.clock.now()).await.unwrap();
    assert!(retired.replacement.is_none());
    assert_eq!(retired.signing.as_deref(), Some(first.as_str()));
    assert_eq!(kid(&issued(&app, &client).await), first);
    assert_eq!(jwks_kids(&app).await, [first]);
}

#[tokio::test]
async fn a_forced_activation_signs_at_once_and_a_gone_key_cannot_be_activated() {
    let (app, client, old, new) = rotated().await;
    // Activated in the same second as the old key was: it must still come after it.
    app.state.keys.activate(&new, app.clock.now()).await.unwrap();
    app.clock.advance(Duration::from_secs(1));
    assert_eq!(kid(&issued(&app, &client).await), new);
    assert_eq!(state_of(&app, &old), KeyState::Retiring);
    app.clock.advance(Duration::from_secs(3600));
    assert_eq!(state_of(&app, &old), KeyState::Gone);
    let refused = app.state.keys.activate(&old, app.clock.now()).await;
    assert!(refused.unwrap_err().to_string().contains("gone"));
    assert!(
        app.state
            .keys
            .activate("no-such-kid", app.clock.now())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn every_replica_follows_a_rotation_and_a_retirement_made_on_another_after_a_reload() {
    let app = TestApp::spawn().await;
    let client = app.client(&["client_credentials"], "api").await;
    let other = replica(&app).await;
    let old = app.signing_key().kid().to_owned();
    let new = other
        .keys
        .rotate(Alg::RS256, app.clock.now(), false)
        .await
        .unwrap()
        .kid;
    // Not seen until this replica rereads the dates (every few seconds when serving).
    assert_eq!(jwks_kids(&app).await, std::slice::from_ref(&old));
    app.state.keys.reload().await.unwrap();
    assert_eq!(jwks_kids(&app).await, [old.clone(), new.clone()]);
    app.clock.advance(Duration::from_secs(600));
    assert_eq!(kid(&issued(&app, &client).await), new);

    let token = issued(&app, &client).await;
    assert_eq!(app.introspect(&client, &token).await["active"], true);
    other.keys.retire(&new, app.clock.now()).await.unwrap();
    app.state.keys.reload().await.unwrap();
    assert_eq!(app.introspect(&client, &token).await["active"], false);
}

#[tokio::test]
async fn automatic_rotation_adds_one_pending_key_however_many_replicas_try_at_once() {
    let app = TestApp::with_config(|c| c.key_rotation = Some(Duration::from_secs(90 * 86_400))).await;
    let replicas = [replica(&app).await, replica(&app).await, replica(&app).await];
    let now = app.clock.now();
    for r in &replicas {
        assert!(r.keys.rotate_if_due(now).await.unwrap().is_empty(), "not due yet");
    }
    app.clock.advance(Duration::from_secs(90 * 86_400));
    let now = app.clock.now();
    let tries = replicas.iter().map(|r| r.keys.rotate_if_due(now));
    let added: usize = futures_util::future::join_all(tries)
        .await
        .into_iter()
        .map(|r| r.unwrap().len())
        .sum();
    assert_eq!(added, 1);
    app.state.keys.reload().await.unwrap();
    let states: Vec<KeyState> = app.state.keys.states(now).into_iter().map(|k| k.state).collect();
    assert_eq!(states, [KeyState::Active, KeyState::Pending]);
    // The pending key is the newest: no further rotation until it has served a period.
    app.clock.advance(Duration::from_secs(3600));
    assert!(
        app.state
            .keys
            .rotate_if_due(app.clock.now())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn access_and_id_token_algs(app: &TestApp) -> (Value, Value, TestClient) {
    let client = app.full_client().await;
    app.user("ada@example.com", "pw-pw-pw-pw").await;
    let tokens = app.login(&client, "ada@example.com", "pw-pw-pw-pw").await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(app.introspect(&client, access).await["active"], true);
    assert_eq!(app.userinfo(access).await.status, 200);
    (
        jwt_header(access),
        jwt_header(tokens["id_token"].as_str().unwrap()),
        client,
    )
}

#[tokio::test]
async fn es256_and_eddsa_sign_access_tokens_while_id_tokens_stay_rs256() {
    for (alg, kty) in [(Alg::ES256, "EC"), (Alg::EdDSA, "OKP")] {
        let app = TestApp::with_config(|c| c.access_token_alg = alg).await;
        // The test's folder holds an RSA key already, so the new algorithm's key is published
        // ahead like any rotation.
        app.clock.advance(Duration::from_secs(600));
        let (access, id, _) = access_and_id_token_algs(&app).await;
        assert_eq!(access["alg"], alg.as_str());
        assert_eq!(id["alg"], "RS256", "OIDC Core §3.1.3.7: RS256 for ID tokens");
        let jwks = app.get("/.well-known/jwks.json", None).await.json();
        let published: Vec<(&str, &str)> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| (k["kty"].as_str().unwrap(), k["alg"].as_str().unwrap()))
            .collect();
        assert!(published.contains(&("RSA", "RS256")));
        assert!(published.contains(&(kty, alg.as_str())));
        assert!(jwks["keys"].as_array().unwrap().iter().all(|k| k["use"] == "sig"));
    }
}

#[tokio::test]
async fn a_token_signed_by_one_of_our_keys_but_naming_another_of_our_keys_is_rejected() {
    let app = TestApp::with_config(|c| c.access_token_alg = Alg::ES256).await;
    app.clock.advance(Duration::from_secs(600));
    let client = app.client(&["client_credentials"], "api").await;
    let token = issued(&app, &client).await;
    let es_kid = kid(&token);
    let payload = token.split('.').nth(1).unwrap();
    // A genuine RS256 signature by our RSA key over the same claims: with the RSA key's kid it is
    // a live token; naming the ES256 key instead, it must not be checked with the RSA key, nor
    // with the EC key in RS256 (a key is only ever used in its own algorithm).
    let rsa = app.signing_key();
    let signed = |kid: &str| {
        let header = crate::helpers::b64(&serde_json::json!({"alg": "RS256", "typ": "at+jwt", "kid": kid}));
        let input = format!("{header}.{payload}");
        let signature = keyward::crypto::token::b64url(&rsa.sign(input.as_bytes()).unwrap());
        format!("{input}.{signature}")
    };
    assert_eq!(app.introspect(&client, &signed(rsa.kid())).await["active"], true);
    assert_eq!(app.introspect(&client, &signed(&es_kid)).await["active"], false);
}

#[tokio::test]
async fn switching_an_existing_deployment_to_es256_publishes_the_new_key_ahead_first() {
    let app = TestApp::spawn().await;
    let client = app.client(&["client_credentials"], "api").await;
    let mut config = (*app.state.config).clone();
    config.access_token_alg = Alg::ES256;
    let db = store::open(&config.database_url).await.unwrap();
    let restarted = AppState::from_parts(config, db, app.clock.clone()).await.unwrap();
    let es = restarted
        .keys
        .states(app.clock.now())
        .into_iter()
        .find(|k| k.dates.alg == Alg::ES256)
        .unwrap();
    assert_eq!(es.state, KeyState::Pending);
    assert_eq!(es.dates.activates_at, app.clock.now() + 600);
    app.state.keys.reload().await.unwrap();
    // Meanwhile access tokens are still RS256, which every cache can verify.
    let now = app.clock.now();
    let keys = restarted.keys.current();
    assert_eq!(
        restarted.keys.access_signer(&keys, now).unwrap().alg(),
        Alg::RS256
    );
    assert_eq!(
        restarted.keys.access_signer(&keys, now + 600).unwrap().alg(),
        Alg::ES256
    );
    let _ = client;
}

#[tokio::test]
async fn ready_is_503_and_tokens_are_503_when_no_key_here_can_sign() {
    let app = TestApp::spawn().await;
    let client = app.client(&["client_credentials"], "api").await;
    assert_eq!(app.get("/ready", None).await.json()["signing_key"], "up");
    // The active key's file is missing on this replica (a secret not mounted yet).
    std::fs::remove_file(app.signing_key().path()).unwrap();
    let config = (*app.state.config).clone();
    let db = store::open(&config.database_url).await.unwrap();
    let blind = TestApp::from_state(
        AppState::from_parts(config, db, app.clock.clone()).await.unwrap(),
        app.clock.clone(),
    );
    let ready = blind.get("/ready", None).await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json()["signing_key"], "down");
    let refused = blind.client_credentials(&client).await;
    refused.assert_oauth_error(503, "temporarily_unavailable");
    assert!(refused.header("retry-after").is_some());
    // JWKS still publishes it from the database.
    assert_eq!(jwks_kids(&blind).await.len(), 1);
    let _ = claims;
}

#[tokio::test]
async fn three_replicas_agree_on_every_transition_by_the_settable_clock() {
    let app = TestApp::spawn().await;
    let client = app.client(&["client_credentials"], "api").await;
    let replicas = [
        TestApp::from_state(replica(&app).await, app.clock.clone()),
        TestApp::from_state(replica(&app).await, app.clock.clone()),
    ];
    let all = [&app, &replicas[0], &replicas[1]];
    let old = app.signing_key().kid().to_owned();
    let new = replicas[0]
        .state
        .keys
        .rotate(Alg::RS256, app.clock.now(), false)
        .await
        .unwrap()
        .kid;
    for r in all {
        r.state.keys.reload().await.unwrap();
        assert_eq!(
            jwks_kids(r).await,
            [old.clone(), new.clone()],
            "published everywhere at once"
        );
    }
    app.clock.advance(Duration::from_secs(599));
    let mut last_of_old = Vec::new();
    for r in all {
        let token = issued(r, &client).await;
        assert_eq!(kid(&token), old, "no replica signs with a pending key");
        last_of_old.push(token);
    }
    app.clock.advance(Duration::from_secs(1));
    for r in all {
        assert_eq!(
            kid(&issued(r, &client).await),
            new,
            "every replica switches at the same second"
        );
    }
    // Each old token verifies on every replica until it expires (15 min), and the old key is
    // published until a minute after that.
    app.clock.advance(Duration::from_secs(15 * 60 - 2));
    for r in all {
        for token in &last_of_old {
            assert_eq!(r.introspect(&client, token).await["active"], true);
        }
    }
    app.clock.advance(Duration::from_secs(61));
    for r in all {
        assert!(jwks_kids(r).await.contains(&old));
    }
    app.clock.advance(Duration::from_secs(1));
    for r in all {
        assert_eq!(
            jwks_kids(r).await,
            std::slice::from_ref(&new),
            "gone everywhere at once"
        );
    }

    // A compromised key retired on one replica: inactive on all of them after their reload.
    let token = issued(&replicas[1], &client).await;
    replicas[1]
        .state
        .keys
        .retire(&new, app.clock.now())
        .await
        .unwrap();
    for r in all {
        r.state.keys.reload().await.unwrap();
        assert_eq!(r.introspect(&client, &token).await["active"], false);
        let fresh = issued(r, &client).await;
        assert_ne!(kid(&fresh), new);
        assert_eq!(r.introspect(&client, &fresh).await["active"], true);
    }
}
