//! The audit trail, read from a real `keyward serve` process logging JSON: one event per account
//! or admin action (actor, action, target, outcome), and never a secret in the log.

use serde_json::{Value, json};

use crate::cli::{json as stdout_json, keyward};
use crate::process::Server;

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "an entirely different phrase";

#[tokio::test]
async fn every_account_and_admin_action_is_one_audit_event_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let admin_id = stdout_json(&keyward(
        &dir,
        &[
            "user",
            "create",
            "--email",
            "root@example.com",
            "--role",
            "admin",
            "--password-stdin",
            "--json",
        ],
        Some(PASSWORD),
    ))["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let client = stdout_json(&keyward(
        &dir,
        &[
            "client", "create", "--name", "app", "--grant", "password", "--scope", "openid", "--json",
        ],
        None,
    ));
    let (client_id, secret) = (
        client["client_id"].as_str().unwrap(),
        client["client_secret"].as_str().unwrap(),
    );
    let mut server = Server::start(
        dir.path(),
        &dir.path().join("keys"),
        &[("KEYWARD_LOG_FORMAT", "json".into())],
    );
    let base = server.url();
    let http = reqwest::Client::new();
    let login = |email: &'static str, password: &'static str| {
        let request = http
            .post(format!("{base}/oauth/token"))
            .basic_auth(client_id, Some(secret))
            .form(&[
                ("grant_type", "password"),
                ("username", email),
                ("password", password),
            ]);
        async move {
            let tokens: Value = request.send().await.unwrap().json().await.unwrap();
            tokens["access_token"].as_str().unwrap().to_owned()
        }
    };
    let call = |method: reqwest::Method, path: &str, token: Option<&str>, body: Option<Value>| {
        let mut request = http.request(method, format!("{base}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };

    let admin = login("root@example.com", PASSWORD).await;
    let signup = json!({ "email": "ada@example.com", "password": PASSWORD });
    assert_eq!(
        call(reqwest::Method::POST, "/api/v1/users", None, Some(signup)).await,
        201
    );
    let access = login("ada@example.com", PASSWORD).await;
    let sid = crate::helpers::claims(&access)["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let patch = json!({ "name": "Ada" });
    assert_eq!(
        call(
            reqwest::Method::PATCH,
            "/api/v1/users/me",
            Some(&access),
            Some(patch)
        )
        .await,
        200
    );
    let change = json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD });
    assert_eq!(
        call(
            reqwest::Method::PUT,
            "/api/v1/users/me/password",
            Some(&access),
            Some(change)
        )
        .await,
        204
    );
    assert_eq!(
        call(reqwest::Method::GET, "/api/v1/users", Some(&access), None).await,
        403
    );
    assert_eq!(
        call(reqwest::Method::POST, "/api/v1/logout", Some(&access), None).await,
        204
    );
    let listed: Value = http
        .get(format!("{base}/api/v1/users?email=ada"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = listed["users"][0]["id"].as_str().unwrap().to_owned();
    let delete = format!("/api/v1/users/{id}");
    assert_eq!(
        call(reqwest::Method::DELETE, &delete, Some(&admin), None).await,
        204
    );
    server.terminate();
    server.wait_exit(std::time::Duration::from_secs(15));

    let log = std::fs::read_to_string(dir.path().join("keyward.log")).unwrap();
    let events: Vec<Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["target"] == "keyward::audit")
        .map(|event| event["fields"].clone())
        .collect();
    let seen: Vec<(String, String, String, String)> = events
        .iter()
        .map(|f| {
            let field = |name: &str| f[name].as_str().unwrap_or_default().to_owned();
            (field("actor"), field("action"), field("target"), field("outcome"))
        })
        .collect();
    let row = |actor: &str, action: &str, target: &str, outcome: &str| {
        (
            actor.to_owned(),
            action.to_owned(),
            target.to_owned(),
            outcome.to_owned(),
        )
    };
    let expected = vec![
        row("anonymous", "user.sign_up", &id, "success"),
        row(&id, "user.update_profile", &id, "success"),
        row(&id, "user.change_password", &id, "success"),
        row(&id, "admin.list_users", "users", "access_denied"),
        row(&id, "user.logout", &sid, "success"),
        row(&admin_id, "admin.list_users", "users", "success"),
        row(&admin_id, "admin.delete_user", &id, "success"),
    ];
    assert_eq!(seen, expected);
    for secret in [PASSWORD, NEW_PASSWORD, &access, &admin, secret] {
        assert!(!log.contains(secret), "a secret reached the log");
    }
}
