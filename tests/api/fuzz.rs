//! Fuzzing on the stable toolchain: proptest generates hostile requests for each parser an
//! attacker reaches (the token form, the Basic and Bearer headers, JWTs, the account API's JSON,
//! the authorization request, the admin API's path parameters) and sends them through the real router. Every answer must hold:
//! no panic, no 5xx, a spec-shaped 4xx when refused (JSON `error`, or a challenge), a bounded
//! `error_description` and body, and an answer within a bounded time. Each target first
//! replays its corpus, `tests/api/fuzz_corpus/<target>.txt` (one input per line; hostile inputs
//! found by hand or by an earlier run), then `FUZZ_CASES` generated inputs (128 by default; CI);
//! `FUZZ_CASES=20000 cargo test --release --test api fuzz` is the longer run. Failing inputs
//! shrink, and their seeds are kept in `fuzz.proptest-regressions`.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, header};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use keyward::oauth::metadata::{AUTHORIZATION_PATH, USERINFO_PATH};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestClient, TestResponse};
use crate::web::{CHALLENGE, REDIRECT_URI, WebClient};

/// Longest answer any hostile request may get.
const MAX_BODY: usize = 64 * 1024;
/// Longest time one request may take; far above any real answer, so only a hang trips it.
const MAX_TIME: Duration = Duration::from_secs(10);

/// Everything the targets need: the app, a confidential client, a code-flow client, a user and
/// a live access token of that user.
struct Target {
    app: TestApp,
    client: TestClient,
    web: TestClient,
    bearer: String,
    /// An administrator's access token, so the admin API reads its path parameters.
    admin: String,
}

impl Target {
    async fn new() -> Self {
        let app = TestApp::spawn().await;
        let client = app.full_client().await;
        let web = app.web_client(WebClient::default()).await;
        app.user("ada@example.com", "pw-pw-pw-pw").await;
        let bearer = app.access_token(&client, "ada@example.com", "pw-pw-pw-pw").await;
        app.user_with_roles("root@example.com", "pw-pw-pw-pw", &["admin", "user"])
            .await;
        let admin = app.access_token(&client, "root@example.com", "pw-pw-pw-pw").await;
        Self {
            app,
            client,
            web,
            bearer,
            admin,
        }
    }

    /// Sends `request` and checks what every answer must hold.
    async fn send(&self, request: Request<Body>) -> Result<TestResponse, TestCaseError> {
        let what = format!("{} {}", request.method(), request.uri().path());
        let answer = tokio::time::timeout(MAX_TIME, self.app.request(request))
            .await
            .map_err(|_| TestCaseError::fail(format!("{what}: no answer within {MAX_TIME:?}")))?;
        let status = answer.status.as_u16();
        prop_assert!(status < 500, "{}: {} {}", what, status, answer.text());
        prop_assert!(
            answer.body.len() <= MAX_BODY,
            "{}: {} bytes",
            what,
            answer.body.len()
        );
        prop_assert_eq!(
            answer.header("x-content-type-options"),
            Some("nosniff"),
            "{}",
            what
        );
        let json = answer
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json"));
        if (400..500).contains(&status) && json {
            let body: Value = serde_json::from_slice(&answer.body)
                .map_err(|e| TestCaseError::fail(format!("{what}: {status} body is not JSON: {e}")))?;
            // A bearer challenge without credentials names no error (RFC 6750 §3.1).
            if status != 401 || body.get("error").is_some() {
                prop_assert!(body["error"].is_string(), "{}: {} {}", what, status, body);
            }
            if let Some(description) = body.get("error_description") {
                let description = description.as_str().unwrap_or_default();
                prop_assert!(
                    description.len() <= keyward::oauth::error::MAX_DESCRIPTION,
                    "{}: description of {} bytes",
                    what,
                    description.len()
                );
            }
        }
        if status == 401 && !what.contains("/oauth/") {
            prop_assert!(
                answer.header("www-authenticate").is_some(),
                "{}: 401 without a challenge",
                what
            );
        }
        Ok(answer)
    }
}

/// Text of any kind: printable, control characters, multi-byte, percent escapes.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[ -~]{0,40}",
        2 => ".{0,40}",
        2 => "(%[0-9a-fA-F]{2}|%|%z|\\+|&|=){0,20}",
        1 => (1usize..3_000).prop_map(|n| "a".repeat(n)),
    ]
}

/// As [`text`], or long enough to pass any body limit.
fn long_text() -> impl Strategy<Value = String> {
    prop_oneof![9 => text(), 1 => (1usize..70_000).prop_map(|n| "a".repeat(n))]
}

/// Where a corpus of hand-found inputs is replayed from.
fn corpus(target: &str) -> Vec<String> {
    let path = format!(
        "{}/tests/api/fuzz_corpus/{target}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .filter(|l| !l.starts_with("# "))
        .map(str::to_owned)
        .collect()
}

/// Runs `check` over the target's corpus, then over generated inputs, on one app.
fn fuzz<S, F>(target: &str, strategy: S, check: F)
where
    S: Strategy,
    S::Value: Clone + std::fmt::Debug,
    F: AsyncFn(&Target, Input<S::Value>) -> Result<(), TestCaseError>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let fixture = runtime.block_on(Target::new());
    for line in corpus(target) {
        if let Err(failure) = runtime.block_on(check(&fixture, Input::Raw(line.clone()))) {
            panic!("{target} corpus input {line:?}: {failure}");
        }
    }
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(128);
    let config = Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/api/fuzz.proptest-regressions"
        )))),
        ..Config::default()
    };
    let result = TestRunner::new(config).run(&strategy, |value| {
        runtime.block_on(check(&fixture, Input::Generated(value)))
    });
    runtime.block_on(async move { drop(fixture) });
    if let Err(failure) = result {
        panic!("{target}: {failure}");
    }
}

/// A corpus line, or a generated input.
#[derive(Debug, Clone)]
enum Input<T> {
    Raw(String),
    Generated(T),
}

fn post(path: &str, content_type: &str, authorization: Option<&str>, body: Vec<u8>) -> Request<Body> {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, content_type);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    request.body(Body::from(body)).unwrap()
}

/// A form field name the token endpoint knows, or any.
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "grant_type",
            "username",
            "password",
            "refresh_token",
            "scope",
            "client_id",
            "client_secret",
            "code",
            "redirect_uri",
            "code_verifier",
            "token",
            "token_type_hint",
        ])
        .prop_map(str::to_owned),
        text(),
    ]
}

/// A value for a form field: a meaningful one or any.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "password",
            "client_credentials",
            "refresh_token",
            "authorization_code",
            "ada@example.com",
            "pw-pw-pw-pw",
            "openid offline_access api",
            "access_token",
        ])
        .prop_map(str::to_owned),
        long_text(),
    ]
}

#[derive(Debug, Clone)]
struct Form {
    pairs: Vec<(String, String)>,
    encode: bool,
    credentials: Credentials,
    content_type: &'static str,
}

#[derive(Debug, Clone)]
enum Credentials {
    None,
    Real,
    Basic(String),
    Raw(String),
}

fn credentials() -> impl Strategy<Value = Credentials> {
    prop_oneof![
        Just(Credentials::None),
        Just(Credentials::Real),
        text().prop_map(Credentials::Basic),
        "[ -~]{0,100}".prop_map(Credentials::Raw),
    ]
}

fn form() -> impl Strategy<Value = Form> {
    (
        prop::collection::vec((field(), value()), 0..8),
        any::<bool>(),
        credentials(),
        prop::sample::select(vec![
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded; charset=ISO-8859-1",
            "application/json",
            "text/plain",
            "multipart/form-data; boundary=x",
        ]),
    )
        .prop_map(|(pairs, encode, credentials, content_type)| Form {
            pairs,
            encode,
            credentials,
            content_type,
        })
}

impl Target {
    fn authorization(&self, credentials: &Credentials) -> Option<String> {
        match credentials {
            Credentials::None => None,
            Credentials::Real => Some(self.client.basic()),
            Credentials::Basic(text) => Some(format!("Basic {}", STANDARD.encode(text))),
            Credentials::Raw(raw) => Some(raw.clone()),
        }
    }
}

#[test]
fn the_token_revocation_and_introspection_forms() {
    fuzz("forms", form(), async |t: &Target, input| {
        let (body, authorization, content_type) = match input {
            Input::Raw(line) => (
                line.into_bytes(),
                Some(t.client.basic()),
                "application/x-www-form-urlencoded",
            ),
            Input::Generated(form) => {
                let body = if form.encode {
                    url::form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(&form.pairs)
                        .finish()
                } else {
                    form.pairs
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join("&")
                };
                (
                    body.into_bytes(),
                    t.authorization(&form.credentials),
                    form.content_type,
                )
            }
        };
        for path in ["/oauth/token", "/oauth/revoke", "/oauth/introspect"] {
            t.send(post(path, content_type, authorization.as_deref(), body.clone()))
                .await?;
        }
        Ok(())
    });
}

#[test]
fn the_basic_and_bearer_headers() {
    let header_value = prop_oneof![
        "[ -~]{0,200}",
        "(Basic|Bearer|basic|bearer|BASIC) {0,3}[ -~]{0,120}",
        (text(), text()).prop_map(|(a, b)| format!("Basic {}", STANDARD.encode(format!("{a}:{b}")))),
        prop::collection::vec(any::<u8>(), 0..64)
            .prop_map(|b| format!("Bearer {}", URL_SAFE_NO_PAD.encode(b))),
    ];
    fuzz("headers", header_value, async |t: &Target, input| {
        let value = match input {
            Input::Raw(line) | Input::Generated(line) => line,
        };
        let Ok(value) = header::HeaderValue::from_str(&value) else {
            return Ok(());
        };
        let form = post(
            "/oauth/token",
            "application/x-www-form-urlencoded",
            None,
            b"grant_type=client_credentials".to_vec(),
        );
        let (mut parts, body) = form.into_parts();
        parts.headers.insert(header::AUTHORIZATION, value.clone());
        let answer = t.send(Request::from_parts(parts, body)).await?;
        prop_assert_ne!(answer.status.as_u16(), 200, "a made-up credential was accepted");
        for path in [USERINFO_PATH, "/api/v1/users/me"] {
            let request = Request::builder()
                .uri(path)
                .header(header::AUTHORIZATION, value.clone())
                .body(Body::empty())
                .unwrap();
            let answer = t.send(request).await?;
            prop_assert!(
                matches!(answer.status.as_u16(), 400 | 401),
                "{} {}",
                path,
                answer.status
            );
        }
        Ok(())
    });
}

/// A JWT header field: the ones RFC 7515 §4.1 defines, with values an attacker would try.
fn jose_header() -> impl Strategy<Value = Value> {
    let alg = prop::sample::select(vec![
        "none", "None", "NONE", "HS256", "HS512", "RS256", "RS512", "PS256", "ES256", "ES384", "EdDSA", "",
        "rs256",
    ]);
    (
        alg,
        prop::option::of(prop::sample::select(vec![
            "at+jwt",
            "JWT",
            "application/at+jwt",
            "",
        ])),
        prop::option::of(text()),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(alg, typ, kid, jwk, jku, crit)| {
            let mut header = json!({ "alg": alg });
            if let Some(typ) = typ {
                header["typ"] = json!(typ);
            }
            if let Some(kid) = kid {
                header["kid"] = json!(kid);
            }
            if jwk {
                header["jwk"] = json!({"kty": "oct", "k": "c2VjcmV0"});
            }
            if jku {
                header["jku"] = json!("https://attacker.example/jwks.json");
                header["x5u"] = json!("https://attacker.example/cert.pem");
            }
            if crit {
                header["crit"] = json!(["exp", "unknown"]);
            }
            header
        })
}

#[derive(Debug, Clone)]
enum Signature {
    Empty,
    Random(Vec<u8>),
    /// HMAC with the published public key (algorithm confusion).
    PublicKeyHmac,
}

#[test]
fn jwt_parsing_and_verification() {
    let token = (
        jose_header(),
        any::<bool>(),
        prop::sample::select(vec![0i64, -1, 1, 4_000_000_000]),
        prop_oneof![
            Just(Signature::Empty),
            prop::collection::vec(any::<u8>(), 0..300).prop_map(Signature::Random),
            Just(Signature::PublicKeyHmac),
        ],
        prop::sample::select(vec![2usize, 1, 3, 4]),
    );
    fuzz("jwts", token, async |t: &Target, input| {
        let jwt = match input {
            Input::Raw(line) => line,
            Input::Generated((jose, ours, exp, signature, parts)) => {
                let now = t.app.clock.now();
                let claims = if ours {
                    // Our own claims, as a live token would have them: only the signature is wrong.
                    let mut claims = crate::helpers::claims(&t.bearer);
                    if exp != 0 {
                        claims["exp"] = json!(now + exp);
                    }
                    claims
                } else {
                    json!({"sub": "x", "iss": "https://evil.example", "exp": now + exp})
                };
                let signing_input = format!(
                    "{}.{}",
                    URL_SAFE_NO_PAD.encode(jose.to_string()),
                    URL_SAFE_NO_PAD.encode(claims.to_string())
                );
                let signature = match signature {
                    Signature::Empty => String::new(),
                    Signature::Random(bytes) => URL_SAFE_NO_PAD.encode(bytes),
                    Signature::PublicKeyHmac => {
                        let jwk = serde_json::to_vec(t.app.signing_key().jwk()).unwrap();
                        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &jwk);
                        URL_SAFE_NO_PAD.encode(aws_lc_rs::hmac::sign(&key, signing_input.as_bytes()))
                    }
                };
                let mut pieces = vec![signing_input, signature];
                pieces.truncate(parts.min(2));
                let mut jwt = pieces.join(".");
                if parts > 3 {
                    jwt.push_str(".extra");
                }
                jwt
            }
        };
        let form = format!("token={}", crate::helpers::enc(&jwt));
        let answer = t
            .send(post(
                "/oauth/introspect",
                "application/x-www-form-urlencoded",
                Some(&t.client.basic()),
                form.into_bytes(),
            ))
            .await?;
        prop_assert_eq!(answer.json(), json!({"active": false}), "{}", jwt);
        if let Ok(value) = header::HeaderValue::from_str(&format!("Bearer {jwt}")) {
            let request = Request::builder()
                .uri(USERINFO_PATH)
                .header(header::AUTHORIZATION, value)
                .body(Body::empty())
                .unwrap();
            let answer = t.send(request).await?;
            prop_assert!(matches!(answer.status.as_u16(), 400 | 401), "{}", jwt);
        }
        Ok(())
    });
}

/// Any JSON value, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(vec![
                            "email",
                            "password",
                            "name",
                            "token",
                            "new_password",
                            "current_password"
                        ])
                        .prop_map(str::to_owned),
                        text()
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

#[test]
fn the_account_apis_json_bodies() {
    let body = prop_oneof![
        json_value().prop_map(|v| v.to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..512),
    ];
    fuzz("json", body, async |t: &Target, input| {
        let body = match input {
            Input::Raw(line) => line.into_bytes(),
            Input::Generated(body) => body,
        };
        let bearer = format!("Bearer {}", t.bearer);
        for (method, path, authorization) in [
            (Method::POST, "/api/v1/users", None),
            (Method::POST, "/api/v1/password-reset", None),
            (Method::POST, "/api/v1/password-reset/complete", None),
            (Method::PATCH, "/api/v1/users/me", Some(bearer.as_str())),
            (Method::PUT, "/api/v1/users/me/password", Some(bearer.as_str())),
        ] {
            let mut request = Request::builder()
                .method(method)
                .uri(path)
                .header(header::CONTENT_TYPE, "application/json");
            if let Some(value) = authorization {
                request = request.header(header::AUTHORIZATION, value);
            }
            t.send(request.body(Body::from(body.clone())).unwrap()).await?;
        }
        Ok(())
    });
}

#[test]
fn the_authorization_request() {
    let param = prop_oneof![
        prop::sample::select(vec![
            "response_type",
            "client_id",
            "redirect_uri",
            "scope",
            "state",
            "nonce",
            "code_challenge",
            "code_challenge_method",
            "prompt",
            "max_age",
            "response_mode",
            "request",
            "request_uri",
            "login_hint",
            "id_token_hint",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{1,12}",
    ];
    let value = prop_oneof![
        prop::sample::select(vec![
            "code",
            "token",
            "id_token",
            "openid",
            "S256",
            "plain",
            "none",
            "login",
            "consent",
            "form_post",
            "query",
            "fragment",
            "0",
            "-1",
        ])
        .prop_map(str::to_owned),
        Just("CLIENT".to_owned()),
        Just(REDIRECT_URI.to_owned()),
        Just(format!("{REDIRECT_URI}/../evil")),
        Just("https://evil.example/cb".to_owned()),
        Just(CHALLENGE.to_owned()),
        "[ -~]{0,60}",
    ];
    let query = (
        prop::collection::vec((param, value), 0..10),
        any::<bool>(),
        prop::sample::select(vec![Method::GET, Method::POST]),
    );
    fuzz("authorize", query, async |t: &Target, input| {
        let (query, method) = match input {
            Input::Raw(line) => (line.replace("CLIENT", &t.web.id), Method::GET),
            Input::Generated((pairs, encode, method)) => {
                let pairs: Vec<(String, String)> = pairs
                    .into_iter()
                    .map(|(k, v)| (k, v.replace("CLIENT", &t.web.id)))
                    .collect();
                let query = if encode {
                    url::form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(&pairs)
                        .finish()
                } else {
                    pairs
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join("&")
                };
                (query, method)
            }
        };
        let request = if method == Method::GET {
            let Ok(uri) = format!("{AUTHORIZATION_PATH}?{query}").parse::<axum::http::Uri>() else {
                return Ok(());
            };
            Request::builder().uri(uri).body(Body::empty()).unwrap()
        } else {
            post(
                AUTHORIZATION_PATH,
                "application/x-www-form-urlencoded",
                None,
                query.into_bytes(),
            )
        };
        let answer = t.send(request).await?;
        if answer.status.is_redirection() {
            // RFC 6749 §3.1.2.4, §4.1.2.1: only to the registered URI, or to our own sign-in page.
            let location = answer.header("location").unwrap_or_default();
            prop_assert!(
                location.starts_with(&format!("{REDIRECT_URI}?")) || location.starts_with('/'),
                "redirected to {}",
                location
            );
        }
        Ok(())
    });
}

#[test]
fn the_admin_apis_path_parameters() {
    fuzz("paths", text(), async |t: &Target, input| {
        let segment = match input {
            Input::Raw(line) => line,
            // Characters a request target cannot hold are escaped; `%` stays as written, so
            // broken and hostile escapes (`%00`, `%zz`, `%`) reach the router.
            Input::Generated(text) => text
                .bytes()
                .map(|b| match b {
                    b'%'
                    | b'!'
                    | b'$'
                    | b'&'..=b'.'
                    | b'0'..=b';'
                    | b'='
                    | b'@'..=b'Z'
                    | b'_'
                    | b'a'..=b'z'
                    | b'~' => (b as char).to_string(),
                    _ => format!("%{b:02X}"),
                })
                .collect(),
        };
        let bearer = format!("Bearer {}", t.admin);
        for (method, path) in [
            (Method::GET, format!("/api/v1/users/{segment}")),
            (Method::PATCH, format!("/api/v1/users/{segment}")),
            (Method::DELETE, format!("/api/v1/users/{segment}")),
            (Method::DELETE, format!("/api/v1/roles/{segment}")),
            (Method::GET, format!("/api/v1/clients/{segment}")),
            (Method::DELETE, format!("/api/v1/clients/{segment}")),
            (Method::POST, format!("/api/v1/clients/{segment}/secret")),
        ] {
            let Ok(uri) = path.parse::<axum::http::Uri>() else {
                continue;
            };
            let request = Request::builder()
                .method(method)
                .uri(uri)
                .header(header::AUTHORIZATION, &bearer)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(r#"{"disabled": true}"#))
                .unwrap();
            t.send(request).await?;
        }
        Ok(())
    });
}
