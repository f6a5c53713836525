//! The command line as scripts use it (DESIGN.md "Command line").

use std::io::Write;
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

pub fn keyward(dir: &TempDir, args: &[&str], stdin: Option<&str>) -> Output {
    keyward_with(dir, args, stdin, &[])
}

/// As [`keyward`], with extra environment (a database URL, say).
pub fn keyward_with(dir: &TempDir, args: &[&str], stdin: Option<&str>, env: &[(&str, String)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(args)
        .current_dir(dir.path())
        .env(
            "KEYWARD_DATABASE_URL",
            format!("sqlite://{}/kw.db", dir.path().display()),
        )
        .env("KEYWARD_KEYS_DIR", dir.path().join("keys"))
        .env("KEYWARD_PASSWORD_CONCURRENCY", "1")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "keyward {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

pub fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}

#[test]
fn client_lifecycle_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let created = json(&keyward(
        &dir,
        &[
            "client",
            "create",
            "--name",
            "billing",
            "--grant",
            "client_credentials",
            "--scope",
            "api:read api:write",
            "--json",
        ],
        None,
    ));
    let id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    assert_eq!(secret.len(), 43, "256-bit secret, base64url");
    assert_eq!(
        created.as_object().unwrap().len(),
        2,
        "exactly client_id and client_secret"
    );

    let listed = json(&keyward(&dir, &["client", "list", "--json"], None));
    assert_eq!(listed[0]["client_id"], id);
    assert_eq!(listed[0]["scopes"], serde_json::json!(["api:read", "api:write"]));
    let shown = json(&keyward(&dir, &["client", "show", id, "--json"], None));
    assert_eq!(shown["grant_types"], serde_json::json!(["client_credentials"]));
    assert!(
        !String::from_utf8_lossy(&keyward(&dir, &["client", "show", id, "--json"], None).stdout)
            .contains(secret)
    );

    let rotated = json(&keyward(&dir, &["client", "rotate-secret", id, "--json"], None));
    assert_ne!(rotated["client_secret"].as_str().unwrap(), secret);
    keyward(&dir, &["client", "delete", id], None);
    assert_eq!(
        json(&keyward(&dir, &["client", "list", "--json"], None)),
        serde_json::json!([])
    );
}

#[test]
fn public_clients_get_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let created = json(&keyward(
        &dir,
        &["client", "create", "--name", "spa", "--public", "--json"],
        None,
    ));
    assert!(created["client_secret"].is_null());
}

#[test]
fn user_lifecycle_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let created = json(&keyward(
        &dir,
        &[
            "user",
            "create",
            "--email",
            "Ada@Example.com",
            "--password-stdin",
            "--role",
            "admin",
            "--json",
        ],
        Some("a long passphrase\n"),
    ));
    let id = created["user_id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());
    assert!(
        created["password"].is_null(),
        "a password from stdin is never echoed"
    );
    let generated = json(&keyward(
        &dir,
        &["user", "create", "--email", "bob@example.com", "--json"],
        None,
    ));
    assert_eq!(generated["password"].as_str().unwrap().len(), 43);

    let listed = json(&keyward(&dir, &["user", "list", "--json"], None));
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let ada = listed.as_array().unwrap().iter().find(|u| u["id"] == id).unwrap();
    assert_eq!(ada["email"], "Ada@Example.com");
    assert_eq!(ada["roles"], serde_json::json!(["admin"]));
    keyward(&dir, &["user", "delete", "ada@example.com"], None);
    assert_eq!(
        json(&keyward(&dir, &["user", "list", "--json"], None))
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn keys_list_shows_the_signing_key() {
    let dir = tempfile::tempdir().unwrap();
    keyward::crypto::keys::generate(&dir.path().join("keys"), keyward::crypto::keys::Alg::RS256).unwrap();
    let listed = json(&keyward(&dir, &["keys", "list", "--json"], None));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["alg"], "RS256");
    assert_eq!(listed[0]["state"], "active");
    assert_eq!(listed[0]["private_key"], true);
}

#[test]
fn keys_rotate_publishes_ahead_and_retire_unpublishes_with_a_replacement() {
    let dir = tempfile::tempdir().unwrap();
    let first = json(&keyward(&dir, &["keys", "list", "--json"], None));
    let old = first[0]["kid"].as_str().unwrap().to_owned();
    let added = json(&keyward(
        &dir,
        &["keys", "rotate", "--alg", "ES256", "--json"],
        None,
    ));
    assert_eq!(added["alg"], "ES256");
    let listed = json(&keyward(&dir, &["keys", "list", "--json"], None));
    let es = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == added["kid"])
        .unwrap();
    assert_eq!(es["state"], "pending");
    assert_eq!(
        es["activates_at"].as_i64().unwrap() - es["created_at"].as_i64().unwrap(),
        600,
        "published ahead for twice the JWKS max-age"
    );
    let retired = keyward(&dir, &["keys", "retire", &old], None);
    let stderr = String::from_utf8_lossy(&retired.stderr);
    assert!(stderr.contains("signs at once"), "{stderr}");
    let listed = json(&keyward(&dir, &["keys", "list", "--json"], None));
    let states: Vec<(&str, &str)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["alg"].as_str().unwrap(), k["state"].as_str().unwrap()))
        .collect();
    assert!(states.contains(&("RS256", "gone")));
    assert!(states.contains(&("RS256", "active")));
    assert!(states.contains(&("ES256", "pending")));
    assert!(keyward_refused(&dir, &["keys", "retire", &old], None).contains("retired already"));
}

/// A kid is a base64url thumbprint and begins with '-' one time in 64: it is still a kid, not
/// an option (this test's random kids hit that once in CI).
#[test]
fn a_kid_beginning_with_a_hyphen_is_a_kid() {
    let dir = tempfile::tempdir().unwrap();
    keyward(&dir, &["keys", "list"], None);
    for command in ["retire", "activate"] {
        let refused = keyward_refused(&dir, &["keys", command, "-HloOI4JkMVDskWJmOG86eGgKw"], None);
        assert!(!refused.contains("unexpected argument"), "{command}: {refused}");
        assert!(
            refused.contains("-HloOI4JkMVDskWJmOG86eGgKw"),
            "{command}: {refused}"
        );
    }
}

/// `keyward` that must fail; returns its standard error.
fn keyward_refused(dir: &TempDir, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(args)
        .current_dir(dir.path())
        .env(
            "KEYWARD_DATABASE_URL",
            format!("sqlite://{}/kw.db", dir.path().display()),
        )
        .env("KEYWARD_KEYS_DIR", dir.path().join("keys"))
        .env("KEYWARD_PASSWORD_CONCURRENCY", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success(), "keyward {args:?} succeeded");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn user_create_applies_the_rules_of_sign_up() {
    // One path creates accounts: the CLI refuses what the API refuses.
    let dir = tempfile::tempdir().unwrap();
    let bad_email = keyward_refused(&dir, &["user", "create", "--email", "not an address"], None);
    assert!(bad_email.contains("email is not a valid address"), "{bad_email}");
    let common = keyward_refused(
        &dir,
        &["user", "create", "--email", "ada@example.com", "--password-stdin"],
        Some("password123\n"),
    );
    assert!(common.contains("too common"), "{common}");
    let unknown_role = keyward_refused(
        &dir,
        &["user", "create", "--email", "ada@example.com", "--role", "wizard"],
        None,
    );
    assert!(
        unknown_role.contains("no role named \"wizard\""),
        "{unknown_role}"
    );
    let roles: Vec<String> = (0..101).map(|i| format!("--role=r{i}")).collect();
    let mut args = vec!["user", "create", "--email", "ada@example.com"];
    args.extend(roles.iter().map(String::as_str));
    let too_many = keyward_refused(&dir, &args, None);
    assert!(too_many.contains("at most 100 roles"), "{too_many}");
    keyward(&dir, &["user", "create", "--email", "ada@example.com"], None);
    let taken = keyward_refused(&dir, &["user", "create", "--email", "ADA@example.com"], None);
    assert!(taken.contains("exists"), "{taken}");
}

#[test]
fn client_create_registers_browser_apps() {
    let dir = tempfile::tempdir().unwrap();
    let refused = keyward_refused(
        &dir,
        &[
            "client",
            "create",
            "--name",
            "web",
            "--grant",
            "authorization_code",
        ],
        None,
    );
    assert!(refused.contains("at least one redirect URI"), "{refused}");
    let insecure = keyward_refused(
        &dir,
        &[
            "client",
            "create",
            "--name",
            "web",
            "--grant",
            "authorization_code",
            "--redirect-uri",
            "http://app.example.com/cb",
        ],
        None,
    );
    assert!(insecure.contains("https"), "{insecure}");
    let created = json(&keyward(
        &dir,
        &[
            "client",
            "create",
            "--name",
            "web",
            "--grant",
            "authorization_code",
            "--grant",
            "refresh_token",
            "--redirect-uri",
            "https://app.example.com/cb",
            "--redirect-uri",
            "http://127.0.0.1/cb",
            "--post-logout-redirect-uri",
            "https://app.example.com/",
            "--first-party",
            "--public",
            "--json",
        ],
        None,
    ));
    let id = created["client_id"].as_str().unwrap();
    assert!(created["client_secret"].is_null());
    let shown = json(&keyward(&dir, &["client", "show", id, "--json"], None));
    assert_eq!(
        shown["redirect_uris"],
        serde_json::json!(["https://app.example.com/cb", "http://127.0.0.1/cb"])
    );
    assert_eq!(
        shown["post_logout_redirect_uris"],
        serde_json::json!(["https://app.example.com/"])
    );
    assert_eq!(shown["first_party"], true);
    assert_eq!(
        shown["grant_types"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );
}
