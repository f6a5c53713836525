//! The `keyward` command line: parses arguments, builds configuration, calls the library.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use keyward::config::Config;
use keyward::store;

use cli::clients::ClientCommand;
use cli::keys::KeysCommand;
use cli::users::UserCommand;

mod cli;

// The server allocates a few small buffers per request (headers, form fields, JSON); glibc's
// allocator took 6 % of its CPU under load, mimalloc's thread-local free lists about half that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Manage the signing keys: list, rotate, activate, retire.
    #[command(subcommand)]
    Keys(KeysCommand),
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
        Command::Serve { dev } => cli::serve::run(config, dev).await,
        Command::Migrate => {
            let db = store::open(&config.database_url).await?;
            db.close().await;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Client(cmd) => cli::clients::run(&store::open(&config.database_url).await?, cmd).await,
        Command::User(cmd) => cli::users::run(config, cmd).await,
        Command::Keys(cmd) => cli::keys::run(config, cmd).await,
    }
}
