//! `keyward keys …`: the signing keys in `keys/`.

use std::path::Path;

use clap::Subcommand;
use serde_json::json;

use keyward::crypto::keys::KeySet;

use super::JsonFlag;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// List the signing keys.
    List(JsonFlag),
}

pub fn list(dir: &Path, json_out: bool) -> anyhow::Result<()> {
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
