//! Who may call what, for every Bearer-protected endpoint of the account and admin API: no
//! token, a malformed header, an expired token, a token of a deleted account, a client's own
//! token, and (admin endpoints) a user without the admin role.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestResponse};

const PASSWORD: &str = "correct horse battery staple";

/// Every protected operation, with a body it would accept, and whether it needs the admin role.
fn operations() -> Vec<(&'static str, &'static str, Option<Value>, bool)> {
    let user = "/api/v1/users/00000000-0000-7000-8000-000000000000";
    vec![
        ("GET", "/api/v1/users/me", None, false),
        ("PATCH", "/api/v1/users/me", Some(json!({ "name": "x" })), false),
        (
            "PUT",
            "/api/v1/users/me/password",
            Some(json!({ "current_password": PASSWORD, "new_password": "another long phrase" })),
            false,
        ),
        ("POST", "/api/v1/users/me/verify-email", None, false),
        ("POST", "/api/v1/logout", None, false),
        ("GET", "/api/v1/roles", None, false),
        ("GET", "/api/v1/users", None, true),
        ("GET", user, None, true),
        ("PATCH", user, Some(json!({ "disabled": true })), true),
        ("DELETE", user, None, true),
        (
            "POST",
            "/api/v1/roles",
            Some(json!({ "name": "r", "permissions": [] })),
            true,
        ),
        ("DELETE", "/api/v1/roles/r", None, true),
        ("GET", "/api/v1/clients", None, true),
        ("POST", "/api/v1/clients", Some(json!({ "name": "c" })), true),
        ("GET", "/api/v1/clients/c", None, true),
        ("DELETE", "/api/v1/clients/c", None, true),
        ("POST", "/api/v1/clients/c/secret", None, true),
    ]
}

fn assert_challenged(response: &TestResponse, what: &str) {
    assert_eq!(
        response.status,
        401,
        "{what}: {}",
        String::from_utf8_lossy(&response.body)
    );
    let challenge = response.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer realm=\"keyward\""),
        "{what}: {challenge}"
    );
}

#[tokio::test]
async fn every_protected_endpoint_refuses_who_it_must() {
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    app.user("plain@example.com", PASSWORD).await;
    let plain = app.access_token(&client, "plain@example.com", PASSWORD).await;
    let gone_id = app.user("gone@example.com", PASSWORD).await;
    let gone = app.access_token(&client, "gone@example.com", PASSWORD).await;
    keyward::accounts::admin::delete_account(&app.state.db, &app.state.families, &gone_id, app.clock.now())
        .await
        .unwrap();
    let machine = app.client_credentials(&client).await.ok()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    for (method, path, body, admin) in operations() {
        let what = format!("{method} {path}");
        // RFC 6750 §3.1: no token is 401 with a bare challenge.
        let response = app.api(method, path, None, body.clone()).await;
        assert_challenged(&response, &what);
        assert!(
            !response.header("www-authenticate").unwrap().contains("error="),
            "{what}"
        );
        for (token, case) in [
            ("not-a-jwt", "garbage"),
            (gone.as_str(), "deleted account"),
            (machine.as_str(), "client token"),
        ] {
            let response = app.api(method, path, Some(token), body.clone()).await;
            assert_challenged(&response, &format!("{what} with a {case}"));
            response.assert_api_error(401, "invalid_token");
        }
        if admin {
            app.api(method, path, Some(&plain), body.clone())
                .await
                .assert_api_error(403, "access_denied");
        }
    }

    // Basic credentials are not a Bearer token; an unreadable header is a bad request.
    let basic = app.get("/api/v1/users/me", Some(&client.basic())).await;
    assert_challenged(&basic, "Basic credentials");
    let request = axum::http::Request::builder()
        .uri("/api/v1/users/me")
        .header(
            "authorization",
            axum::http::HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
        )
        .body(axum::body::Body::empty())
        .unwrap();
    app.request(request)
        .await
        .assert_api_error(400, "invalid_request");

    // Expired: every endpoint at once, since the clock moves for all.
    app.clock.advance(Duration::from_secs(15 * 60));
    for (method, path, body, _) in operations() {
        let response = app.api(method, path, Some(&plain), body).await;
        response.assert_api_error(401, "invalid_token");
    }
}
