//! Liveness (`/health`) and readiness (`/ready`: the database answers).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;
use crate::http::RETRY_AFTER;
use crate::store;

/// The process is up.
pub async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can serve: its database answers.
pub async fn ready(State(app): State<AppState>) -> Response {
    if store::ping(&app.db).await {
        Json(json!({ "status": "ready", "database": "up" })).into_response()
    } else {
        let body = Json(json!({ "status": "unavailable", "database": "down" }));
        (StatusCode::SERVICE_UNAVAILABLE, [(RETRY_AFTER, "5")], body).into_response()
    }
}
