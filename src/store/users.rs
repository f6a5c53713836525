//! Users: accounts that sign in with an email and a password, and the roles they hold.

use sqlx::FromRow;

use crate::clock::UnixTime;
use crate::store::Db;

/// An account, without its password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub status: UserStatus,
    pub email_verified: bool,
    pub roles: Vec<String>,
    pub created_at: UnixTime,
    pub updated_at: UnixTime,
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
    status: String,
    email_verified: i64,
    created_at: i64,
    updated_at: i64,
}

impl UserRow {
    fn into_user(self, roles: Vec<String>) -> User {
        User {
            id: self.id,
            email: self.email,
            name: self.name,
            status: if self.status == "active" {
                UserStatus::Active
            } else {
                UserStatus::Disabled
            },
            email_verified: self.email_verified != 0,
            roles,
            created_at: self.created_at,
            updated_at: self.updated_at,
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
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Emails compare case-insensitively and without surrounding space.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

macro_rules! user_columns {
    () => {
        "id, email, name, status, email_verified, created_at, updated_at"
    };
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
    for role in new.roles {
        sqlx::query("insert into user_roles (user_id, role) values ($1, $2) on conflict do nothing")
            .bind(&id)
            .bind(role)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(find(db, &id).await?.ok_or(sqlx::Error::RowNotFound)?)
}

/// A live (not deleted) account by id.
pub async fn find(db: &Db, id: &str) -> Result<Option<User>, sqlx::Error> {
    let row: Option<UserRow> = sqlx::query_as(concat!(
        "select ",
        user_columns!(),
        " from users where id = $1 and deleted_at is null"
    ))
    .bind(id)
    .fetch_optional(db)
    .await?;
    match row {
        Some(row) => {
            let roles = roles(db, &row.id).await?;
            Ok(Some(row.into_user(roles)))
        }
        None => Ok(None),
    }
}

/// A live account and its password hash, by email, for the password grant.
pub async fn find_for_login(db: &Db, email: &str) -> Result<Option<(User, Option<String>)>, sqlx::Error> {
    #[derive(FromRow)]
    struct LoginRow {
        #[sqlx(flatten)]
        user: UserRow,
        password_hash: Option<String>,
    }
    let row: Option<LoginRow> = sqlx::query_as(concat!(
        "select ",
        user_columns!(),
        ", password_hash from users where email_normalized = $1 and deleted_at is null"
    ))
    .bind(normalize_email(email))
    .fetch_optional(db)
    .await?;
    match row {
        Some(row) => {
            let roles = roles(db, &row.user.id).await?;
            Ok(Some((row.user.into_user(roles), row.password_hash)))
        }
        None => Ok(None),
    }
}

/// A live account by email.
pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<User>, sqlx::Error> {
    Ok(find_for_login(db, email).await?.map(|(user, _)| user))
}

/// Every live account, oldest first.
pub async fn list(db: &Db) -> Result<Vec<User>, sqlx::Error> {
    let rows: Vec<UserRow> = sqlx::query_as(concat!(
        "select ",
        user_columns!(),
        " from users where deleted_at is null order by created_at, id"
    ))
    .fetch_all(db)
    .await?;
    let mut users = Vec::with_capacity(rows.len());
    for row in rows {
        let roles = roles(db, &row.id).await?;
        users.push(row.into_user(roles));
    }
    Ok(users)
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

async fn roles(db: &Db, user_id: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("select role from user_roles where user_id = $1 order by role")
        .bind(user_id)
        .fetch_all(db)
        .await
}
