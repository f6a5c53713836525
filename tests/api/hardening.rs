//! Response hardening and request bounds: `nosniff` on every answer, no framing of any HTML,
//! `no-store` on tokens and personal data, bounded headers and error descriptions, and request
//! limits per client address on the account endpoints anyone may call.

use std::io::{Read, Write};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, header};
use serde_json::json;

use crate::helpers::{TestApp, TestResponse};

async fn get(app: &TestApp, path: &str) -> TestResponse {
    app.get(path, None).await
}

#[tokio::test]
async fn every_answer_says_nosniff_and_no_html_can_be_framed() {
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    let mut answers = vec![
        ("health", get(&app, "/health").await),
        ("discovery", get(&app, "/.well-known/openid-configuration").await),
        ("jwks", get(&app, "/.well-known/jwks.json").await),
        ("docs", get(&app, "/docs/").await),
        ("openapi", get(&app, "/openapi.json").await),
        ("stylesheet", get(&app, "/assets/keyward.css").await),
        ("not found", get(&app, "/no/such/path").await),
        ("login page", get(&app, "/forgot-password").await),
        (
            "token error",
            app.post_form("/oauth/token", "grant_type=nope", None).await,
        ),
        ("token", app.client_credentials(&client).await),
    ];
    answers.push(("userinfo without token", app.userinfo("x.y.z").await));
    for (name, answer) in &answers {
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"), "{name}");
        let html = answer
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html"));
        if html {
            assert_eq!(answer.header("x-frame-options"), Some("DENY"), "{name}");
            assert!(
                answer
                    .header("content-security-policy")
                    .is_some_and(|csp| csp.contains("frame-ancestors 'none'")),
                "{name}"
            );
        }
    }
    let docs = &answers[3].1;
    assert_eq!(docs.status, 200);
    assert!(docs.header("content-type").unwrap().starts_with("text/html"));
}

#[tokio::test]
async fn answers_with_tokens_or_personal_data_are_never_stored() {
    // RFC 6749 §5.1 (token responses), RFC 6750 §5.3, and personal data of the account API.
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    app.user("ada@example.com", "pw-pw-pw-pw").await;
    let tokens = app.login(&client, "ada@example.com", "pw-pw-pw-pw").await;
    let access = tokens["access_token"].as_str().unwrap();
    let bearer = format!("Bearer {access}");
    let introspection = app.introspection(&client, access).await;
    for (name, answer) in [
        ("token", app.client_credentials(&client).await),
        ("userinfo", app.userinfo(access).await),
        ("introspection", introspection),
        ("me", app.get("/api/v1/users/me", Some(&bearer)).await),
    ] {
        assert_eq!(answer.status, 200, "{name}");
        assert_eq!(answer.header("cache-control"), Some("no-store"), "{name}");
    }
}

/// A GET with `extra` header fields added.
async fn with_headers(app: &TestApp, path: &str, extra: &[(String, String)]) -> TestResponse {
    let mut request = Request::builder().method(Method::GET).uri(path);
    for (name, value) in extra {
        request = request.header(name.as_str(), value.as_str());
    }
    app.request(request.body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn oversized_request_lines_and_header_sections_are_refused() {
    let app = TestApp::spawn().await;
    let many: Vec<(String, String)> = (0..65).map(|i| (format!("x-h{i}"), "v".into())).collect();
    let answer = with_headers(&app, "/health", &many).await;
    assert_eq!(answer.status, 431);
    assert_eq!(answer.json()["error"], "invalid_request");
    let big = vec![("cookie".to_owned(), "a".repeat(17 * 1024))];
    assert_eq!(with_headers(&app, "/health", &big).await.status, 431);
    let long = format!("/authorize?state={}", "s".repeat(9 * 1024));
    assert_eq!(with_headers(&app, &long, &[]).await.status, 414);
    // Within the bounds, the same request is served.
    let fine: Vec<(String, String)> = (0..60).map(|i| (format!("x-h{i}"), "v".into())).collect();
    assert_eq!(with_headers(&app, "/health", &fine).await.status, 200);
}

/// Sends `head` (a request line and header fields) and reads the answer until the server closes.
async fn raw(address: &str, head: String) -> String {
    let address = address.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        // The server may close while we still write: what it answered is what counts.
        let _ = stream.write_all(format!("{head}\r\n").as_bytes());
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn header_floods_on_the_wire_get_an_answer_not_a_hang() {
    let (_app, issuer) = TestApp::serve().await;
    let address = issuer.trim_start_matches("http://");
    // Past hyper's own limits, refused by the server before the router sees the request.
    let mut many = String::from("GET /health HTTP/1.1\r\nhost: x\r\n");
    for i in 0..150 {
        many.push_str(&format!("x-h{i}: v\r\n"));
    }
    let answer = raw(address, many).await;
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "{}",
        &answer[..answer.len().min(200)]
    );
    // A megabyte of one field: the server stops reading at its buffer's end and answers 431 or,
    // if our unread bytes reset the connection first, closes it; either way within the timeout.
    let big = format!(
        "GET /health HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n",
        "v".repeat(1 << 20)
    );
    let started = std::time::Instant::now();
    let answer = raw(address, big).await;
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 431"));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn error_descriptions_never_repeat_unbounded_input() {
    let app = TestApp::spawn().await;
    let client = app.client(&["client_credentials"], "api").await;
    let scope: Vec<String> = (0..5000).map(|i| format!("s{i}")).collect();
    let answer = app
        .post_form(
            "/oauth/token",
            &format!("grant_type=client_credentials&scope={}", scope.join("+")),
            Some(&client.basic()),
        )
        .await;
    answer.assert_oauth_error(400, "invalid_scope");
    let description = answer.json()["error_description"].as_str().unwrap().to_owned();
    assert!(
        description.len() <= keyward::oauth::error::MAX_DESCRIPTION,
        "{}",
        description.len()
    );
    assert!(description.ends_with("..."));
    assert!(description.starts_with("scope not granted to this client: s0 s1"));
}

#[tokio::test]
async fn sign_ups_from_one_address_are_limited() {
    let app = TestApp::spawn().await;
    // Refused passwords still count: the limit is on requests, and comes before any hashing.
    let sign_up = |i: usize| {
        let body = json!({"email": format!("u{i}@example.com"), "password": "short"}).to_string();
        Request::builder()
            .method(Method::POST)
            .uri("/api/v1/users")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    for i in 0..keyward::accounts::request_limits::PER_ADDRESS as usize {
        assert_eq!(app.request(sign_up(i)).await.status, 400, "request {i}");
    }
    let refused = app.request(sign_up(99)).await;
    refused.assert_api_error(429, "too_many_attempts");
    assert_eq!(refused.header("retry-after"), Some("3600"));
}
