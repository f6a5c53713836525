//! Admission control: a bounded number of requests in progress, as many waiting for a turn for a
//! bounded time, and a `503` with `Retry-After` at once beyond them, so that a burst of any size
//! is shed instead of queued (every request would otherwise share the CPU and all of them would
//! slow down together, without bound: measured, a p99 of 0.7 s and a max of 2 s under 1000
//! connections of introspection).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::app::AppState;
use crate::http::browser::Page;

/// Turns for requests in progress, shared by every route of one server.
#[derive(Clone)]
pub struct Admission {
    turns: Arc<Semaphore>,
    /// Requests waiting for a turn now.
    waiting: Arc<AtomicUsize>,
    /// At most this many wait: as many as there are turns, which come round within milliseconds.
    max_waiting: usize,
    wait: Duration,
}

/// Requests in progress per CPU when the configuration leaves it to keyward: enough to keep the
/// cores and the database busy while some requests wait on I/O, few enough that a turn comes
/// within milliseconds.
const IN_FLIGHT_PER_CPU: usize = 32;

impl Admission {
    pub fn new(app: &AppState) -> Self {
        let turns = match app.config.max_in_flight {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()) * IN_FLIGHT_PER_CPU,
            n => n,
        };
        Self {
            turns: Arc::new(Semaphore::new(turns)),
            waiting: Arc::default(),
            max_waiting: turns,
            wait: app.config.admission_wait,
        }
    }

    /// A turn, at once or within the wait (turns are handed out in arrival order); `None` when
    /// the server is saturated: every turn taken and the waiting line full, or no turn within
    /// the wait.
    async fn enter(&self) -> Option<OwnedSemaphorePermit> {
        if let Ok(turn) = Arc::clone(&self.turns).try_acquire_owned() {
            return Some(turn);
        }
        let turn = if self.waiting.fetch_add(1, Ordering::AcqRel) < self.max_waiting {
            let turn = tokio::time::timeout(self.wait, Arc::clone(&self.turns).acquire_owned()).await;
            turn.ok().and_then(Result::ok)
        } else {
            None
        };
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        if turn.is_none() {
            crate::telemetry::request_shed();
        }
        turn
    }
}

/// The gate of the JSON endpoints (OAuth and the account API share the error shape of RFC 6749
/// §5.2).
pub async fn json_gate(State(admission): State<Admission>, request: Request, next: Next) -> Response {
    let Some(_turn) = admission.enter().await else {
        let body = json!({
            "error": "temporarily_unavailable",
            "error_description": "the server is busy; retry in a second",
        });
        let mut response = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(1));
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return response;
    };
    next.run(request).await
}

/// The gate of the pages: the same turns, refused with the error page.
pub async fn page_gate(
    State((admission, app)): State<(Admission, AppState)>,
    request: Request,
    next: Next,
) -> Response {
    let Some(_turn) = admission.enter().await else {
        return Page::unavailable(&app, 1).into_response();
    };
    next.run(request).await
}
