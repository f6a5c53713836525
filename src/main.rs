//! The `keyward` command line: parses arguments, builds configuration, calls the library.

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use serde_json::json;

use keyward::accounts::view::{ClientView, UserView};
use keyward::app::{AppState, router};
use keyward::clock::Clock;
use keyward::config::Config;
use keyward::crypto::keys::KeySet;
use keyward::crypto::password::{Password, PasswordHasher};
use keyward::oauth::client::{self, ClientSpec};
use keyward::store::families::Families;
use keyward::store::{self, Db, users};

mod dev;

#[derive(Parser)]
#[command(
    name = "keyward",
    version,
    about = "An OAuth 2.0 / OpenID Connect authorization server"
)]
struct Cli {
    /// Configuration file; KEYWARD_* variables override it.
    #[arg(long, global = true, env = "KEYWARD_CONFIG", default_value = "keyward.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate, load or generate keys, and serve.
    Serve {
        /// Also create a demo client and user (if absent) and print how to use them.
        #[arg(long)]
        dev: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Manage OAuth clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Inspect signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Register a client; prints its id and one-time secret.
    Create(CreateClient),
    /// List clients.
    List(JsonFlag),
    /// Show one client.
    Show {
        id: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Delete a client and end its sessions.
    Delete { id: String },
    /// Replace a confidential client's secret; prints the new one.
    RotateSecret {
        id: String,
        #[command(flatten)]
        json: JsonFlag,
    },
}

#[derive(Args)]
struct CreateClient {
    #[arg(long)]
    name: String,
    /// Grant type (repeatable): password, client_credentials, refresh_token.
    #[arg(long = "grant")]
    grants: Vec<String>,
    /// Scope the client may request (repeatable; space-separated lists allowed).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// A public client (no secret; cannot use client_credentials).
    #[arg(long)]
    public: bool,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Args)]
struct JsonFlag {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; the password comes from stdin or is generated and printed once.
    Create {
        #[arg(long)]
        email: String,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
        #[arg(long = "role")]
        roles: Vec<String>,
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// List users.
    List(JsonFlag),
    /// Replace a user's roles; each must exist (`user`, `staff`, `admin` or a custom role).
    SetRole {
        /// User id or email.
        user: String,
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
    },
    /// Delete a user (soft delete) and end all of their sessions.
    Delete {
        /// User id or email.
        user: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// List the signing keys.
    List(JsonFlag),
}

/// glibc raises its mmap threshold each time a large block is freed, after which Argon2's 19 MiB
/// working memory comes from an arena and stays resident once freed. A fixed threshold keeps
/// every block of 4 MiB or more in its own mapping, which goes back to the system when freed, so
/// a server that has stopped checking passwords shrinks back to its idle size.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_blocks_to_the_system() {
    // SAFETY: mallopt only changes a malloc tunable; it is called once, before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_blocks_to_the_system() {}

fn main() -> anyhow::Result<()> {
    return_large_blocks_to_the_system();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn,tower_http=info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // One JSON object per line for log collectors (the audit events among them).
    if std::env::var("KEYWARD_LOG_FORMAT").is_ok_and(|f| f == "json") {
        logs.json().init();
    } else {
        logs.init();
    }
    let cli = Cli::parse();
    let config = Config::load(&cli.config)?;
    match cli.command {
        Command::Serve { dev } => serve(config, dev).await,
        Command::Migrate => {
            let db = store::open(&config.database_url).await?;
            db.close().await;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Client(cmd) => client_command(&store::open(&config.database_url).await?, cmd).await,
        Command::User(cmd) => user_command(config, cmd).await,
        Command::Keys(KeysCommand::List(flag)) => keys_list(&config.keys_dir, flag.json),
    }
}

async fn serve(mut config: Config, dev: bool) -> anyhow::Result<()> {
    if dev && config.smtp_url.is_none() && config.mail_outbox.is_none() {
        // Verification links land where the developer can open them.
        config.mail_outbox = Some("data/outbox".into());
    }
    let bind: SocketAddr = config
        .bind
        .parse()
        .with_context(|| format!("KEYWARD_BIND {:?}", config.bind))?;
    tracing::info!(?config, "starting");
    let state = AppState::build(config, Clock::system()).await?;
    if dev {
        dev::prepare(&state).await?;
    }
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("binding {bind}"))?;
    tracing::info!(issuer = %state.config.issuer, %bind, kid = state.keys.signing().kid(), "serving");
    tokio::spawn(prune_periodically(state.clone()));
    let grace = state.config.shutdown_grace;
    let stopping = std::sync::Arc::new(tokio::sync::Notify::new());
    let signalled = stopping.clone();
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!(
            ?grace,
            "stopping: no new connections; finishing requests in flight"
        );
        signalled.notify_one();
    });
    // In-flight requests get `grace` to finish; a stalled client cannot hold the process up.
    tokio::select! {
        served = server => served?,
        () = async { stopping.notified().await; tokio::time::sleep(grace).await } => {
            tracing::warn!("requests still in flight after the grace period; exiting anyway");
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// Every ten minutes, removes rows that can no longer change any answer.
async fn prune_periodically(state: AppState) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        every.tick().await;
        match state.prune().await {
            Ok(pruned) => tracing::debug!(?pruned, "pruned expired rows"),
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "pruning expired rows failed"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}

async fn client_command(db: &Db, cmd: ClientCommand) -> anyhow::Result<()> {
    let now = keyward::clock::system_now();
    match cmd {
        ClientCommand::Create(args) => {
            let spec = ClientSpec {
                name: args.name,
                grant_types: args.grants,
                scopes: args
                    .scopes
                    .iter()
                    .flat_map(|s| s.split_whitespace().map(str::to_owned))
                    .collect(),
                redirect_uris: args.redirect_uris,
                public: args.public,
            };
            let (client, secret) = client::register(db, spec, now).await?;
            if args.json.json {
                println!(
                    "{}",
                    json!({ "client_id": client.id, "client_secret": secret.as_ref().map(|s| s.expose()) })
                );
            } else {
                println!("client_id:     {}", client.id);
                match secret {
                    Some(secret) => {
                        println!("client_secret: {}", secret.expose());
                        println!("(the secret is shown once; keyward stores only its hash)");
                    }
                    None => println!("public client: no secret"),
                }
            }
        }
        ClientCommand::List(flag) => {
            let clients = store::clients::list(db).await?;
            if flag.json {
                println!(
                    "{}",
                    serde_json::Value::Array(clients.iter().map(client_json).collect())
                );
            } else {
                for c in clients {
                    println!("{}  {}  [{}]", c.id, c.name, c.grant_types.join(" "));
                }
            }
        }
        ClientCommand::Show { id, json } => {
            let client = store::clients::find(db, &id)
                .await?
                .with_context(|| format!("no client {id:?}"))?;
            if json.json {
                println!("{}", client_json(&client));
            } else {
                println!("client_id:     {}", client.id);
                println!("name:          {}", client.name);
                println!(
                    "type:          {}",
                    if client.is_public() {
                        "public"
                    } else {
                        "confidential"
                    }
                );
                println!("grant types:   {}", client.grant_types.join(" "));
                println!("scopes:        {}", client.scopes.join(" "));
                println!("redirect URIs: {}", client.redirect_uris.join(" "));
            }
        }
        ClientCommand::Delete { id } => {
            anyhow::ensure!(store::clients::delete(db, &id).await?, "no client {id:?}");
            eprintln!("deleted client {id}");
        }
        ClientCommand::RotateSecret { id, json } => {
            let secret = client::rotate_secret(db, &id, now)
                .await?
                .with_context(|| format!("no confidential client {id:?}"))?;
            if json.json {
                println!("{}", json!({ "client_id": id, "client_secret": secret.expose() }));
            } else {
                println!("client_secret: {}", secret.expose());
            }
        }
    }
    Ok(())
}

fn client_json(c: &store::clients::Client) -> serde_json::Value {
    json!(ClientView::from(c.clone()))
}

async fn user_command(config: Config, cmd: UserCommand) -> anyhow::Result<()> {
    let db = store::open(&config.database_url).await?;
    let now = keyward::clock::system_now();
    match cmd {
        UserCommand::Create {
            email,
            password_stdin,
            roles,
            name,
            json,
        } => {
            let (password, generated) = if password_stdin {
                let mut text = String::new();
                std::io::stdin().read_to_string(&mut text)?;
                let text = text.trim_end_matches(['\r', '\n']).to_owned();
                anyhow::ensure!(!text.is_empty(), "the password on stdin is empty");
                (Password::new(text), false)
            } else {
                (
                    Password::new(keyward::crypto::token::PlainToken::generate().expose()),
                    true,
                )
            };
            let hash = PasswordHasher::new(config.password_concurrency, config.password_queue)?
                .hash(password.clone())
                .await?;
            let roles = if roles.is_empty() {
                vec!["user".to_owned()]
            } else {
                roles
            };
            let user = users::create(
                &db,
                users::NewUser {
                    email: &email,
                    password_hash: Some(hash),
                    name: name.as_deref(),
                    roles: &roles,
                },
                now,
            )
            .await?;
            let shown = generated.then(|| password.expose().to_owned());
            if json.json {
                println!(
                    "{}",
                    json!({ "user_id": user.id, "email": user.email, "password": shown })
                );
            } else {
                println!("user_id: {}", user.id);
                println!("email:   {}", user.email);
                if let Some(password) = shown {
                    println!("password: {password}");
                    println!("(generated and shown once)");
                }
            }
        }
        UserCommand::List(flag) => {
            let list = all_users(&db).await?;
            if flag.json {
                let rows: Vec<UserView> = list.into_iter().map(UserView::from).collect();
                println!("{}", serde_json::to_string(&rows)?);
            } else {
                for u in list {
                    println!(
                        "{}  {}  {}  [{}]",
                        u.id,
                        u.email,
                        u.status.as_str(),
                        u.roles.join(" ")
                    );
                }
            }
        }
        UserCommand::SetRole { user, roles } => {
            let user = find_user(&db, &user).await?;
            users::set_roles(&db, &user.id, &roles, now).await?;
            eprintln!("{} ({}) now holds [{}]", user.id, user.email, roles.join(" "));
        }
        UserCommand::Delete { user } => {
            let user = find_user(&db, &user).await?;
            let families = Families::from_config(&config, db.clone()).await?;
            keyward::accounts::admin::delete_account(&db, &families, &user.id, now).await?;
            eprintln!(
                "deleted user {} ({}); their sessions have ended",
                user.id, user.email
            );
        }
    }
    Ok(())
}

/// A live account by id or email.
async fn find_user(db: &Db, user: &str) -> anyhow::Result<users::User> {
    let found = match users::find(db, user).await? {
        Some(u) => Some(u),
        None => users::find_by_email(db, user).await?,
    };
    found.with_context(|| format!("no user {user:?}"))
}

/// Every live account, page by page.
async fn all_users(db: &Db) -> anyhow::Result<Vec<users::User>> {
    let mut all: Vec<users::User> = Vec::new();
    loop {
        let filter = users::UserFilter {
            after: all.last().map(|u| u.id.as_str()),
            limit: 500,
            ..Default::default()
        };
        let page = users::list(db, &filter).await?;
        let done = page.len() < 500;
        all.extend(page);
        if done {
            return Ok(all);
        }
    }
}

fn keys_list(dir: &Path, json_out: bool) -> anyhow::Result<()> {
    let keys = KeySet::load(dir)?;
    let signing = keys.signing().kid().to_owned();
    if json_out {
        let rows: Vec<_> = keys
            .keys()
            .map(|k| json!({ "kid": k.kid(), "path": k.path(), "alg": "RS256", "status": if k.kid() == signing { "active" } else { "published" } }))
            .collect();
        println!("{}", serde_json::Value::Array(rows));
    } else {
        for k in keys.keys() {
            let status = if k.kid() == signing {
                "active (signs)"
            } else {
                "published"
            };
            println!("{}  RS256  {}  {}", k.kid(), status, k.path().display());
        }
    }
    Ok(())
}
