//! Administering accounts (admin role): listing, reading, roles, disabling and soft deletion.
//! Disabling and deleting end every session of the account at once.

use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::accounts::caller::ADMIN;
use crate::accounts::view::{UserPage, UserView};
use crate::accounts::{ApiError, Caller};
use crate::app::AppState;
use crate::clock::UnixTime;
use crate::store::Db;
use crate::store::families::{Families, FamilyStore};
use crate::store::users::{self, AssignRolesError, User, UserFilter, UserStatus};

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

/// `GET /api/v1/users` query parameters; every filter narrows the listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Part of the email, compared case-insensitively.
    pub email: Option<String>,
    /// Accounts that hold this role.
    pub role: Option<String>,
    /// `active`, `disabled` or `deleted`; by default every account not deleted.
    pub status: Option<String>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<u32>,
}

/// One page of accounts, oldest first.
pub async fn list_users(app: &AppState, query: UserQuery) -> Result<UserPage, ApiError> {
    if let Some(status) = &query.status
        && !["active", "disabled", "deleted"].contains(&status.as_str())
    {
        return Err(ApiError::invalid("status must be active, disabled or deleted"));
    }
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    let filter = UserFilter {
        email: query.email.as_deref(),
        role: query.role.as_deref(),
        status: query.status.as_deref(),
        after: query.after.as_deref(),
        // One more than asked for tells whether another page follows.
        limit: i64::from(limit) + 1,
    };
    let mut users = users::list(&app.db, &filter).await?;
    let next = (users.len() > limit as usize).then(|| {
        users.truncate(limit as usize);
        users.last().map(|u| u.id.clone()).unwrap_or_default()
    });
    Ok(UserPage {
        users: users.into_iter().map(UserView::from).collect(),
        next,
    })
}

/// An account by id, deleted ones included.
pub async fn get_user(app: &AppState, id: &str) -> Result<User, ApiError> {
    users::find_any(&app.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such user"))
}

/// `PATCH /api/v1/users/{id}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// The account's roles from now on (replacing the current ones); each must exist.
    #[schema(example = json!(["user", "staff"]))]
    pub roles: Option<Vec<String>>,
    /// `true` disables sign-in and ends every session; `false` enables it again.
    pub disabled: Option<bool>,
}

/// Changes an account's roles or whether it may sign in.
pub async fn update_user(
    app: &AppState,
    caller: &Caller,
    id: &str,
    patch: UserPatch,
) -> Result<User, ApiError> {
    let user = users::find(&app.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such user"))?;
    let demotes_self = patch
        .roles
        .as_ref()
        .is_some_and(|roles| !roles.iter().any(|r| r == ADMIN));
    if user.id == caller.user.id && (patch.disabled == Some(true) || demotes_self) {
        return Err(locks_out_self());
    }
    let now = app.clock.now();
    let changed = apply(app, id, &patch, now).await;
    // Whatever was applied, the cached account is stale now.
    app.users.forget(id);
    changed?;
    get_user(app, id).await
}

/// Writes the changes of `patch`.
async fn apply(app: &AppState, id: &str, patch: &UserPatch, now: UnixTime) -> Result<(), ApiError> {
    if let Some(roles) = &patch.roles {
        crate::accounts::roles::check_count(roles)?;
        match users::set_roles(&app.db, id, roles, now).await {
            Ok(()) => {}
            Err(AssignRolesError::UnknownRole(role)) => {
                return Err(ApiError::invalid(format!("no role named {role:?}")));
            }
            Err(AssignRolesError::NoUser) => return Err(ApiError::not_found("no such user")),
            Err(AssignRolesError::Db(e)) => return Err(e.into()),
        }
    }
    match patch.disabled {
        Some(true) => {
            users::set_status(&app.db, id, UserStatus::Disabled, now).await?;
            app.families
                .revoke_user(id, None, "account disabled", now)
                .await?;
        }
        Some(false) => {
            users::set_status(&app.db, id, UserStatus::Active, now).await?;
        }
        None => {}
    }
    Ok(())
}

/// `DELETE /api/v1/users/{id}`: a soft delete that ends every session at once.
pub async fn delete_user(app: &AppState, caller: &Caller, id: &str) -> Result<(), ApiError> {
    if id == caller.user.id {
        return Err(locks_out_self());
    }
    let deleted = delete_account(&app.db, &app.families, id, app.clock.now()).await?;
    app.users.forget(id);
    if !deleted {
        return Err(ApiError::not_found("no such user"));
    }
    Ok(())
}

/// Ends every session of a live account, then marks it deleted; false if there is no such
/// account. Shared by the admin API and `keyward user delete`.
pub async fn delete_account(db: &Db, families: &Families, id: &str, now: UnixTime) -> anyhow::Result<bool> {
    if users::find(db, id).await?.is_none() {
        return Ok(false);
    }
    // Sessions end first: a failure then leaves an account whose tokens are dead, never a
    // deleted account whose tokens still work.
    families.revoke_user(id, None, "account deleted", now).await?;
    Ok(users::soft_delete(db, id, now).await?)
}

fn locks_out_self() -> ApiError {
    ApiError::Conflict(
        "an administrator cannot disable, delete or remove the admin role from their own account".into(),
    )
}
