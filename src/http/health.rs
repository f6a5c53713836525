//! Liveness (`/health`) and readiness (`/ready`: the database answers, and a key can sign).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::RETRY_AFTER;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;
use crate::crypto::keys::Alg;
use crate::store;

/// The process is up.
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, description = "`{\"status\": \"ok\"}`", body = Object)))]
pub async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can serve: its database answers, Redis too when families live there, and an
/// active key with its private key here signs each kind of token.
#[utoipa::path(get, path = "/ready", tag = "health",
    responses(
        (status = 200, description = "The database (and Redis, when configured) answer; a key signs", body = Object),
        (status = 503, description = "A dependency is down or no key can sign; the body names it", body = Object),
    ))]
pub async fn ready(State(app): State<AppState>) -> Response {
    let (database, redis) = tokio::join!(store::ping(&app.db), app.families.ping());
    let state = |up: bool| if up { "up" } else { "down" };
    let keys = app.keys.current();
    let now = app.clock.now();
    // Access tokens fall back to RS256, so an RS256 key that signs is enough for both.
    let signing = keys.signing(Alg::RS256, now).is_ok();
    let ready = database && redis.unwrap_or(true) && signing;
    let mut body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "database": state(database),
        "signing_key": state(signing),
    });
    if let Some(redis) = redis {
        body["redis"] = state(redis).into();
    }
    if ready {
        Json(body).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, [(RETRY_AFTER, "5")], Json(body)).into_response()
    }
}
