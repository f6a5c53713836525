//! The admin API (admin role): listing, reading, roles, disabling and soft-deleting accounts,
//! and OAuth clients.

use serde_json::json;

use crate::helpers::{TestApp, TestClient};

const PASSWORD: &str = "correct horse battery staple";

struct Admin {
    app: TestApp,
    client: TestClient,
    token: String,
    id: String,
}

async fn admin() -> Admin {
    let app = TestApp::spawn().await;
    let id = app
        .user_with_roles("root@example.com", PASSWORD, &["admin", "user"])
        .await;
    let client = app.full_client().await;
    let token = app.access_token(&client, "root@example.com", PASSWORD).await;
    Admin {
        app,
        client,
        token,
        id,
    }
}

impl Admin {
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> crate::helpers::TestResponse {
        self.app.api(method, path, Some(&self.token), body).await
    }
}

#[tokio::test]
async fn only_the_admin_role_opens_the_admin_api() {
    let a = admin().await;
    a.app
        .user_with_roles("staff@example.com", PASSWORD, &["staff"])
        .await;
    let staff = a.app.access_token(&a.client, "staff@example.com", PASSWORD).await;
    for (method, path) in [
        ("GET", "/api/v1/users"),
        ("GET", &format!("/api/v1/users/{}", a.id)),
        ("DELETE", &format!("/api/v1/users/{}", a.id)),
        ("GET", "/api/v1/clients"),
        ("POST", "/api/v1/roles"),
    ] {
        let body = (method == "POST").then(|| json!({ "name": "x", "permissions": [] }));
        a.app
            .api(method, path, Some(&staff), body.clone())
            .await
            .assert_api_error(403, "access_denied");
        assert_eq!(a.app.api(method, path, None, body).await.status, 401);
    }
    a.call("GET", "/api/v1/users", None).await.ok();
}

#[tokio::test]
async fn listing_pages_and_filters() {
    let a = admin().await;
    for i in 0..5 {
        a.app.user(&format!("user{i}@example.com"), PASSWORD).await;
    }
    a.app
        .user_with_roles("boss@corp.example", PASSWORD, &["staff"])
        .await;

    let first = a.call("GET", "/api/v1/users?limit=3", None).await.ok();
    assert_eq!(first["users"].as_array().unwrap().len(), 3);
    let next = first["next"].as_str().unwrap();
    let second = a
        .call("GET", &format!("/api/v1/users?limit=3&after={next}"), None)
        .await
        .ok();
    assert_eq!(second["users"].as_array().unwrap().len(), 3);
    let third = a
        .call(
            "GET",
            &format!("/api/v1/users?limit=3&after={}", second["next"].as_str().unwrap()),
            None,
        )
        .await
        .ok();
    assert_eq!(third["users"].as_array().unwrap().len(), 1);
    assert!(third.get("next").is_none());
    let mut seen: Vec<String> = [&first, &second, &third]
        .iter()
        .flat_map(|page| {
            page["users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_str().unwrap().to_owned())
        })
        .collect();
    seen.dedup();
    assert_eq!(seen.len(), 7, "every account exactly once");

    // A page's roles are read in one statement for all its accounts: each gets its own.
    let everyone = a.call("GET", "/api/v1/users?limit=200", None).await.ok();
    let roles_of = |email: &str| {
        everyone["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == email)
            .map(|u| u["roles"].clone())
            .unwrap()
    };
    assert_eq!(roles_of("boss@corp.example"), json!(["staff"]));
    assert_eq!(roles_of("user3@example.com"), json!(["user"]));
    assert_eq!(roles_of("root@example.com"), json!(["admin", "user"]));

    let by_email = a.call("GET", "/api/v1/users?email=CORP.example", None).await.ok();
    assert_eq!(by_email["users"].as_array().unwrap().len(), 1);
    assert_eq!(by_email["users"][0]["email"], "boss@corp.example");
    let by_role = a.call("GET", "/api/v1/users?role=staff", None).await.ok();
    assert_eq!(by_role["users"][0]["email"], "boss@corp.example");
    // `%` and `_` are literal in the email filter.
    let literal = a.call("GET", "/api/v1/users?email=%25", None).await.ok();
    assert_eq!(literal["users"].as_array().unwrap().len(), 0);

    for bad in ["limit=0", "limit=201", "limit=-1", "limit=x", "status=gone"] {
        a.call("GET", &format!("/api/v1/users?{bad}"), None)
            .await
            .assert_api_error(400, "invalid_request");
    }
}

#[tokio::test]
async fn disabling_ends_every_session_at_once_and_enabling_restores_sign_in() {
    let a = admin().await;
    let id = a.app.user("ada@example.com", PASSWORD).await;
    let tokens = a.app.login(&a.client, "ada@example.com", PASSWORD).await;
    let access = tokens["access_token"].as_str().unwrap();

    let disabled = a
        .call(
            "PATCH",
            &format!("/api/v1/users/{id}"),
            Some(json!({ "disabled": true })),
        )
        .await
        .ok();
    assert_eq!(disabled["status"], "disabled");
    assert_eq!(
        a.app.introspect(&a.client, access).await,
        json!({ "active": false })
    );
    a.app
        .refresh(&a.client, tokens["refresh_token"].as_str().unwrap())
        .await
        .assert_oauth_error(400, "invalid_grant");
    a.app
        .password_grant(&a.client, "ada@example.com", PASSWORD, None)
        .await
        .assert_oauth_error(400, "invalid_grant");
    let filtered = a.call("GET", "/api/v1/users?status=disabled", None).await.ok();
    assert_eq!(filtered["users"][0]["id"], id.as_str());

    a.call(
        "PATCH",
        &format!("/api/v1/users/{id}"),
        Some(json!({ "disabled": false })),
    )
    .await
    .ok();
    a.app.login(&a.client, "ada@example.com", PASSWORD).await;
}

#[tokio::test]
async fn soft_delete_keeps_the_row_ends_sessions_and_refuses_sign_in() {
    let a = admin().await;
    let id = a.app.user("ada@example.com", PASSWORD).await;
    let tokens = a.app.login(&a.client, "ada@example.com", PASSWORD).await;
    let access = tokens["access_token"].as_str().unwrap();

    a.call("DELETE", &format!("/api/v1/users/{id}"), None)
        .await
        .expect(204);

    a.app
        .refresh(&a.client, tokens["refresh_token"].as_str().unwrap())
        .await
        .assert_oauth_error(400, "invalid_grant");
    assert_eq!(
        a.app.introspect(&a.client, access).await,
        json!({ "active": false })
    );
    a.app
        .userinfo(access)
        .await
        .assert_api_error(401, "invalid_token");
    a.app
        .api("GET", "/api/v1/users/me", Some(access), None)
        .await
        .assert_api_error(401, "invalid_token");
    a.app
        .password_grant(&a.client, "ada@example.com", PASSWORD, None)
        .await
        .assert_oauth_error(400, "invalid_grant");

    let kept = a.call("GET", &format!("/api/v1/users/{id}"), None).await.ok();
    assert_eq!(kept["status"], "deleted");
    assert!(kept["deleted_at"].is_i64());
    let listed = a.call("GET", "/api/v1/users?status=deleted", None).await.ok();
    assert_eq!(listed["users"][0]["id"], id.as_str());
    let live = a.call("GET", "/api/v1/users", None).await.ok();
    assert!(
        live["users"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["id"] != id.as_str())
    );

    a.call("DELETE", &format!("/api/v1/users/{id}"), None)
        .await
        .assert_api_error(404, "not_found");
    a.call(
        "PATCH",
        &format!("/api/v1/users/{id}"),
        Some(json!({ "disabled": true })),
    )
    .await
    .assert_api_error(404, "not_found");
    // The address may sign up again as a new account.
    a.app
        .api(
            "POST",
            "/api/v1/users",
            None,
            Some(json!({ "email": "ada@example.com", "password": PASSWORD })),
        )
        .await
        .expect(201);
}

#[tokio::test]
async fn an_administrator_cannot_lock_themselves_out() {
    let a = admin().await;
    let path = format!("/api/v1/users/{}", a.id);
    a.call("DELETE", &path, None)
        .await
        .assert_api_error(409, "conflict");
    a.call("PATCH", &path, Some(json!({ "disabled": true })))
        .await
        .assert_api_error(409, "conflict");
    a.call("PATCH", &path, Some(json!({ "roles": ["user"] })))
        .await
        .assert_api_error(409, "conflict");
    a.call("GET", "/api/v1/users", None).await.ok();
}

#[tokio::test]
async fn promoting_takes_a_new_token_and_demoting_takes_effect_at_once() {
    let a = admin().await;
    let id = a.app.user("ada@example.com", PASSWORD).await;
    let before = a.app.access_token(&a.client, "ada@example.com", PASSWORD).await;
    let promoted = a
        .call(
            "PATCH",
            &format!("/api/v1/users/{id}"),
            Some(json!({ "roles": ["user", "admin"] })),
        )
        .await
        .ok();
    assert_eq!(promoted["roles"], json!(["admin", "user"]));
    // The old token carries the old roles.
    a.app
        .api("GET", "/api/v1/users", Some(&before), None)
        .await
        .assert_api_error(403, "access_denied");
    let after = a.app.access_token(&a.client, "ada@example.com", PASSWORD).await;
    a.app.api("GET", "/api/v1/users", Some(&after), None).await.ok();
    assert_eq!(
        a.app.introspect(&a.client, &after).await["roles"],
        json!(["admin", "user"])
    );

    a.call(
        "PATCH",
        &format!("/api/v1/users/{id}"),
        Some(json!({ "roles": ["user"] })),
    )
    .await
    .ok();
    // The token still says admin, but the account no longer holds it.
    a.app
        .api("GET", "/api/v1/users", Some(&after), None)
        .await
        .assert_api_error(403, "access_denied");
    assert_eq!(
        a.app.introspect(&a.client, &after).await["roles"],
        json!(["user"])
    );

    for body in [
        json!({ "roles": ["no-such-role"] }),
        json!({ "roles": "admin" }),
        json!({ "disabled": "yes" }),
        json!({ "email": "x@example.com" }),
    ] {
        a.call("PATCH", &format!("/api/v1/users/{id}"), Some(body))
            .await
            .assert_api_error(400, "invalid_request");
    }
    a.call(
        "PATCH",
        "/api/v1/users/00000000-0000-0000-0000-000000000000",
        Some(json!({ "disabled": true })),
    )
    .await
    .assert_api_error(404, "not_found");
}

#[tokio::test]
async fn clients_are_managed_as_on_the_command_line() {
    let a = admin().await;
    let created = a
        .call(
            "POST",
            "/api/v1/clients",
            Some(json!({ "name": "billing", "grant_types": ["client_credentials"], "scopes": ["invoices:read"] })),
        )
        .await
        .expect(201);
    let id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 43);
    let billing = TestClient {
        id: id.clone(),
        secret: Some(secret),
    };
    let machine = a.app.client_credentials(&billing).await.ok();

    let shown = a.call("GET", &format!("/api/v1/clients/{id}"), None).await.ok();
    assert_eq!(shown["name"], "billing");
    assert_eq!(shown["public"], false);
    assert_eq!(shown["first_party"], false);

    // A browser app: the code flow, its redirect URIs, first party.
    let web = a
        .call(
            "POST",
            "/api/v1/clients",
            Some(json!({
                "name": "portal",
                "grant_types": ["authorization_code", "refresh_token"],
                "scopes": ["openid"],
                "redirect_uris": ["https://portal.example.com/cb"],
                "post_logout_redirect_uris": ["https://portal.example.com/"],
                "first_party": true
            })),
        )
        .await
        .expect(201);
    let web = a
        .call(
            "GET",
            &format!("/api/v1/clients/{}", web["client_id"].as_str().unwrap()),
            None,
        )
        .await
        .ok();
    assert_eq!(web["redirect_uris"], json!(["https://portal.example.com/cb"]));
    assert_eq!(
        web["post_logout_redirect_uris"],
        json!(["https://portal.example.com/"])
    );
    assert_eq!(web["first_party"], true);
    a.call(
        "POST",
        "/api/v1/clients",
        Some(json!({ "name": "bad", "grant_types": ["authorization_code"], "redirect_uris": ["javascript:alert(1)"] })),
    )
    .await
    .assert_api_error(400, "invalid_request");
    assert!(!String::from_utf8_lossy(&a.call("GET", "/api/v1/clients", None).await.body).contains("secret"));

    let rotated = a
        .call("POST", &format!("/api/v1/clients/{id}/secret"), None)
        .await
        .ok();
    a.app
        .client_credentials(&billing)
        .await
        .assert_oauth_error(401, "invalid_client");
    let billing = TestClient {
        id: id.clone(),
        secret: Some(rotated["client_secret"].as_str().unwrap().to_owned()),
    };
    a.app.client_credentials(&billing).await.ok();

    let public = a
        .call(
            "POST",
            "/api/v1/clients",
            Some(json!({ "name": "spa", "public": true })),
        )
        .await
        .expect(201);
    assert!(public.get("client_secret").is_none());
    for body in [
        json!({ "name": "" }),
        json!({ "name": "x", "grant_types": ["implicit"] }),
        json!({ "name": "x", "public": true, "grant_types": ["client_credentials"] }),
        json!({ "name": "x", "redirect_uris": ["no-scheme"] }),
        json!({ "grant_types": [] }),
    ] {
        a.call("POST", "/api/v1/clients", Some(body))
            .await
            .assert_api_error(400, "invalid_request");
    }

    a.call("DELETE", &format!("/api/v1/clients/{id}"), None)
        .await
        .expect(204);
    a.app
        .client_credentials(&billing)
        .await
        .assert_oauth_error(401, "invalid_client");
    assert_eq!(
        a.app
            .introspect(&a.client, machine["access_token"].as_str().unwrap())
            .await,
        json!({ "active": false })
    );
    a.call("GET", &format!("/api/v1/clients/{id}"), None)
        .await
        .assert_api_error(404, "not_found");
    a.call("DELETE", &format!("/api/v1/clients/{id}"), None)
        .await
        .assert_api_error(404, "not_found");
}
