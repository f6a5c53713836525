//! Users: accounts that sign in with an email and a password, and the roles they hold.

use sqlx::FromRow;

use crate::clock::UnixTime;
use crate::store::inline_reads::InlineReads;
use crate::store::{Db, split_words};

mod listing;

pub use listing::{UserFilter, list};

/// An account, without its password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub profile: Profile,
    pub status: UserStatus,
    pub email_verified: bool,
    pub roles: Vec<String>,
    /// Every permission the roles grant, sorted, without repeats.
    pub permissions: Vec<String>,
    /// Each role with the permissions it grants.
    grants: Vec<(String, Vec<String>)>,
    pub created_at: UnixTime,
    pub updated_at: UnixTime,
    /// Set once the account is deleted; only administrators see such accounts.
    pub deleted_at: Option<UnixTime>,
}

/// The OIDC Core §5.1 profile claims an account holder sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub locale: Option<String>,
}

/// Whether an account may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    Active,
    Disabled,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Disabled => "disabled",
        }
    }
}

#[derive(FromRow)]
struct UserRow {
    id: String,
    email: String,
    name: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    locale: Option<String>,
    status: String,
    email_verified: i64,
    created_at: i64,
    updated_at: i64,
    deleted_at: Option<i64>,
}

impl UserRow {
    fn into_user(self, grants: Vec<(String, Vec<String>)>) -> User {
        let roles = grants.iter().map(|(role, _)| role.clone()).collect();
        let permissions = union(grants.iter().map(|(_, p)| p));
        User {
            id: self.id,
            email: self.email,
            profile: Profile {
                name: self.name,
                given_name: self.given_name,
                family_name: self.family_name,
                locale: self.locale,
            },
            status: if self.status == "active" {
                UserStatus::Active
            } else {
                UserStatus::Disabled
            },
            email_verified: self.email_verified != 0,
            roles,
            permissions,
            grants,
            created_at: self.created_at,
            updated_at: self.updated_at,
            deleted_at: self.deleted_at,
        }
    }
}

/// What a new account is made of; `password_hash` is already an Argon2id PHC string.
#[derive(Debug)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub password_hash: Option<String>,
    pub name: Option<&'a str>,
    pub roles: &'a [String],
}

/// Why an account could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("an account with this email already exists")]
    DuplicateEmail,
    #[error("no role named {0:?}")]
    UnknownRole(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Emails compare case-insensitively and without surrounding space.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// One account with its roles and their permissions, in one statement: a row per role.
macro_rules! with_roles {
    ($condition:literal) => {
        concat!(
            "select u.id, u.email, u.name, u.given_name, u.family_name, u.locale, u.status, \
             u.email_verified, u.created_at, u.updated_at, u.deleted_at, u.password_hash, ur.role, \
             r.permissions \
             from users u left join user_roles ur on ur.user_id = u.id left join roles r on r.name = ur.role \
             where ",
            $condition,
            " order by ur.role"
        )
    };
}

#[derive(FromRow)]
struct UserRoleRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: Option<String>,
    role: Option<String>,
    permissions: Option<String>,
}

impl UserRoleRow {
    /// A [`with_roles`] row read by an inline SQLite connection (columns in that order).
    fn from_inline(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            user: UserRow {
                id: row.get(0)?,
                email: row.get(1)?,
                name: row.get(2)?,
                given_name: row.get(3)?,
                family_name: row.get(4)?,
                locale: row.get(5)?,
                status: row.get(6)?,
                email_verified: row.get(7)?,
                created_at: row.get(8)?,
                updated_at: row.get(9)?,
                deleted_at: row.get(10)?,
            },
            password_hash: row.get(11)?,
            role: row.get(12)?,
            permissions: row.get(13)?,
        })
    }
}

/// The account of [`with_roles`] rows, and its password hash.
fn fold(rows: Vec<UserRoleRow>) -> Option<(User, Option<String>)> {
    let mut grants = Vec::new();
    let mut first = None;
    for row in rows {
        if let Some(role) = row.role {
            grants.push((role, split_words(row.permissions.as_deref().unwrap_or_default())));
        }
        first.get_or_insert((row.user, row.password_hash));
    }
    first.map(|(user, hash)| (user.into_user(grants), hash))
}

/// Inserts an account and its roles in one transaction.
pub async fn create(db: &Db, new: NewUser<'_>, now: UnixTime) -> Result<User, CreateUserError> {
    // Time-ordered (v7): listings follow creation, and inserts stay at the end of the index.
    let id = uuid::Uuid::now_v7().to_string();
    let mut tx = db.begin().await?;
    let inserted = sqlx::query(
        "insert into users (id, email, email_normalized, password_hash, name, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(&id)
    .bind(new.email.trim())
    .bind(normalize_email(new.email))
    .bind(new.password_hash)
    .bind(new.name)
    .bind(now)
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(e) if super::is_unique_violation(&e) => return Err(CreateUserError::DuplicateEmail),
        other => other?,
    };
    for role in distinct(new.roles) {
        if !add_role(&mut tx, &id, &role).await? {
            return Err(CreateUserError::UnknownRole(role.clone()));
        }
    }
    tx.commit().await?;
    Ok(find(db, &id).await?.ok_or(sqlx::Error::RowNotFound)?)
}

/// A live (not deleted) account by id.
pub async fn find(db: &Db, id: &str) -> Result<Option<User>, sqlx::Error> {
    find_with(db, None, id).await
}

/// As [`find`], read inline when `inline` is given (the per-request lookup of a token's user).
pub async fn find_with(db: &Db, inline: Option<&InlineReads>, id: &str) -> Result<Option<User>, sqlx::Error> {
    const FIND: &str = with_roles!("u.id = $1 and u.deleted_at is null");
    let read = inline.and_then(|inline| {
        inline.read(
            "select u.id, u.email, u.name, u.given_name, u.family_name, …",
            |c| {
                let mut statement = c.prepare_cached(FIND)?;
                let rows =
                    statement.query_map(rusqlite::named_params! { "$1": id }, UserRoleRow::from_inline)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            },
        )
    });
    let rows = match read {
        Some(rows) => rows,
        None => sqlx::query_as(FIND).bind(id).fetch_all(db).await?,
    };
    Ok(fold(rows).map(|(user, _)| user))
}

/// A live account and its password hash, by email, for the password grant.
pub async fn find_for_login(db: &Db, email: &str) -> Result<Option<(User, Option<String>)>, sqlx::Error> {
    let rows = sqlx::query_as(with_roles!("u.email_normalized = $1 and u.deleted_at is null"))
        .bind(normalize_email(email))
        .fetch_all(db)
        .await?;
    Ok(fold(rows))
}

/// A live account by email.
pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<User>, sqlx::Error> {
    Ok(find_for_login(db, email).await?.map(|(user, _)| user))
}

/// An account by id, deleted or not.
pub async fn find_any(db: &Db, id: &str) -> Result<Option<User>, sqlx::Error> {
    let rows = sqlx::query_as(with_roles!("u.id = $1"))
        .bind(id)
        .fetch_all(db)
        .await?;
    Ok(fold(rows).map(|(user, _)| user))
}

/// Replaces a live account's profile.
pub async fn set_profile(db: &Db, id: &str, profile: &Profile, now: UnixTime) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update users set name = $2, given_name = $3, family_name = $4, locale = $5, updated_at = $6
         where id = $1 and deleted_at is null",
    )
    .bind(id)
    .bind(&profile.name)
    .bind(&profile.given_name)
    .bind(&profile.family_name)
    .bind(&profile.locale)
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Why roles could not be assigned.
#[derive(Debug, thiserror::Error)]
pub enum AssignRolesError {
    #[error("no role named {0:?}")]
    UnknownRole(String),
    #[error("no such account")]
    NoUser,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Replaces a live account's roles with `roles`, each of which must exist, in one transaction.
pub async fn set_roles(db: &Db, id: &str, roles: &[String], now: UnixTime) -> Result<(), AssignRolesError> {
    let mut tx = db.begin().await?;
    let touched = sqlx::query("update users set updated_at = $2 where id = $1 and deleted_at is null")
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    if touched.rows_affected() != 1 {
        return Err(AssignRolesError::NoUser);
    }
    sqlx::query("delete from user_roles where user_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    for role in distinct(roles) {
        if !add_role(&mut tx, id, &role).await? {
            return Err(AssignRolesError::UnknownRole(role.clone()));
        }
    }
    tx.commit().await?;
    Ok(())
}

fn distinct(roles: &[String]) -> Vec<String> {
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    roles
}

/// Gives an account a role that exists; false if there is no such role.
async fn add_role(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    role: &str,
) -> Result<bool, sqlx::Error> {
    let added = sqlx::query(
        "insert into user_roles (user_id, role) select $1, name from roles where name = $2
             on conflict do nothing",
    )
    .bind(id)
    .bind(role)
    .execute(&mut **tx)
    .await?;
    Ok(added.rows_affected() == 1)
}

/// Marks the account's email verified, if it still has the address the link was sent to.
pub async fn mark_email_verified(db: &Db, id: &str, email: &str, now: UnixTime) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update users set email_verified = 1, updated_at = $3
         where id = $1 and email_normalized = $2 and deleted_at is null",
    )
    .bind(id)
    .bind(normalize_email(email))
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks an account deleted; the row stays. Returns whether a live account was deleted.
pub async fn soft_delete(db: &Db, id: &str, now: UnixTime) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("update users set deleted_at = $2, updated_at = $2 where id = $1 and deleted_at is null")
            .bind(id)
            .bind(now)
            .execute(db)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces an account's password hash.
pub async fn set_password_hash(db: &Db, id: &str, hash: &str, now: UnixTime) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update users set password_hash = $2, updated_at = $3 where id = $1 and deleted_at is null",
    )
    .bind(id)
    .bind(hash)
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Enables or disables sign-in.
pub async fn set_status(db: &Db, id: &str, status: UserStatus, now: UnixTime) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("update users set status = $2, updated_at = $3 where id = $1 and deleted_at is null")
            .bind(id)
            .bind(status.as_str())
            .bind(now)
            .execute(db)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// The permissions of several roles, sorted, without repeats.
fn union<'a>(sets: impl Iterator<Item = &'a Vec<String>>) -> Vec<String> {
    let mut all: Vec<String> = sets.flatten().cloned().collect();
    all.sort();
    all.dedup();
    all
}

impl User {
    /// The permissions that `roles` (some of the account's roles) grant.
    pub fn permissions_of(&self, roles: &[String]) -> Vec<String> {
        union(
            self.grants
                .iter()
                .filter(|(role, _)| roles.contains(role))
                .map(|(_, p)| p),
        )
    }
}
