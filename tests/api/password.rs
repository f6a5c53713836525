//! RFC 6749 §4.3 password grant, with OIDC Core §2 ID tokens and §4.3.2 brute-force protection.

use std::time::Duration;

use keyward::store::families::FamilyStore;
use keyward::store::users::{self, UserStatus};

use crate::helpers::{TestApp, claims, jwt_header};

#[tokio::test]
async fn login_issues_access_refresh_and_id_tokens_for_one_session() {
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    let user_id = app.user("ada@example.com", "correct horse battery").await;
    let response = app
        .password_grant(
            &client,
            "ada@example.com",
            "correct horse battery",
            Some("openid email profile"),
        )
        .await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let body = response.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "email openid profile");
    let access = claims(body["access_token"].as_str().unwrap());
    // `<session id>.<256 random bits, base64url>`
    let (family, secret) = body["refresh_token"].as_str().unwrap().split_once('.').unwrap();
    assert_eq!(family, access["sid"]);
    assert_eq!(secret.len(), 43);
    assert_eq!(
        jwt_header(body["access_token"].as_str().unwrap())["typ"],
        "at+jwt"
    );
    assert_eq!(access["sub"], user_id);
    assert_eq!(access["client_id"], client.id);
    assert_eq!(access["scope"], "email openid profile");
    assert_eq!(access["roles"], serde_json::json!(["user"]));
    let sid = access["sid"].as_str().unwrap();

    // OIDC Core §2: ID token for the client, same session, at_hash of the access token.
    let id_token = body["id_token"].as_str().unwrap();
    assert_eq!(jwt_header(id_token)["alg"], "RS256");
    let id = claims(id_token);
    assert_eq!(id["iss"], "https://id.test");
    assert_eq!(id["sub"], user_id);
    assert_eq!(id["aud"], client.id);
    assert_eq!(id["sid"], sid);
    assert_eq!(id["auth_time"], access["auth_time"]);
    assert_eq!(id["email"], "ada@example.com");
    assert_eq!(id["email_verified"], false);
    assert_eq!(
        id["at_hash"],
        keyward::crypto::jwt::at_hash(body["access_token"].as_str().unwrap())
    );

    let family = app.state.families.find(sid).await.unwrap().unwrap();
    assert_eq!(family.user_id, user_id);
    assert!(family.active);
}

#[tokio::test]
async fn no_openid_scope_no_id_token_and_no_refresh_grant_no_refresh_token_but_still_a_session() {
    let app = TestApp::spawn().await;
    let client = app.client(&["password"], "openid api").await;
    app.user("bob@example.com", "hunter2hunter2").await;
    let body = app
        .password_grant(&client, "bob@example.com", "hunter2hunter2", Some("api"))
        .await
        .json();
    assert!(body.get("id_token").is_none());
    assert!(body.get("refresh_token").is_none());
    let sid = claims(body["access_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        app.state.families.find(&sid).await.unwrap().is_some(),
        "every login creates a session"
    );
}

#[tokio::test]
async fn email_is_matched_case_insensitively() {
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    app.user("Grace@Example.com", "pw-of-grace-1").await;
    let response = app
        .password_grant(&client, "  grace@EXAMPLE.com", "pw-of-grace-1", None)
        .await;
    assert_eq!(response.status, 200);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_read_the_same() {
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    app.user("eve@example.com", "the-real-one").await;
    let wrong = app
        .password_grant(&client, "eve@example.com", "not-it", None)
        .await;
    wrong.assert_oauth_error(400, "invalid_grant");
    let unknown = app
        .password_grant(&client, "nobody@example.com", "not-it", None)
        .await;
    unknown.assert_oauth_error(400, "invalid_grant");
    assert_eq!(wrong.json(), unknown.json());
}

#[tokio::test]
async fn a_disabled_user_gets_invalid_grant() {
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    let id = app.user("mallory@example.com", "password-123").await;
    users::set_status(&app.state.db, &id, UserStatus::Disabled, app.clock.now())
        .await
        .unwrap();
    app.password_grant(&client, "mallory@example.com", "password-123", None)
        .await
        .assert_oauth_error(400, "invalid_grant");
}

#[tokio::test]
async fn a_deleted_user_cannot_sign_in() {
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    let id = app.user("gone@example.com", "password-123").await;
    users::soft_delete(&app.state.db, &id, app.clock.now())
        .await
        .unwrap();
    app.password_grant(&client, "gone@example.com", "password-123", None)
        .await
        .assert_oauth_error(400, "invalid_grant");
}

#[tokio::test]
async fn requested_scope_beyond_the_client_is_invalid_scope() {
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    app.user("ada@example.com", "pw-pw-pw-pw").await;
    let response = app
        .password_grant(&client, "ada@example.com", "pw-pw-pw-pw", Some("openid admin"))
        .await;
    response.assert_oauth_error(400, "invalid_scope");
}

#[tokio::test]
async fn consecutive_failures_lock_the_account_with_429_and_retry_after() {
    // §4.3.2: "the authorization server MUST protect the endpoint against brute force attacks".
    let app = TestApp::with_config(|c| {
        c.login_max_failures = 3;
        c.login_lockout = Duration::from_secs(60);
    })
    .await;
    let client = app.full_client().await;
    app.user("target@example.com", "right-password").await;
    for _ in 0..3 {
        app.password_grant(&client, "target@example.com", "wrong", None)
            .await
            .assert_oauth_error(400, "invalid_grant");
    }
    // Locked: even the right password is refused, before any password work, with a retry time.
    let locked = app
        .password_grant(&client, "target@example.com", "right-password", None)
        .await;
    locked.assert_oauth_error(429, "invalid_grant");
    assert_eq!(locked.header("retry-after"), Some("60"));

    app.clock.advance(Duration::from_secs(61));
    assert_eq!(
        app.password_grant(&client, "target@example.com", "right-password", None)
            .await
            .status,
        200
    );
    // Success ended the streak: a new failure does not lock at once.
    app.password_grant(&client, "target@example.com", "wrong", None)
        .await
        .assert_oauth_error(400, "invalid_grant");
    assert_eq!(
        app.password_grant(&client, "target@example.com", "right-password", None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn the_lockout_doubles_with_each_further_failure() {
    let app = TestApp::with_config(|c| {
        c.login_max_failures = 2;
        c.login_lockout = Duration::from_secs(10);
    })
    .await;
    let client = app.full_client().await;
    app.user("t@example.com", "right-password").await;
    for _ in 0..2 {
        app.password_grant(&client, "t@example.com", "wrong", None).await;
    }
    assert_eq!(
        app.password_grant(&client, "t@example.com", "wrong", None)
            .await
            .header("retry-after"),
        Some("10")
    );
    app.clock.advance(Duration::from_secs(11));
    app.password_grant(&client, "t@example.com", "wrong", None)
        .await
        .assert_oauth_error(400, "invalid_grant");
    let locked = app
        .password_grant(&client, "t@example.com", "right-password", None)
        .await;
    assert_eq!(locked.header("retry-after"), Some("20"));
}

#[tokio::test]
async fn unknown_accounts_are_throttled_too_so_a_lock_reveals_nothing() {
    let app = TestApp::with_config(|c| c.login_max_failures = 2).await;
    let client = app.full_client().await;
    for _ in 0..2 {
        app.password_grant(&client, "ghost@example.com", "x", None)
            .await
            .assert_oauth_error(400, "invalid_grant");
    }
    app.password_grant(&client, "ghost@example.com", "x", None)
        .await
        .assert_oauth_error(429, "invalid_grant");
}

/// A failed password login over a real socket, optionally through a proxy header.
async fn failed_login(
    issuer: &str,
    client: &crate::helpers::TestClient,
    email: &str,
    forwarded: Option<&str>,
) -> u16 {
    let mut request = reqwest::Client::new()
        .post(format!("{issuer}/oauth/token"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[
            ("grant_type", "password"),
            ("username", email),
            ("password", "wrong"),
        ]);
    if let Some(hop) = forwarded {
        request = request.header("x-forwarded-for", hop);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn an_address_failing_across_many_accounts_is_locked() {
    // One failure locks an account; an address gets four times as many across accounts.
    let (app, issuer) = TestApp::serve_with(|c| c.login_max_failures = 1).await;
    let client = app.full_client().await;
    for n in 0..4 {
        assert_eq!(
            failed_login(&issuer, &client, &format!("u{n}@example.com"), None).await,
            400
        );
    }
    assert_eq!(
        failed_login(&issuer, &client, "fresh@example.com", None).await,
        429
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_is_counted_apart() {
    let (app, issuer) = TestApp::serve_with(|c| {
        c.login_max_failures = 1;
        c.trusted_proxies = "127.0.0.1".into();
    })
    .await;
    let client = app.full_client().await;
    for n in 0..6 {
        let hop = format!("198.51.100.{n}");
        assert_eq!(
            failed_login(&issuer, &client, &format!("u{n}@example.com"), Some(&hop)).await,
            400
        );
    }
    // A forged left-most hop does not escape: the right-most untrusted hop is what counts.
    for n in 0..4 {
        let hops = format!("203.0.113.{n}, 198.51.100.99");
        assert_eq!(
            failed_login(&issuer, &client, &format!("v{n}@example.com"), Some(&hops)).await,
            400
        );
    }
    let hops = "203.0.113.200, 198.51.100.99";
    assert_eq!(
        failed_login(&issuer, &client, "w@example.com", Some(hops)).await,
        429
    );
}

#[tokio::test]
async fn beyond_the_password_queue_logins_get_a_fast_503_with_retry_after() {
    let app = TestApp::with_config(|c| {
        c.password_concurrency = 1;
        c.password_queue = 1;
    })
    .await;
    let client = app.full_client().await;
    app.user("ada@example.com", "correct horse battery staple").await;
    let attempts =
        (0..8).map(|_| app.password_grant(&client, "ada@example.com", "correct horse battery staple", None));
    let answers = futures_util::future::join_all(attempts).await;
    let (accepted, shed): (Vec<_>, Vec<_>) = answers.iter().partition(|a| a.status == 200);
    assert!(
        accepted.len() >= 2,
        "one hashing and one queued are always admitted"
    );
    assert!(
        !shed.is_empty(),
        "eight at once exceed one slot and a queue of one"
    );
    for answer in shed {
        answer.assert_oauth_error(503, "temporarily_unavailable");
        assert_eq!(answer.header("retry-after"), Some("1"));
    }
}
