//! Authorization codes (RFC 6749 §4.1.2): stored only as hashes, used up in one atomic step
//! (a Lua script on Redis, one `update … returning` in SQL), and kept a while after use so that
//! a replay is recognised and can revoke what the first exchange issued (§4.1.2, §10.5).

use std::sync::LazyLock;

use redis::Script;
use serde::{Deserialize, Serialize};

use crate::clock::UnixTime;
use crate::crypto::token::TokenHash;
use crate::store::Db;
use crate::store::families::Families;
use crate::store::redis::Redis;

static REDEEM: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("codes/redeem.lua")));

/// What an authorization code is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    /// Whether the authorization request named the redirect URI (then the token request must
    /// name it too, §4.1.3).
    pub redirect_uri_given: bool,
    /// The PKCE `S256` challenge (RFC 7636), if one was sent.
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub scope: String,
    pub user_id: String,
    pub auth_time: UnixTime,
    /// The browser's sign-in session.
    pub signin_id: String,
    /// The session the exchange starts, named now so that a replay can revoke it.
    pub family_id: String,
    pub expires_at: UnixTime,
}

/// What presenting a code found.
#[derive(Debug, PartialEq, Eq)]
pub enum Redeemed {
    /// First use: the code is now spent.
    Fresh(CodeGrant),
    /// The code was used before; this names the session its first exchange started.
    Replayed { family_id: String },
    /// Never issued, or forgotten.
    Unknown,
}

/// Codes in Redis when it is configured, in SQL otherwise.
#[derive(Clone)]
pub enum Codes {
    Sql(Db),
    Redis(Redis),
}

impl Codes {
    /// Codes live where the refresh families do.
    pub fn beside(families: &Families, db: Db) -> Self {
        match families.redis() {
            Some(redis) => Codes::Redis(redis.clone()),
            None => Codes::Sql(db),
        }
    }

    fn key(redis: &Redis, hash: &TokenHash) -> String {
        redis.key(&format!("code:{}", hash.as_str()))
    }

    /// Records a new code under its hash.
    pub async fn issue(&self, hash: &TokenHash, grant: &CodeGrant) -> anyhow::Result<()> {
        let data = serde_json::to_string(grant)?;
        match self {
            Codes::Sql(db) => {
                sqlx::query(
                    "insert into authorization_codes (hash, family_id, data, expires_at) values ($1, $2, $3, $4)",
                )
                .bind(hash.as_str())
                .bind(&grant.family_id)
                .bind(data)
                .bind(grant.expires_at)
                .execute(db)
                .await?;
            }
            Codes::Redis(redis) => {
                let key = Self::key(redis, hash);
                let mut pipe = redis::pipe();
                pipe.cmd("HSET")
                    .arg(&key)
                    .arg("data")
                    .arg(data)
                    .arg("family")
                    .arg(&grant.family_id)
                    .arg("used")
                    .arg("0")
                    .ignore();
                pipe.cmd("EXPIREAT").arg(&key).arg(grant.expires_at).ignore();
                redis.pipeline(&pipe).await?;
            }
        }
        Ok(())
    }

    /// Uses up the code with `hash`. A spent code is kept for `retain` seconds, for replays.
    pub async fn redeem(&self, hash: &TokenHash, now: UnixTime, retain: i64) -> anyhow::Result<Redeemed> {
        match self {
            Codes::Sql(db) => {
                // The single-use step: of concurrent presentations exactly one updates the row.
                let fresh: Option<String> = sqlx::query_scalar(
                    "update authorization_codes set used_at = $2, expires_at = $3
                     where hash = $1 and used_at is null returning data",
                )
                .bind(hash.as_str())
                .bind(now)
                .bind(now.saturating_add(retain))
                .fetch_optional(db)
                .await?;
                if let Some(data) = fresh {
                    return Ok(Redeemed::Fresh(serde_json::from_str(&data)?));
                }
                let replayed: Option<String> =
                    sqlx::query_scalar("select family_id from authorization_codes where hash = $1")
                        .bind(hash.as_str())
                        .fetch_optional(db)
                        .await?;
                Ok(replayed.map_or(Redeemed::Unknown, |family_id| Redeemed::Replayed { family_id }))
            }
            Codes::Redis(redis) => {
                let reply: Option<(String, String)> =
                    redis.run(REDEEM.key(Self::key(redis, hash)).arg(retain)).await?;
                Ok(match reply {
                    Some((outcome, data)) if outcome == "fresh" => {
                        Redeemed::Fresh(serde_json::from_str(&data)?)
                    }
                    Some((_, family_id)) => Redeemed::Replayed { family_id },
                    None => Redeemed::Unknown,
                })
            }
        }
    }
}
