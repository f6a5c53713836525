//! HTTP: axum handlers and extractors only; protocol decisions live in `oauth`.

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::app::AppState;
use crate::oauth::metadata::{
    AUTHORIZATION_PATH, INTROSPECTION_PATH, JWKS_PATH, REVOCATION_PATH, TOKEN_PATH, USERINFO_PATH,
};

/// The not-yet-available authorization endpoint.
mod authorize;
/// Metadata and JWKS.
mod discovery;
/// Protocol errors as HTTP responses.
mod error;
/// Form, client-address and header extractors.
mod extract;
/// Liveness and readiness.
mod health;
/// RFC 7662 introspection endpoint.
mod introspect;
/// RFC 7009 revocation endpoint.
mod revoke;
/// RFC 6749 §3.2 token endpoint.
mod token;
/// OIDC Core §5.3 UserInfo endpoint.
mod userinfo;

/// Every route, with tracing, panic capture and a request deadline.
pub fn router(state: AppState) -> Router {
    // Responses that carry tokens or token state must never be cached (RFC 6749 §5.1,
    // RFC 6750 §5.3).
    let protocol = Router::new()
        .route(TOKEN_PATH, post(token::issue_token))
        .route(REVOCATION_PATH, post(revoke::revoke_token))
        .route(INTROSPECTION_PATH, post(introspect::introspect_token))
        .route(USERINFO_PATH, get(userinfo::userinfo).post(userinfo::userinfo))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::PRAGMA,
            HeaderValue::from_static("no-cache"),
        ));
    Router::new()
        .merge(protocol)
        .route("/.well-known/openid-configuration", get(discovery::metadata))
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::metadata),
        )
        .route(JWKS_PATH, get(discovery::jwks))
        .route(AUTHORIZATION_PATH, get(authorize::authorize))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .fallback(error::not_found)
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            // The path only: a query string may carry a secret.
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
        }))
}
