//! Admission control: requests beyond the turns in progress wait a bounded time, then are shed
//! at once with 503 and `Retry-After`, in the shape of the endpoint they asked for.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

use crate::helpers::TestApp;

#[tokio::test]
async fn requests_beyond_the_turns_are_shed_with_retry_after_in_each_shape() {
    let app = TestApp::with_config(|c| {
        c.max_in_flight = 1;
        c.admission_wait = Duration::from_millis(20);
    })
    .await;
    let client = app.client(&["client_credentials"], "").await;

    // One request holds the only turn: its body has not arrived yet.
    let (release, held) = tokio::sync::oneshot::channel::<()>();
    let body = Body::from_stream(futures_util::stream::once(async move {
        let _ = held.await;
        Ok::<_, Infallible>("grant_type=client_credentials")
    }));
    let holding = Request::post("/oauth/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", client.basic())
        .body(body)
        .unwrap();
    let router = app.router.clone();
    let first = tokio::spawn(async move { router.oneshot(holding).await.unwrap() });

    // Until the first request has its turn, a second one may still get in.
    let mut shed = None;
    for _ in 0..200 {
        let response = app.client_credentials(&client).await;
        if response.status == 503 {
            shed = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let shed = shed.expect("no request was shed while the only turn was held");
    assert_eq!(shed.header("retry-after"), Some("1"));
    assert_eq!(shed.header("cache-control"), Some("no-store"));
    assert_eq!(shed.json()["error"], "temporarily_unavailable");

    let started = std::time::Instant::now();
    let api = app.get("/api/v1/users/me", Some("Bearer x")).await;
    assert_eq!(api.status, 503);
    assert_eq!(api.json()["error"], "temporarily_unavailable");
    // Shed within the wait, not after the held request (which never ends on its own).
    assert!(started.elapsed() < Duration::from_secs(5));

    let page = app.get("/login", None).await;
    assert_eq!(page.status, 503);
    assert_eq!(page.header("retry-after"), Some("1"));
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    assert!(page.text().contains("try again"), "{}", page.text());

    // Probes are never refused: a saturated replica is alive and ready.
    assert_eq!(app.get("/health", None).await.status, 200);
    assert_eq!(app.get("/ready", None).await.status, 200);

    // The held request completes, and its turn serves the next one.
    release.send(()).unwrap();
    assert_eq!(first.await.unwrap().status(), 200);
    assert_eq!(app.client_credentials(&client).await.status, 200);
}
