//! Roles and permissions: built-in and custom roles, carried in access tokens (`roles`,
//! `permissions`) and introspection.

use serde_json::json;

use crate::helpers::{TestApp, claims};

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn custom_roles_grant_permissions_that_tokens_and_introspection_carry() {
    let app = TestApp::spawn().await;
    app.user_with_roles("root@example.com", PASSWORD, &["admin"])
        .await;
    let client = app.full_client().await;
    let admin = app.access_token(&client, "root@example.com", PASSWORD).await;

    let created = app
        .api(
            "POST",
            "/api/v1/roles",
            Some(&admin),
            Some(json!({ "name": "billing", "permissions": ["invoices:write", "invoices:read", "invoices:read"] })),
        )
        .await
        .expect(201);
    assert_eq!(
        created,
        json!({ "name": "billing", "permissions": ["invoices:read", "invoices:write"], "builtin": false })
    );
    app.api(
        "POST",
        "/api/v1/roles",
        Some(&admin),
        Some(json!({ "name": "billing", "permissions": [] })),
    )
    .await
    .assert_api_error(409, "conflict");

    let id = app.user("ada@example.com", PASSWORD).await;
    app.api(
        "PATCH",
        &format!("/api/v1/users/{id}"),
        Some(&admin),
        Some(json!({ "roles": ["user", "billing"] })),
    )
    .await
    .ok();
    let token = app.access_token(&client, "ada@example.com", PASSWORD).await;
    let c = claims(&token);
    assert_eq!(c["roles"], json!(["billing", "user"]));
    assert_eq!(c["permissions"], json!(["invoices:read", "invoices:write"]));
    let seen = app.introspect(&client, &token).await;
    assert_eq!(seen["permissions"], json!(["invoices:read", "invoices:write"]));

    // Everyone signed in may read the roles.
    let listed = app.api("GET", "/api/v1/roles", Some(&token), None).await.ok();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "billing", "staff", "user"]);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "admin" && r["builtin"] == true)
    );

    // Deleting the role takes it, and its permissions, from tokens already issued.
    app.api("DELETE", "/api/v1/roles/billing", Some(&admin), None)
        .await
        .expect(204);
    let seen = app.introspect(&client, &token).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["roles"], json!(["user"]));
    assert_eq!(seen["permissions"], json!([]));
    app.api("DELETE", "/api/v1/roles/billing", Some(&admin), None)
        .await
        .assert_api_error(404, "not_found");
}

#[tokio::test]
async fn built_in_roles_stay_and_bad_roles_are_refused() {
    let app = TestApp::spawn().await;
    app.user_with_roles("root@example.com", PASSWORD, &["admin"])
        .await;
    let client = app.full_client().await;
    let admin = app.access_token(&client, "root@example.com", PASSWORD).await;
    for name in ["user", "staff", "admin"] {
        app.api("DELETE", &format!("/api/v1/roles/{name}"), Some(&admin), None)
            .await
            .assert_api_error(409, "conflict");
    }
    let many: Vec<String> = (0..101).map(|i| format!("p{i}")).collect();
    for body in [
        json!({ "name": "Upper", "permissions": [] }),
        json!({ "name": "", "permissions": [] }),
        json!({ "name": "x".repeat(65), "permissions": [] }),
        json!({ "name": "ok", "permissions": ["has space"] }),
        json!({ "name": "ok", "permissions": ["p".repeat(129)] }),
        json!({ "name": "ok", "permissions": many }),
        json!({ "name": "ok" }),
        json!({ "name": "ok", "permissions": "one" }),
    ] {
        app.api("POST", "/api/v1/roles", Some(&admin), Some(body))
            .await
            .assert_api_error(400, "invalid_request");
    }
}
