//! Several replicas act as one issuer (issue 3 §5): three `keyward serve` processes share one
//! issuer, one PostgreSQL database, one Redis and one `keys/` folder. Needs real PostgreSQL and
//! Redis (`KEYWARD_TEST_POSTGRES_URL`, `KEYWARD_TEST_REDIS_URL`); `.ci/replica-tests` runs it.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::helpers::postgres_schema;
use crate::process::Server;

struct Cluster {
    replicas: Vec<Option<Server>>,
    client: (String, String),
    http: reqwest::Client,
    _dirs: Vec<tempfile::TempDir>,
}

impl Cluster {
    async fn start() -> Self {
        // A replica killed after committing a rotation loses its response; the client's retry
        // elsewhere with the same token is exactly what the leeway is for.
        Self::start_with_leeway("30s").await
    }

    async fn start_with_leeway(leeway: &str) -> Self {
        let pg = std::env::var("KEYWARD_TEST_POSTGRES_URL").expect("KEYWARD_TEST_POSTGRES_URL");
        let redis = std::env::var("KEYWARD_TEST_REDIS_URL").expect("KEYWARD_TEST_REDIS_URL");
        let env = vec![
            ("KEYWARD_DATABASE_URL", postgres_schema(&pg).await),
            ("KEYWARD_REDIS_URL", redis),
            (
                "KEYWARD_REDIS_PREFIX",
                format!("kwtest:{}:", uuid::Uuid::new_v4().simple()),
            ),
            ("KEYWARD_ISSUER", "http://keyward.replicas.test".to_owned()),
            ("KEYWARD_REFRESH_REUSE_LEEWAY", leeway.to_owned()),
        ];
        let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
        let keys = dirs[3].path().to_owned();
        let handles: Vec<_> = (0..3)
            .map(|i| {
                let (dir, keys, env) = (dirs[i].path().to_owned(), keys.clone(), env.clone());
                std::thread::spawn(move || Server::start(&dir, &keys, &env))
            })
            .collect();
        let replicas = handles.into_iter().map(|h| Some(h.join().unwrap())).collect();
        let created = cli(
            &env,
            &[
                "client",
                "create",
                "--name",
                "app",
                "--grant",
                "password",
                "--grant",
                "refresh_token",
                "--grant",
                "client_credentials",
                "--scope",
                "openid",
                "--json",
            ],
            None,
        );
        cli(
            &env,
            &["user", "create", "--email", "ada@example.com", "--password-stdin"],
            Some("pw-pw-pw-pw"),
        );
        let client = (
            created["client_id"].as_str().unwrap().to_owned(),
            created["client_secret"].as_str().unwrap().to_owned(),
        );
        Self {
            replicas,
            client,
            http: reqwest::Client::new(),
            _dirs: dirs,
        }
    }

    fn url(&self, replica: usize) -> Option<String> {
        self.replicas[replica].as_ref().map(Server::url)
    }

    async fn post(&self, replica: usize, path: &str, form: &[(&str, &str)]) -> reqwest::Result<(u16, Value)> {
        let url = self.url(replica).expect("replica is running");
        post(&self.http, &self.client, &format!("{url}{path}"), form).await
    }

    async fn login(&self, replica: usize) -> Value {
        let form = [
            ("grant_type", "password"),
            ("username", "ada@example.com"),
            ("password", "pw-pw-pw-pw"),
        ];
        let (status, body) = self.post(replica, "/oauth/token", &form).await.unwrap();
        assert_eq!(status, 200, "{body}");
        body
    }

    async fn refresh(&self, replica: usize, token: &str) -> reqwest::Result<(u16, Value)> {
        self.post(
            replica,
            "/oauth/token",
            &[("grant_type", "refresh_token"), ("refresh_token", token)],
        )
        .await
    }

    async fn introspect(&self, replica: usize, token: &str) -> Value {
        self.post(replica, "/oauth/introspect", &[("token", token)])
            .await
            .unwrap()
            .1
    }
}

async fn post(
    http: &reqwest::Client,
    (id, secret): &(String, String),
    url: &str,
    form: &[(&str, &str)],
) -> reqwest::Result<(u16, Value)> {
    let response = http
        .post(url)
        .basic_auth(id, Some(secret))
        .form(form)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

pub(crate) fn cli(env: &[(&str, String)], args: &[&str], stdin: Option<&str>) -> Value {
    use std::io::Write;
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
    command
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    serde_json::from_slice(&output.stdout).unwrap_or(Value::Null)
}

fn field(v: &Value, name: &str) -> String {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {v}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL and Redis; run by .ci/replica-tests"]
async fn three_replicas_act_as_one_issuer_and_detect_reuse_on_any() {
    let cluster = Cluster::start_with_leeway("0s").await;

    // Chains hop between replicas: each refresh lands on another process.
    let first = cluster.login(0).await;
    let mut token = field(&first, "refresh_token");
    let mut previous = token.clone();
    for step in 1..=6 {
        let (status, body) = cluster.refresh(step % 3, &token).await.unwrap();
        assert_eq!(status, 200, "step {step}: {body}");
        previous = std::mem::replace(&mut token, field(&body, "refresh_token"));
        // A token minted by one replica verifies at every other.
        assert_eq!(
            cluster
                .introspect((step + 1) % 3, &field(&body, "access_token"))
                .await["active"],
            true
        );
    }

    // A replay of an older token, on yet another replica, ends the session everywhere. (Without
    // a leeway: within one, a token replaced moments ago may come again; see refresh.rs.)
    let (_, older) = cluster.refresh(2, &token).await.unwrap();
    let newest = field(&older, "refresh_token");
    let access = field(&older, "access_token");
    let (status, _) = cluster.refresh(1, &previous).await.unwrap();
    assert_eq!(status, 400, "reuse is refused");
    for replica in 0..3 {
        assert_eq!(
            cluster.introspect(replica, &access).await,
            serde_json::json!({"active": false})
        );
        assert_eq!(
            cluster.introspect(replica, &newest).await,
            serde_json::json!({"active": false})
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL and Redis; run by .ci/replica-tests"]
async fn sessions_survive_a_replica_sigkilled_mid_refresh() {
    let cluster = Cluster::start().await;
    // Six sessions refresh round-robin over all replicas while replica 1 is killed mid-run.
    let mut chains = Vec::new();
    for i in 0..6 {
        let tokens = cluster.login(i % 3).await;
        chains.push((
            field(&tokens, "refresh_token"),
            crate::helpers::claims(&field(&tokens, "access_token"))["sid"].clone(),
        ));
    }
    // Tasks read the replica addresses, never holding a lock across a request, so the kill can
    // land in the middle of one.
    let urls: Vec<Option<String>> = (0..3).map(|r| cluster.url(r)).collect();
    let urls = std::sync::Arc::new(urls);
    let progress = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for (n, (mut token, _)) in chains.clone().into_iter().enumerate() {
        let (urls, http, client) = (urls.clone(), cluster.http.clone(), cluster.client.clone());
        let progress = progress.clone();
        tasks.push(tokio::spawn(async move {
            let mut replica = n % 3;
            let mut done = 0;
            while done < 20 {
                let url = urls[replica].clone();
                let outcome = match url {
                    Some(url) => {
                        let form = [("grant_type", "refresh_token"), ("refresh_token", token.as_str())];
                        post(&http, &client, &format!("{url}/oauth/token"), &form)
                            .await
                            .ok()
                    }
                    None => None,
                };
                match outcome {
                    Some((200, body)) => {
                        token = field(&body, "refresh_token");
                        done += 1;
                        progress.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    Some((status, body)) => panic!("chain {n}: {status} {body}"),
                    None => {} // the replica is gone: the next one gets the same token
                }
                replica = (replica + 1) % 3;
            }
            token
        }));
    }
    while progress.load(std::sync::atomic::Ordering::SeqCst) < 30 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut cluster = cluster;
    if let Some(mut victim) = cluster.replicas[1].take() {
        victim.kill(); // SIGKILL, possibly mid-request
    }
    let at_kill = progress.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        at_kill < 120,
        "the replica died while the chains were running ({at_kill} of 120 done)"
    );
    let mut finals = Vec::new();
    for task in tasks {
        finals.push(task.await.unwrap());
    }
    let c = &cluster;
    let mut sids = Vec::new();
    for (token, (_, sid)) in finals.iter().zip(&chains) {
        for replica in [0, 2] {
            let state = c.introspect(replica, token).await;
            assert_eq!(state["active"], true, "{state}");
            assert_eq!(&state["sid"], sid, "the chain stayed in its own family");
        }
        sids.push(sid.as_str().unwrap().to_owned());
    }
    sids.sort();
    sids.dedup();
    assert_eq!(sids.len(), 6, "no family lost or duplicated");
}
