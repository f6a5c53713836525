//! `POST /api/v1/users`: sign-up, the NIST SP 800-63B password policy, and bad input.

use serde_json::json;

use crate::helpers::TestApp;

const PASSWORD: &str = "correct horse battery staple";

fn signup(email: &str, password: &str) -> serde_json::Value {
    json!({ "email": email, "password": password, "name": "Ada Lovelace" })
}

#[tokio::test]
async fn sign_up_creates_a_user_who_signs_in_with_the_password_grant() {
    let app = TestApp::spawn().await;
    let created = app
        .api(
            "POST",
            "/api/v1/users",
            None,
            Some(signup("Ada@Example.com", PASSWORD)),
        )
        .await;
    assert_eq!(created.header("cache-control"), Some("no-store"));
    let user = created.expect(201);
    assert_eq!(user["email"], "Ada@Example.com");
    assert_eq!(user["name"], "Ada Lovelace");
    assert_eq!(user["email_verified"], false);
    assert_eq!(user["status"], "active");
    assert_eq!(user["roles"], json!(["user"]));
    let text = String::from_utf8_lossy(&created.body).to_lowercase();
    assert!(!text.contains("argon2") && !text.contains("password"), "{text}");

    let client = app.full_client().await;
    let tokens = app.login(&client, "ada@example.com", PASSWORD).await;
    let claims = crate::helpers::claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], user["id"]);
    assert_eq!(claims["roles"], json!(["user"]));
}

#[tokio::test]
async fn a_taken_email_is_409_whatever_its_case() {
    let app = TestApp::spawn().await;
    app.api(
        "POST",
        "/api/v1/users",
        None,
        Some(signup("ada@example.com", PASSWORD)),
    )
    .await
    .expect(201);
    let again = app
        .api(
            "POST",
            "/api/v1/users",
            None,
            Some(signup(" ADA@example.COM ", PASSWORD)),
        )
        .await;
    again.assert_api_error(409, "conflict");
    assert!(
        !again.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("ada@")
    );
}

#[tokio::test]
async fn the_password_policy_follows_nist_800_63b() {
    let app = TestApp::spawn().await;
    let cases = [
        ("seven77", "at least 8"),
        (&"x".repeat(129), "at most 128"),
        // §5.1.1.2: checked against a list of commonly used passwords, whatever the case.
        ("Password1", "too common"),
        ("iloveyou", "too common"),
        ("someone.long@example.com", "email"),
    ];
    for (password, reason) in cases {
        let refused = app
            .api(
                "POST",
                "/api/v1/users",
                None,
                Some(signup("someone.long@example.com", password)),
            )
            .await;
        refused.assert_api_error(400, "invalid_request");
        let description = refused.json()["error_description"].as_str().unwrap().to_owned();
        assert!(description.contains(reason), "{password:?}: {description}");
    }
    // No composition rules: eight lowercase letters and a long unicode passphrase both pass.
    for (i, password) in ["zqxjkvbw", "ünïcödé pässphrasé"].iter().enumerate() {
        app.api(
            "POST",
            "/api/v1/users",
            None,
            Some(signup(&format!("ok{i}@example.com"), password)),
        )
        .await
        .expect(201);
    }
}

#[tokio::test]
async fn bad_input_is_a_clear_json_error() {
    let app = TestApp::spawn().await;
    let post = |body: &'static str, content_type: &'static str| {
        let app = &app;
        async move {
            app.api_raw("POST", "/api/v1/users", None, Some(body), content_type)
                .await
        }
    };
    post("{\"email\": ", "application/json")
        .await
        .assert_api_error(400, "invalid_request");
    post("{\"email\": \"a@example.com\"}", "application/json")
        .await
        .assert_api_error(400, "invalid_request");
    post(
        "{\"email\": 42, \"password\": \"long enough pass\"}",
        "application/json",
    )
    .await
    .assert_api_error(400, "invalid_request");
    post("[1, 2]", "application/json")
        .await
        .assert_api_error(400, "invalid_request");
    post(
        "{\"email\": \"a@example.com\", \"password\": \"long enough pass\", \"admin\": true}",
        "application/json",
    )
    .await
    .assert_api_error(400, "invalid_request");
    post("email=a@example.com", "application/x-www-form-urlencoded")
        .await
        .assert_api_error(415, "invalid_request");

    let too_long_email = format!("{}@example.com", "a".repeat(250));
    let long_name = json!({ "email": "b@example.com", "password": PASSWORD, "name": "n".repeat(201) });
    for body in [
        signup(&too_long_email, PASSWORD),
        signup("not an address", PASSWORD),
        signup("", PASSWORD),
        long_name,
    ] {
        app.api("POST", "/api/v1/users", None, Some(body))
            .await
            .assert_api_error(400, "invalid_request");
    }
    let huge = json!({ "email": "c@example.com", "password": PASSWORD, "name": "n".repeat(70_000) });
    app.api("POST", "/api/v1/users", None, Some(huge))
        .await
        .assert_api_error(413, "invalid_request");
}

#[tokio::test]
async fn closed_sign_up_refuses_with_403() {
    let app = TestApp::with_config(|c| c.signup = keyward::config::Signup::Closed).await;
    app.api(
        "POST",
        "/api/v1/users",
        None,
        Some(signup("ada@example.com", PASSWORD)),
    )
    .await
    .assert_api_error(403, "access_denied");
}
