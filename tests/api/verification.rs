//! Email verification: single-use links, stored hashed, 24 h; the file outbox and a real SMTP
//! conversation with a sink the test runs; `email_verified` in ID tokens, userinfo, introspection.

use std::sync::{Arc, Mutex};

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::helpers::{TestApp, claims, link_token};

const PASSWORD: &str = "correct horse battery staple";

async fn sign_up(app: &TestApp, email: &str) {
    app.api(
        "POST",
        "/api/v1/users",
        None,
        Some(json!({ "email": email, "password": PASSWORD })),
    )
    .await
    .expect(201);
}

#[tokio::test]
async fn the_link_verifies_once_and_the_claim_follows_everywhere() {
    let app = TestApp::spawn().await;
    sign_up(&app, "ada@example.com").await;
    let outbox = app.outbox();
    assert_eq!(outbox.len(), 1);
    assert!(outbox[0].contains("To: ada@example.com"));
    // The link opens the landing page, whose button verifies (tests/api/pages.rs).
    assert!(outbox[0].contains("https://id.test/verify-email?token="));
    let token = app.verification_token("ada@example.com");
    assert_eq!(token.len(), 43);
    // Only the hash is stored.
    let stored: Vec<String> = sqlx::query_scalar("select hash from email_verifications")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], token);

    let verified = app
        .get(&format!("/api/v1/users/verify-email?token={token}"), None)
        .await
        .ok();
    assert_eq!(
        verified,
        json!({ "email": "ada@example.com", "email_verified": true })
    );
    app.get(&format!("/api/v1/users/verify-email?token={token}"), None)
        .await
        .assert_api_error(400, "invalid_request");

    let client = app.full_client().await;
    let tokens = app.login(&client, "ada@example.com", PASSWORD).await;
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["email_verified"],
        true
    );
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(app.userinfo(access).await.ok()["email_verified"], true);
    assert_eq!(app.introspect(&client, access).await["email_verified"], true);
    let me = app.api("GET", "/api/v1/users/me", Some(access), None).await.ok();
    assert_eq!(me["email_verified"], true);
}

#[tokio::test]
async fn a_link_expires_after_24_hours() {
    let app = TestApp::spawn().await;
    sign_up(&app, "ada@example.com").await;
    let token = app.verification_token("ada@example.com");
    app.clock.advance(std::time::Duration::from_secs(24 * 3600));
    app.get(&format!("/api/v1/users/verify-email?token={token}"), None)
        .await
        .assert_api_error(400, "invalid_request");
}

#[tokio::test]
async fn bad_links_are_400() {
    let app = TestApp::spawn().await;
    for query in [
        "",
        "?token=",
        "?token=nope",
        &format!("?token={}", "x".repeat(5000)),
    ] {
        app.get(&format!("/api/v1/users/verify-email{query}"), None)
            .await
            .assert_api_error(400, "invalid_request");
    }
}

#[tokio::test]
async fn a_new_link_replaces_the_old_at_most_once_a_minute() {
    let app = TestApp::spawn().await;
    sign_up(&app, "ada@example.com").await;
    let first = app.verification_token("ada@example.com");
    let client = app.full_client().await;
    let access = app.access_token(&client, "ada@example.com", PASSWORD).await;
    let resend = app
        .api("POST", "/api/v1/users/me/verify-email", Some(&access), None)
        .await;
    resend.assert_api_error(429, "too_many_attempts");
    assert!(resend.header("retry-after").is_some());
    app.clock.advance(std::time::Duration::from_secs(61));
    app.api("POST", "/api/v1/users/me/verify-email", Some(&access), None)
        .await
        .expect(202);
    let second = app.verification_token("ada@example.com");
    assert_ne!(first, second);
    app.get(&format!("/api/v1/users/verify-email?token={first}"), None)
        .await
        .assert_api_error(400, "invalid_request");
    app.get(&format!("/api/v1/users/verify-email?token={second}"), None)
        .await
        .ok();
    app.clock.advance(std::time::Duration::from_secs(61));
    app.api("POST", "/api/v1/users/me/verify-email", Some(&access), None)
        .await
        .assert_api_error(409, "conflict");
    let anonymous = app.api("POST", "/api/v1/users/me/verify-email", None, None).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.header("www-authenticate"),
        Some("Bearer realm=\"keyward\"")
    );
}

/// A minimal SMTP server (RFC 5321): it accepts every message and keeps the DATA.
async fn smtp_sink() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let store = received.clone();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let store = store.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 sink\r\n",
                        "DATA" => {
                            write.write_all(b"354 go ahead\r\n").await.unwrap();
                            let mut data = String::new();
                            while let Ok(Some(line)) = lines.next_line().await {
                                if line == "." {
                                    break;
                                }
                                data.push_str(&line);
                                data.push('\n');
                            }
                            store.lock().unwrap().push(data);
                            b"250 queued\r\n"
                        }
                        "QUIT" => {
                            write.write_all(b"221 bye\r\n").await.unwrap();
                            return;
                        }
                        _ => b"250 ok\r\n",
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, received)
}

#[tokio::test]
async fn verification_mail_goes_through_a_real_smtp_conversation() {
    let (port, received) = smtp_sink().await;
    let app = TestApp::with_config(|c| {
        c.mail_outbox = None;
        c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        c.mail_from = Some("Keyward Test <id@example.net>".into());
    })
    .await;
    sign_up(&app, "ada@example.com").await;
    let mail = received.lock().unwrap().first().cloned().expect("one message");
    assert!(
        mail.contains("From: \"Keyward Test\" <id@example.net>")
            || mail.contains("From: Keyward Test <id@example.net>"),
        "{mail}"
    );
    assert!(mail.contains("To: ada@example.com"), "{mail}");
    let token = link_token(&mail);
    app.get(&format!("/api/v1/users/verify-email?token={token}"), None)
        .await
        .ok();
}

#[tokio::test]
async fn sign_up_succeeds_when_the_mail_relay_is_down() {
    // Nothing listens on this port: the account is created, the failure logged, and the user
    // can ask for a new link later.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let app = TestApp::with_config(|c| {
        c.mail_outbox = None;
        c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
    })
    .await;
    sign_up(&app, "ada@example.com").await;
}
