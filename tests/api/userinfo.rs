//! OIDC Core §5.3 UserInfo with RFC 6750 bearer errors.

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;

use crate::helpers::TestApp;

#[tokio::test]
async fn get_and_post_return_the_claims_the_scope_allows() {
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    let user_id = app.user("ada@example.com", "pw-pw-pw-pw").await;
    let full = app
        .password_grant(
            &client,
            "ada@example.com",
            "pw-pw-pw-pw",
            Some("openid email profile"),
        )
        .await
        .str("access_token");
    let response = app.userinfo(&full).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let body = response.json();
    assert_eq!(body["sub"], user_id);
    assert_eq!(body["email"], "ada@example.com");
    assert_eq!(body["email_verified"], false);
    assert_eq!(body["name"], "Test User");

    let post = Request::post("/userinfo")
        .header("authorization", format!("Bearer {full}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.request(post).await.json(), body);

    let openid_only = app
        .password_grant(&client, "ada@example.com", "pw-pw-pw-pw", Some("openid"))
        .await
        .str("access_token");
    let minimal = app.userinfo(&openid_only).await.json();
    assert_eq!(minimal, serde_json::json!({ "sub": user_id }));
}

#[tokio::test]
async fn no_token_is_401_with_a_bare_bearer_challenge() {
    // RFC 6750 §3.1: no error code when the request had no authentication information.
    let app = TestApp::spawn().await;
    let response = app.get("/userinfo", None).await;
    assert_eq!(response.status, 401);
    let challenge = response.header("www-authenticate").unwrap();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert!(!challenge.contains("error="), "{challenge}");
}

#[tokio::test]
async fn invalid_expired_and_non_user_tokens_are_invalid_token() {
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    app.user("ada@example.com", "pw-pw-pw-pw").await;
    let tokens = app.login(&client, "ada@example.com", "pw-pw-pw-pw").await;
    let machine = app.client_credentials(&client).await.str("access_token");
    for token in ["garbage", tokens["id_token"].as_str().unwrap(), &machine] {
        let response = app.userinfo(token).await;
        assert_eq!(response.status, 401, "{token}");
        assert!(
            response
                .header("www-authenticate")
                .unwrap()
                .contains("error=\"invalid_token\"")
        );
        assert_eq!(response.json()["error"], "invalid_token");
    }
    app.clock.advance(Duration::from_secs(901));
    let expired = app.userinfo(tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(expired.status, 401);
    assert!(
        expired
            .header("www-authenticate")
            .unwrap()
            .contains("invalid_token")
    );
}

#[tokio::test]
async fn a_token_without_openid_is_insufficient_scope() {
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    app.user("ada@example.com", "pw-pw-pw-pw").await;
    let token = app
        .password_grant(&client, "ada@example.com", "pw-pw-pw-pw", Some("api"))
        .await
        .str("access_token");
    let response = app.userinfo(&token).await;
    assert_eq!(response.status, 403);
    let challenge = response.header("www-authenticate").unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\"") && challenge.contains("scope=\"openid\""),
        "{challenge}"
    );
}

#[tokio::test]
async fn a_malformed_authorization_header_is_invalid_request() {
    let app = TestApp::spawn().await;
    let response = app.get("/userinfo", Some("Bearer ")).await;
    assert_eq!(response.status, 400);
    assert!(
        response
            .header("www-authenticate")
            .unwrap()
            .contains("error=\"invalid_request\"")
    );
}
