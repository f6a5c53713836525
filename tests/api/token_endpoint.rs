//! RFC 6749 §2.3 client authentication, §3.2 the token endpoint, §5.2 error responses.

use axum::body::Body;
use axum::http::{Request, header};

use crate::helpers::{TestApp, TestClient};

#[tokio::test]
async fn client_secret_basic_decodes_form_urlencoded_credentials() {
    let app = TestApp::spawn().await;
    let client = app.client(&["client_credentials"], "api").await;
    // The helper percent-encodes every non-alphanumeric character (Appendix B), including the
    // '-' and '_' that generated ids and secrets may hold; the server must decode them.
    let response = app.client_credentials(&client).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    // Plain (unencoded) Basic works as well, since unreserved characters decode to themselves.
    let plain = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{}:{}", client.id, client.secret.clone().unwrap())
        )
    );
    let response = app
        .post_form("/oauth/token", "grant_type=client_credentials", Some(&plain))
        .await;
    assert_eq!(response.status, 200);
}

#[tokio::test]
async fn client_secret_post_authenticates() {
    let app = TestApp::spawn().await;
    let client = app.client(&["client_credentials"], "api").await;
    let body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        client.id,
        client.secret.clone().unwrap()
    );
    assert_eq!(app.post_form("/oauth/token", &body, None).await.status, 200);
}

#[tokio::test]
async fn two_authentication_methods_at_once_is_invalid_request() {
    // §2.3: "The client MUST NOT use more than one authentication method in each request."
    let app = TestApp::spawn().await;
    let client = app.client(&["client_credentials"], "api").await;
    let body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        client.id,
        client.secret.clone().unwrap()
    );
    app.post_form("/oauth/token", &body, Some(&client.basic()))
        .await
        .assert_oauth_error(400, "invalid_request");
}

#[tokio::test]
async fn client_id_beside_basic_must_name_the_same_client() {
    let app = TestApp::spawn().await;
    let client = app.client(&["client_credentials"], "api").await;
    let same = format!("grant_type=client_credentials&client_id={}", client.id);
    assert_eq!(
        app.post_form("/oauth/token", &same, Some(&client.basic()))
            .await
            .status,
        200
    );
    let other = "grant_type=client_credentials&client_id=someone-else";
    app.post_form("/oauth/token", other, Some(&client.basic()))
        .await
        .assert_oauth_error(400, "invalid_request");
}

#[tokio::test]
async fn wrong_secret_over_basic_is_401_with_a_basic_challenge() {
    // §5.2: invalid_client via the Authorization header MUST be 401 with WWW-Authenticate.
    let app = TestApp::spawn().await;
    let client = app.client(&["client_credentials"], "api").await;
    let wrong = TestClient {
        id: client.id.clone(),
        secret: Some("not-the-secret".into()),
    };
    let response = app.client_credentials(&wrong).await;
    response.assert_oauth_error(401, "invalid_client");
    assert!(response.header("www-authenticate").unwrap().starts_with("Basic"));
}

#[tokio::test]
async fn wrong_secret_in_the_body_unknown_client_and_no_credentials_are_invalid_client() {
    let app = TestApp::spawn().await;
    let client = app.client(&["client_credentials"], "api").await;
    let wrong = format!(
        "grant_type=client_credentials&client_id={}&client_secret=nope",
        client.id
    );
    app.post_form("/oauth/token", &wrong, None)
        .await
        .assert_oauth_error(401, "invalid_client");
    let unknown = TestClient {
        id: "no-such-client".into(),
        secret: Some("x".into()),
    };
    app.client_credentials(&unknown)
        .await
        .assert_oauth_error(401, "invalid_client");
    app.post_form("/oauth/token", "grant_type=client_credentials", None)
        .await
        .assert_oauth_error(401, "invalid_client");
}

#[tokio::test]
async fn a_confidential_client_cannot_authenticate_with_its_id_alone() {
    let app = TestApp::spawn().await;
    let client = app.client(&["client_credentials"], "api").await;
    let body = format!("grant_type=client_credentials&client_id={}", client.id);
    app.post_form("/oauth/token", &body, None)
        .await
        .assert_oauth_error(401, "invalid_client");
}

#[tokio::test]
async fn a_public_client_may_not_present_a_secret() {
    let app = TestApp::spawn().await;
    let client = app.public_client(&["password"], "openid").await;
    let body = format!(
        "grant_type=password&username=a&password=b&client_id={}&client_secret=x",
        client.id
    );
    app.post_form("/oauth/token", &body, None)
        .await
        .assert_oauth_error(401, "invalid_client");
}

#[tokio::test]
async fn wrong_content_type_is_invalid_request() {
    // §3.2: the token request is application/x-www-form-urlencoded.
    let app = TestApp::spawn().await;
    let client = app.client(&["client_credentials"], "api").await;
    let request = Request::post("/oauth/token")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, client.basic())
        .body(Body::from(r#"{"grant_type":"client_credentials"}"#))
        .unwrap();
    app.request(request)
        .await
        .assert_oauth_error(400, "invalid_request");
    let missing = Request::post("/oauth/token")
        .header(header::AUTHORIZATION, client.basic())
        .body(Body::from("grant_type=client_credentials"))
        .unwrap();
    app.request(missing)
        .await
        .assert_oauth_error(400, "invalid_request");
}

#[tokio::test]
async fn content_type_with_a_charset_parameter_is_accepted() {
    let app = TestApp::spawn().await;
    let client = app.client(&["client_credentials"], "api").await;
    let request = Request::post("/oauth/token")
        .header(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=UTF-8",
        )
        .header(header::AUTHORIZATION, client.basic())
        .body(Body::from("grant_type=client_credentials"))
        .unwrap();
    assert_eq!(app.request(request).await.status, 200);
}

#[tokio::test]
async fn repeated_parameters_are_invalid_request() {
    // §3.2: "Request and response parameters MUST NOT be included more than once."
    let app = TestApp::spawn().await;
    let client = app.client(&["client_credentials"], "api").await;
    app.token(
        &client,
        "grant_type=client_credentials&grant_type=client_credentials",
    )
    .await
    .assert_oauth_error(400, "invalid_request");
    app.token(&client, "grant_type=client_credentials&scope=api&scope=api")
        .await
        .assert_oauth_error(400, "invalid_request");
}

#[tokio::test]
async fn unknown_parameters_are_ignored() {
    // §3.2: "The authorization server MUST ignore unrecognized request parameters."
    let app = TestApp::spawn().await;
    let client = app.client(&["client_credentials"], "api").await;
    assert_eq!(
        app.token(&client, "grant_type=client_credentials&foo=bar&audience=x")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn missing_and_unsupported_grant_types() {
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    app.token(&client, "scope=openid")
        .await
        .assert_oauth_error(400, "invalid_request");
    app.token(&client, "grant_type=implicit")
        .await
        .assert_oauth_error(400, "unsupported_grant_type");
    app.token(
        &client,
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code",
    )
    .await
    .assert_oauth_error(400, "unsupported_grant_type");
}

#[tokio::test]
async fn the_token_endpoint_accepts_post_only() {
    let app = TestApp::spawn().await;
    let response = app.get("/oauth/token?grant_type=client_credentials", None).await;
    assert_eq!(response.status, 405);
}
