//! Sign-in sessions (single sign-on), the sign-in and consent pages, and their protections:
//! cookies, CSRF, headers, brute-force lockout.

use std::time::Duration;

use crate::helpers::{TestApp, claims};
use crate::web::{Browser, EMAIL, PASSWORD, WebClient, hidden, response_param};

const SESSION_COOKIE: &str = "__Host-kw_session";

#[tokio::test]
async fn cookies_are_host_only_secure_httponly_and_lax_on_https() {
    let app = TestApp::spawn().await;
    app.user(EMAIL, PASSWORD).await;
    let client = app.web_client(WebClient::default()).await;
    let browser = Browser::new(&app);
    let page = browser.authorize(&app.authorization_query(&client, "")).await;
    let signed_in = browser.login(&page, EMAIL, PASSWORD).await;
    let set: Vec<String> = page
        .headers
        .get_all("set-cookie")
        .iter()
        .chain(signed_in.headers.get_all("set-cookie"))
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(set.len(), 2, "{set:?}");
    for cookie in &set {
        assert!(cookie.starts_with("__Host-"), "{cookie}");
        for flag in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
            assert!(cookie.contains(flag), "{cookie} lacks {flag}");
        }
        assert!(!cookie.contains("Domain"), "{cookie}");
    }
    // The session cookie holds an opaque secret; only its SHA-256 is stored.
    let secret = browser.cookie(SESSION_COOKIE).unwrap();
    assert_eq!(secret.len(), 43);
    let stored: Vec<String> = sqlx::query_scalar("select secret_hash from signin_sessions")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        stored,
        [keyward::crypto::token::TokenHash::of(&secret).as_str().to_owned()]
    );
}

#[tokio::test]
async fn on_plain_http_cookies_lose_the_prefix_and_secure() {
    let app = TestApp::with_config(|c| c.issuer = "http://localhost:8080".into()).await;
    let page = Browser::new(&app).get("/login").await;
    let cookie = page.header("set-cookie").unwrap();
    assert!(cookie.starts_with("kw_csrf="), "{cookie}");
    assert!(!cookie.contains("Secure"));
    assert!(page.header("strict-transport-security").is_none());
}

#[tokio::test]
async fn pages_forbid_framing_sniffing_referrers_and_caching() {
    let app = TestApp::spawn().await;
    let browser = Browser::new(&app);
    for path in ["/login", "/forgot-password", "/oauth/authorize?client_id=x"] {
        let page = browser.get(path).await;
        let csp = page.header("content-security-policy").unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert_eq!(page.header("x-frame-options"), Some("DENY"));
        assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(page.header("cache-control"), Some("no-store"));
        assert!(
            page.header("strict-transport-security")
                .unwrap()
                .contains("max-age=")
        );
        let html = page.text();
        assert!(html.contains("<html lang=\"en\">"), "{path}");
        assert!(html.contains("href=\"/assets/keyward.css\""));
    }
    let css = browser.get("/assets/keyward.css").await;
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
}

#[tokio::test]
async fn every_form_needs_its_csrf_token() {
    let app = TestApp::spawn().await;
    app.user(EMAIL, PASSWORD).await;
    let browser = Browser::new(&app);
    let page = browser.get("/login").await;
    let csrf = hidden(&page.text(), "csrf").unwrap();
    for (path, fields) in [
        ("/login", vec![("email", EMAIL), ("password", PASSWORD)]),
        ("/consent", vec![("decision", "allow")]),
        ("/forgot-password", vec![("email", EMAIL)]),
        ("/reset-password", vec![("token", "x"), ("password", PASSWORD)]),
        ("/verify-email", vec![("token", "x")]),
        ("/oauth/logout", vec![("confirm", "yes"), ("csrf", "wrong")]),
    ] {
        let refused = browser.post(path, &fields).await;
        assert_eq!(refused.status, 403, "{path}: {}", refused.text());
        assert!(refused.text().contains("expired"));
    }
    let wrong = browser
        .post(
            "/login",
            &[
                ("csrf", &"x".repeat(43)),
                ("email", EMAIL),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(wrong.status, 403);
    // A token from another browser does not match this browser's cookie.
    let other = Browser::new(&app);
    let foreign = other
        .post(
            "/login",
            &[("csrf", &csrf), ("email", EMAIL), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(foreign.status, 403);
    assert!(other.cookie(SESSION_COOKIE).is_none());
}

#[tokio::test]
async fn a_second_request_in_the_same_browser_gets_a_code_without_the_password() {
    let app = TestApp::spawn().await;
    app.user(EMAIL, PASSWORD).await;
    let client = app.web_client(WebClient::default()).await;
    let browser = Browser::new(&app);
    browser.code(&app.authorization_query(&client, "")).await;
    // Signed in and consented: straight back to the client.
    let again = browser.authorize(&app.authorization_query(&client, "")).await;
    assert_eq!(again.status, 302, "{}", again.text());
    assert!(response_param(&again, "code").is_some());
    // Another browser has no session.
    let elsewhere = Browser::new(&app)
        .authorize(&app.authorization_query(&client, ""))
        .await;
    assert!(elsewhere.text().contains("name=\"password\""));
}

#[tokio::test]
async fn prompt_login_and_max_age_ask_for_the_password_again() {
    // OIDC Core §3.1.2.1: prompt=login "SHOULD prompt the End-User for reauthentication";
    // max_age: past it the OP "MUST attempt to actively re-authenticate".
    let app = TestApp::spawn().await;
    app.user(EMAIL, PASSWORD).await;
    let client = app.web_client(WebClient::default()).await;
    let browser = Browser::new(&app);
    let first = browser.code(&app.authorization_query(&client, "")).await;
    let first_auth_time = claims(
        app.exchange_code(&client, &first).await.ok()["id_token"]
            .as_str()
            .unwrap(),
    )["auth_time"]
        .as_i64()
        .unwrap();
    let login = browser
        .authorize(&app.authorization_query(&client, "prompt=login"))
        .await;
    assert_eq!(login.status, 200);
    // The signed-in user's address is filled in.
    assert!(login.text().contains(&format!("value=\"{EMAIL}\"")));
    app.clock.advance(Duration::from_secs(120));
    let within = browser
        .authorize(&app.authorization_query(&client, "max_age=300"))
        .await;
    assert_eq!(within.status, 302);
    let beyond = browser
        .authorize(&app.authorization_query(&client, "max_age=60"))
        .await;
    assert!(beyond.text().contains("name=\"password\""));
    let back = browser.login(&beyond, EMAIL, PASSWORD).await;
    let code = response_param(&back, "code").expect("a code after signing in again");
    let id = claims(
        app.exchange_code(&client, &code).await.ok()["id_token"]
            .as_str()
            .unwrap(),
    );
    // auth_time is the new sign-in.
    assert_eq!(id["auth_time"].as_i64().unwrap(), first_auth_time + 120);
    // max_age=0 always asks.
    let zero = browser
        .authorize(&app.authorization_query(&client, "max_age=0"))
        .await;
    assert!(zero.text().contains("name=\"password\""));
}

#[tokio::test]
async fn prompt_none_answers_login_required_or_consent_required() {
    // OIDC Core §3.1.2.6.
    let app = TestApp::spawn().await;
    app.user(EMAIL, PASSWORD).await;
    let client = app.web_client(WebClient::default()).await;
    let browser = Browser::new(&app);
    let none = browser
        .authorize(&app.authorization_query(&client, "prompt=none"))
        .await;
    assert_eq!(response_param(&none, "error").as_deref(), Some("login_required"));
    assert_eq!(response_param(&none, "state").as_deref(), Some("st-1"));
    // Signed in (through another client's flow) but not consented to this one.
    let other = app.web_client(WebClient::default()).await;
    browser.code(&app.authorization_query(&other, "")).await;
    let consent = browser
        .authorize(&app.authorization_query(&client, "prompt=none"))
        .await;
    assert_eq!(
        response_param(&consent, "error").as_deref(),
        Some("consent_required")
    );
    browser.code(&app.authorization_query(&client, "")).await;
    let silent = browser
        .authorize(&app.authorization_query(&client, "prompt=none"))
        .await;
    assert!(response_param(&silent, "code").is_some());
}

#[tokio::test]
async fn consent_is_remembered_per_user_client_and_scope() {
    let app = TestApp::spawn().await;
    app.user(EMAIL, PASSWORD).await;
    let client = app.web_client(WebClient::default()).await;
    let browser = Browser::new(&app);
    let page = browser.authorize(&app.authorization_query(&client, "")).await;
    let consent = browser.login(&page, EMAIL, PASSWORD).await;
    let html = consent.text();
    assert!(html.contains("Allow Test App to use your account?"), "{html}");
    assert!(html.contains("See your email address"));
    assert!(html.contains("Stay signed in"));
    browser.consent(&consent, "allow").await;
    // The same scope: no page. More scope: asked again. prompt=consent: asked again.
    let same = browser.authorize(&app.authorization_query(&client, "")).await;
    assert_eq!(same.status, 302);
    let wider = app
        .authorization_query(&client, "")
        .replace("scope=openid%20email%20offline_access", "scope=openid%20profile");
    let asked = browser.authorize(&wider).await;
    assert!(asked.text().contains("See your name"), "{}", asked.text());
    let forced = browser
        .authorize(&app.authorization_query(&client, "prompt=consent"))
        .await;
    assert!(forced.text().contains("value=\"allow\""));
}

#[tokio::test]
async fn deny_answers_access_denied() {
    let app = TestApp::spawn().await;
    app.user(EMAIL, PASSWORD).await;
    let client = app.web_client(WebClient::default()).await;
    let browser = Browser::new(&app);
    let page = browser.authorize(&app.authorization_query(&client, "")).await;
    let consent = browser.login(&page, EMAIL, PASSWORD).await;
    let denied = browser.consent(&consent, "deny").await;
    assert_eq!(denied.status, 303);
    assert_eq!(response_param(&denied, "error").as_deref(), Some("access_denied"));
    assert_eq!(response_param(&denied, "state").as_deref(), Some("st-1"));
    assert_eq!(response_param(&denied, "iss").as_deref(), Some("https://id.test"));
    // Nothing was remembered.
    let again = browser.authorize(&app.authorization_query(&client, "")).await;
    assert!(again.text().contains("value=\"allow\""));
}

#[tokio::test]
async fn first_party_clients_skip_consent() {
    let app = TestApp::spawn().await;
    app.user(EMAIL, PASSWORD).await;
    let client = app
        .web_client(WebClient {
            first_party: true,
            ..WebClient::default()
        })
        .await;
    let browser = Browser::new(&app);
    let page = browser.authorize(&app.authorization_query(&client, "")).await;
    let back = browser.login(&page, EMAIL, PASSWORD).await;
    assert_eq!(back.status, 303, "{}", back.text());
    assert!(response_param(&back, "code").is_some());
}

#[tokio::test]
async fn a_failed_sign_in_never_says_whether_the_account_exists() {
    let app = TestApp::spawn().await;
    app.user(EMAIL, PASSWORD).await;
    let browser = Browser::new(&app);
    let page = browser.get("/login").await;
    let wrong = browser.login(&page, EMAIL, "not the password").await;
    let unknown = browser
        .login(&page, "nobody@example.com", "not the password")
        .await;
    assert_eq!(wrong.status, 400);
    assert_eq!(unknown.status, 400);
    let message = |r: &crate::helpers::TestResponse| {
        let html = r.text();
        let start = html.find("role=\"alert\">").unwrap();
        html[start..start + 60].to_owned()
    };
    assert_eq!(message(&wrong), message(&unknown));
    assert!(message(&wrong).contains("The email address or password is wrong"));
    // The address typed stays in the form.
    assert!(wrong.text().contains(&format!("value=\"{EMAIL}\"")));
}

#[tokio::test]
async fn the_page_shares_the_password_grants_lockout_and_says_when_to_retry() {
    // One brute-force counter for every way of signing in.
    let app = TestApp::with_config(|c| c.login_max_failures = 3).await;
    app.user(EMAIL, PASSWORD).await;
    let browser = Browser::new(&app);
    let page = browser.get("/login").await;
    for _ in 0..2 {
        assert_eq!(browser.login(&page, EMAIL, "wrong").await.status, 400);
    }
    // The third failure, through the password grant, locks the account for the page too.
    let password_client = app.client(&["password"], "openid").await;
    app.password_grant(&password_client, EMAIL, "wrong", None).await;
    let locked = browser.login(&page, EMAIL, PASSWORD).await;
    assert_eq!(locked.status, 429);
    assert_eq!(locked.header("retry-after"), Some("30"));
    assert!(
        locked.text().contains("Try again in 30 seconds"),
        "{}",
        locked.text()
    );
    app.clock.advance(Duration::from_secs(31));
    assert_eq!(browser.login(&page, EMAIL, PASSWORD).await.status, 200);
}

#[tokio::test]
async fn the_session_ends_when_idle_or_too_old() {
    let app = TestApp::with_config(|c| {
        c.session_idle_ttl = Duration::from_secs(3600);
        c.session_absolute_ttl = Duration::from_secs(4 * 3600);
    })
    .await;
    app.user(EMAIL, PASSWORD).await;
    let client = app.web_client(WebClient::default()).await;
    let browser = Browser::new(&app);
    browser.code(&app.authorization_query(&client, "")).await;
    // Used every 50 minutes, the session stays...
    for _ in 0..4 {
        app.clock.advance(Duration::from_secs(50 * 60));
        let used = browser.authorize(&app.authorization_query(&client, "")).await;
        assert_eq!(used.status, 302, "{}", used.text());
    }
    // ...until its absolute lifetime ends.
    app.clock.advance(Duration::from_secs(50 * 60));
    let expired = browser.authorize(&app.authorization_query(&client, "")).await;
    assert!(expired.text().contains("name=\"password\""));
    // Idle for longer than the idle lifetime: the password again.
    browser.code(&app.authorization_query(&client, "")).await;
    app.clock.advance(Duration::from_secs(3601));
    let idle = browser.authorize(&app.authorization_query(&client, "")).await;
    assert!(idle.text().contains("name=\"password\""));
}

#[tokio::test]
async fn a_password_change_ends_the_browser_sessions() {
    let app = TestApp::spawn().await;
    app.user(EMAIL, PASSWORD).await;
    let client = app.web_client(WebClient::default()).await;
    let browser = Browser::new(&app);
    let code = browser.code(&app.authorization_query(&client, "")).await;
    let access = app.exchange_code(&client, &code).await.str("access_token");
    app.api(
        "PUT",
        "/api/v1/users/me/password",
        Some(&access),
        Some(serde_json::json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"})),
    )
    .await
    .expect(204);
    let again = browser.authorize(&app.authorization_query(&client, "")).await;
    assert!(again.text().contains("name=\"password\""));
}

#[tokio::test]
async fn another_user_signing_in_replaces_the_browser_session() {
    let app = TestApp::spawn().await;
    app.user(EMAIL, PASSWORD).await;
    app.user("bob@example.com", PASSWORD).await;
    let client = app
        .web_client(WebClient {
            first_party: true,
            ..WebClient::default()
        })
        .await;
    let introspector = app.client(&["client_credentials"], "").await;
    let browser = Browser::new(&app);
    let code = browser.code(&app.authorization_query(&client, "")).await;
    let ada = app.exchange_code(&client, &code).await.str("access_token");
    let page = browser
        .authorize(&app.authorization_query(&client, "prompt=login"))
        .await;
    let back = browser.login(&page, "bob@example.com", PASSWORD).await;
    let bob_code = response_param(&back, "code").unwrap();
    let bob = claims(&app.exchange_code(&client, &bob_code).await.str("id_token"));
    assert_eq!(bob["email"], "bob@example.com");
    // Ada's session on this browser ended with its tokens.
    assert_eq!(app.introspect(&introspector, &ada).await["active"], false);
}

#[tokio::test]
async fn the_site_name_is_on_every_page() {
    let app = TestApp::with_config(|c| c.site_name = "Example <Corp>".into()).await;
    let browser = Browser::new(&app);
    for path in ["/login", "/forgot-password", "/oauth/authorize", "/oauth/logout"] {
        let page = browser.get(path).await;
        // Escaped, as everything a page shows.
        assert!(
            page.text().contains("Example &#60;Corp&#62;"),
            "{path}: {}",
            page.text()
        );
    }
}
