//! RFC 7009 token revocation.

use crate::helpers::{TestApp, claims};

#[tokio::test]
async fn revoking_a_refresh_token_ends_its_session() {
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    app.user("ada@example.com", "pw-pw-pw-pw").await;
    let tokens = app.login(&client, "ada@example.com", "pw-pw-pw-pw").await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let access = tokens["access_token"].as_str().unwrap();

    let response = app.revoke(&client, refresh).await;
    assert_eq!(response.status, 200);
    assert!(response.body.is_empty());
    app.refresh(&client, refresh)
        .await
        .assert_oauth_error(400, "invalid_grant");
    // §2.1: the access tokens of the same grant are invalidated as well.
    assert_eq!(app.introspect(&client, access).await["active"], false);
    assert_eq!(app.userinfo(access).await.status, 401);
}

#[tokio::test]
async fn revoking_an_access_token_denylists_it_and_the_session_lives_on() {
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    app.user("ada@example.com", "pw-pw-pw-pw").await;
    let tokens = app.login(&client, "ada@example.com", "pw-pw-pw-pw").await;
    let access = tokens["access_token"].as_str().unwrap();

    assert_eq!(
        app.post_form(
            "/oauth/revoke",
            &format!("token={access}&token_type_hint=access_token"),
            Some(&client.basic())
        )
        .await
        .status,
        200
    );
    assert_eq!(
        app.introspect(&client, access).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(app.userinfo(access).await.status, 401);
    // The refresh token still works and its new access token is live.
    let refreshed = app
        .refresh(&client, tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(refreshed.status, 200);
    assert_eq!(
        app.introspect(&client, &refreshed.str("access_token")).await["active"],
        true
    );
}

#[tokio::test]
async fn a_wrong_hint_is_only_a_hint() {
    // §2.1: if the hint is wrong, the server must extend its search to all token types.
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    app.user("ada@example.com", "pw-pw-pw-pw").await;
    let tokens = app.login(&client, "ada@example.com", "pw-pw-pw-pw").await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    app.post_form(
        "/oauth/revoke",
        &format!("token={refresh}&token_type_hint=access_token"),
        Some(&client.basic()),
    )
    .await;
    app.refresh(&client, refresh)
        .await
        .assert_oauth_error(400, "invalid_grant");
    let unknown_hint = app
        .post_form(
            "/oauth/revoke",
            "token=x&token_type_hint=something_else",
            Some(&client.basic()),
        )
        .await;
    assert_eq!(unknown_hint.status, 200);
}

#[tokio::test]
async fn unknown_and_garbage_tokens_answer_200() {
    // §2.2: "invalid tokens do not cause an error response".
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    for token in ["nonsense", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", &"Z".repeat(43)] {
        assert_eq!(app.revoke(&client, token).await.status, 200, "{token}");
    }
}

#[tokio::test]
async fn another_clients_tokens_are_not_revoked() {
    let app = TestApp::spawn().await;
    let owner = app.full_client().await;
    let other = app.full_client().await;
    app.user("ada@example.com", "pw-pw-pw-pw").await;
    let tokens = app.login(&owner, "ada@example.com", "pw-pw-pw-pw").await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(app.revoke(&other, refresh).await.status, 200);
    assert_eq!(app.revoke(&other, access).await.status, 200);
    assert_eq!(app.introspect(&owner, access).await["active"], true);
    assert_eq!(app.refresh(&owner, refresh).await.status, 200);
}

#[tokio::test]
async fn revocation_requires_client_authentication_and_a_token() {
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    app.post_form("/oauth/revoke", "token=x", None)
        .await
        .assert_oauth_error(401, "invalid_client");
    app.post_form("/oauth/revoke", "", Some(&client.basic()))
        .await
        .assert_oauth_error(400, "invalid_request");
}

#[tokio::test]
async fn a_public_client_revokes_its_own_refresh_token_with_its_id() {
    let app = TestApp::spawn().await;
    let client = app.public_client(&["password", "refresh_token"], "openid").await;
    app.user("ada@example.com", "pw-pw-pw-pw").await;
    let body = format!(
        "grant_type=password&username=ada%40example.com&password=pw-pw-pw-pw&client_id={}",
        client.id
    );
    let tokens = app.post_form("/oauth/token", &body, None).await.json();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(
        claims(tokens["access_token"].as_str().unwrap())["client_id"],
        client.id
    );
    let response = app
        .post_form(
            "/oauth/revoke",
            &format!("token={refresh}&client_id={}", client.id),
            None,
        )
        .await;
    assert_eq!(response.status, 200);
    let again = format!(
        "grant_type=refresh_token&refresh_token={refresh}&client_id={}",
        client.id
    );
    app.post_form("/oauth/token", &again, None)
        .await
        .assert_oauth_error(400, "invalid_grant");
}
