//! `TestApp`: the real router on a fresh database, a shared pre-generated key and a manual clock.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http_body_util::BodyExt;
use keyward::app::{AppState, router};
use keyward::clock::{Clock, system_now};
use keyward::config::Config;
use keyward::crypto::keys::{Alg, SigningKey};
use keyward::crypto::password::Password;
use keyward::oauth::client::{ClientSpec, register};
use keyward::store::{self, users};
use serde_json::Value;
use tempfile::TempDir;
use tower::ServiceExt;

/// Generating an RSA key takes a while; every test shares one, copied into its own keys folder.
fn shared_key() -> &'static (String, String) {
    static KEY: OnceLock<(String, String)> = OnceLock::new();
    KEY.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let key = keyward::crypto::keys::generate(dir.path(), Alg::RS256).unwrap();
        let path = key.path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        (name, std::fs::read_to_string(path).unwrap())
    })
}

/// A client registered for a test, with its one-time secret.
#[derive(Clone, Debug)]
pub struct TestClient {
    pub id: String,
    pub secret: Option<String>,
}

impl TestClient {
    /// `Authorization: Basic …` with id and secret form-urlencoded first (RFC 6749 Appendix B).
    pub fn basic(&self) -> String {
        let enc = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let secret = self.secret.as_deref().unwrap_or_default();
        format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", enc(&self.id), enc(secret)))
        )
    }
}

/// A response, read whole.
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl TestResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts 200 and returns the JSON body.
    pub fn ok(&self) -> Value {
        assert_eq!(self.status, 200, "{}", String::from_utf8_lossy(&self.body));
        self.json()
    }

    /// A field of the JSON body as text.
    pub fn str(&self, field: &str) -> String {
        self.json()[field]
            .as_str()
            .unwrap_or_else(|| panic!("no {field} in {}", self.json()))
            .to_owned()
    }

    fn assert_status(&self, status: u16) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
    }

    /// Asserts `status` and returns the JSON body (`null` when empty).
    pub fn expect(&self, status: u16) -> Value {
        self.assert_status(status);
        if self.body.is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }

    /// Asserts a JSON error: status, `error` code, a description, and `Cache-Control: no-store`.
    pub fn assert_api_error(&self, status: u16, code: &str) {
        self.assert_status(status);
        let body = self.json();
        assert_eq!(body["error"], code, "body: {body}");
        assert!(body["error_description"].is_string(), "body: {body}");
        assert_eq!(self.header("cache-control"), Some("no-store"));
        assert!(
            self.header("content-type")
                .unwrap_or_default()
                .starts_with("application/json")
        );
    }

    /// Asserts an RFC 6749 §5.2 error: as [`TestResponse::assert_api_error`], and `Pragma`.
    pub fn assert_oauth_error(&self, status: u16, code: &str) {
        self.assert_api_error(status, code);
        assert_eq!(self.header("pragma"), Some("no-cache"));
    }
}

pub struct TestApp {
    pub state: AppState,
    pub router: Router,
    pub clock: Clock,
    /// Holds the database and keys until the test ends.
    _dir: Option<TempDir>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::with_config(|_| {}).await
    }

    pub async fn with_config(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            issuer: "https://id.test".into(),
            database_url: database_url(&dir).await,
            keys_dir: dir.path().join("keys"),
            password_concurrency: 2,
            mail_outbox: Some(dir.path().join("outbox")),
            ..Config::default()
        };
        if let Ok(url) = std::env::var("KEYWARD_TEST_REDIS_URL") {
            // Families in Redis, under a prefix of this test's own.
            config.redis_url = Some(url);
            config.redis_prefix = format!("kwtest:{}:", uuid::Uuid::new_v4().simple());
        }
        adjust(&mut config);
        Self::build(config, dir).await
    }

    async fn build(config: Config, dir: TempDir) -> Self {
        let (name, pem) = shared_key();
        std::fs::create_dir_all(&config.keys_dir).unwrap();
        let key_path: PathBuf = config.keys_dir.join(name);
        if !key_path.exists() {
            std::fs::write(&key_path, pem).unwrap();
        }
        let db = store::open(&config.database_url).await.unwrap();
        let clock = Clock::manual(system_now());
        let state = AppState::from_parts(config, db, clock.clone()).await.unwrap();
        Self {
            router: router(state.clone()),
            state,
            clock,
            _dir: Some(dir),
        }
    }

    /// Another app on state built by the test (a second replica of this one).
    pub fn from_state(state: AppState, clock: Clock) -> Self {
        Self {
            router: router(state.clone()),
            state,
            clock,
            _dir: None,
        }
    }

    /// The key that signs ID tokens (and access tokens, unless another algorithm is configured).
    pub fn signing_key(&self) -> Arc<SigningKey> {
        self.state
            .keys
            .current()
            .signing(Alg::RS256, self.clock.now())
            .unwrap()
            .clone()
    }

    /// Serves the router on a real loopback port; the issuer is that address.
    pub async fn serve() -> (Self, String) {
        Self::serve_with(|_| {}).await
    }

    /// As [`TestApp::serve`], with configuration adjusted first.
    pub async fn serve_with(adjust: impl FnOnce(&mut Config)) -> (Self, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let issuer = format!("http://{addr}");
        let app = Self::with_config(|c| {
            c.issuer = issuer.clone();
            adjust(c);
        })
        .await;
        let served = app
            .router
            .clone()
            .into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, served).await.unwrap() });
        (app, issuer)
    }

    /// A confidential client with `grants` and `scopes`.
    pub async fn client(&self, grants: &[&str], scopes: &str) -> TestClient {
        self.register(grants, scopes, false).await
    }

    /// A public client (no secret).
    pub async fn public_client(&self, grants: &[&str], scopes: &str) -> TestClient {
        self.register(grants, scopes, true).await
    }

    async fn register(&self, grants: &[&str], scopes: &str, public: bool) -> TestClient {
        let spec = ClientSpec {
            name: "test client".into(),
            grant_types: grants.iter().map(|g| g.to_string()).collect(),
            scopes: scopes.split_whitespace().map(str::to_owned).collect(),
            public,
            ..ClientSpec::default()
        };
        let (client, secret) = register(&self.state.db, spec, self.clock.now()).await.unwrap();
        TestClient {
            id: client.id,
            secret: secret.map(|s| s.expose().to_owned()),
        }
    }

    /// The usual confidential client: password, refresh and client credentials, OIDC scopes.
    pub async fn full_client(&self) -> TestClient {
        self.client(
            &["password", "refresh_token", "client_credentials"],
            "openid profile email api",
        )
        .await
    }

    /// A user with `password` and the `user` role; returns the user id.
    pub async fn user(&self, email: &str, password: &str) -> String {
        self.user_with_roles(email, password, &["user"]).await
    }

    /// A user with `password` and `roles`; returns the user id.
    pub async fn user_with_roles(&self, email: &str, password: &str, roles: &[&str]) -> String {
        let hash = self.state.passwords.hash(Password::new(password)).await.unwrap();
        let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        let new = users::NewUser {
            email,
            password_hash: Some(hash),
            name: Some("Test User"),
            roles: &roles,
        };
        users::create(&self.state.db, new, self.clock.now())
            .await
            .unwrap()
            .id
    }

    pub async fn request(&self, request: Request<Body>) -> TestResponse {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
        TestResponse {
            status,
            headers,
            body,
        }
    }

    /// POSTs a form body, with Basic credentials if given.
    pub async fn post_form(&self, path: &str, body: &str, authorization: Option<&str>) -> TestResponse {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(auth) = authorization {
            request = request.header(header::AUTHORIZATION, auth);
        }
        self.request(request.body(Body::from(body.to_owned())).unwrap())
            .await
    }

    /// Calls the account API: `body` as JSON, `token` as a Bearer access token.
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> TestResponse {
        let raw = body.map(|b| b.to_string());
        self.api_raw(method, path, token, raw.as_deref(), "application/json")
            .await
    }

    /// As [`TestApp::api`], with the body and content type as given.
    pub async fn api_raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        content_type: &str,
    ) -> TestResponse {
        let mut request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some(body) => {
                request = request.header(header::CONTENT_TYPE, content_type);
                Body::from(body.to_owned())
            }
            None => Body::empty(),
        };
        self.request(request.body(body).unwrap()).await
    }

    /// Signs in and returns the access token.
    pub async fn access_token(&self, client: &TestClient, email: &str, password: &str) -> String {
        self.login(client, email, password).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The messages in the mail outbox, oldest first, as raw text.
    pub fn outbox(&self) -> Vec<String> {
        let dir = self.state.config.mail_outbox.as_ref().unwrap();
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map(|entries| entries.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        files.sort();
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    /// The token of the newest verification link sent to `email`.
    pub fn verification_token(&self, email: &str) -> String {
        let mail = self
            .outbox()
            .into_iter()
            .rev()
            .find(|m| m.contains(&format!("To: {email}")))
            .unwrap_or_else(|| panic!("no mail to {email}"));
        link_token(&mail)
    }

    pub async fn get(&self, path: &str, authorization: Option<&str>) -> TestResponse {
        let mut request = Request::builder().uri(path);
        if let Some(auth) = authorization {
            request = request.header(header::AUTHORIZATION, auth);
        }
        self.request(request.body(Body::empty()).unwrap()).await
    }

    pub async fn token(&self, client: &TestClient, body: &str) -> TestResponse {
        self.post_form("/oauth/token", body, Some(&client.basic())).await
    }

    pub async fn password_grant(
        &self,
        client: &TestClient,
        email: &str,
        password: &str,
        scope: Option<&str>,
    ) -> TestResponse {
        let mut body = format!(
            "grant_type=password&username={}&password={}",
            enc(email),
            enc(password)
        );
        if let Some(scope) = scope {
            body.push_str(&format!("&scope={}", enc(scope)));
        }
        self.token(client, &body).await
    }

    pub async fn refresh(&self, client: &TestClient, refresh_token: &str) -> TestResponse {
        self.token(
            client,
            &format!("grant_type=refresh_token&refresh_token={}", enc(refresh_token)),
        )
        .await
    }

    pub async fn client_credentials(&self, client: &TestClient) -> TestResponse {
        self.token(client, "grant_type=client_credentials").await
    }

    /// Introspection by `client`; asserts 200 and returns the body.
    pub async fn introspect(&self, client: &TestClient, token: &str) -> Value {
        self.introspection(client, token).await.ok()
    }

    /// The introspection endpoint's whole answer, whatever its status.
    pub async fn introspection(&self, client: &TestClient, token: &str) -> TestResponse {
        self.post_form(
            "/oauth/introspect",
            &format!("token={}", enc(token)),
            Some(&client.basic()),
        )
        .await
    }

    pub async fn revoke(&self, client: &TestClient, token: &str) -> TestResponse {
        self.post_form(
            "/oauth/revoke",
            &format!("token={}", enc(token)),
            Some(&client.basic()),
        )
        .await
    }

    pub async fn userinfo(&self, access_token: &str) -> TestResponse {
        self.get("/userinfo", Some(&format!("Bearer {access_token}")))
            .await
    }

    /// Signs in `email` and returns the token response (asserting 200).
    pub async fn login(&self, client: &TestClient, email: &str, password: &str) -> Value {
        self.password_grant(client, email, password, None).await.ok()
    }
}

/// The database a test runs on: SQLite in its own folder, or, when `KEYWARD_TEST_POSTGRES_URL`
/// names a PostgreSQL database, a fresh schema of its own there. With the variable set and the
/// server unreachable, the test fails: it never falls back to SQLite.
async fn database_url(dir: &TempDir) -> String {
    let Ok(base) = std::env::var("KEYWARD_TEST_POSTGRES_URL") else {
        return format!("sqlite://{}", dir.path().join("keyward.db").display());
    };
    postgres_schema(&base).await
}

/// A new, empty schema in the PostgreSQL database `base`, as a URL that selects it.
pub async fn postgres_schema(base: &str) -> String {
    let schema = format!("kwt_{}", uuid::Uuid::new_v4().simple());
    let admin = store::connect(base)
        .await
        .unwrap_or_else(|e| panic!("KEYWARD_TEST_POSTGRES_URL is set but PostgreSQL is unreachable: {e:#}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("create schema {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}options=-c%20search_path%3D{schema}")
}

/// The token of the verification link in a message.
pub fn link_token(mail: &str) -> String {
    let start = mail.find("verify-email?token=").expect("a verification link") + "verify-email?token=".len();
    mail[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// Form-urlencodes a value.
pub fn enc(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The claims of a JWT, without verifying it (tests verify separately where it matters).
pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// A JSON value as a base64url JWT part.
pub fn b64(value: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// The header of a JWT.
pub fn jwt_header(jwt: &str) -> Value {
    let header = jwt.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap()
}
