//! `examples/resource_server.rs` against three `keyward serve` replicas sharing one database and
//! one keys folder: every request succeeds while the signing key rotates, tokens minted on every
//! replica, and the strict route sees a revocation at once.

use std::collections::HashSet;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli::{json, keyward, keyward_with};
use crate::process::Server;

/// The example's process, killed when dropped.
struct ResourceServer {
    port: u16,
    child: Child,
}

impl ResourceServer {
    fn start(issuer: &str, client_id: &str, secret: &str) -> Self {
        // Cargo builds examples beside the test binaries: target/debug/examples/.
        let exe = std::env::current_exe().unwrap();
        let path = exe
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("examples/resource_server");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(path)
            .env("KEYWARD_ISSUER", issuer)
            .env("RS_BIND", format!("127.0.0.1:{port}"))
            .env("RS_CLIENT_ID", client_id)
            .env("RS_CLIENT_SECRET", secret)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the resource server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { port, child }
    }
}

impl Drop for ResourceServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_request_fails_while_the_signing_key_rotates_and_strict_checks_see_revocation() {
    let dir = tempfile::tempdir().unwrap();
    // A short publish-ahead window so that the test sees the new key sign within seconds.
    let env = [
        ("KEYWARD_JWKS_MAX_AGE", "1s".to_owned()),
        ("KEYWARD_KEY_PUBLISH_AHEAD", "7s".to_owned()),
    ];
    let server = Server::start(dir.path(), &dir.path().join("keys"), &env);
    // Two more replicas on the same database file and keys folder, as one issuer.
    let shared = [
        ("KEYWARD_ISSUER", server.url()),
        (
            "KEYWARD_DATABASE_URL",
            format!("sqlite://{}/kw.db", dir.path().display()),
        ),
    ];
    let own_dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let others: Vec<Server> = own_dirs
        .iter()
        .map(|own| {
            let env: Vec<(&str, String)> = env.iter().chain(&shared).cloned().collect();
            Server::start(own.path(), &dir.path().join("keys"), &env)
        })
        .collect();
    let replicas: Vec<String> = std::iter::once(server.url())
        .chain(others.iter().map(|o| format!("http://127.0.0.1:{}", o.port)))
        .collect();
    let client = json(&keyward(
        &dir,
        &[
            "client",
            "create",
            "--name",
            "rs",
            "--grant",
            "client_credentials",
            "--json",
        ],
        None,
    ));
    let (id, secret) = (
        client["client_id"].as_str().unwrap().to_owned(),
        client["client_secret"].as_str().unwrap().to_owned(),
    );
    let resource = ResourceServer::start(&server.url(), &id, &secret);
    let http = reqwest::Client::new();
    let minted = std::sync::atomic::AtomicUsize::new(0);
    // Round robin over the three replicas.
    let token = || async {
        let replica = &replicas[minted.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 3];
        let answer: serde_json::Value = http
            .post(format!("{replica}/oauth/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["access_token"].as_str().unwrap().to_owned()
    };
    let call = |path: &'static str, token: String| {
        let http = http.clone();
        let url = format!("http://127.0.0.1:{}{path}", resource.port);
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };

    let first = crate::helpers::jwt_header(&token().await)["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut kids = HashSet::new();
    let mut requests = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut rotated_at = None;
    // Mint and verify until tokens of the new key have been accepted for a while: the serving
    // replica rereads key dates every 5 s, the new key signs 7 s after the rotation (the
    // shortest window keyward accepts with a 1 s JWKS max-age).
    while kids.len() < 2 || requests < 300 {
        assert!(Instant::now() < deadline, "the new key never signed");
        let token = token().await;
        let kid = crate::helpers::jwt_header(&token)["kid"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            call("/secure-data", token).await,
            200,
            "request {requests} (kid {kid}) failed"
        );
        if kid != first {
            // Published ahead: no replica signs with it before its window has passed (7 s, in
            // whole seconds of Unix time, so at least 6 s of this clock).
            let since: Instant = rotated_at.unwrap();
            assert!(
                since.elapsed() >= Duration::from_secs(6),
                "signed after {:?}",
                since.elapsed()
            );
        }
        kids.insert(kid);
        requests += 1;
        if requests == 20 && rotated_at.is_none() {
            rotated_at = Some(Instant::now());
            let rotation = keyward_with(&dir, &["keys", "rotate", "--json"], None, &env);
            assert_eq!(json(&rotation)["alg"], "RS256");
        }
        if kids.len() < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert!(kids.contains(&first) && kids.len() == 2);

    // Local verification cannot see a revocation; introspection can.
    let revoked = token().await;
    let answer = http
        .post(format!("{}/oauth/revoke", server.url()))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", revoked.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(call("/secure-data", revoked.clone()).await, 200);
    assert_eq!(call("/secure-data/strict", revoked).await, 401);
    assert_eq!(call("/secure-data/strict", token().await).await, 200);
    assert_eq!(call("/secure-data", "not-a-token".into()).await, 401);
}
