//! Password reset: the same answer for every address, a single-use hashed link that works for
//! an hour, throttling, and a reset that ends every session. The pages and the JSON API.

use std::time::Duration;

use crate::helpers::{TestApp, enc};
use crate::web::{Browser, EMAIL, PASSWORD, WebClient, hidden};

const NEW_PASSWORD: &str = "a brand new passphrase";

impl TestApp {
    /// The password-reset token of the first mail to `email` whose token is not in `seen`. The
    /// mail goes out in the background, so this waits (boundedly) for the file, not for any
    /// expiry.
    pub async fn reset_token_besides(&self, email: &str, seen: &[&str]) -> String {
        for _ in 0..500 {
            let tokens = self
                .outbox()
                .into_iter()
                .filter(|m| m.contains(&format!("To: {email}")))
                .filter_map(|mail| {
                    let start = mail.find("reset-password?token=")? + "reset-password?token=".len();
                    Some(
                        mail[start..]
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                            .collect::<String>(),
                    )
                });
            if let Some(token) = tokens.into_iter().find(|t| !seen.contains(&t.as_str())) {
                return token;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no new reset mail to {email}");
    }

    /// The first password-reset token mailed to `email`.
    pub async fn reset_token(&self, email: &str) -> String {
        self.reset_token_besides(email, &[]).await
    }

    async fn ask_reset(&self, email: &str) -> crate::helpers::TestResponse {
        self.api(
            "POST",
            "/api/v1/password-reset",
            None,
            Some(serde_json::json!({ "email": email })),
        )
        .await
    }

    async fn complete_reset(&self, token: &str, password: &str) -> crate::helpers::TestResponse {
        self.api(
            "POST",
            "/api/v1/password-reset/complete",
            None,
            Some(serde_json::json!({ "token": token, "new_password": password })),
        )
        .await
    }
}

#[tokio::test]
async fn the_answer_is_the_same_whether_or_not_the_address_has_an_account() {
    let app = TestApp::spawn().await;
    app.user(EMAIL, PASSWORD).await;
    let known = app.ask_reset(EMAIL).await;
    let unknown = app.ask_reset("nobody@example.com").await;
    assert_eq!(known.status, 202);
    assert_eq!(unknown.status, 202);
    assert_eq!(known.body, unknown.body);
    let token = app.reset_token(EMAIL).await;
    assert_eq!(token.len(), 43);
    assert!(app.outbox().iter().all(|m| !m.contains("To: nobody@example.com")));
    // Only the hash is stored.
    let stored: Vec<String> = sqlx::query_scalar("select hash from password_resets")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        stored,
        [keyward::crypto::token::TokenHash::of(&token).as_str().to_owned()]
    );
    app.ask_reset("not an address")
        .await
        .assert_api_error(400, "invalid_request");
}

#[tokio::test]
async fn a_reset_sets_the_password_and_ends_every_session() {
    let app = TestApp::spawn().await;
    app.user(EMAIL, PASSWORD).await;
    let password_client = app.full_client().await;
    let web = app.web_client(WebClient::default()).await;
    let introspector = app.client(&["client_credentials"], "").await;
    let api_tokens = app.login(&password_client, EMAIL, PASSWORD).await;
    let browser = Browser::new(&app);
    let code = browser.code(&app.authorization_query(&web, "")).await;
    let web_tokens = app.exchange_code(&web, &code).await.ok();

    app.ask_reset(EMAIL).await.expect(202);
    let token = app.reset_token(EMAIL).await;
    app.complete_reset(&token, NEW_PASSWORD).await.expect(204);
    // Every session ended: tokens inactive, refresh refused, the browser asked to sign in.
    for tokens in [&api_tokens, &web_tokens] {
        assert_eq!(
            app.introspect(&introspector, tokens["access_token"].as_str().unwrap())
                .await["active"],
            false
        );
    }
    app.refresh(&password_client, api_tokens["refresh_token"].as_str().unwrap())
        .await
        .assert_oauth_error(400, "invalid_grant");
    let again = browser.authorize(&app.authorization_query(&web, "")).await;
    assert!(again.text().contains("name=\"password\""));
    // The new password works, the old one does not; the link proved the address.
    app.password_grant(&password_client, EMAIL, PASSWORD, None)
        .await
        .assert_oauth_error(400, "invalid_grant");
    let fresh = app.login(&password_client, EMAIL, NEW_PASSWORD).await;
    let me = app
        .api("GET", "/api/v1/users/me", fresh["access_token"].as_str(), None)
        .await
        .ok();
    assert_eq!(me["email_verified"], true);
    // Single use.
    app.complete_reset(&token, "yet another passphrase")
        .await
        .assert_api_error(400, "invalid_request");
}

#[tokio::test]
async fn the_link_works_for_an_hour_and_a_newer_one_voids_it() {
    let app = TestApp::spawn().await;
    app.user(EMAIL, PASSWORD).await;
    app.ask_reset(EMAIL).await.expect(202);
    let first = app.reset_token(EMAIL).await;
    app.clock.advance(Duration::from_secs(3601));
    app.complete_reset(&first, NEW_PASSWORD)
        .await
        .assert_api_error(400, "invalid_request");
    app.ask_reset(EMAIL).await.expect(202);
    let second = app.reset_token_besides(EMAIL, &[&first]).await;
    app.ask_reset(EMAIL).await.expect(202);
    let third = app.reset_token_besides(EMAIL, &[&first, &second]).await;
    app.complete_reset(&second, NEW_PASSWORD)
        .await
        .assert_api_error(400, "invalid_request");
    app.complete_reset(&third, NEW_PASSWORD).await.expect(204);
}

#[tokio::test]
async fn a_refused_password_leaves_the_link_working() {
    let app = TestApp::spawn().await;
    app.user(EMAIL, PASSWORD).await;
    app.ask_reset(EMAIL).await.expect(202);
    let token = app.reset_token(EMAIL).await;
    let refused = app.complete_reset(&token, "password123").await;
    refused.assert_api_error(400, "invalid_request");
    assert!(
        refused.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("common")
    );
    app.complete_reset(&token, NEW_PASSWORD).await.expect(204);
}

#[tokio::test]
async fn requests_are_throttled_per_address_and_per_client() {
    let app = TestApp::spawn().await;
    app.user(EMAIL, PASSWORD).await;
    for _ in 0..3 {
        app.ask_reset(EMAIL).await.expect(202);
    }
    let limited = app.ask_reset(EMAIL).await;
    limited.assert_api_error(429, "too_many_attempts");
    assert_eq!(limited.header("retry-after"), Some("3600"));
    // Unknown addresses are counted the same way, so the limit reveals nothing.
    for _ in 0..3 {
        app.ask_reset("nobody@example.com").await.expect(202);
    }
    app.ask_reset("nobody@example.com")
        .await
        .assert_api_error(429, "too_many_attempts");
    // After a quiet hour the address may ask again.
    app.clock.advance(Duration::from_secs(3601));
    app.ask_reset(EMAIL).await.expect(202);
    // One client asking for many addresses is limited too.
    let mut statuses = Vec::new();
    for i in 0..20 {
        statuses.push(
            app.ask_reset(&format!("user{i}@example.com"))
                .await
                .status
                .as_u16(),
        );
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[tokio::test]
async fn the_pages_walk_through_the_reset() {
    let app = TestApp::spawn().await;
    app.user(EMAIL, PASSWORD).await;
    let browser = Browser::new(&app);
    let form = browser.get("/forgot-password").await;
    let csrf = hidden(&form.text(), "csrf").unwrap();
    let sent = browser
        .post("/forgot-password", &[("csrf", &csrf), ("email", EMAIL)])
        .await;
    assert_eq!(sent.status, 200);
    assert!(sent.text().contains("Check your email"));
    let unknown = browser
        .post(
            "/forgot-password",
            &[("csrf", &csrf), ("email", "nobody@example.com")],
        )
        .await;
    assert_eq!(
        sent.text().replace(EMAIL, "X"),
        unknown.text().replace("nobody@example.com", "X")
    );
    let token = app.reset_token(EMAIL).await;
    let page = browser
        .get(&format!("/reset-password?token={}", enc(&token)))
        .await;
    assert_eq!(page.status, 200);
    assert_eq!(hidden(&page.text(), "token").as_deref(), Some(token.as_str()));
    let weak = browser
        .post(
            "/reset-password",
            &[("csrf", &csrf), ("token", &token), ("password", "short")],
        )
        .await;
    assert_eq!(weak.status, 400);
    assert!(weak.text().contains("at least 8 characters"));
    let done = browser
        .post(
            "/reset-password",
            &[("csrf", &csrf), ("token", &token), ("password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert!(done.text().contains("Your password is set"));
    let dead = browser
        .get(&format!("/reset-password?token={}", enc(&token)))
        .await;
    assert_eq!(dead.status, 400);
    assert!(dead.text().contains("no longer works"));
    let login = browser.get("/login").await;
    assert_eq!(browser.login(&login, EMAIL, NEW_PASSWORD).await.status, 200);
}

#[tokio::test]
async fn the_verification_link_opens_a_page_whose_button_verifies() {
    let app = TestApp::spawn().await;
    app.api(
        "POST",
        "/api/v1/users",
        None,
        Some(serde_json::json!({"email": EMAIL, "password": PASSWORD})),
    )
    .await
    .expect(201);
    let token = app.verification_token(EMAIL);
    let browser = Browser::new(&app);
    // Opening the link alone (as a mail scanner would) verifies nothing.
    let page = browser.get(&format!("/verify-email?token={token}")).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("Verify my email address"));
    let user = keyward::store::users::find_by_email(&app.state.db, EMAIL)
        .await
        .unwrap()
        .unwrap();
    assert!(!user.email_verified);
    let csrf = hidden(&page.text(), "csrf").unwrap();
    let done = browser
        .post("/verify-email", &[("csrf", &csrf), ("token", &token)])
        .await;
    assert_eq!(done.status, 200);
    assert!(done.text().contains("verified"));
    let again = browser
        .post("/verify-email", &[("csrf", &csrf), ("token", &token)])
        .await;
    assert_eq!(again.status, 400);
}
