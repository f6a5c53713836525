//! The caller's own account: `/me`, password change and logout, and who may call them.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{TestApp, TestClient};

const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "an entirely different phrase";

async fn signed_in() -> (TestApp, TestClient, serde_json::Value) {
    let app = TestApp::spawn().await;
    app.user(EMAIL, PASSWORD).await;
    let client = app.full_client().await;
    let tokens = app.login(&client, EMAIL, PASSWORD).await;
    (app, client, tokens)
}

fn access(tokens: &serde_json::Value) -> &str {
    tokens["access_token"].as_str().unwrap()
}

#[tokio::test]
async fn me_shows_the_account_and_patch_changes_the_profile() {
    let (app, client, tokens) = signed_in().await;
    let me = app
        .api("GET", "/api/v1/users/me", Some(access(&tokens)), None)
        .await;
    assert_eq!(me.header("cache-control"), Some("no-store"));
    let me = me.ok();
    assert_eq!(me["email"], EMAIL);
    assert_eq!(me["name"], "Test User");

    let patched = app
        .api(
            "PATCH",
            "/api/v1/users/me",
            Some(access(&tokens)),
            Some(json!({ "given_name": "Ada", "family_name": "Lovelace", "locale": "en-GB", "name": null })),
        )
        .await
        .ok();
    assert_eq!(patched["given_name"], "Ada");
    assert_eq!(patched["locale"], "en-GB");
    assert!(patched["name"].is_null(), "null clears a field");
    // A field left out stays.
    let again = app
        .api(
            "PATCH",
            "/api/v1/users/me",
            Some(access(&tokens)),
            Some(json!({ "name": "Ada L." })),
        )
        .await
        .ok();
    assert_eq!(again["given_name"], "Ada");
    assert_eq!(again["name"], "Ada L.");

    // The profile scope releases the new claims (OIDC Core §5.4).
    let fresh = app.login(&client, EMAIL, PASSWORD).await;
    let info = app.userinfo(access(&fresh)).await.ok();
    assert_eq!(info["name"], "Ada L.");
    assert_eq!(info["family_name"], "Lovelace");
    assert_eq!(info["locale"], "en-GB");
}

#[tokio::test]
async fn patch_refuses_bad_input() {
    let (app, _, tokens) = signed_in().await;
    let token = Some(access(&tokens));
    for body in [
        json!({ "locale": "not a tag" }),
        json!({ "name": "x".repeat(201) }),
        json!({ "name": 7 }),
        json!({ "email": "other@example.com" }),
        json!({ "name": "line\nbreak" }),
    ] {
        app.api("PATCH", "/api/v1/users/me", token, Some(body))
            .await
            .assert_api_error(400, "invalid_request");
    }
    app.api_raw("PATCH", "/api/v1/users/me", token, Some("{"), "application/json")
        .await
        .assert_api_error(400, "invalid_request");
    app.api_raw("PATCH", "/api/v1/users/me", token, Some("name=x"), "text/plain")
        .await
        .assert_api_error(415, "invalid_request");
}

#[tokio::test]
async fn the_account_api_refuses_what_introspection_would_call_inactive() {
    let (app, client, tokens) = signed_in().await;
    // RFC 6750 §3.1: no token is a bare challenge; a bad one is invalid_token.
    let none = app.api("GET", "/api/v1/users/me", None, None).await;
    assert_eq!(none.status, 401);
    assert_eq!(none.header("www-authenticate"), Some("Bearer realm=\"keyward\""));
    let forged = app.api("GET", "/api/v1/users/me", Some("a.b.c"), None).await;
    forged.assert_api_error(401, "invalid_token");
    assert!(
        forged
            .header("www-authenticate")
            .unwrap()
            .contains("invalid_token")
    );

    // A client's own token is not a user's.
    let machine = app.client_credentials(&client).await.ok();
    app.api(
        "GET",
        "/api/v1/users/me",
        Some(machine["access_token"].as_str().unwrap()),
        None,
    )
    .await
    .assert_api_error(401, "invalid_token");

    // Revoked through RFC 7009.
    app.revoke(&client, access(&tokens)).await;
    assert_eq!(app.introspect(&client, access(&tokens)).await["active"], false);
    app.api("GET", "/api/v1/users/me", Some(access(&tokens)), None)
        .await
        .assert_api_error(401, "invalid_token");

    // Expired.
    let fresh = app.login(&client, EMAIL, PASSWORD).await;
    app.clock.advance(Duration::from_secs(15 * 60));
    app.api("GET", "/api/v1/users/me", Some(access(&fresh)), None)
        .await
        .assert_api_error(401, "invalid_token");
}

#[tokio::test]
async fn changing_the_password_ends_every_other_session() {
    let (app, client, mine) = signed_in().await;
    let other = app.login(&client, EMAIL, PASSWORD).await;

    let wrong = app
        .api(
            "PUT",
            "/api/v1/users/me/password",
            Some(access(&mine)),
            Some(json!({ "current_password": "not the password", "new_password": NEW_PASSWORD })),
        )
        .await;
    wrong.assert_api_error(403, "access_denied");
    let weak = app
        .api(
            "PUT",
            "/api/v1/users/me/password",
            Some(access(&mine)),
            Some(json!({ "current_password": PASSWORD, "new_password": "password123" })),
        )
        .await;
    weak.assert_api_error(400, "invalid_request");
    app.api(
        "PUT",
        "/api/v1/users/me/password",
        Some(access(&mine)),
        Some(json!({ "current_password": PASSWORD })),
    )
    .await
    .assert_api_error(400, "invalid_request");

    app.api(
        "PUT",
        "/api/v1/users/me/password",
        Some(access(&mine)),
        Some(json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD })),
    )
    .await
    .expect(204);

    // The other session: its refresh token fails, its access token is inactive everywhere.
    app.refresh(&client, other["refresh_token"].as_str().unwrap())
        .await
        .assert_oauth_error(400, "invalid_grant");
    assert_eq!(
        app.introspect(&client, access(&other)).await,
        json!({ "active": false })
    );
    app.userinfo(access(&other))
        .await
        .assert_api_error(401, "invalid_token");
    app.api("GET", "/api/v1/users/me", Some(access(&other)), None)
        .await
        .assert_api_error(401, "invalid_token");
    // The caller's own session goes on.
    app.api("GET", "/api/v1/users/me", Some(access(&mine)), None)
        .await
        .ok();
    app.refresh(&client, mine["refresh_token"].as_str().unwrap())
        .await
        .ok();
    // Only the new password signs in.
    app.password_grant(&client, EMAIL, PASSWORD, None)
        .await
        .assert_oauth_error(400, "invalid_grant");
    app.login(&client, EMAIL, NEW_PASSWORD).await;
}

#[tokio::test]
async fn guessing_the_current_password_is_throttled_like_sign_in() {
    let (app, _, tokens) = signed_in().await;
    let guess = json!({ "current_password": "wrong guess here", "new_password": NEW_PASSWORD });
    for _ in 0..5 {
        app.api(
            "PUT",
            "/api/v1/users/me/password",
            Some(access(&tokens)),
            Some(guess.clone()),
        )
        .await
        .assert_api_error(403, "access_denied");
    }
    let locked = app
        .api(
            "PUT",
            "/api/v1/users/me/password",
            Some(access(&tokens)),
            Some(guess),
        )
        .await;
    locked.assert_api_error(429, "too_many_attempts");
    assert!(locked.header("retry-after").is_some());
}

#[tokio::test]
async fn logout_ends_the_callers_session_and_all_ends_every_session() {
    let (app, client, mine) = signed_in().await;
    let other = app.login(&client, EMAIL, PASSWORD).await;

    app.api("POST", "/api/v1/logout", Some(access(&mine)), None)
        .await
        .expect(204);
    app.refresh(&client, mine["refresh_token"].as_str().unwrap())
        .await
        .assert_oauth_error(400, "invalid_grant");
    assert_eq!(app.introspect(&client, access(&mine)).await["active"], false);
    app.api("GET", "/api/v1/users/me", Some(access(&mine)), None)
        .await
        .assert_api_error(401, "invalid_token");
    // The other session lives until logout?all=true.
    app.api("GET", "/api/v1/users/me", Some(access(&other)), None)
        .await
        .ok();
    let third = app.login(&client, EMAIL, PASSWORD).await;
    app.api("POST", "/api/v1/logout?all=true", Some(access(&other)), None)
        .await
        .expect(204);
    for session in [&other, &third] {
        assert_eq!(app.introspect(&client, access(session)).await["active"], false);
        app.userinfo(access(session))
            .await
            .assert_api_error(401, "invalid_token");
        app.refresh(&client, session["refresh_token"].as_str().unwrap())
            .await
            .assert_oauth_error(400, "invalid_grant");
    }
    app.api("POST", "/api/v1/logout?all=maybe", Some(access(&third)), None)
        .await
        .assert_api_error(401, "invalid_token");
    let fourth = app.login(&client, EMAIL, PASSWORD).await;
    app.api("POST", "/api/v1/logout?all=maybe", Some(access(&fourth)), None)
        .await
        .assert_api_error(400, "invalid_request");
    app.api("GET", "/api/v1/users/me", Some(access(&fourth)), None)
        .await
        .ok();
}
