//! The authorization code grant (RFC 6749 §4.1.3) with PKCE (RFC 7636): single use, bound to
//! its client, redirect URI and verifier; the tokens it yields (OIDC Core §3.1.3).

use std::sync::Arc;

use crate::helpers::{TestApp, claims, enc};
use crate::web::{Browser, EMAIL, PASSWORD, REDIRECT_URI, VERIFIER, WebClient};

async fn signed_in_app() -> (TestApp, String) {
    let app = TestApp::spawn().await;
    let user = app.user(EMAIL, PASSWORD).await;
    (app, user)
}

#[tokio::test]
async fn a_code_is_exchanged_for_id_access_and_refresh_tokens() {
    let (app, user_id) = signed_in_app().await;
    let client = app.web_client(WebClient::default()).await;
    let browser = Browser::new(&app);
    let code = browser.code(&app.authorization_query(&client, "")).await;
    // §4.1.2: at least 256 random bits.
    assert_eq!(code.len(), 43);
    let tokens = app.exchange_code(&client, &code).await.ok();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "email offline_access openid");
    let access = claims(tokens["access_token"].as_str().unwrap());
    let id = claims(tokens["id_token"].as_str().unwrap());
    // OIDC Core §2, §3.1.3.6: the ID token carries the nonce, auth_time, at_hash, sid and amr.
    assert_eq!(id["sub"], user_id);
    assert_eq!(id["aud"], client.id);
    assert_eq!(id["nonce"], "n-1");
    assert_eq!(id["amr"], serde_json::json!(["pwd"]));
    assert_eq!(id["sid"], access["sid"]);
    assert_eq!(id["auth_time"], access["auth_time"]);
    assert_eq!(id["email"], EMAIL);
    assert_eq!(
        id["at_hash"],
        keyward::crypto::jwt::at_hash(tokens["access_token"].as_str().unwrap())
    );
    // offline_access gives a refresh token, which rotates; the refreshed ID token has no nonce
    // (OIDC Core §12.2) and the same auth_time.
    let refreshed = app
        .code_request(
            &client,
            &format!(
                "grant_type=refresh_token&refresh_token={}",
                enc(tokens["refresh_token"].as_str().unwrap())
            ),
        )
        .await
        .ok();
    let refreshed_id = claims(refreshed["id_token"].as_str().unwrap());
    assert!(refreshed_id.get("nonce").is_none());
    assert_eq!(refreshed_id["auth_time"], id["auth_time"]);
    assert_eq!(refreshed_id["sid"], id["sid"]);
    // Only the hash of the code is stored (SQL); Redis holds it under its hash too.
    if app.state.families.redis().is_none() {
        let stored: Vec<String> = sqlx::query_scalar("select hash from authorization_codes")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
        assert_eq!(stored.len(), 1);
        assert_ne!(stored[0], code);
        assert_eq!(stored[0], keyward::crypto::token::TokenHash::of(&code).as_str());
    }
}

#[tokio::test]
async fn a_second_use_is_invalid_grant_and_revokes_what_the_first_issued() {
    // RFC 6749 §4.1.2: the server MUST deny a code used more than once and SHOULD revoke the
    // tokens issued based on it; §10.5.
    let (app, _) = signed_in_app().await;
    let client = app.web_client(WebClient::default()).await;
    let introspector = app.client(&["client_credentials"], "").await;
    let code = Browser::new(&app)
        .code(&app.authorization_query(&client, ""))
        .await;
    let tokens = app.exchange_code(&client, &code).await.ok();
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(app.introspect(&introspector, access).await["active"], true);
    app.exchange_code(&client, &code)
        .await
        .assert_oauth_error(400, "invalid_grant");
    assert_eq!(
        app.introspect(&introspector, access).await,
        serde_json::json!({"active": false})
    );
    let refresh = tokens["refresh_token"].as_str().unwrap();
    app.code_request(
        &client,
        &format!("grant_type=refresh_token&refresh_token={}", enc(refresh)),
    )
    .await
    .assert_oauth_error(400, "invalid_grant");
}

#[tokio::test]
async fn of_concurrent_exchanges_of_one_code_exactly_one_succeeds() {
    let (app, _) = signed_in_app().await;
    let app = Arc::new(app);
    let client = app.web_client(WebClient::default()).await;
    let code = Browser::new(&app)
        .code(&app.authorization_query(&client, ""))
        .await;
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let (app, client, code) = (app.clone(), client.clone(), code.clone());
            tokio::spawn(async move { app.exchange_code(&client, &code).await.status.as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, [200, 400, 400, 400, 400, 400, 400, 400]);
}

#[tokio::test]
async fn a_code_lives_sixty_seconds() {
    let (app, _) = signed_in_app().await;
    let client = app.web_client(WebClient::default()).await;
    let code = Browser::new(&app)
        .code(&app.authorization_query(&client, ""))
        .await;
    app.clock.advance(std::time::Duration::from_secs(61));
    app.exchange_code(&client, &code)
        .await
        .assert_oauth_error(400, "invalid_grant");
}

#[tokio::test]
async fn the_code_is_bound_to_its_client_redirect_uri_and_verifier() {
    let (app, _) = signed_in_app().await;
    let client = app.web_client(WebClient::default()).await;
    let other = app.web_client(WebClient::default()).await;
    let browser = Browser::new(&app);
    let redirect = format!("&redirect_uri={}", enc(REDIRECT_URI));
    // §4.1.3: redirect_uri is required when the request had it, and must be identical.
    let code = browser.code(&app.authorization_query(&client, "")).await;
    app.code_request(
        &client,
        &format!(
            "grant_type=authorization_code&code={}&code_verifier={VERIFIER}",
            enc(&code)
        ),
    )
    .await
    .assert_oauth_error(400, "invalid_grant");
    let code = browser.code(&app.authorization_query(&client, "")).await;
    app.code_request(
        &client,
        &format!(
            "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={VERIFIER}",
            enc(&code),
            enc("https://app.test/callback/")
        ),
    )
    .await
    .assert_oauth_error(400, "invalid_grant");
    // RFC 7636 §4.6: a wrong or missing verifier is invalid_grant.
    for verifier in ["&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl", ""] {
        let code = browser.code(&app.authorization_query(&client, "")).await;
        app.code_request(
            &client,
            &format!(
                "grant_type=authorization_code&code={}{redirect}{verifier}",
                enc(&code)
            ),
        )
        .await
        .assert_oauth_error(400, "invalid_grant");
    }
    // §4.1.3: the code was issued to this client only.
    let code = browser.code(&app.authorization_query(&client, "")).await;
    app.exchange_code(&other, &code)
        .await
        .assert_oauth_error(400, "invalid_grant");
    // RFC 9700 §2.1.1: a verifier for a code issued without a challenge is refused.
    let no_pkce = format!(
        "response_type=code&client_id={}&redirect_uri={}&scope=openid&state=st-1",
        client.id,
        enc(REDIRECT_URI)
    );
    let code = browser.code(&no_pkce).await;
    app.exchange_code(&client, &code)
        .await
        .assert_oauth_error(400, "invalid_grant");
    let code = browser.code(&no_pkce).await;
    app.code_request(
        &client,
        &format!("grant_type=authorization_code&code={}{redirect}", enc(&code)),
    )
    .await
    .ok();
}

#[tokio::test]
async fn a_public_client_exchanges_with_its_id_and_the_verifier() {
    let (app, _) = signed_in_app().await;
    let client = app
        .web_client(WebClient {
            public: true,
            ..WebClient::default()
        })
        .await;
    let code = Browser::new(&app)
        .code(&app.authorization_query(&client, ""))
        .await;
    let tokens = app.exchange_code(&client, &code).await.ok();
    assert!(tokens["id_token"].is_string());
    assert!(tokens["refresh_token"].is_string());
}

#[tokio::test]
async fn without_offline_access_an_openid_request_gets_no_refresh_token() {
    // OIDC Core §11: a refresh token is what offline_access asks for.
    let (app, _) = signed_in_app().await;
    let client = app.web_client(WebClient::default()).await;
    let query = app
        .authorization_query(&client, "")
        .replace("scope=openid%20email%20offline_access", "scope=openid%20email");
    let code = Browser::new(&app).code(&query).await;
    let tokens = app.exchange_code(&client, &code).await.ok();
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    assert_eq!(tokens["scope"], "email openid");
}

#[tokio::test]
async fn a_code_of_a_disabled_account_or_ended_sign_in_is_refused() {
    let (app, user_id) = signed_in_app().await;
    let client = app.web_client(WebClient::default()).await;
    let browser = Browser::new(&app);
    let code = browser.code(&app.authorization_query(&client, "")).await;
    keyward::store::users::set_status(
        &app.state.db,
        &user_id,
        keyward::store::users::UserStatus::Disabled,
        app.clock.now(),
    )
    .await
    .unwrap();
    app.state.users.forget(&user_id);
    app.exchange_code(&client, &code)
        .await
        .assert_oauth_error(400, "invalid_grant");
}
