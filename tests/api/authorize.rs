//! The authorization endpoint (RFC 6749 §3.1, §4.1.1, §4.1.2.1; OIDC Core §3.1.2): what is shown
//! and what is redirected, and exactly where.

use keyward::oauth::client::{ClientSpec, register};

use crate::helpers::{TestApp, enc};
use crate::web::{Browser, CHALLENGE, EMAIL, PASSWORD, REDIRECT_URI, WebClient, response_param};

/// Asserts an error page: HTML, the status, and no redirect anywhere.
fn assert_error_page(response: &crate::helpers::TestResponse, status: u16) {
    assert_eq!(response.status, status, "{}", response.text());
    assert!(response.header("location").is_none());
    assert!(response.header("content-type").unwrap().starts_with("text/html"));
    assert!(response.text().contains("<h1>"));
}

/// Asserts an error redirect to the test app: `error`, `state` and `iss` (RFC 9207 §2).
fn assert_error_redirect(response: &crate::helpers::TestResponse, error: &str) {
    assert_eq!(response.status, 302, "{}", response.text());
    let location = response.header("location").unwrap();
    assert!(location.starts_with(&format!("{REDIRECT_URI}?")), "{location}");
    assert_eq!(
        response_param(response, "error").as_deref(),
        Some(error),
        "{location}"
    );
    assert!(response_param(response, "error_description").is_some());
    assert_eq!(response_param(response, "state").as_deref(), Some("st-1"));
    assert_eq!(
        response_param(response, "iss").as_deref(),
        Some("https://id.test")
    );
}

#[tokio::test]
async fn an_unknown_client_gets_a_page_and_never_a_redirect() {
    // RFC 6749 §4.1.2.1: "MUST NOT automatically redirect the user-agent to the invalid
    // redirection URI" when the client identifier is invalid.
    let app = TestApp::spawn().await;
    let browser = Browser::new(&app);
    let query = format!(
        "response_type=code&client_id=nobody&redirect_uri={}&state=st-1",
        enc(REDIRECT_URI)
    );
    let response = browser.authorize(&query).await;
    assert_error_page(&response, 400);
    assert!(response.text().contains("not registered"));
    let missing = browser.authorize("response_type=code").await;
    assert_error_page(&missing, 400);
}

#[tokio::test]
async fn only_an_exactly_registered_redirect_uri_is_redirected_to() {
    // RFC 9700 §4.1.3: exact string matching; §4.1.2.1: a mismatch is shown, not redirected.
    let app = TestApp::spawn().await;
    let client = app.web_client(WebClient::default()).await;
    let browser = Browser::new(&app);
    for uri in [
        "https://app.test/callback/",
        "https://app.test/callback?x=1",
        "https://app.test/callbackx",
        "https://evil.test/callback",
        "https://app.test.evil.test/callback",
        "http://app.test/callback",
    ] {
        let query = format!(
            "response_type=code&client_id={}&redirect_uri={}&scope=openid&state=st-1&code_challenge={CHALLENGE}&code_challenge_method=S256",
            client.id,
            enc(uri)
        );
        let response = browser.authorize(&query).await;
        assert_error_page(&response, 400);
        assert!(
            !response.text().contains("evil"),
            "the page must not echo the URI"
        );
    }
    // OIDC Core §3.1.2.1: redirect_uri is required in an OpenID Connect request.
    let query = format!(
        "response_type=code&client_id={}&scope=openid&code_challenge={CHALLENGE}&code_challenge_method=S256",
        client.id
    );
    assert_error_page(&browser.authorize(&query).await, 400);
}

#[tokio::test]
async fn a_loopback_ip_redirect_uri_matches_on_any_port() {
    // RFC 8252 §7.3: "MUST allow any port to be specified at the time of the request for
    // loopback IP redirect URIs".
    let app = TestApp::spawn().await;
    app.user(EMAIL, PASSWORD).await;
    let client = app.web_client(WebClient::default()).await;
    let browser = Browser::new(&app);
    let query = |uri: &str| {
        format!(
            "response_type=code&client_id={}&redirect_uri={}&scope=openid&state=st-1&code_challenge={CHALLENGE}&code_challenge_method=S256",
            client.id,
            enc(uri)
        )
    };
    let page = browser.authorize(&query("http://127.0.0.1:54321/loopback")).await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("name=\"password\""));
    assert_error_page(
        &browser.authorize(&query("http://localhost:54321/loopback")).await,
        400,
    );
    assert_error_page(
        &browser.authorize(&query("http://127.0.0.1:54321/other")).await,
        400,
    );
    // The response goes to the port asked for.
    let response = browser.sign_in(&query("http://127.0.0.1:54321/loopback")).await;
    assert!(
        response
            .header("location")
            .unwrap()
            .starts_with("http://127.0.0.1:54321/loopback?code="),
        "{:?}",
        response.header("location")
    );
}

#[tokio::test]
async fn without_redirect_uri_the_one_registered_is_used_for_plain_oauth() {
    // RFC 6749 §3.1.2.3: the redirect URI may be left out when exactly one is registered.
    let app = TestApp::spawn().await;
    let spec = ClientSpec {
        name: "one uri".into(),
        grant_types: vec!["authorization_code".into()],
        scopes: vec!["api".into()],
        redirect_uris: vec![REDIRECT_URI.into()],
        ..ClientSpec::default()
    };
    let (client, _) = register(&app.state.db, spec, app.clock.now()).await.unwrap();
    let browser = Browser::new(&app);
    let response = browser
        .authorize(&format!("response_type=token&client_id={}&state=st-1", client.id))
        .await;
    assert_error_redirect(&response, "unsupported_response_type");
}

#[tokio::test]
async fn other_errors_go_back_to_the_client_with_state_and_iss() {
    // RFC 6749 §4.1.2.1 and OIDC Core §3.1.2.6, RFC 9207 §2 (`iss` on every response).
    let app = TestApp::spawn().await;
    let client = app.web_client(WebClient::default()).await;
    let public = app
        .web_client(WebClient {
            public: true,
            ..WebClient::default()
        })
        .await;
    let browser = Browser::new(&app);
    let base = |client_id: &str| {
        format!(
            "client_id={client_id}&redirect_uri={}&state=st-1",
            enc(REDIRECT_URI)
        )
    };
    let pkce = format!("code_challenge={CHALLENGE}&code_challenge_method=S256");
    let cases = [
        (format!("{}&scope=openid", base(&client.id)), "invalid_request"),
        (
            format!("response_type=token&{}&scope=openid", base(&client.id)),
            "unsupported_response_type",
        ),
        (
            format!("response_type=code%20id_token&{}&scope=openid", base(&client.id)),
            "unsupported_response_type",
        ),
        (
            format!(
                "response_type=code&{}&scope=openid%20admin&{pkce}",
                base(&client.id)
            ),
            "invalid_scope",
        ),
        (
            format!(
                "response_type=code&{}&scope=openid&request=eyJ&{pkce}",
                base(&client.id)
            ),
            "request_not_supported",
        ),
        (
            format!(
                "response_type=code&{}&scope=openid&request_uri=https%3A%2F%2Fx&{pkce}",
                base(&client.id)
            ),
            "request_uri_not_supported",
        ),
        // RFC 7636 §4.3 and RFC 9700 §2.1.1: S256 only; plain is refused.
        (
            format!(
                "response_type=code&{}&scope=openid&code_challenge={CHALLENGE}&code_challenge_method=plain",
                base(&client.id)
            ),
            "invalid_request",
        ),
        (
            format!(
                "response_type=code&{}&scope=openid&code_challenge={CHALLENGE}",
                base(&client.id)
            ),
            "invalid_request",
        ),
        (
            format!(
                "response_type=code&{}&scope=openid&code_challenge_method=S256",
                base(&client.id)
            ),
            "invalid_request",
        ),
        // RFC 9700 §2.1.1: public clients MUST use PKCE.
        (
            format!("response_type=code&{}&scope=openid", base(&public.id)),
            "invalid_request",
        ),
        // OIDC Core §3.1.2.1: none with any other prompt value is an error.
        (
            format!(
                "response_type=code&{}&scope=openid&prompt=none%20login&{pkce}",
                base(&client.id)
            ),
            "invalid_request",
        ),
        (
            format!(
                "response_type=code&{}&scope=openid&max_age=-1&{pkce}",
                base(&client.id)
            ),
            "invalid_request",
        ),
        (
            format!(
                "response_type=code&{}&scope=openid&response_mode=fragment&{pkce}",
                base(&client.id)
            ),
            "invalid_request",
        ),
    ];
    for (query, error) in cases {
        let response = browser.authorize(&query).await;
        assert_error_redirect(&response, error);
    }
}

#[tokio::test]
async fn a_client_not_registered_for_the_code_flow_is_unauthorized() {
    let app = TestApp::spawn().await;
    let spec = ClientSpec {
        name: "password only".into(),
        grant_types: vec!["password".into()],
        scopes: vec!["openid".into()],
        redirect_uris: vec![REDIRECT_URI.into()],
        ..ClientSpec::default()
    };
    let (client, _) = register(&app.state.db, spec, app.clock.now()).await.unwrap();
    let response = Browser::new(&app)
        .authorize(&format!(
            "response_type=code&client_id={}&redirect_uri={}&scope=openid&state=st-1",
            client.id,
            enc(REDIRECT_URI)
        ))
        .await;
    assert_error_redirect(&response, "unauthorized_client");
}

#[tokio::test]
async fn an_oversized_state_is_refused_not_echoed() {
    let app = TestApp::spawn().await;
    let client = app.web_client(WebClient::default()).await;
    let state = "s".repeat(5000);
    let query = format!(
        "response_type=code&client_id={}&redirect_uri={}&scope=openid&state={state}&code_challenge={CHALLENGE}&code_challenge_method=S256",
        client.id,
        enc(REDIRECT_URI)
    );
    let response = Browser::new(&app).authorize(&query).await;
    assert_eq!(response.status, 302);
    assert_eq!(
        response_param(&response, "error").as_deref(),
        Some("invalid_request")
    );
    assert!(response_param(&response, "state").is_none());
    assert!(response.header("location").unwrap().len() < 500);
}

#[tokio::test]
async fn malformed_requests_get_a_page() {
    // RFC 6749 §3.1: parameters MUST NOT be repeated; before the client is known nothing is
    // redirected.
    let app = TestApp::spawn().await;
    let client = app.web_client(WebClient::default()).await;
    let browser = Browser::new(&app);
    let repeated = format!("client_id={0}&client_id={0}&response_type=code", client.id);
    assert_error_page(&browser.authorize(&repeated).await, 400);
    assert_error_page(&browser.authorize("client_id=%FF%FE").await, 400);
    assert_error_page(
        &browser
            .authorize(&format!("client_id={}", "x".repeat(5000)))
            .await,
        400,
    );
}

#[tokio::test]
async fn form_post_answers_with_a_self_submitting_form() {
    // OAuth 2.0 Form Post Response Mode §2: an HTML form POSTed to the redirect URI.
    let app = TestApp::spawn().await;
    app.user(EMAIL, PASSWORD).await;
    let client = app.web_client(WebClient::default()).await;
    let browser = Browser::new(&app);
    let response = browser
        .sign_in(&app.authorization_query(&client, "response_mode=form_post"))
        .await;
    assert_eq!(response.status, 200);
    let html = response.text();
    assert!(
        html.contains(&format!("<form method=\"post\" action=\"{REDIRECT_URI}\">")),
        "{html}"
    );
    assert!(crate::web::hidden(&html, "code").is_some_and(|c| c.len() == 43));
    assert_eq!(crate::web::hidden(&html, "state").as_deref(), Some("st-1"));
    assert_eq!(
        crate::web::hidden(&html, "iss").as_deref(),
        Some("https://id.test")
    );
    // The one script allowed is the one that submits, by its hash; no framing.
    let csp = response.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'sha256-"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(html.contains("<script>document.forms[0].submit()</script>"));
    // An error in form_post mode is posted the same way.
    let refused = browser
        .authorize(&format!(
            "response_type=code&client_id={}&redirect_uri={}&scope=openid%20admin&state=st-1&response_mode=form_post",
            client.id,
            enc(REDIRECT_URI)
        ))
        .await;
    assert_eq!(refused.status, 200);
    assert_eq!(
        crate::web::hidden(&refused.text(), "error").as_deref(),
        Some("invalid_scope")
    );
    assert_eq!(
        crate::web::hidden(&refused.text(), "state").as_deref(),
        Some("st-1")
    );
}

#[tokio::test]
async fn post_requests_work_like_get() {
    // OIDC Core §3.1.2.1: the authorization endpoint MUST support GET and POST.
    let app = TestApp::spawn().await;
    let client = app.web_client(WebClient::default()).await;
    let browser = Browser::new(&app);
    let query = app.authorization_query(&client, "");
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect();
    let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let page = browser.post("/oauth/authorize", &fields).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("name=\"password\""));
    assert!(page.text().contains("Test App"));
}
