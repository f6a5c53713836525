//! `serve --dev`: a demo client, a demo user and a demo admin, their credentials in `keyward-dev.env`, and curl
//! commands that work as printed.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use aws_lc_rs::digest::{SHA256, digest};
use keyward::accounts::signup::{NewAccount, create_account};
use keyward::app::AppState;
use keyward::crypto::password::Password;
use keyward::crypto::token::{PlainToken, b64url, random_b64url};
use keyward::oauth::client::{self, ClientSpec};
use keyward::store::{self, users};

const CLIENT_ID: &str = "demo";
/// A web app signing users in through the browser (authorization code + PKCE). Nothing listens
/// at its redirect URI: the code is read from the browser's address bar.
const WEB_CLIENT_ID: &str = "demo-web";
const WEB_REDIRECT_URI: &str = "http://127.0.0.1:8081/callback";
const WEB_POST_LOGOUT_URI: &str = "http://127.0.0.1:8081/";
const USER_EMAIL: &str = "demo@example.com";
const ADMIN_EMAIL: &str = "admin@example.com";
/// Where the demo credentials are written (mode 0600) for `source`-ing in a shell.
pub const ENV_FILE: &str = "keyward-dev.env";

/// Ensures the demo client and accounts exist and that `keyward-dev.env` holds working credentials.
/// Secrets are stored only as hashes, so when the file is gone they are replaced, not recovered.
pub async fn prepare(app: &AppState) -> anyhow::Result<()> {
    let db = &app.db;
    let env_file = Path::new(ENV_FILE);
    let client = store::clients::find(db, CLIENT_ID).await?;
    let web = store::clients::find(db, WEB_CLIENT_ID).await?;
    let user = users::find_by_email(db, USER_EMAIL).await?;
    let admin = users::find_by_email(db, ADMIN_EMAIL).await?;
    if client.is_some() && web.is_some() && user.is_some() && admin.is_some() && env_file.exists() {
        print_walkthrough(app);
        return Ok(());
    }
    let secret = demo_client(
        app,
        client.is_some(),
        CLIENT_ID,
        ClientSpec {
            name: "Demo client".into(),
            grant_types: vec![
                "password".into(),
                "client_credentials".into(),
                "refresh_token".into(),
            ],
            scopes: vec!["openid".into(), "profile".into(), "email".into()],
            ..ClientSpec::default()
        },
    )
    .await?;
    let web_secret = demo_client(
        app,
        web.is_some(),
        WEB_CLIENT_ID,
        ClientSpec {
            name: "Demo web app".into(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            scopes: vec!["openid".into(), "profile".into(), "email".into()],
            redirect_uris: vec![WEB_REDIRECT_URI.into()],
            post_logout_redirect_uris: vec![WEB_POST_LOGOUT_URI.into()],
            ..ClientSpec::default()
        },
    )
    .await?;
    let password = with_new_password(app, USER_EMAIL, "Demo User", &["user"]).await?;
    let admin_password = with_new_password(app, ADMIN_EMAIL, "Demo Admin", &["admin", "user"]).await?;
    let text = format!(
        "KW_ISSUER={}\nKW_CLIENT_ID={CLIENT_ID}\nKW_CLIENT_SECRET={}\nKW_USER={USER_EMAIL}\nKW_PASSWORD={}\n\
         KW_ADMIN={ADMIN_EMAIL}\nKW_ADMIN_PASSWORD={}\nKW_WEB_CLIENT_ID={WEB_CLIENT_ID}\nKW_WEB_CLIENT_SECRET={}\n\
         KW_WEB_REDIRECT_URI={WEB_REDIRECT_URI}\nKW_WEB_POST_LOGOUT_URI={WEB_POST_LOGOUT_URI}\n",
        app.config.issuer,
        secret.expose(),
        password.expose(),
        admin_password.expose(),
        web_secret.expose(),
    );
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(env_file)?;
    file.write_all(text.as_bytes())?;
    eprintln!("\nDemo credentials (also written to {ENV_FILE}, mode 0600):\n\n{text}");
    print_walkthrough(app);
    Ok(())
}

/// A demo client's new secret: the existing client gets a new one (only hashes are kept), a
/// missing one is registered.
async fn demo_client(app: &AppState, exists: bool, id: &str, spec: ClientSpec) -> anyhow::Result<PlainToken> {
    let now = app.clock.now();
    let secret = if exists {
        client::rotate_secret(&app.db, id, now).await?
    } else {
        client::register_with_id(&app.db, id, spec, now).await?.1
    };
    secret.ok_or_else(|| anyhow::anyhow!("the demo client {id} has no secret"))
}

/// Gives the demo account `email` a new generated password, creating it with `roles` if absent.
async fn with_new_password(
    app: &AppState,
    email: &str,
    name: &str,
    roles: &[&str],
) -> anyhow::Result<Password> {
    let now = app.clock.now();
    let password = Password::new(PlainToken::generate().expose());
    match users::find_by_email(&app.db, email).await? {
        Some(user) => {
            let hash = app.passwords.hash(password.clone()).await?;
            users::set_password_hash(&app.db, &user.id, &hash, now).await?;
        }
        None => {
            let account = NewAccount {
                email: email.to_owned(),
                password: password.clone(),
                name: Some(name.to_owned()),
                roles: roles.iter().map(|r| r.to_string()).collect(),
            };
            create_account(&app.db, &app.passwords, account, now).await?;
        }
    }
    Ok(password)
}

fn print_walkthrough(app: &AppState) {
    // A fresh PKCE pair and state for the printed browser sign-in.
    let verifier = PlainToken::generate();
    let challenge = b64url(digest(&SHA256, verifier.expose().as_bytes()).as_ref());
    let state = random_b64url::<16>();
    let authorize = format!(
        "{}/oauth/authorize?{}",
        app.config.issuer,
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", WEB_CLIENT_ID)
            .append_pair("redirect_uri", WEB_REDIRECT_URI)
            .append_pair("scope", "openid email profile offline_access")
            .append_pair("state", &state)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .finish()
    );
    eprintln!(
        r#"
keyward is running in development mode at {issuer}. In another shell:

  source {ENV_FILE}
  # client credentials
  curl -s -u "$KW_CLIENT_ID:$KW_CLIENT_SECRET" -d grant_type=client_credentials "$KW_ISSUER/oauth/token"
  # password grant (access, refresh and ID token)
  curl -s -u "$KW_CLIENT_ID:$KW_CLIENT_SECRET" -d grant_type=password \
       --data-urlencode "username=$KW_USER" --data-urlencode "password=$KW_PASSWORD" \
       -d "scope=openid email profile" "$KW_ISSUER/oauth/token"
  # sign up (the verification email lands in data/outbox/), then see README "Accounts"
  curl -s -H 'Content-Type: application/json' \
       -d '{{"email":"you@example.com","password":"a passphrase of yours"}}' "$KW_ISSUER/api/v1/users"

Sign in with a browser (the demo web app, authorization code + PKCE): open

  {authorize}

sign in as $KW_USER with $KW_PASSWORD and allow. The browser then lands on {WEB_REDIRECT_URI}, where
nothing listens: copy `code` from its address bar and, within 60 seconds,

  curl -s -u "$KW_WEB_CLIENT_ID:$KW_WEB_CLIENT_SECRET" -d grant_type=authorization_code \
       --data-urlencode "redirect_uri=$KW_WEB_REDIRECT_URI" -d code_verifier={verifier} \
       -d code=PASTE-THE-CODE "$KW_ISSUER/oauth/token"

The demo admin is $KW_ADMIN. Interactive API docs: {issuer}/docs
"#,
        issuer = app.config.issuer,
        verifier = verifier.expose(),
    );
}
