//! RFC 7662 token introspection.

use std::time::Duration;

use serde_json::json;

use keyward::store::families::FamilyStore;

use crate::helpers::{TestApp, claims};

#[tokio::test]
async fn a_live_user_access_token_is_described() {
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    let user_id = app.user("ada@example.com", "pw-pw-pw-pw").await;
    let tokens = app.login(&client, "ada@example.com", "pw-pw-pw-pw").await;
    let access = tokens["access_token"].as_str().unwrap();
    let response = app.introspection(&client, access).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let body = response.json();
    let c = claims(access);
    assert_eq!(body["active"], true);
    assert_eq!(body["scope"], "api email openid profile");
    assert_eq!(body["client_id"], client.id);
    assert_eq!(body["username"], "ada@example.com");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["sub"], user_id);
    assert_eq!(body["iss"], "https://id.test");
    for field in ["exp", "iat", "aud", "jti", "sid"] {
        assert_eq!(body[field], c[field], "{field}");
    }
}

#[tokio::test]
async fn a_live_refresh_token_is_described() {
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    let user_id = app.user("ada@example.com", "pw-pw-pw-pw").await;
    let tokens = app.login(&client, "ada@example.com", "pw-pw-pw-pw").await;
    let body = app
        .introspect(&client, tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "refresh_token");
    assert_eq!(body["sub"], user_id);
    assert_eq!(body["client_id"], client.id);
    assert_eq!(body["username"], "ada@example.com");
    assert_eq!(
        body["sid"],
        claims(tokens["access_token"].as_str().unwrap())["sid"]
    );
    assert!(body["exp"].as_i64().unwrap() > app.clock.now());
}

#[tokio::test]
async fn a_client_credentials_token_has_no_username_or_session() {
    let app = TestApp::spawn().await;
    let client = app.client(&["client_credentials"], "api").await;
    let token = app.client_credentials(&client).await.str("access_token");
    let body = app.introspect(&client, &token).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["sub"], client.id);
    assert!(body.get("username").is_none() && body.get("sid").is_none());
}

#[tokio::test]
async fn any_confidential_client_may_introspect_for_its_resource_server() {
    let app = TestApp::spawn().await;
    let issuer_client = app.client(&["client_credentials"], "api").await;
    let resource_server = app.client(&["client_credentials"], "").await;
    let token = app.client_credentials(&issuer_client).await.str("access_token");
    assert_eq!(app.introspect(&resource_server, &token).await["active"], true);
}

#[tokio::test]
async fn expired_tokens_are_exactly_inactive() {
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    let token = app.client_credentials(&client).await.str("access_token");
    app.clock.advance(Duration::from_secs(900));
    assert_eq!(app.introspect(&client, &token).await, json!({"active": false}));
}

#[tokio::test]
async fn garbage_forged_and_id_tokens_are_exactly_inactive() {
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    app.user("ada@example.com", "pw-pw-pw-pw").await;
    let tokens = app.login(&client, "ada@example.com", "pw-pw-pw-pw").await;
    let access = tokens["access_token"].as_str().unwrap();
    let mut forged = access.to_owned();
    forged.replace_range(forged.len() - 4.., "AAAA");
    let id_token = tokens["id_token"].as_str().unwrap();
    for token in ["garbage", "a.b.c", "", &forged, id_token, &"x".repeat(5000)] {
        let response = app
            .post_form(
                "/oauth/introspect",
                &format!("token={token}"),
                Some(&client.basic()),
            )
            .await;
        if token.is_empty() {
            response.assert_oauth_error(400, "invalid_request");
        } else {
            assert_eq!(response.status, 200);
            assert_eq!(response.json(), json!({"active": false}), "{token}");
        }
    }
}

#[tokio::test]
async fn introspection_requires_a_confidential_clients_credentials() {
    // §2.1: "the endpoint MUST also require some form of authorization".
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    let token = app.client_credentials(&client).await.str("access_token");
    let anonymous = app
        .post_form("/oauth/introspect", &format!("token={token}"), None)
        .await;
    anonymous.assert_oauth_error(401, "invalid_client");
    assert!(anonymous.header("www-authenticate").is_some());
    let public = app.public_client(&["password"], "openid").await;
    let as_public = app
        .post_form(
            "/oauth/introspect",
            &format!("token={token}&client_id={}", public.id),
            None,
        )
        .await;
    as_public.assert_oauth_error(401, "invalid_client");
}

#[tokio::test]
async fn deleting_a_client_ends_every_token_it_holds_at_once() {
    let app = TestApp::spawn().await;
    let doomed = app.full_client().await;
    let resource_server = app.client(&["client_credentials"], "").await;
    app.user("ada@example.com", "pw-pw-pw-pw").await;
    let user_tokens = app.login(&doomed, "ada@example.com", "pw-pw-pw-pw").await;
    let machine = app.client_credentials(&doomed).await.str("access_token");
    let tokens = [
        user_tokens["access_token"].as_str().unwrap(),
        user_tokens["refresh_token"].as_str().unwrap(),
        machine.as_str(),
    ];
    for token in tokens {
        assert_eq!(app.introspect(&resource_server, token).await["active"], true);
    }
    keyward::accounts::client_admin::delete(&app.state, &doomed.id)
        .await
        .unwrap();
    for token in tokens {
        assert_eq!(
            app.introspect(&resource_server, token).await,
            json!({"active": false})
        );
    }
    assert_eq!(app.userinfo(tokens[0]).await.status, 401);
}

#[tokio::test]
async fn a_client_deleted_by_another_process_stops_working_within_the_cache_ttl() {
    let app = TestApp::spawn().await;
    let doomed = app.client(&["client_credentials"], "").await;
    let resource_server = app.client(&["client_credentials"], "").await;
    let token = app.client_credentials(&doomed).await.str("access_token");
    assert_eq!(app.introspect(&resource_server, &token).await["active"], true);
    // As `keyward client delete` or another replica would: straight in the database.
    assert!(
        keyward::store::clients::delete(&app.state.db, &doomed.id)
            .await
            .unwrap()
    );
    app.clock.advance(app.state.config.cache_ttl);
    assert_eq!(
        app.introspect(&resource_server, &token).await,
        json!({"active": false})
    );
    app.client_credentials(&doomed)
        .await
        .assert_oauth_error(401, "invalid_client");
}

/// The liveness check of bearer requests reads the database on every request (on SQLite, inline
/// on connections of its own): an ending written by another process, as `keyward user delete`,
/// another replica or a logout there would write it, takes effect on the very next request.
#[tokio::test]
async fn sessions_and_tokens_ended_by_another_process_are_inactive_at_once() {
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    let resource_server = app.client(&["client_credentials"], "").await;
    let user_id = app.user("ada@example.com", "pw-pw-pw-pw").await;
    // Another process: its own pool and family store on the same database.
    let other_db = keyward::store::connect(&app.state.config.database_url)
        .await
        .unwrap();
    let other = keyward::store::families::Families::from_config(&app.state.config, other_db, None)
        .await
        .unwrap();
    let now = app.clock.now();

    // A denylisted access token (a revocation handled by another replica).
    let denied = app.login(&client, "ada@example.com", "pw-pw-pw-pw").await;
    let denied = denied["access_token"].as_str().unwrap();
    assert_eq!(app.introspect(&resource_server, denied).await["active"], true);
    let c = claims(denied);
    other
        .deny_access_token(
            c["jti"].as_str().unwrap(),
            c["sid"].as_str(),
            c["exp"].as_i64().unwrap(),
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        app.introspect(&resource_server, denied).await,
        json!({"active": false})
    );

    // One session ended (a logout elsewhere); another of the same user is untouched.
    let ended = app.login(&client, "ada@example.com", "pw-pw-pw-pw").await;
    let ended = ended["access_token"].as_str().unwrap();
    let kept = app.login(&client, "ada@example.com", "pw-pw-pw-pw").await;
    let kept = kept["access_token"].as_str().unwrap();
    assert_eq!(app.introspect(&resource_server, ended).await["active"], true);
    assert!(
        other
            .revoke(claims(ended)["sid"].as_str().unwrap(), "logout", now)
            .await
            .unwrap()
    );
    assert_eq!(
        app.introspect(&resource_server, ended).await,
        json!({"active": false})
    );
    assert_eq!(app.userinfo(ended).await.status, 401);
    assert_eq!(app.introspect(&resource_server, kept).await["active"], true);

    // Every session of the user (a password change or `keyward user delete` elsewhere): the
    // first one, whose access token alone was denied, and the one kept above.
    assert_eq!(
        other
            .revoke_user(&user_id, None, "user deleted", now)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        app.introspect(&resource_server, kept).await,
        json!({"active": false})
    );
    assert_eq!(app.userinfo(kept).await.status, 401);
}

/// On SQLite an access token found live is remembered until the database's next commit, by any
/// process (store::families::live_tokens). Each way of ending a token, tried on a token whose
/// liveness was just remembered, takes effect on the very next request: a revocation, a logout,
/// a password change and `keyward user delete` run as a process of its own. On the other
/// backends nothing is remembered and the same holds.
#[tokio::test]
async fn remembered_liveness_ends_at_once_with_revocation_logout_password_change_and_cli_delete() {
    const PASSWORD: &str = "pw-pw-pw-pw";
    let app = TestApp::spawn().await;
    let client = app.full_client().await;
    let resource_server = app.client(&["client_credentials"], "").await;
    app.user("ada@example.com", PASSWORD).await;
    let (app, client, resource_server) = (&app, &client, &resource_server);
    let sign_in = || async { app.access_token(client, "ada@example.com", PASSWORD).await };
    // Introspected twice: the second answer is the remembered one.
    let live = |token: String| async move {
        for _ in 0..2 {
            assert_eq!(app.introspect(resource_server, &token).await["active"], true);
        }
        assert_eq!(app.userinfo(&token).await.status, 200);
        token
    };
    let ended = |token: String| async move {
        assert_eq!(
            app.introspect(resource_server, &token).await,
            json!({"active": false})
        );
        assert_eq!(app.userinfo(&token).await.status, 401);
    };

    // RFC 7009 revocation of the access token itself.
    let revoked = live(sign_in().await).await;
    app.revoke(client, &revoked).await.expect(200);
    ended(revoked).await;

    // A logout through the account API.
    let logged_out = live(sign_in().await).await;
    app.api("POST", "/api/v1/logout", Some(&logged_out), None)
        .await
        .expect(204);
    ended(logged_out).await;

    // A password change ends every other session.
    let changer = live(sign_in().await).await;
    let other = live(sign_in().await).await;
    app.api(
        "PUT",
        "/api/v1/users/me/password",
        Some(&changer),
        Some(json!({ "current_password": PASSWORD, "new_password": "another long passphrase" })),
    )
    .await
    .expect(204);
    ended(other).await;

    // `keyward user delete`, another process on the same database (and Redis prefix).
    let deleted = live(
        app.access_token(client, "ada@example.com", "another long passphrase")
            .await,
    )
    .await;
    let config = &app.state.config;
    let mut env = vec![("KEYWARD_DATABASE_URL", config.database_url.clone())];
    if let Some(url) = &config.redis_url {
        env.push(("KEYWARD_REDIS_URL", url.clone()));
        env.push(("KEYWARD_REDIS_PREFIX", config.redis_prefix.clone()));
    }
    let cwd = tempfile::tempdir().unwrap();
    crate::cli::keyward_with(&cwd, &["user", "delete", "ada@example.com"], None, &env);
    ended(deleted).await;
}
