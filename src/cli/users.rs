//! `keyward user …`: create, list, set roles of and delete accounts.

use std::io::Read;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;

use keyward::accounts::signup::{NewAccount, create_account};
use keyward::accounts::view::UserView;
use keyward::config::Config;
use keyward::crypto::password::{Password, PasswordHasher};
use keyward::store::families::Families;
use keyward::store::{self, Db, users};

use super::JsonFlag;

#[derive(Subcommand)]
pub enum UserCommand {
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

pub async fn run(config: Config, cmd: UserCommand) -> anyhow::Result<()> {
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
            let roles = if roles.is_empty() {
                vec!["user".to_owned()]
            } else {
                roles
            };
            let account = NewAccount {
                email,
                password: password.clone(),
                name,
                roles,
            };
            let passwords = PasswordHasher::new(config.password_concurrency, config.password_queue)?;
            let user = create_account(&db, &passwords, account, now).await?;
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
            let families = Families::from_config(&config, db.clone(), None).await?;
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
