//! Prometheus metrics: one recorder per process, every metric name here, and label values that
//! are bounded (route templates, grant names, outcomes; never user or client ids).

use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock, PoisonError, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::app::AppState;
use crate::crypto::lifecycle::KeyState;

/// Request latency buckets, in seconds: from a cached introspection to a queued password check.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's recorder (once; later calls return the same handle). `None` when
/// another recorder was installed first, in which case nothing is exported.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
                .ok()?
                .install_recorder()
                .inspect_err(|e| tracing::warn!(error = %e, "metrics recorder not installed"))
                .ok()?;
            gauge!("keyward_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            Some(handle)
        })
        .clone()
}

/// Folds recorded histogram samples into their buckets every few seconds, so that memory stays
/// flat however long nobody scrapes.
pub async fn upkeep_periodically() {
    let Some(handle) = install() else { return };
    let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        every.tick().await;
        handle.run_upkeep();
    }
}

/// Counts and times every request by method, route template and status.
pub async fn track_http(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    // The template (`/api/v1/users/:id`), never the path itself: bounded, and free of ids.
    // Written with `:` rather than axum's braces, which some text-format parsers mistake for
    // the end of the label set.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| {
            interned(p.as_str(), |template| template.replace('{', ":").replace('}', ""))
        });
    let response = next.run(request).await;
    let status = interned(response.status().as_str(), str::to_owned);
    histogram!("keyward_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    counter!("keyward_http_requests_total", "method" => method, "route" => route, "status" => status)
        .increment(1);
    response
}

/// The methods the router answers, as themselves; any other (TRACE, CONNECT, an extension
/// method a client made up) as `other`, so that no request can add a series.
fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// The label written for `key` (a route template or a status code: a few dozen of them, fixed
/// by the router and HTTP), made once by `label` and kept for the life of the process, so that
/// recording a request allocates nothing. One map serves both: a template starts with `/`, a
/// status code never does.
fn interned(key: &str, label: impl FnOnce(&str) -> String) -> &'static str {
    static LABELS: LazyLock<RwLock<HashMap<Box<str>, &'static str>>> = LazyLock::new(Default::default);
    if let Some(found) = LABELS.read().unwrap_or_else(PoisonError::into_inner).get(key) {
        return found;
    }
    let mut labels = LABELS.write().unwrap_or_else(PoisonError::into_inner);
    labels
        .entry(key.into())
        .or_insert_with(|| Box::leak(label(key).into_boxed_str()))
}

/// `GET /metrics`: the Prometheus text format, with the gauges read at scrape time.
pub async fn scrape(State(app): State<AppState>) -> Response {
    let Some(handle) = install() else {
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "metrics are not recorded",
        )
            .into_response();
    };
    record_key_states(&app);
    gauge!("keyward_password_queue_depth").set(app.passwords.admitted() as f64);
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        handle.render(),
    )
        .into_response()
}

/// How many keys of each algorithm are in each state now, and how long each active key has
/// signed.
fn record_key_states(app: &AppState) {
    let now = app.clock.now();
    let states = app.keys.states(now);
    for alg in crate::crypto::keys::Alg::ALL {
        let active_since = states
            .iter()
            .find(|k| k.dates.alg == alg && k.state == KeyState::Active)
            .map(|k| k.dates.activates_at);
        if let Some(since) = active_since {
            gauge!("keyward_signing_key_active_seconds", "alg" => alg.as_str()).set((now - since) as f64);
        }
        for state in KeyState::ALL {
            let count = states
                .iter()
                .filter(|k| k.dates.alg == alg && k.state == state)
                .count();
            gauge!("keyward_signing_keys", "alg" => alg.as_str(), "state" => state.as_str())
                .set(count as f64);
        }
    }
}

/// A token issued at the token endpoint, by grant type.
pub fn token_issued(grant: &'static str) {
    counter!("keyward_tokens_issued_total", "grant" => grant).increment(1);
}

/// A refresh token rotated.
pub fn refresh_rotated() {
    counter!("keyward_refresh_rotations_total").increment(1);
}

/// A session's family revoked, by why: `reuse` (a replaced refresh token presented again),
/// `code_replay`, `revocation`, `logout`.
pub fn family_revoked(reason: &'static str) {
    counter!("keyward_family_revocations_total", "reason" => reason).increment(1);
}

/// A revocation request answered, by the kind of token presented.
pub fn revocation(token_kind: &'static str) {
    counter!("keyward_revocations_total", "token_kind" => token_kind).increment(1);
}

/// An introspection answered, by whether the token was active.
pub fn introspection(active: bool) {
    counter!("keyward_introspections_total", "active" => if active { "true" } else { "false" }).increment(1);
}

/// A failed password check, and whether it was refused by a lockout before any hashing.
pub fn login_failed(locked_out: bool) {
    let reason = if locked_out {
        "locked_out"
    } else {
        "wrong_credentials"
    };
    counter!("keyward_login_failures_total", "reason" => reason).increment(1);
}

/// A request refused by admission control: no turn came within the wait.
pub fn request_shed() {
    counter!("keyward_requests_shed_total").increment(1);
}

/// A password check refused with 503 because the hashing queue was full.
pub fn login_shed() {
    counter!("keyward_logins_shed_total").increment(1);
}

/// A request that failed because a dependency was out of reach (`database` or `redis`).
pub fn dependency_error(dependency: &'static str) {
    counter!("keyward_dependency_errors_total", "dependency" => dependency).increment(1);
}
