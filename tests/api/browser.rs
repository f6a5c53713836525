//! A real browser against a real server: Debian's Chromium, headless, driven through chromedriver
//! (fantoccini), signs in on `keyward serve`'s pages for a relying party built on the
//! `openidconnect` crate, which completes code + PKCE, verifies the ID token, refreshes, and
//! signs out. Also single sign-on, `prompt=login`, and a password reset through the dev outbox.
//! Needs chromium and chromedriver: run by `.ci/browser-tests` (`-- --ignored`), which installs
//! them if missing.

use std::collections::HashMap;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use fantoccini::{Client as WebDriver, ClientBuilder, Locator};
use openidconnect::core::{CoreAuthPrompt, CoreAuthenticationFlow, CoreClient};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, LogoutRequest, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl,
    Scope, TokenResponse,
};
use tokio::sync::mpsc;

use crate::cli::{json, keyward_with};
use crate::process::Server;

const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a brand new passphrase";

/// chromedriver on a port of its own; killed on drop.
struct ChromeDriver {
    child: Child,
    port: u16,
}

impl ChromeDriver {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (bash .ci/services browser)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port }
    }

    /// A headless Chromium, kept off the network this machine does not have.
    async fn browser(&self) -> WebDriver {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync"
                ]
            }),
        );
        // Plain HTTP to chromedriver on loopback: no TLS stack needed.
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a Chromium session")
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The relying party's web server: what arrives at its redirect and post-logout URIs.
struct RelyingParty {
    url: String,
    arrivals: mpsc::UnboundedReceiver<(String, HashMap<String, String>)>,
}

impl RelyingParty {
    async fn start() -> Self {
        let (sender, arrivals) = mpsc::unbounded_channel();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        type Sender = mpsc::UnboundedSender<(String, HashMap<String, String>)>;
        let arrived = |path: &'static str| {
            move |State(sender): State<Sender>, Query(query): Query<HashMap<String, String>>| async move {
                let _ = sender.send((path.to_owned(), query));
                axum::response::Html("<!DOCTYPE html><title>relying party</title><p>back at the app</p>")
            }
        };
        let app = Router::new()
            .route("/callback", get(arrived("/callback")))
            .route("/signed-out", get(arrived("/signed-out")))
            .with_state(sender);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, arrivals }
    }

    /// The next arrival at `path`; fails after 20 seconds.
    async fn arrival(&mut self, path: &str) -> HashMap<String, String> {
        let (arrived_at, query) = tokio::time::timeout(Duration::from_secs(20), self.arrivals.recv())
            .await
            .unwrap_or_else(|_| panic!("the browser never reached {path}"))
            .unwrap();
        assert_eq!(arrived_at, path, "{query:?}");
        query
    }
}

/// Types into the sign-in form and submits it.
async fn sign_in(browser: &WebDriver, email: &str, password: &str) {
    let field = browser.wait().for_element(Locator::Id("password")).await.unwrap();
    let email_field = browser.find(Locator::Id("email")).await.unwrap();
    email_field.clear().await.unwrap();
    email_field.send_keys(email).await.unwrap();
    field.send_keys(password).await.unwrap();
    browser
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver: bash .ci/browser-tests"]
async fn a_real_browser_signs_in_refreshes_signs_out_and_resets_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    let env = [("KEYWARD_MAIL_OUTBOX", outbox.display().to_string())];
    let mut rp = RelyingParty::start().await;
    keyward_with(&dir, &["migrate"], None, &env);
    let registered = json(&keyward_with(
        &dir,
        &[
            "client",
            "create",
            "--name",
            "Browser Test App",
            "--grant",
            "authorization_code",
            "--grant",
            "refresh_token",
            "--scope",
            "openid email profile",
            "--redirect-uri",
            &format!("{}/callback", rp.url),
            "--post-logout-redirect-uri",
            &format!("{}/signed-out", rp.url),
            "--json",
        ],
        None,
        &env,
    ));
    keyward_with(
        &dir,
        &["user", "create", "--email", EMAIL, "--password-stdin"],
        Some(PASSWORD),
        &env,
    );
    let server = Server::start(dir.path(), &dir.path().join("keys"), &env);
    let issuer = server.url();

    // The relying party knows only the issuer, its client id and secret.
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata = ProviderMetadataWithLogout::discover_async(IssuerUrl::new(issuer.clone()).unwrap(), &http)
        .await
        .unwrap();
    let end_session = metadata
        .additional_metadata()
        .end_session_endpoint
        .clone()
        .expect("end_session_endpoint is announced");
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    let client_secret = registered["client_secret"].as_str().unwrap().to_owned();
    let oidc = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.clone()),
        Some(ClientSecret::new(client_secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(format!("{}/callback", rp.url)).unwrap());
    let authorize = |prompt: Option<CoreAuthPrompt>| {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = oidc
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("offline_access".into()))
            .set_pkce_challenge(challenge);
        if let Some(prompt) = prompt {
            request = request.add_prompt(prompt);
        }
        let (url, state, nonce) = request.url();
        (url, state, nonce, verifier)
    };

    let driver = ChromeDriver::start();
    let browser = driver.browser().await;

    // 1. Sign in: the login page, the consent page, back at the app with a code.
    let (url, state, nonce, verifier) = authorize(None);
    browser.goto(url.as_str()).await.unwrap();
    let source = browser.source().await.unwrap();
    assert!(source.contains("Browser Test App"), "{source}");
    sign_in(&browser, EMAIL, PASSWORD).await;
    let allow = browser
        .wait()
        .for_element(Locator::Css("button[value=allow]"))
        .await
        .unwrap();
    allow.click().await.unwrap();
    let back = rp.arrival("/callback").await;
    assert_eq!(back.get("state"), Some(state.secret()));
    assert_eq!(back.get("iss"), Some(&issuer));
    let tokens = oidc
        .exchange_code(AuthorizationCode::new(back["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let verifier_of_id = oidc.id_token_verifier();
    let claims = tokens
        .id_token()
        .expect("an ID token")
        .claims(&verifier_of_id, &nonce)
        .unwrap();
    assert_eq!(claims.email().unwrap().as_str(), EMAIL);
    let first_auth_time = claims.auth_time().unwrap();

    // 2. Refresh through the library.
    let refreshed = oidc
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert!(refreshed.refresh_token().is_some());

    // 3. Single sign-on: a second request comes straight back, no password, no consent.
    let (url, state, nonce, verifier) = authorize(None);
    browser.goto(url.as_str()).await.unwrap();
    let back = rp.arrival("/callback").await;
    assert_eq!(back.get("state"), Some(state.secret()));
    let sso = oidc
        .exchange_code(AuthorizationCode::new(back["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let sso_claims = sso.id_token().unwrap().claims(&verifier_of_id, &nonce).unwrap();
    assert_eq!(sso_claims.auth_time(), Some(first_auth_time));

    // 4. prompt=login asks for the password again.
    let (url, _, nonce, verifier) = authorize(Some(CoreAuthPrompt::Login));
    browser.goto(url.as_str()).await.unwrap();
    sign_in(&browser, EMAIL, PASSWORD).await;
    let back = rp.arrival("/callback").await;
    let relogin = oidc
        .exchange_code(AuthorizationCode::new(back["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let relogin_id = relogin.id_token().unwrap().clone();
    relogin_id.claims(&verifier_of_id, &nonce).unwrap();

    // 5. Logout (RP-Initiated Logout): back at the app with state; tokens of the sign-in are
    //    inactive at once; the next sign-in asks for the password.
    let logout = LogoutRequest::from(end_session)
        .set_id_token_hint(&relogin_id)
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(format!("{}/signed-out", rp.url)).unwrap())
        .set_state(CsrfToken::new("logout-state".into()))
        .http_get_url();
    browser.goto(logout.as_str()).await.unwrap();
    let signed_out = rp.arrival("/signed-out").await;
    assert_eq!(signed_out.get("state").map(String::as_str), Some("logout-state"));
    let introspection: serde_json::Value = http
        .post(format!("{issuer}/oauth/introspect"))
        .basic_auth(&client_id, Some(&client_secret))
        .form(&[("token", relogin.access_token().secret())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspection, serde_json::json!({"active": false}));
    assert!(
        oidc.exchange_refresh_token(relogin.refresh_token().unwrap())
            .unwrap()
            .request_async(&http)
            .await
            .is_err()
    );
    let (url, _, _, _) = authorize(None);
    browser.goto(url.as_str()).await.unwrap();
    browser.wait().for_element(Locator::Id("password")).await.unwrap();

    // 6. Password reset through the dev outbox, then sign in with the new password.
    browser.goto(&format!("{issuer}/forgot-password")).await.unwrap();
    browser
        .wait()
        .for_element(Locator::Id("email"))
        .await
        .unwrap()
        .send_keys(EMAIL)
        .await
        .unwrap();
    browser
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let link = reset_link(&outbox).await;
    browser.goto(&link).await.unwrap();
    browser
        .wait()
        .for_element(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(NEW_PASSWORD)
        .await
        .unwrap();
    browser
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait()
        .for_element(Locator::LinkText("Sign in"))
        .await
        .unwrap();
    let (url, _, nonce, verifier) = authorize(None);
    browser.goto(url.as_str()).await.unwrap();
    sign_in(&browser, EMAIL, NEW_PASSWORD).await;
    let back = rp.arrival("/callback").await;
    let after_reset = oidc
        .exchange_code(AuthorizationCode::new(back["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let claims = after_reset
        .id_token()
        .unwrap()
        .claims(&verifier_of_id, &nonce)
        .unwrap();
    assert_eq!(claims.email().unwrap().as_str(), EMAIL);
    assert_eq!(
        claims.email_verified(),
        Some(true),
        "the reset link proved the address"
    );
    browser.close().await.unwrap();
    drop(server);
}

/// The link of the password-reset mail in the outbox, waiting (boundedly) for it to be written.
async fn reset_link(outbox: &std::path::Path) -> String {
    for _ in 0..500 {
        let mails = std::fs::read_dir(outbox)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        for mail in mails.iter().filter(|p| p.extension().is_some_and(|e| e == "eml")) {
            let text = std::fs::read_to_string(mail).unwrap();
            if let Some(start) = text.find("http://127.0.0.1") {
                let link: String = text[start..].chars().take_while(|c| !c.is_whitespace()).collect();
                if link.contains("/reset-password?token=") {
                    return link;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no password-reset mail in {}", outbox.display());
}
