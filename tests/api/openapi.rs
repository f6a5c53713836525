//! `/openapi.json` (OpenAPI 3.1) documents every endpoint; `/docs` serves Swagger UI from the
//! binary.

use crate::helpers::TestApp;

#[tokio::test]
async fn the_document_is_openapi_3_1_and_lists_every_endpoint() {
    let app = TestApp::spawn().await;
    let doc = app.get("/openapi.json", None).await.ok();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(doc["servers"][0]["url"], "https://id.test");
    let expected = [
        ("/oauth/token", "post"),
        ("/oauth/revoke", "post"),
        ("/oauth/introspect", "post"),
        ("/oauth/authorize", "get"),
        ("/oauth/authorize", "post"),
        ("/oauth/logout", "get"),
        ("/oauth/logout", "post"),
        ("/login", "get"),
        ("/login", "post"),
        ("/consent", "post"),
        ("/forgot-password", "get"),
        ("/forgot-password", "post"),
        ("/reset-password", "get"),
        ("/reset-password", "post"),
        ("/verify-email", "get"),
        ("/verify-email", "post"),
        ("/api/v1/password-reset", "post"),
        ("/api/v1/password-reset/complete", "post"),
        ("/userinfo", "get"),
        ("/userinfo", "post"),
        ("/.well-known/openid-configuration", "get"),
        ("/.well-known/oauth-authorization-server", "get"),
        ("/.well-known/jwks.json", "get"),
        ("/health", "get"),
        ("/ready", "get"),
        ("/api/v1/users", "post"),
        ("/api/v1/users", "get"),
        ("/api/v1/users/verify-email", "get"),
        ("/api/v1/users/me", "get"),
        ("/api/v1/users/me", "patch"),
        ("/api/v1/users/me/password", "put"),
        ("/api/v1/users/me/verify-email", "post"),
        ("/api/v1/logout", "post"),
        ("/api/v1/users/{id}", "get"),
        ("/api/v1/users/{id}", "patch"),
        ("/api/v1/users/{id}", "delete"),
        ("/api/v1/roles", "get"),
        ("/api/v1/roles", "post"),
        ("/api/v1/roles/{name}", "delete"),
        ("/api/v1/clients", "get"),
        ("/api/v1/clients", "post"),
        ("/api/v1/clients/{id}", "get"),
        ("/api/v1/clients/{id}", "delete"),
        ("/api/v1/clients/{id}/secret", "post"),
    ];
    for (path, method) in expected {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is not documented"
        );
    }
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(
        documented,
        expected.len(),
        "an undocumented or unexpected operation"
    );
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert!(doc["components"]["schemas"]["TokenResponse"].is_object());
}

#[tokio::test]
async fn docs_are_served_from_the_binary() {
    let app = TestApp::spawn().await;
    let page = app.get("/docs/", None).await;
    assert_eq!(page.status, 200);
    assert!(String::from_utf8_lossy(&page.body).contains("swagger-ui"));
    let bundle = app.get("/docs/swagger-ui-bundle.js", None).await;
    assert_eq!(bundle.status, 200);
    assert!(bundle.body.len() > 100_000);
    let config = app.get("/docs/swagger-initializer.js", None).await;
    assert!(String::from_utf8_lossy(&config.body).contains("/openapi.json"));
}
