//! Roles: the built-in `user`, `staff` and `admin`, and custom roles, each a set of permissions.

use sqlx::FromRow;

use crate::clock::UnixTime;
use crate::store::{Db, join_words, split_words};

/// A role and what it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub name: String,
    pub permissions: Vec<String>,
    pub builtin: bool,
    pub created_at: UnixTime,
}

#[derive(FromRow)]
struct RoleRow {
    name: String,
    permissions: String,
    builtin: i64,
    created_at: i64,
}

impl From<RoleRow> for Role {
    fn from(row: RoleRow) -> Self {
        Role {
            name: row.name,
            permissions: split_words(&row.permissions),
            builtin: row.builtin != 0,
            created_at: row.created_at,
        }
    }
}

/// Every role, by name.
pub async fn list(db: &Db) -> Result<Vec<Role>, sqlx::Error> {
    let rows: Vec<RoleRow> =
        sqlx::query_as("select name, permissions, builtin, created_at from roles order by name")
            .fetch_all(db)
            .await?;
    Ok(rows.into_iter().map(Role::from).collect())
}

/// Creates a custom role; `false` if the name is taken.
pub async fn create(db: &Db, name: &str, permissions: &[String], now: UnixTime) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "insert into roles (name, permissions, builtin, created_at) values ($1, $2, 0, $3)
         on conflict (name) do nothing",
    )
    .bind(name)
    .bind(join_words(permissions))
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// What deleting a role did.
#[derive(Debug, PartialEq, Eq)]
pub enum Deleted {
    /// The role is gone, and with it every user's hold of it.
    Deleted,
    NotFound,
    /// Built-in roles stay.
    Builtin,
}

/// Deletes a custom role and takes it from every user who held it, in one transaction.
pub async fn delete(db: &Db, name: &str) -> Result<Deleted, sqlx::Error> {
    let mut tx = db.begin().await?;
    let builtin: Option<i64> = sqlx::query_scalar("select builtin from roles where name = $1")
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
    match builtin {
        None => return Ok(Deleted::NotFound),
        Some(1) => return Ok(Deleted::Builtin),
        Some(_) => {}
    }
    sqlx::query("delete from user_roles where role = $1")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    sqlx::query("delete from roles where name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Deleted::Deleted)
}
