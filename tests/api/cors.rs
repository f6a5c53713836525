//! CORS for browser apps: the token, revocation and UserInfo endpoints answer the origins of
//! registered redirect URIs and configured ones, without credentials; discovery and the JWKS
//! answer any origin.

use axum::body::Body;
use axum::http::{Method, Request};

use crate::helpers::{TestApp, TestResponse};
use crate::web::WebClient;

async fn preflight(app: &TestApp, path: &str, origin: &str) -> TestResponse {
    app.request(
        Request::builder()
            .method(Method::OPTIONS)
            .uri(path)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization,content-type")
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn registered_redirect_origins_may_call_the_token_endpoint() {
    let app = TestApp::with_config(|c| c.cors_origins = "https://spa.example.com".into()).await;
    app.web_client(WebClient {
        public: true,
        ..WebClient::default()
    })
    .await;
    for path in ["/oauth/token", "/oauth/revoke", "/userinfo"] {
        for origin in ["https://app.test", "https://spa.example.com", "http://127.0.0.1"] {
            let response = preflight(&app, path, origin).await;
            assert!(
                response.status.is_success(),
                "{path} {origin}: {}",
                response.status
            );
            assert_eq!(
                response.header("access-control-allow-origin"),
                Some(origin),
                "{path}"
            );
            assert!(response.header("access-control-allow-credentials").is_none());
            let methods = response.header("access-control-allow-methods").unwrap();
            assert!(methods.contains("POST"), "{methods}");
        }
        let stranger = preflight(&app, path, "https://evil.test").await;
        assert!(stranger.header("access-control-allow-origin").is_none(), "{path}");
    }
    // Introspection is for servers: no browser origin.
    let introspect = preflight(&app, "/oauth/introspect", "https://app.test").await;
    assert!(introspect.header("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn discovery_and_the_jwks_answer_any_origin() {
    let app = TestApp::spawn().await;
    for path in ["/.well-known/openid-configuration", "/.well-known/jwks.json"] {
        let response = app
            .request(
                Request::builder()
                    .uri(path)
                    .header("origin", "https://anywhere.example")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(response.status, 200);
        assert_eq!(response.header("access-control-allow-origin"), Some("*"));
    }
}
