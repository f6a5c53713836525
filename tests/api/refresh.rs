//! RFC 6749 §6 refresh with rotation, reuse detection (OAuth 2.0 Security BCP §4.14.2), idle and
//! absolute expiry, the reuse leeway, and concurrent presentation of one token.

use std::time::Duration;

use keyward::store::users::{self, UserStatus};

use crate::helpers::{TestApp, claims};

async fn signed_in(app: &TestApp) -> (crate::helpers::TestClient, serde_json::Value) {
    let client = app.full_client().await;
    app.user("ada@example.com", "correct horse").await;
    let tokens = app.login(&client, "ada@example.com", "correct horse").await;
    (client, tokens)
}

fn field(v: &serde_json::Value, name: &str) -> String {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {v}"))
        .to_owned()
}

#[tokio::test]
async fn refresh_rotates_the_token_and_keeps_the_session() {
    let app = TestApp::spawn().await;
    let (client, first) = signed_in(&app).await;
    let response = app.refresh(&client, &field(&first, "refresh_token")).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let second = response.json();
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    let sid = claims(&field(&first, "access_token"))["sid"].clone();
    assert_eq!(claims(&field(&second, "access_token"))["sid"], sid);
    // OIDC Core §12.2: a refreshed ID token keeps the session and the original auth_time.
    let id = claims(&field(&second, "id_token"));
    assert_eq!(id["sid"], sid);
    assert_eq!(id["auth_time"], claims(&field(&first, "id_token"))["auth_time"]);
    // The successor works in turn.
    assert_eq!(
        app.refresh(&client, &field(&second, "refresh_token"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn reuse_of_an_earlier_token_revokes_the_whole_family() {
    let app = TestApp::spawn().await;
    let (client, first) = signed_in(&app).await;
    let second = app.refresh(&client, &field(&first, "refresh_token")).await.json();
    let third = app
        .refresh(&client, &field(&second, "refresh_token"))
        .await
        .json();

    // The first token again: reuse. Refused, and the session ends.
    let reuse = app.refresh(&client, &field(&first, "refresh_token")).await;
    reuse.assert_oauth_error(400, "invalid_grant");

    // The newest refresh token is dead too...
    app.refresh(&client, &field(&third, "refresh_token"))
        .await
        .assert_oauth_error(400, "invalid_grant");
    assert_eq!(
        app.introspect(&client, &field(&third, "refresh_token")).await,
        serde_json::json!({"active": false})
    );
    // ...and so is every access token of the family, at introspection and at userinfo.
    for tokens in [&first, &second, &third] {
        let access = field(tokens, "access_token");
        assert_eq!(
            app.introspect(&client, &access).await,
            serde_json::json!({"active": false})
        );
        let userinfo = app.userinfo(&access).await;
        assert_eq!(userinfo.status, 401);
        assert!(
            userinfo
                .header("www-authenticate")
                .unwrap()
                .contains("error=\"invalid_token\"")
        );
    }
}

#[tokio::test]
async fn an_idle_refresh_token_expires() {
    let app = TestApp::with_config(|c| c.refresh_idle_ttl = Duration::from_secs(3600)).await;
    let (client, first) = signed_in(&app).await;
    app.clock.advance(Duration::from_secs(3599));
    let second = app.refresh(&client, &field(&first, "refresh_token")).await;
    assert_eq!(second.status, 200, "used within the idle window");
    app.clock.advance(Duration::from_secs(3600));
    app.refresh(&client, &second.str("refresh_token"))
        .await
        .assert_oauth_error(400, "invalid_grant");
}

#[tokio::test]
async fn the_absolute_lifetime_is_never_extended_by_use() {
    let app = TestApp::with_config(|c| {
        c.refresh_idle_ttl = Duration::from_secs(3600);
        c.refresh_absolute_ttl = Duration::from_secs(3 * 3600);
    })
    .await;
    let (client, first) = signed_in(&app).await;
    let mut token = field(&first, "refresh_token");
    for _ in 0..5 {
        app.clock.advance(Duration::from_secs(50 * 60));
        let response = app.refresh(&client, &token).await;
        if app.clock.now()
            - claims(&field(&first, "access_token"))["auth_time"]
                .as_i64()
                .unwrap()
            >= 3 * 3600
        {
            response.assert_oauth_error(400, "invalid_grant");
            return;
        }
        assert_eq!(response.status, 200);
        token = response.str("refresh_token");
    }
    panic!("the session outlived its absolute lifetime");
}

#[tokio::test]
async fn without_leeway_the_previous_token_is_reuse() {
    let app = TestApp::spawn().await;
    let (client, first) = signed_in(&app).await;
    let second = app.refresh(&client, &field(&first, "refresh_token")).await.json();
    app.refresh(&client, &field(&first, "refresh_token"))
        .await
        .assert_oauth_error(400, "invalid_grant");
    app.refresh(&client, &field(&second, "refresh_token"))
        .await
        .assert_oauth_error(400, "invalid_grant");
}

#[tokio::test]
async fn within_the_leeway_the_previous_token_gets_a_new_successor_and_one_chain_lives() {
    let app = TestApp::with_config(|c| c.refresh_reuse_leeway = Duration::from_secs(30)).await;
    let (client, first) = signed_in(&app).await;
    let lost = app.refresh(&client, &field(&first, "refresh_token")).await.json();
    app.clock.advance(Duration::from_secs(10));
    // The response carrying `lost` never arrived; the client retries with the first token.
    let retried = app.refresh(&client, &field(&first, "refresh_token")).await;
    assert_eq!(retried.status, 200, "{}", String::from_utf8_lossy(&retried.body));
    let retried = retried.json();
    // One live chain: the lost successor is dead, the retried one is current.
    assert_eq!(
        app.introspect(&client, &field(&lost, "refresh_token")).await["active"],
        false
    );
    assert_eq!(
        app.introspect(&client, &field(&retried, "refresh_token")).await["active"],
        true
    );
    let next = app.refresh(&client, &field(&retried, "refresh_token")).await;
    assert_eq!(next.status, 200);

    // Outside the leeway, presenting an earlier token is reuse again.
    app.clock.advance(Duration::from_secs(31));
    app.refresh(&client, &field(&retried, "refresh_token"))
        .await
        .assert_oauth_error(400, "invalid_grant");
    app.refresh(&client, &next.str("refresh_token"))
        .await
        .assert_oauth_error(400, "invalid_grant");
}

#[tokio::test]
async fn within_the_leeway_a_stale_duplicate_of_an_older_token_keeps_the_session() {
    // A replica paused mid-request runs it after the client timed out, retried elsewhere and
    // moved on, so a token replaced two rotations ago arrives again. Within the leeway that is a
    // duplicate of the client's own request, not a copy held by someone else.
    let app = TestApp::with_config(|c| c.refresh_reuse_leeway = Duration::from_secs(30)).await;
    let (client, first) = signed_in(&app).await;
    let second = app.refresh(&client, &field(&first, "refresh_token")).await.json();
    let third = app
        .refresh(&client, &field(&second, "refresh_token"))
        .await
        .json();
    app.clock.advance(Duration::from_secs(5));
    let stale = app.refresh(&client, &field(&first, "refresh_token")).await;
    assert_eq!(stale.status, 200, "{}", stale.text());
    // The client's newest token was replaced by the stale request's successor a moment ago:
    // it still refreshes, and its chain goes on.
    let fourth = app.refresh(&client, &field(&third, "refresh_token")).await;
    assert_eq!(fourth.status, 200, "{}", fourth.text());
    let fifth = app.refresh(&client, &fourth.str("refresh_token")).await;
    assert_eq!(fifth.status, 200);

    // Past the leeway a token replaced earlier is a copy: reuse ends the session.
    app.clock.advance(Duration::from_secs(31));
    app.refresh(&client, &field(&first, "refresh_token"))
        .await
        .assert_oauth_error(400, "invalid_grant");
    app.refresh(&client, &fifth.str("refresh_token"))
        .await
        .assert_oauth_error(400, "invalid_grant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_refreshes_with_one_token_give_exactly_one_success() {
    let app = TestApp::spawn().await;
    let (client, first) = signed_in(&app).await;
    let token = field(&first, "refresh_token");
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let router = app.router.clone();
        let body = format!("grant_type=refresh_token&refresh_token={token}");
        let auth = client.basic();
        tasks.push(tokio::spawn(async move {
            use tower::ServiceExt;
            let request = axum::http::Request::post("/oauth/token")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("authorization", auth)
                .body(axum::body::Body::from(body))
                .unwrap();
            router.oneshot(request).await.unwrap().status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 19, "{statuses:?}");
}

#[tokio::test]
async fn scope_may_be_narrowed_never_widened() {
    let app = TestApp::spawn().await;
    let (client, first) = signed_in(&app).await;
    let token = field(&first, "refresh_token");
    // Widening is refused and does not use up the token.
    app.token(
        &client,
        &format!("grant_type=refresh_token&refresh_token={token}&scope=openid+api+admin"),
    )
    .await
    .assert_oauth_error(400, "invalid_scope");
    let narrowed = app
        .token(
            &client,
            &format!("grant_type=refresh_token&refresh_token={token}&scope=openid"),
        )
        .await;
    assert_eq!(narrowed.status, 200);
    assert_eq!(narrowed.json()["scope"], "openid");
    assert_eq!(claims(&narrowed.str("access_token"))["scope"], "openid");
    // §6: the new refresh token keeps the originally granted scope.
    let full = app.refresh(&client, &narrowed.str("refresh_token")).await;
    assert_eq!(full.json()["scope"], "api email openid profile");
}

#[tokio::test]
async fn another_clients_refresh_token_is_invalid_grant_and_harms_nothing() {
    let app = TestApp::spawn().await;
    let (client, first) = signed_in(&app).await;
    let other = app.full_client().await;
    let token = field(&first, "refresh_token");
    app.refresh(&other, &token)
        .await
        .assert_oauth_error(400, "invalid_grant");
    assert_eq!(
        app.refresh(&client, &token).await.status,
        200,
        "the owner's session lives on"
    );
}

#[tokio::test]
async fn garbage_and_unknown_refresh_tokens_are_invalid_grant() {
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    app.refresh(&client, "not-a-token")
        .await
        .assert_oauth_error(400, "invalid_grant");
    app.refresh(&client, &"A".repeat(43))
        .await
        .assert_oauth_error(400, "invalid_grant");
    app.token(&client, "grant_type=refresh_token")
        .await
        .assert_oauth_error(400, "invalid_request");
}

#[tokio::test]
async fn a_client_not_registered_for_refresh_is_unauthorized_client() {
    let app = TestApp::spawn().await;
    let client = app.client(&["password"], "openid").await;
    app.refresh(&client, "whatever")
        .await
        .assert_oauth_error(400, "unauthorized_client");
}

#[tokio::test]
async fn a_disabled_users_session_cannot_be_refreshed() {
    let app = TestApp::spawn().await;
    let (client, first) = signed_in(&app).await;
    let id = claims(&field(&first, "access_token"))["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    users::set_status(&app.state.db, &id, UserStatus::Disabled, app.clock.now())
        .await
        .unwrap();
    app.refresh(&client, &field(&first, "refresh_token"))
        .await
        .assert_oauth_error(400, "invalid_grant");
}
