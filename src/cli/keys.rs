//! `keyward keys …`: list, rotate, activate and retire the signing keys.

use std::time::{Duration, UNIX_EPOCH};

use clap::Subcommand;
use serde_json::json;

use keyward::clock::UnixTime;
use keyward::config::Config;
use keyward::crypto::keys::Alg;
use keyward::keyring::{KeyPolicy, Keyring, RELOAD_EVERY};
use keyward::store;

use super::JsonFlag;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// List the signing keys with their state and dates.
    List(JsonFlag),
    /// Add a key: published at once, it signs after the publish-ahead window, and the key it
    /// replaces retires.
    Rotate {
        /// RS256, ES256 or EdDSA.
        #[arg(long, default_value = "RS256")]
        alg: Alg,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Make a published key sign now (an emergency: caches that have not fetched it yet reject
    /// its tokens until they refetch the JWKS).
    Activate {
        /// The key's id, as `keys list` shows it (base64url: it may begin with '-').
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
    /// Unpublish a key at once (a compromised key): every token it signed stops verifying.
    Retire {
        /// The key's id, as `keys list` shows it (base64url: it may begin with '-').
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

pub async fn run(config: Config, cmd: KeysCommand) -> anyhow::Result<()> {
    let db = store::open(&config.database_url).await?;
    let now = keyward::clock::system_now();
    let keys = Keyring::open(db, &config.keys_dir, KeyPolicy::from_config(&config), now).await?;
    let reload = RELOAD_EVERY.as_secs();
    match cmd {
        KeysCommand::List(flag) => list(&keys, now, flag.json),
        KeysCommand::Rotate { alg, json } => {
            let key = keys.rotate(alg, now, false).await?;
            if json.json {
                println!(
                    "{}",
                    json!({ "kid": key.kid, "alg": alg, "activates_at": key.activates_at })
                );
            } else {
                println!(
                    "added {alg} key {}: published now, signs from {}",
                    key.kid,
                    time(key.activates_at)
                );
            }
            Ok(())
        }
        KeysCommand::Activate { kid } => {
            eprintln!(
                "warning: resource servers whose JWKS cache predates key {kid} reject its tokens until they refetch"
            );
            keys.activate(&kid, now).await?;
            println!("key {kid} signs now (every replica within {reload} s)");
            Ok(())
        }
        KeysCommand::Retire { kid } => {
            let retired = keys.retire(&kid, now).await?;
            println!(
                "key {kid} is unpublished; its tokens stop verifying on every replica within {reload} s"
            );
            if let Some(new) = retired.replacement {
                eprintln!(
                    "warning: nothing else could sign, so new key {new} signs at once; caches that predate it reject its tokens until they refetch"
                );
            } else if let Some(signing) = retired.signing {
                println!("key {signing} signs");
            }
            Ok(())
        }
    }
}

fn list(keys: &Keyring, now: UnixTime, json_out: bool) -> anyhow::Result<()> {
    let rows = keys.states(now);
    if json_out {
        let rows: Vec<_> = rows
            .iter()
            .map(|k| {
                json!({
                    "kid": k.dates.kid,
                    "alg": k.dates.alg,
                    "state": k.state,
                    "created_at": k.dates.created_at,
                    "activates_at": k.dates.activates_at,
                    "retired_at": k.dates.retired_at,
                    "gone_at": k.gone_at,
                    "private_key": k.private_key,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(rows));
    } else {
        println!(
            "{:<43}  {:<5}  {:<8}  {:<20}  {:<20}  gone",
            "kid", "alg", "state", "created", "signs from"
        );
        for k in rows {
            println!(
                "{:<43}  {:<5}  {:<8}  {:<20}  {:<20}  {}{}",
                k.dates.kid,
                k.dates.alg.as_str(),
                k.state.as_str(),
                time(k.dates.created_at),
                time(k.dates.activates_at),
                k.gone_at.map_or("-".into(), time),
                if k.private_key {
                    ""
                } else {
                    "  (no private key here)"
                }
            );
        }
    }
    Ok(())
}

fn time(at: UnixTime) -> String {
    let at = UNIX_EPOCH + Duration::from_secs(at.max(0).unsigned_abs());
    humantime::format_rfc3339_seconds(at).to_string()
}
