//! Custom roles: a name and the permissions it grants, carried in access tokens as `roles` and
//! `permissions`.

use serde::Deserialize;
use utoipa::ToSchema;

use crate::accounts::ApiError;
use crate::app::AppState;
use crate::store::roles::{self, Deleted, Role};

const MAX_NAME: usize = 64;
const MAX_PERMISSION: usize = 128;
const MAX_PERMISSIONS: usize = 100;
/// The most roles one account holds.
const MAX_ROLES_PER_ACCOUNT: usize = 100;

/// `POST /api/v1/roles`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRole {
    /// Lowercase letters, digits, `-`, `_`, `.` and `:`; at most 64.
    #[schema(example = "billing")]
    pub name: String,
    /// Each a visible-ASCII word without spaces (`invoices:read`); at most 100.
    #[schema(example = json!(["invoices:read", "invoices:write"]))]
    pub permissions: Vec<String>,
}

/// Creates a custom role.
pub async fn create(app: &AppState, new: NewRole) -> Result<Role, ApiError> {
    if !is_name(&new.name) {
        return Err(ApiError::invalid(format!(
            "a role name has 1 to {MAX_NAME} lowercase letters, digits, '-', '_', '.' or ':'"
        )));
    }
    if new.permissions.len() > MAX_PERMISSIONS {
        return Err(ApiError::invalid(format!(
            "a role grants at most {MAX_PERMISSIONS} permissions"
        )));
    }
    if let Some(bad) = new.permissions.iter().find(|p| !is_permission(p)) {
        return Err(ApiError::invalid(format!(
            "permission {bad:?} must be 1 to {MAX_PERMISSION} visible ASCII characters without spaces"
        )));
    }
    let mut permissions = new.permissions;
    permissions.sort();
    permissions.dedup();
    if !roles::create(&app.db, &new.name, &permissions, app.clock.now()).await? {
        return Err(ApiError::Conflict(
            format!("a role named {:?} exists", new.name).into(),
        ));
    }
    Ok(Role {
        name: new.name,
        permissions,
        builtin: false,
        created_at: app.clock.now(),
    })
}

/// Deletes a custom role; the users who held it lose it at once.
pub async fn delete(app: &AppState, name: &str) -> Result<(), ApiError> {
    let deleted = roles::delete(&app.db, name).await?;
    // Any account may have held it.
    app.users.forget_all();
    match deleted {
        Deleted::Deleted => Ok(()),
        Deleted::NotFound => Err(ApiError::not_found(format!("no role named {name:?}"))),
        Deleted::Builtin => Err(ApiError::Conflict(
            format!("{name:?} is a built-in role and cannot be deleted").into(),
        )),
    }
}

/// Refuses more roles than an account may hold; whether each exists is the store's check.
pub fn check_count(roles: &[String]) -> Result<(), ApiError> {
    if roles.len() > MAX_ROLES_PER_ACCOUNT {
        return Err(ApiError::invalid(format!(
            "an account holds at most {MAX_ROLES_PER_ACCOUNT} roles"
        )));
    }
    Ok(())
}

fn is_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.:".contains(&b))
}

fn is_permission(permission: &str) -> bool {
    (1..=MAX_PERMISSION).contains(&permission.len()) && permission.bytes().all(|b| b.is_ascii_graphic())
}
