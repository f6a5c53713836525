//! HTTP: axum handlers and extractors only; protocol decisions live in `oauth`.

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::Response;
use axum::routing::{delete, get, post, put};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::app::AppState;
use crate::http::admission::Admission;
use crate::oauth::metadata::{
    AUTHORIZATION_PATH, END_SESSION_PATH, INTROSPECTION_PATH, JWKS_PATH, REVOCATION_PATH, TOKEN_PATH,
    USERINFO_PATH,
};

/// Bounded requests in progress; a burst beyond them is answered 503 at once.
mod admission;
/// The account and admin API.
mod api;
/// The authorization endpoint and its sign-in and consent forms.
mod authorize;
/// Cookies, CSRF, security headers and responses of the pages for browsers.
mod browser;
/// CORS for browser apps.
mod cors;
/// Metadata and JWKS.
mod discovery;
/// The OpenAPI document and the interactive docs.
mod docs;
/// Protocol errors as HTTP responses.
mod error;
/// Form, client-address and header extractors.
mod extract;
/// Headers on every answer and bounds on every request.
mod hardening;
/// Liveness and readiness.
mod health;
/// RFC 7662 introspection endpoint.
mod introspect;
/// OIDC RP-Initiated Logout: the end-session endpoint.
mod logout;
/// The pages' templates and stylesheet.
mod pages;
/// The pages of emailed links: password reset and email verification.
mod recovery;
/// RFC 7009 revocation endpoint.
mod revoke;
/// RFC 6749 §3.2 token endpoint.
mod token;
/// OIDC Core §5.3 UserInfo endpoint.
mod userinfo;

fn api_routes() -> Router<AppState> {
    use api::{account, admin};
    Router::new()
        .route("/api/v1/users", post(account::sign_up).get(admin::list_users))
        .route("/api/v1/users/verify-email", get(account::verify_email))
        .route("/api/v1/users/me", get(account::me).patch(account::update_me))
        .route("/api/v1/users/me/password", put(account::change_password))
        .route(
            "/api/v1/users/me/verify-email",
            post(account::resend_verification),
        )
        .route("/api/v1/logout", post(account::logout))
        .route("/api/v1/password-reset", post(account::request_password_reset))
        .route(
            "/api/v1/password-reset/complete",
            post(account::complete_password_reset),
        )
        .route(
            "/api/v1/users/{id}",
            get(admin::get_user)
                .patch(admin::update_user)
                .delete(admin::delete_user),
        )
        .route("/api/v1/roles", get(admin::list_roles).post(admin::create_role))
        .route("/api/v1/roles/{name}", delete(admin::delete_role))
        .route(
            "/api/v1/clients",
            get(admin::list_clients).post(admin::create_client),
        )
        .route(
            "/api/v1/clients/{id}",
            get(admin::get_client).delete(admin::delete_client),
        )
        .route("/api/v1/clients/{id}/secret", post(admin::rotate_client_secret))
}

/// The pages for browsers, each answered with the security headers of [`browser::security_headers`].
fn browser_routes(state: &AppState, admission: &Admission) -> Router<AppState> {
    Router::new()
        .route(
            AUTHORIZATION_PATH,
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route("/login", get(authorize::login_form).post(authorize::login_submit))
        .route("/consent", post(authorize::consent_submit))
        .route(
            END_SESSION_PATH,
            get(logout::end_session_get).post(logout::end_session_post),
        )
        .route(
            "/forgot-password",
            get(recovery::forgot_form).post(recovery::forgot_submit),
        )
        .route(
            "/reset-password",
            get(recovery::reset_form).post(recovery::reset_submit),
        )
        .route(
            "/verify-email",
            get(recovery::verify_form).post(recovery::verify_submit),
        )
        .layer(axum::middleware::from_fn_with_state(
            (admission.clone(), state.clone()),
            admission::page_gate,
        ))
        .layer(axum::middleware::map_response_with_state(
            state.clone(),
            |State(app): State<AppState>, mut response: Response| async move {
                browser::security_headers(&app.config, response.headers_mut());
                response
            },
        ))
}

/// The metrics listener's router: `GET /metrics` only, kept off the public port.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(crate::telemetry::scrape))
        .with_state(state)
}

/// Every route, with tracing, panic capture, a request deadline and admission control (health
/// probes, the stylesheet and the docs are never refused).
pub fn router(state: AppState) -> Router {
    let admission = Admission::new(&state);
    // Responses that carry tokens or token state must never be cached (RFC 6749 §5.1,
    // RFC 6750 §5.3).
    let browser_callable = Router::new()
        .route(TOKEN_PATH, post(token::issue_token))
        .route(REVOCATION_PATH, post(revoke::revoke_token))
        .route(USERINFO_PATH, get(userinfo::userinfo).post(userinfo::userinfo))
        .layer(cors::for_clients(&state));
    let protocol = Router::new()
        .merge(browser_callable)
        .route(INTROSPECTION_PATH, post(introspect::introspect_token))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::PRAGMA,
            HeaderValue::from_static("no-cache"),
        ));
    // Personal data: never cached either.
    let accounts = api_routes()
        .layer(DefaultBodyLimit::max(api::MAX_JSON_BYTES))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    let documents = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::oauth_authorization_server),
        )
        .route(JWKS_PATH, get(discovery::jwks))
        .layer(cors::public());
    let json = Router::new()
        .merge(protocol)
        .merge(accounts)
        .merge(documents)
        .layer(axum::middleware::from_fn_with_state(
            admission.clone(),
            admission::json_gate,
        ));
    Router::new()
        .merge(json)
        .merge(browser_routes(&state, &admission))
        .route("/assets/keyward.css", get(pages::stylesheet))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .merge(docs::routes(&state.config.issuer))
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn(crate::telemetry::track_http))
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(axum::middleware::from_fn(hardening::bound_request))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            // The path only: a query string may carry a secret.
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
        }))
        .layer(axum::middleware::map_response(hardening::harden))
}
