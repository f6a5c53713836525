//! Liveness and readiness.

use crate::helpers::TestApp;

#[tokio::test]
async fn health_and_ready_answer_when_the_database_is_up() {
    let app = TestApp::spawn().await;
    let health = app.get("/health", None).await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");
    let ready = app.get("/ready", None).await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json()["database"], "up");
}

#[tokio::test]
async fn ready_is_503_with_retry_after_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.state.db.close().await;
    let ready = app.get("/ready", None).await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json()["database"], "down");
    assert!(ready.header("retry-after").is_some());
    // Liveness does not depend on the database.
    assert_eq!(app.get("/health", None).await.status, 200);
}
