//! OAuth clients: their grants, scopes, redirect URIs and the hash of their secret.

use sqlx::FromRow;

use crate::clock::UnixTime;
use crate::crypto::token::TokenHash;
use crate::store::{Db, join_words, split_words};

/// A registered client.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub name: String,
    /// `None` for a public client.
    pub secret_hash: Option<TokenHash>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub redirect_uris: Vec<String>,
    /// Where the browser may be sent after logout (OIDC RP-Initiated Logout §3).
    pub post_logout_redirect_uris: Vec<String>,
    /// The operator's own application: users are not asked for consent.
    pub first_party: bool,
    pub created_at: UnixTime,
    pub updated_at: UnixTime,
}

impl Client {
    /// A public client holds no secret and authenticates with its id alone (RFC 6749 §2.1).
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    /// Whether the client is registered for a grant type.
    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }
}

#[derive(FromRow)]
struct ClientRow {
    id: String,
    name: String,
    secret_hash: Option<String>,
    grant_types: String,
    scopes: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    first_party: i64,
    created_at: i64,
    updated_at: i64,
}

impl From<ClientRow> for Client {
    fn from(row: ClientRow) -> Self {
        Client {
            id: row.id,
            name: row.name,
            secret_hash: row.secret_hash.map(TokenHash::from_stored),
            grant_types: split_words(&row.grant_types),
            scopes: split_words(&row.scopes),
            redirect_uris: split_words(&row.redirect_uris),
            post_logout_redirect_uris: split_words(&row.post_logout_redirect_uris),
            first_party: row.first_party != 0,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// What a new client is made of.
#[derive(Debug)]
pub struct NewClient<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub secret_hash: Option<&'a TokenHash>,
    pub grant_types: &'a [String],
    pub scopes: &'a [String],
    pub redirect_uris: &'a [String],
    pub post_logout_redirect_uris: &'a [String],
    pub first_party: bool,
}

macro_rules! client_columns {
    () => {
        "id, name, secret_hash, grant_types, scopes, redirect_uris, post_logout_redirect_uris, first_party, \
         created_at, updated_at"
    };
}

/// Inserts a client; a taken id is a unique violation.
pub async fn create(db: &Db, new: NewClient<'_>, now: UnixTime) -> Result<Client, sqlx::Error> {
    sqlx::query(
        "insert into clients (id, name, secret_hash, is_public, grant_types, scopes, redirect_uris,
                              post_logout_redirect_uris, first_party, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
    )
    .bind(new.id)
    .bind(new.name)
    .bind(new.secret_hash.map(TokenHash::as_str))
    .bind(i64::from(new.secret_hash.is_none()))
    .bind(join_words(new.grant_types))
    .bind(join_words(new.scopes))
    .bind(join_words(new.redirect_uris))
    .bind(join_words(new.post_logout_redirect_uris))
    .bind(i64::from(new.first_party))
    .bind(now)
    .execute(db)
    .await?;
    find(db, new.id).await?.ok_or(sqlx::Error::RowNotFound)
}

/// A client by id.
pub async fn find(db: &Db, id: &str) -> Result<Option<Client>, sqlx::Error> {
    let row: Option<ClientRow> = sqlx::query_as(concat!(
        "select ",
        client_columns!(),
        " from clients where id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Client::from))
}

/// Whether a client is (still) registered.
pub async fn exists(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar("select 1 from clients where id = $1")
        .bind(id)
        .fetch_optional(db)
        .await?;
    Ok(found.is_some())
}

/// Every client, oldest first.
pub async fn list(db: &Db) -> Result<Vec<Client>, sqlx::Error> {
    let rows: Vec<ClientRow> = sqlx::query_as(concat!(
        "select ",
        client_columns!(),
        " from clients order by created_at, id"
    ))
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Client::from).collect())
}

/// Deletes a client and, through the foreign keys, its sessions.
pub async fn delete(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("delete from clients where id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces a confidential client's secret hash; public clients keep none.
pub async fn set_secret_hash(
    db: &Db,
    id: &str,
    hash: &TokenHash,
    now: UnixTime,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("update clients set secret_hash = $2, updated_at = $3 where id = $1 and is_public = 0")
            .bind(id)
            .bind(hash.as_str())
            .bind(now)
            .execute(db)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Every registered redirect URI, of every client: the origins browser apps call from.
pub async fn all_redirect_uris(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<String> = sqlx::query_scalar("select redirect_uris from clients where redirect_uris <> ''")
        .fetch_all(db)
        .await?;
    Ok(rows.iter().flat_map(|r| split_words(r)).collect())
}
