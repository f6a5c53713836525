//! `/metrics`: the Prometheus text format, parsed by a real parser, with counters that move.

use keyward::http::metrics_router;
use tower::ServiceExt;

use crate::helpers::TestApp;

/// Scrapes the metrics router of `app` and parses the answer.
async fn scrape(app: &TestApp) -> prometheus_parse::Scrape {
    let response = metrics_router(app.state.clone())
        .oneshot(
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let text = String::from_utf8(body.to_vec()).unwrap();
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

/// The sum of every sample of `name` whose labels include `labels`.
fn total(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

#[tokio::test]
async fn counters_move_as_requests_are_served_and_labels_hold_no_ids() {
    // The recorder is one per process and the tests run side by side: compare before and after.
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    app.user("ada@example.com", "pw-pw-pw-pw").await;
    let before = scrape(&app).await;

    let tokens = app.login(&client, "ada@example.com", "pw-pw-pw-pw").await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let rotated = app.refresh(&client, refresh).await.ok();
    app.refresh(&client, refresh).await; // reuse: the family is revoked
    app.password_grant(&client, "ada@example.com", "wrong-wrong", None)
        .await;
    let access = rotated["access_token"].as_str().unwrap();
    app.introspect(&client, access).await;
    app.revoke(&client, access).await;
    let user_id = crate::helpers::claims(access)["sub"].as_str().unwrap().to_owned();
    app.get(&format!("/api/v1/users/{user_id}"), None).await;

    let after = scrape(&app).await;
    let moved =
        |name: &str, labels: &[(&str, &str)]| total(&after, name, labels) - total(&before, name, labels);
    assert!(moved("keyward_tokens_issued_total", &[("grant", "password")]) >= 1.0);
    assert!(moved("keyward_tokens_issued_total", &[("grant", "refresh_token")]) >= 1.0);
    assert!(moved("keyward_refresh_rotations_total", &[]) >= 1.0);
    assert!(moved("keyward_family_revocations_total", &[("reason", "reuse")]) >= 1.0);
    assert!(moved("keyward_login_failures_total", &[("reason", "wrong_credentials")]) >= 1.0);
    assert!(moved("keyward_introspections_total", &[("active", "false")]) >= 1.0);
    assert!(moved("keyward_revocations_total", &[("token_kind", "access_token")]) >= 1.0);
    assert!(
        moved(
            "keyward_http_requests_total",
            &[("route", "/oauth/token"), ("method", "POST"), ("status", "200")]
        ) >= 2.0
    );
    assert!(
        moved(
            "keyward_http_requests_total",
            &[("route", "/api/v1/users/:id"), ("status", "401")]
        ) >= 1.0
    );
    assert!(
        moved(
            "keyward_http_request_duration_seconds_count",
            &[("route", "/oauth/token")]
        ) >= 2.0
    );
    assert_eq!(total(&after, "keyward_build_info", &[]), 1.0);
    assert_eq!(
        total(
            &after,
            "keyward_signing_keys",
            &[("alg", "RS256"), ("state", "active")]
        ),
        1.0
    );
    // Bounded labels: a route template, never the id in the path.
    for sample in &after.samples {
        for (_, value) in sample.labels.iter() {
            assert!(!value.contains(&user_id), "{} carries an id", sample.metric);
            assert!(
                !value.contains(&client.id),
                "{} carries a client id",
                sample.metric
            );
        }
    }
}

#[tokio::test]
async fn a_made_up_method_is_counted_as_other_and_adds_no_series() {
    let app = TestApp::spawn().await;
    let method = format!("BREW{}", uuid::Uuid::new_v4().simple()).to_uppercase();
    let before = scrape(&app).await;
    let request = axum::http::Request::builder()
        .method(method.as_str())
        .uri("/oauth/token")
        .body(axum::body::Body::empty())
        .unwrap();
    app.request(request).await;
    let after = scrape(&app).await;
    let moved =
        |name: &str, labels: &[(&str, &str)]| total(&after, name, labels) - total(&before, name, labels);
    assert!(
        moved(
            "keyward_http_requests_total",
            &[("route", "/oauth/token"), ("method", "other")]
        ) >= 1.0
    );
    assert!(
        after
            .samples
            .iter()
            .all(|s| s.labels.iter().all(|(_, value)| value != method.as_str())),
        "the method became a label value"
    );
}

#[test]
fn the_dashboard_and_alerts_use_only_metrics_keyward_exports() {
    let source = std::fs::read_to_string("src/telemetry.rs").unwrap();
    for file in ["deploy/grafana-dashboard.json", "deploy/keyward-alerts.yml"] {
        let text = std::fs::read_to_string(file).unwrap();
        let mut names: Vec<&str> = text
            .match_indices("keyward_")
            .map(|(at, _)| {
                let rest = &text[at..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                &rest[..end]
            })
            .filter(|name| *name != "keyward_" && !name.ends_with("_"))
            .collect();
        names.sort_unstable();
        names.dedup();
        assert!(names.len() >= 5, "{file}: {names:?}");
        for name in names {
            let exported = ["_bucket", "_count", "_sum"]
                .iter()
                .fold(name, |n, suffix| n.strip_suffix(suffix).unwrap_or(n));
            assert!(
                source.contains(&format!("\"{exported}\"")),
                "{file} uses {name}, which keyward does not export"
            );
        }
    }
}
