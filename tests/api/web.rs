//! A browser for the tests: a cookie jar in front of the router, and what a user does on the
//! sign-in pages (read the form's hidden fields, fill it in, post it).

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Body;
use axum::http::{Method, Request, header};
use keyward::oauth::client::{ClientSpec, register};

use crate::helpers::{TestApp, TestClient, enc};

/// Where the test web app receives codes, and where it is sent after logout.
pub const REDIRECT_URI: &str = "https://app.test/callback";
pub const POST_LOGOUT_URI: &str = "https://app.test/signed-out";
/// A PKCE pair (RFC 7636 Appendix B).
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub const EMAIL: &str = "ada@example.com";
pub const PASSWORD: &str = "correct horse battery staple";

/// How a test web client is registered.
#[derive(Clone, Copy, Default)]
pub struct WebClient {
    pub public: bool,
    pub first_party: bool,
}

impl TestApp {
    /// A client of the code flow: `authorization_code` and `refresh_token`, OIDC scopes and
    /// `api`, redirect and post-logout URIs on https://app.test.
    pub async fn web_client(&self, kind: WebClient) -> TestClient {
        let spec = ClientSpec {
            name: "Test App".into(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            scopes: vec!["openid".into(), "profile".into(), "email".into(), "api".into()],
            redirect_uris: vec![REDIRECT_URI.into(), "http://127.0.0.1/loopback".into()],
            post_logout_redirect_uris: vec![POST_LOGOUT_URI.into()],
            public: kind.public,
            first_party: kind.first_party,
        };
        let (client, secret) = register(&self.state.db, spec, self.clock.now()).await.unwrap();
        TestClient {
            id: client.id,
            secret: secret.map(|s| s.expose().to_owned()),
        }
    }

    /// The query of an authorization request of `client` with PKCE, state and nonce, plus `extra`.
    pub fn authorization_query(&self, client: &TestClient, extra: &str) -> String {
        let mut query = format!(
            "response_type=code&client_id={}&redirect_uri={}&scope=openid%20email%20offline_access\
             &state=st-1&nonce=n-1&code_challenge={CHALLENGE}&code_challenge_method=S256",
            client.id,
            enc(REDIRECT_URI)
        );
        if !extra.is_empty() {
            query.push('&');
            query.push_str(extra);
        }
        query
    }

    /// Exchanges a code at the token endpoint with the PKCE verifier.
    pub async fn exchange_code(&self, client: &TestClient, code: &str) -> crate::helpers::TestResponse {
        let body = format!(
            "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={VERIFIER}",
            enc(code),
            enc(REDIRECT_URI)
        );
        self.code_request(client, &body).await
    }

    /// A token request of `client`: Basic for a confidential client, `client_id` for a public one.
    pub async fn code_request(&self, client: &TestClient, body: &str) -> crate::helpers::TestResponse {
        match &client.secret {
            Some(_) => self.token(client, body).await,
            None => {
                self.post_form("/oauth/token", &format!("{body}&client_id={}", client.id), None)
                    .await
            }
        }
    }
}

/// A browser: cookies kept between requests, as a real one keeps them for one site.
pub struct Browser<'a> {
    app: &'a TestApp,
    jar: Mutex<HashMap<String, String>>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            jar: Mutex::new(HashMap::new()),
        }
    }

    /// The value of a cookie the browser holds.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.lock().unwrap().get(name).cloned()
    }

    pub async fn get(&self, path: &str) -> crate::helpers::TestResponse {
        self.send(Method::GET, path, None).await
    }

    /// Posts a form, every value form-urlencoded.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> crate::helpers::TestResponse {
        let body = fields
            .iter()
            .map(|(name, value)| format!("{name}={}", enc(value)))
            .collect::<Vec<_>>()
            .join("&");
        self.send(Method::POST, path, Some(body)).await
    }

    async fn send(&self, method: Method, path: &str, body: Option<String>) -> crate::helpers::TestResponse {
        let cookies = self
            .jar
            .lock()
            .unwrap()
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut request = Request::builder().method(method).uri(path);
        if !cookies.is_empty() {
            request = request.header(header::COOKIE, cookies);
        }
        let body = match body {
            Some(body) => {
                request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Body::from(body)
            }
            None => Body::empty(),
        };
        let response = self.app.request(request.body(body).unwrap()).await;
        let mut jar = self.jar.lock().unwrap();
        for value in response.headers.get_all(header::SET_COOKIE) {
            let cookie = cookie::Cookie::parse(value.to_str().unwrap().to_owned()).unwrap();
            if cookie.max_age().is_some_and(|age| age.is_zero()) {
                jar.remove(cookie.name());
            } else {
                jar.insert(cookie.name().to_owned(), cookie.value().to_owned());
            }
        }
        response
    }

    /// Opens an authorization request.
    pub async fn authorize(&self, query: &str) -> crate::helpers::TestResponse {
        self.get(&format!("/oauth/authorize?{query}")).await
    }

    /// Fills in and submits the sign-in form of `page`.
    pub async fn login(
        &self,
        page: &crate::helpers::TestResponse,
        email: &str,
        password: &str,
    ) -> crate::helpers::TestResponse {
        let html = page.text();
        let csrf = hidden(&html, "csrf").expect("a CSRF field");
        let mut fields = vec![("csrf", csrf.as_str()), ("email", email), ("password", password)];
        let request = hidden(&html, "request");
        if let Some(request) = &request {
            fields.push(("request", request));
        }
        self.post("/login", &fields).await
    }

    /// Answers the consent page `page`.
    pub async fn consent(
        &self,
        page: &crate::helpers::TestResponse,
        decision: &str,
    ) -> crate::helpers::TestResponse {
        let html = page.text();
        let csrf = hidden(&html, "csrf").expect("a CSRF field");
        let request = hidden(&html, "request").expect("the request");
        self.post(
            "/consent",
            &[("csrf", &csrf), ("request", &request), ("decision", decision)],
        )
        .await
    }

    /// Opens `query`, signs in as the test user and allows, as needed; returns the response
    /// that goes back to the client.
    pub async fn sign_in(&self, query: &str) -> crate::helpers::TestResponse {
        let mut page = self.authorize(query).await;
        if page.status == 200 && page.text().contains("name=\"password\"") {
            page = self.login(&page, EMAIL, PASSWORD).await;
        }
        if page.status == 200 && page.text().contains("value=\"allow\"") {
            page = self.consent(&page, "allow").await;
        }
        page
    }

    /// As [`Browser::sign_in`], returning the code.
    pub async fn code(&self, query: &str) -> String {
        let response = self.sign_in(query).await;
        response_param(&response, "code").unwrap_or_else(|| {
            panic!(
                "no code: {} {:?} {}",
                response.status,
                response.header("location"),
                response.text()
            )
        })
    }
}

/// The value of a hidden form field, HTML-unescaped.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(unescape(&html[start..end]))
}

fn unescape(text: &str) -> String {
    text.replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
}

/// A parameter of the authorization response in the `Location` query.
pub fn response_param(response: &crate::helpers::TestResponse, name: &str) -> Option<String> {
    let location = response.header("location")?;
    let url = url::Url::parse(location).ok()?;
    url.query_pairs()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}
