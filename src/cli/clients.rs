//! `keyward client …`: register, list, show, delete clients and rotate their secrets.

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;

use keyward::accounts::view::ClientView;
use keyward::oauth::client::{self, ClientSpec};
use keyward::store::{self, Db};

use super::JsonFlag;

#[derive(Subcommand)]
pub enum ClientCommand {
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
pub struct CreateClient {
    #[arg(long)]
    name: String,
    /// Grant type (repeatable): authorization_code, password, client_credentials, refresh_token.
    #[arg(long = "grant")]
    grants: Vec<String>,
    /// Scope the client may request (repeatable; space-separated lists allowed).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Where authorization responses may go (repeatable); matched exactly, any port on a
    /// loopback IP.
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Where the browser may go after logout (repeatable).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// A public client (no secret; cannot use client_credentials; must use PKCE).
    #[arg(long)]
    public: bool,
    /// The operator's own application: users are not asked for consent.
    #[arg(long)]
    first_party: bool,
    #[command(flatten)]
    json: JsonFlag,
}

pub async fn run(db: &Db, cmd: ClientCommand) -> anyhow::Result<()> {
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
                post_logout_redirect_uris: args.post_logout_redirect_uris,
                public: args.public,
                first_party: args.first_party,
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
                println!("post-logout:   {}", client.post_logout_redirect_uris.join(" "));
                println!("first party:   {}", client.first_party);
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

pub fn client_json(c: &store::clients::Client) -> serde_json::Value {
    json!(ClientView::from(c.clone()))
}
