//! OpenID Connect RP-Initiated Logout 1.0: the end-session endpoint ends the sign-in session and
//! every session started through it, and returns only to registered addresses.

use crate::helpers::{TestApp, TestClient, enc};
use crate::web::{Browser, EMAIL, PASSWORD, POST_LOGOUT_URI, WebClient, hidden};

/// Signs in through the browser and returns the token response.
async fn tokens(app: &TestApp, browser: &Browser<'_>, client: &TestClient) -> serde_json::Value {
    let code = browser.code(&app.authorization_query(client, "")).await;
    app.exchange_code(client, &code).await.ok()
}

#[tokio::test]
async fn logout_with_an_id_token_hint_ends_every_session_of_the_sign_in() {
    let app = TestApp::spawn().await;
    app.user(EMAIL, PASSWORD).await;
    let client = app.web_client(WebClient::default()).await;
    let second = app.web_client(WebClient::default()).await;
    let introspector = app.client(&["client_credentials"], "").await;
    let browser = Browser::new(&app);
    let first_tokens = tokens(&app, &browser, &client).await;
    let second_tokens = tokens(&app, &browser, &second).await;
    let query = format!(
        "id_token_hint={}&post_logout_redirect_uri={}&state=bye-1",
        first_tokens["id_token"].as_str().unwrap(),
        enc(POST_LOGOUT_URI)
    );
    let response = browser.get(&format!("/oauth/logout?{query}")).await;
    // §3: back to the registered address, with state.
    assert_eq!(response.status, 302, "{}", response.text());
    assert_eq!(
        response.header("location"),
        Some(format!("{POST_LOGOUT_URI}?state=bye-1").as_str())
    );
    assert!(
        browser.cookie("__Host-kw_session").is_none(),
        "the cookie is removed"
    );
    // Both clients' sessions ended with the sign-in: access tokens inactive at once, refresh
    // tokens refused.
    for tokens in [&first_tokens, &second_tokens] {
        assert_eq!(
            app.introspect(&introspector, tokens["access_token"].as_str().unwrap())
                .await,
            serde_json::json!({"active": false})
        );
    }
    app.code_request(
        &second,
        &format!(
            "grant_type=refresh_token&refresh_token={}",
            enc(second_tokens["refresh_token"].as_str().unwrap())
        ),
    )
    .await
    .assert_oauth_error(400, "invalid_grant");
    // The next authorization asks for the password.
    let again = browser.authorize(&app.authorization_query(&client, "")).await;
    assert!(again.text().contains("name=\"password\""));
}

#[tokio::test]
async fn a_hint_ends_its_session_even_from_a_browser_without_the_cookie() {
    // An RP that POSTs the logout cross-site sends no SameSite=Lax cookie: the hint suffices.
    let app = TestApp::spawn().await;
    app.user(EMAIL, PASSWORD).await;
    let client = app.web_client(WebClient::default()).await;
    let introspector = app.client(&["client_credentials"], "").await;
    let browser = Browser::new(&app);
    let tokens = tokens(&app, &browser, &client).await;
    let elsewhere = Browser::new(&app);
    let response = elsewhere
        .post(
            "/oauth/logout",
            &[("id_token_hint", tokens["id_token"].as_str().unwrap())],
        )
        .await;
    assert_eq!(response.status, 200);
    assert!(response.text().contains("signed out"), "{}", response.text());
    assert_eq!(
        app.introspect(&introspector, tokens["access_token"].as_str().unwrap())
            .await["active"],
        false
    );
    // And the browser that held the session is signed out too.
    let again = browser.authorize(&app.authorization_query(&client, "")).await;
    assert!(again.text().contains("name=\"password\""));
}

#[tokio::test]
async fn only_registered_post_logout_addresses_are_redirected_to() {
    let app = TestApp::spawn().await;
    app.user(EMAIL, PASSWORD).await;
    let client = app.web_client(WebClient::default()).await;
    let browser = Browser::new(&app);
    let tokens = tokens(&app, &browser, &client).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    for query in [
        format!(
            "id_token_hint={id_token}&post_logout_redirect_uri={}",
            enc("https://evil.test/")
        ),
        format!(
            "id_token_hint={id_token}&post_logout_redirect_uri={}",
            enc("https://app.test/signed-out/")
        ),
        // Without a hint or client_id, no address can be checked.
        format!("post_logout_redirect_uri={}", enc(POST_LOGOUT_URI)),
        format!("id_token_hint={id_token}&client_id=someone-else"),
        "id_token_hint=not.a.token".to_owned(),
    ] {
        let response = browser.get(&format!("/oauth/logout?{query}")).await;
        assert_eq!(response.status, 400, "{query}");
        assert!(response.header("location").is_none());
        assert!(!response.text().contains("evil"));
    }
    // None of that signed the browser out.
    let still = browser.authorize(&app.authorization_query(&client, "")).await;
    assert_eq!(still.status, 302);
}

#[tokio::test]
async fn without_a_hint_the_user_confirms() {
    // §2: the OP SHOULD ask the End-User whether to log out.
    let app = TestApp::spawn().await;
    app.user(EMAIL, PASSWORD).await;
    let client = app.web_client(WebClient::default()).await;
    let browser = Browser::new(&app);
    tokens(&app, &browser, &client).await;
    let query = format!(
        "client_id={}&post_logout_redirect_uri={}&state=s2",
        client.id,
        enc(POST_LOGOUT_URI)
    );
    let page = browser.get(&format!("/oauth/logout?{query}")).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("Sign out?"));
    assert!(html.contains(EMAIL));
    let csrf = hidden(&html, "csrf").unwrap();
    let fields = |confirm: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("client_id", client.id.clone()),
            ("post_logout_redirect_uri", POST_LOGOUT_URI.to_owned()),
            ("state", "s2".to_owned()),
            ("confirm", confirm.to_owned()),
        ]
    };
    let stay: Vec<(String, String)> = fields("no").into_iter().map(|(n, v)| (n.to_owned(), v)).collect();
    let stay: Vec<(&str, &str)> = stay.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let kept = browser.post("/oauth/logout", &stay).await;
    assert_eq!(kept.status, 303);
    assert_eq!(
        browser
            .authorize(&app.authorization_query(&client, ""))
            .await
            .status,
        302
    );
    let go: Vec<(String, String)> = fields("yes")
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v))
        .collect();
    let go: Vec<(&str, &str)> = go.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let out = browser.post("/oauth/logout", &go).await;
    assert_eq!(out.status, 303);
    assert_eq!(
        out.header("location"),
        Some(format!("{POST_LOGOUT_URI}?state=s2").as_str())
    );
    let again = browser.authorize(&app.authorization_query(&client, "")).await;
    assert!(again.text().contains("name=\"password\""));
}

#[tokio::test]
async fn an_expired_id_token_still_names_the_session() {
    // §2: the OP need not reject an expired ID token used as a hint.
    let app = TestApp::spawn().await;
    app.user(EMAIL, PASSWORD).await;
    let client = app.web_client(WebClient::default()).await;
    let browser = Browser::new(&app);
    let tokens = tokens(&app, &browser, &client).await;
    app.clock.advance(std::time::Duration::from_secs(3600));
    let response = browser
        .get(&format!(
            "/oauth/logout?id_token_hint={}",
            tokens["id_token"].as_str().unwrap()
        ))
        .await;
    assert_eq!(response.status, 200);
    assert!(response.text().contains("signed out"));
}
