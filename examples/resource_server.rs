//! A resource server that protects `GET /secure-data` with keyward's access tokens.
//!
//! ```sh
//! KEYWARD_ISSUER=http://localhost:8080 cargo run --example resource_server
//! curl -H "Authorization: Bearer $ACCESS_TOKEN" http://127.0.0.1:8090/secure-data
//! ```
//!
//! Tokens are verified locally through the issuer's JWKS (RFC 9068 §4): the key the `kid` names,
//! in that key's own algorithm, `typ` `at+jwt`, `iss`, `aud` and `exp`. The JWKS is cached for the
//! `max-age` the issuer sends, and fetched again when a token names a kid the cache lacks (a key
//! rotated in), at most once per `REFETCH_AFTER`, so forged kids cannot make it hammer the issuer.
//!
//! `GET /secure-data/strict` also asks the issuer whether the token is still active (RFC 7662),
//! so that a revoked token or an ended session is refused at once. It needs a confidential
//! client's credentials in `RS_CLIENT_ID` and `RS_CLIENT_SECRET`.
//!
//! Settings: `KEYWARD_ISSUER` (required), `RS_AUDIENCE` (the `aud` to require; the issuer by
//! default, as keyward's default), `RS_BIND` (`127.0.0.1:8090`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::RwLock;

/// A kid the cache lacks triggers a refetch at most this often.
const REFETCH_AFTER: Duration = Duration::from_secs(1);

#[derive(Deserialize)]
struct Claims {
    sub: String,
    scope: Option<String>,
    client_id: String,
}

/// The issuer's public keys by kid, with their algorithm.
struct KeyCache {
    keys: HashMap<String, (Algorithm, DecodingKey)>,
    fetched: Option<Instant>,
    max_age: Duration,
}

struct Verifier {
    issuer: String,
    audience: String,
    jwks_uri: String,
    introspection: Option<(String, String, String)>,
    http: reqwest::Client,
    cache: RwLock<KeyCache>,
}

impl Verifier {
    async fn discover(issuer: String, audience: String) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        let metadata: serde_json::Value = http
            .get(format!("{issuer}/.well-known/openid-configuration"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let field = |name: &str| metadata[name].as_str().map(str::to_owned);
        let jwks_uri = field("jwks_uri").ok_or_else(|| anyhow::anyhow!("no jwks_uri"))?;
        let introspection = match (
            field("introspection_endpoint"),
            std::env::var("RS_CLIENT_ID"),
            std::env::var("RS_CLIENT_SECRET"),
        ) {
            (Some(endpoint), Ok(id), Ok(secret)) => Some((endpoint, id, secret)),
            _ => None,
        };
        Ok(Self {
            issuer,
            audience,
            jwks_uri,
            introspection,
            http,
            cache: RwLock::new(KeyCache {
                keys: HashMap::new(),
                fetched: None,
                max_age: Duration::ZERO,
            }),
        })
    }

    /// The key `kid` names: from the cache while it is fresh, else from a new fetch (rate limited).
    async fn key(&self, kid: &str) -> Option<(Algorithm, DecodingKey)> {
        {
            let cache = self.cache.read().await;
            let fresh = cache.fetched.is_some_and(|at| at.elapsed() < cache.max_age);
            let recent = cache.fetched.is_some_and(|at| at.elapsed() < REFETCH_AFTER);
            if let Some(key) = cache.keys.get(kid)
                && (fresh || recent)
            {
                return Some(key.clone());
            }
            if recent {
                return cache.keys.get(kid).cloned();
            }
        }
        let mut cache = self.cache.write().await;
        if cache.fetched.is_none_or(|at| at.elapsed() >= REFETCH_AFTER) {
            match self.fetch().await {
                Ok((keys, max_age)) => {
                    cache.keys = keys;
                    cache.max_age = max_age;
                }
                Err(e) => eprintln!("fetching the JWKS failed: {e:#}"),
            }
            cache.fetched = Some(Instant::now());
        }
        cache.keys.get(kid).cloned()
    }

    async fn fetch(&self) -> anyhow::Result<(HashMap<String, (Algorithm, DecodingKey)>, Duration)> {
        let response = self.http.get(&self.jwks_uri).send().await?.error_for_status()?;
        let max_age = response
            .headers()
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').find_map(|d| d.trim().strip_prefix("max-age=")))
            .and_then(|s| s.parse().ok())
            .map_or(Duration::ZERO, Duration::from_secs);
        let jwks: JwkSet = response.json().await?;
        let mut keys = HashMap::new();
        for jwk in &jwks.keys {
            // Only keys that say which algorithm they sign with: a token is then verified in
            // that algorithm alone, whatever its header claims.
            let (Some(kid), Some(alg)) = (&jwk.common.key_id, jwk.common.key_algorithm) else {
                continue;
            };
            let Ok(alg) = alg.to_string().parse::<Algorithm>() else {
                continue;
            };
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(kid.clone(), (alg, key));
            }
        }
        Ok((keys, max_age))
    }

    /// The claims of a valid access token.
    async fn verify(&self, token: &str) -> Result<Claims, &'static str> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| "malformed token")?;
        let typ = header.typ.as_deref().unwrap_or_default().to_ascii_lowercase();
        if typ != "at+jwt" && typ != "application/at+jwt" {
            return Err("not an access token");
        }
        let kid = header.kid.ok_or("no kid")?;
        let (alg, key) = self.key(&kid).await.ok_or("unknown signing key")?;
        if header.alg != alg {
            return Err("wrong algorithm");
        }
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["iss", "aud", "exp", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|_| "invalid token")
    }

    /// Whether the issuer still considers the token active.
    async fn active(&self, token: &str) -> Result<bool, reqwest::Error> {
        let Some((endpoint, id, secret)) = &self.introspection else {
            return Ok(false);
        };
        let answer: serde_json::Value = self
            .http
            .post(endpoint)
            .basic_auth(id, Some(secret))
            .form(&[("token", token)])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(answer["active"] == true)
    }
}

/// RFC 6750 §3: a 401 with a `Bearer` challenge.
fn unauthorized(description: &str) -> Response {
    let challenge = format!("Bearer error=\"invalid_token\", error_description=\"{description}\"");
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, challenge)],
        Json(json!({ "error": "invalid_token", "error_description": description })),
    )
        .into_response()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

async fn secure_data(State(verifier): State<Arc<Verifier>>, headers: HeaderMap) -> Response {
    let Some(token) = bearer(&headers) else {
        return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")]).into_response();
    };
    match verifier.verify(token).await {
        Ok(claims) => Json(json!({
            "message": "secure data",
            "sub": claims.sub,
            "client_id": claims.client_id,
            "scope": claims.scope,
        }))
        .into_response(),
        Err(why) => unauthorized(why),
    }
}

async fn secure_data_strict(State(verifier): State<Arc<Verifier>>, headers: HeaderMap) -> Response {
    let Some(token) = bearer(&headers) else {
        return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")]).into_response();
    };
    if let Err(why) = verifier.verify(token).await {
        return unauthorized(why);
    }
    match verifier.active(token).await {
        Ok(true) => secure_data(State(verifier), headers).await,
        Ok(false) => unauthorized("the token is revoked or its session ended"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "5")]).into_response(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let issuer = std::env::var("KEYWARD_ISSUER")
        .map_err(|_| anyhow::anyhow!("set KEYWARD_ISSUER"))?
        .trim_end_matches('/')
        .to_owned();
    let audience = std::env::var("RS_AUDIENCE").unwrap_or_else(|_| issuer.clone());
    let bind = std::env::var("RS_BIND").unwrap_or_else(|_| "127.0.0.1:8090".into());
    let verifier = Arc::new(Verifier::discover(issuer, audience).await?);
    let app = Router::new()
        .route("/secure-data", get(secure_data))
        .route("/secure-data/strict", get(secure_data_strict))
        .with_state(verifier);
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    eprintln!("resource server on http://{bind}");
    axum::serve(listener, app).await?;
    Ok(())
}
