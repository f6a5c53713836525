//! Hostile and malformed input: never a panic, a 500 or a hang; always a spec-shaped answer.
//! Covers RFC 8725 §2.1/§3.1 (algorithm confusion, `alg: none`) and RFC 9068 §4 token checks.

use axum::body::Body;
use axum::http::{HeaderValue, Request, header};
use keyward::crypto::jwt;
use keyward::crypto::keys::Alg;
use serde_json::json;

use crate::helpers::{TestApp, b64, claims};

/// Claims of a live client token from `app`, to be re-signed in hostile ways.
async fn live_claims(app: &TestApp) -> (crate::helpers::TestClient, serde_json::Value) {
    let client = app.full_client().await;
    let token = app.client_credentials(&client).await.str("access_token");
    (client, claims(&token))
}

async fn assert_rejected_everywhere(app: &TestApp, client: &crate::helpers::TestClient, token: &str) {
    assert_eq!(
        app.introspect(client, token).await,
        json!({"active": false}),
        "{token}"
    );
    let userinfo = app.userinfo(token).await;
    assert_eq!(userinfo.status, 401);
    assert!(
        userinfo
            .header("www-authenticate")
            .unwrap()
            .contains("invalid_token")
    );
}

#[tokio::test]
async fn alg_none_is_rejected() {
    let app = TestApp::spawn().await;
    let (client, c) = live_claims(&app).await;
    let header = json!({"alg": "none", "typ": "at+jwt", "kid": app.signing_key().kid()});
    for token in [
        format!("{}.{}.", b64(&header), b64(&c)),
        format!("{}.{}", b64(&header), b64(&c)),
    ] {
        assert_rejected_everywhere(&app, &client, &token).await;
    }
}

#[tokio::test]
async fn hs256_signed_with_our_public_key_is_rejected() {
    // The classic algorithm confusion: the attacker uses the published public key as an HMAC secret.
    let app = TestApp::spawn().await;
    let (client, c) = live_claims(&app).await;
    let jwk = app.signing_key().jwk().clone();
    let public = serde_json::to_vec(&jwk).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(app.signing_key().kid().to_owned());
    for secret in [public.as_slice(), app.signing_key().kid().as_bytes()] {
        let token =
            jsonwebtoken::encode(&header, &c, &jsonwebtoken::EncodingKey::from_secret(secret)).unwrap();
        assert_rejected_everywhere(&app, &client, &token).await;
    }
}

#[tokio::test]
async fn a_token_from_an_unknown_key_is_rejected() {
    let app = TestApp::spawn().await;
    let (client, c) = live_claims(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let stranger = keyward::crypto::keys::generate(dir.path(), Alg::RS256).unwrap();
    let token = jwt::sign(&stranger, jwt::ACCESS_TOKEN_TYP, &c).unwrap();
    assert_rejected_everywhere(&app, &client, &token).await;
    // The same with a kid claiming to be ours.
    let mut header: serde_json::Value = crate::helpers::jwt_header(&token);
    header["kid"] = app.signing_key().kid().into();
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[0] = b64(&header);
    assert_rejected_everywhere(&app, &client, &parts.join(".")).await;
}

#[tokio::test]
async fn our_key_but_another_issuer_or_type_is_rejected() {
    let app = TestApp::spawn().await;
    let (client, mut c) = live_claims(&app).await;
    let key = app.signing_key();
    let key = key.as_ref();
    let wrong_type = jwt::sign(key, "JWT", &c).unwrap();
    assert_rejected_everywhere(&app, &client, &wrong_type).await;
    c["iss"] = "https://evil.test".into();
    let wrong_issuer = jwt::sign(key, jwt::ACCESS_TOKEN_TYP, &c).unwrap();
    assert_rejected_everywhere(&app, &client, &wrong_issuer).await;
}

#[tokio::test]
async fn oversized_bodies_get_413_json_not_a_hang() {
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    let body = format!("grant_type=client_credentials&pad={}", "a".repeat(200_000));
    let response = app.token(&client, &body).await;
    response.assert_oauth_error(413, "invalid_request");
    let revoke = app.post_form("/oauth/revoke", &body, Some(&client.basic())).await;
    revoke.assert_oauth_error(413, "invalid_request");
}

#[tokio::test]
async fn invalid_utf8_is_invalid_request() {
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    for body in [
        &b"grant_type=password&username=\xff\xfe&password=x"[..],
        b"grant_type=password&username=%C3%28&password=x",
    ] {
        let request = Request::post("/oauth/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::AUTHORIZATION, client.basic())
            .body(Body::from(body.to_vec()))
            .unwrap();
        app.request(request)
            .await
            .assert_oauth_error(400, "invalid_request");
    }
}

#[tokio::test]
async fn binary_and_truncated_bodies_are_handled() {
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    for body in ["%", "%zz", "=&=&&", "grant_type", "\u{0}\u{1}"] {
        let response = app.token(&client, body).await;
        assert!(response.status.is_client_error(), "{body:?}: {}", response.status);
        assert!(response.json()["error"].is_string());
    }
}

#[tokio::test]
async fn malformed_client_credentials_are_invalid_client() {
    let app = TestApp::spawn().await;
    for auth in ["Basic !!!notbase64", "Basic ", "Basic Zm9v", "Basic OnNlY3JldA=="] {
        let response = app
            .post_form("/oauth/token", "grant_type=client_credentials", Some(auth))
            .await;
        response.assert_oauth_error(401, "invalid_client");
    }
    // A header that is not visible ASCII.
    let mut request = Request::post("/oauth/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("grant_type=client_credentials"))
        .unwrap();
    request.headers_mut().insert(
        header::AUTHORIZATION,
        HeaderValue::from_bytes(b"Basic \xe9t\xe9").unwrap(),
    );
    app.request(request)
        .await
        .assert_oauth_error(401, "invalid_client");
}

#[tokio::test]
async fn scope_with_forbidden_characters_is_invalid_scope() {
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    app.token(&client, "grant_type=client_credentials&scope=%22quoted%22")
        .await
        .assert_oauth_error(400, "invalid_scope");
}

#[tokio::test]
async fn very_long_credentials_do_not_hurt() {
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    let long = "p".repeat(50_000);
    let response = app.password_grant(&client, "ada@example.com", &long, None).await;
    response.assert_oauth_error(400, "invalid_grant");
}
