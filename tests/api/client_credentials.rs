//! RFC 6749 §4.4 client credentials grant.

use crate::helpers::{TestApp, claims, jwt_header};

#[tokio::test]
async fn issues_an_rfc9068_access_token_whose_subject_is_the_client() {
    let app = TestApp::spawn().await;
    let client = app.client(&["client_credentials"], "api:read api:write").await;
    let response = app.client_credentials(&client).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("cache-control"), Some("no-store"));
    assert_eq!(response.header("pragma"), Some("no-cache"));
    let body = response.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["scope"], "api:read api:write");
    // §4.4.3: "A refresh token SHOULD NOT be included."
    assert!(body.get("refresh_token").is_none());
    assert!(body.get("id_token").is_none());
    let header = jwt_header(body["access_token"].as_str().unwrap());
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], app.signing_key().kid());
    let c = claims(body["access_token"].as_str().unwrap());
    assert_eq!(c["iss"], "https://id.test");
    assert_eq!(c["sub"], client.id);
    assert_eq!(c["client_id"], client.id);
    assert!(
        uuid::Uuid::parse_str(c["sub"].as_str().unwrap()).is_err(),
        "a client sub must never look like a user id"
    );
    assert!(c.get("sid").is_none());
    for claim in ["aud", "exp", "iat", "jti"] {
        assert!(c.get(claim).is_some(), "{claim}");
    }
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 900);
}

#[tokio::test]
async fn requested_scope_is_narrowed_and_unknown_scope_is_invalid_scope() {
    let app = TestApp::spawn().await;
    let client = app.client(&["client_credentials"], "api:read api:write").await;
    let narrowed = app
        .token(&client, "grant_type=client_credentials&scope=api%3Aread")
        .await;
    assert_eq!(narrowed.json()["scope"], "api:read");
    let widened = app
        .token(&client, "grant_type=client_credentials&scope=api%3Aread+admin")
        .await;
    widened.assert_oauth_error(400, "invalid_scope");
}

#[tokio::test]
async fn a_client_not_registered_for_the_grant_is_unauthorized_client() {
    let app = TestApp::spawn().await;
    let client = app.client(&["password"], "openid").await;
    app.client_credentials(&client)
        .await
        .assert_oauth_error(400, "unauthorized_client");
}

#[tokio::test]
async fn public_clients_cannot_use_client_credentials() {
    let app = TestApp::spawn().await;
    let client = app.public_client(&["password", "refresh_token"], "openid").await;
    let response = app
        .post_form(
            "/oauth/token",
            &format!("grant_type=client_credentials&client_id={}", client.id),
            None,
        )
        .await;
    response.assert_oauth_error(400, "unauthorized_client");
}
