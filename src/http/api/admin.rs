//! Administration (admin role): accounts, roles and OAuth clients.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::accounts::admin::{self, UserPatch, UserQuery};
use crate::accounts::caller::ADMIN;
use crate::accounts::client_admin::{self, NewClient};
use crate::accounts::roles::{self, NewRole};
use crate::accounts::view::{ClientCredentialsView, ClientView, RoleView, UserPage, UserView};
use crate::accounts::{ApiError, Caller, audit};
use crate::app::AppState;
use crate::http::api::account::ErrorBody;
use crate::http::api::{ApiJson, ApiPath, ApiQuery};
use crate::store;

/// Runs an admin action: refused unless the caller acts with the admin role, audited either way.
async fn as_admin<T>(
    caller: &Caller,
    action: &'static str,
    target: &str,
    run: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    let result = match caller.require(ADMIN) {
        Ok(()) => run.await,
        Err(denied) => Err(denied),
    };
    audit::record(&caller.user.id, action, target, result)
}

/// Lists accounts, oldest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/users", tag = "admin",
    security(("bearer" = [])),
    params(UserQuery),
    responses(
        (status = 200, body = UserPage),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
pub async fn list_users(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<UserQuery>,
) -> Result<Json<UserPage>, ApiError> {
    Ok(Json(
        as_admin(
            &caller,
            "admin.list_users",
            "users",
            admin::list_users(&app, query),
        )
        .await?,
    ))
}

/// One account, deleted ones included.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, body = UserView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn get_user(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<UserView>, ApiError> {
    let user = as_admin(&caller, "admin.get_user", &id, admin::get_user(&app, &id)).await?;
    Ok(Json(user.into()))
}

/// Changes an account's roles or disables it (which ends every session at once).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    request_body = UserPatch,
    responses(
        (status = 200, body = UserView),
        (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "An administrator cannot lock themselves out", body = ErrorBody),
    ))]
pub async fn update_user(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<UserPatch>,
) -> Result<Json<UserView>, ApiError> {
    let run = admin::update_user(&app, &caller, &id, patch);
    let user = as_admin(&caller, "admin.update_user", &id, run).await?;
    Ok(Json(user.into()))
}

/// Soft-deletes an account: the row stays with `deleted_at`, every session ends, sign-in stops.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn delete_user(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    as_admin(
        &caller,
        "admin.delete_user",
        &id,
        admin::delete_user(&app, &caller, &id),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every role; open to any signed-in user.
#[utoipa::path(get, path = "/api/v1/roles", tag = "roles",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<RoleView>), (status = 401, body = ErrorBody)))]
pub async fn list_roles(
    State(app): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<RoleView>>, ApiError> {
    let roles = store::roles::list(&app.db).await?;
    Ok(Json(roles.into_iter().map(RoleView::from).collect()))
}

/// Creates a custom role.
#[utoipa::path(post, path = "/api/v1/roles", tag = "roles",
    security(("bearer" = [])),
    request_body = NewRole,
    responses(
        (status = 201, body = RoleView),
        (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
    ))]
pub async fn create_role(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(new): ApiJson<NewRole>,
) -> Result<(StatusCode, Json<RoleView>), ApiError> {
    let name = new.name.clone();
    let role = as_admin(&caller, "admin.create_role", &name, roles::create(&app, new)).await?;
    Ok((StatusCode::CREATED, Json(role.into())))
}

/// Deletes a custom role; its holders lose it at once.
#[utoipa::path(delete, path = "/api/v1/roles/{name}", tag = "roles",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "Role name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "A built-in role", body = ErrorBody),
    ))]
pub async fn delete_role(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    as_admin(&caller, "admin.delete_role", &name, roles::delete(&app, &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every OAuth client.
#[utoipa::path(get, path = "/api/v1/clients", tag = "admin",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<ClientView>), (status = 403, body = ErrorBody)))]
pub async fn list_clients(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ClientView>>, ApiError> {
    let run = async { Ok(store::clients::list(&app.db).await?) };
    let clients = as_admin(&caller, "admin.list_clients", "clients", run).await?;
    Ok(Json(clients.into_iter().map(ClientView::from).collect()))
}

/// Registers a client; the answer holds its secret, shown this once.
#[utoipa::path(post, path = "/api/v1/clients", tag = "admin",
    security(("bearer" = [])),
    request_body = NewClient,
    responses(
        (status = 201, body = ClientCredentialsView),
        (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody),
    ))]
pub async fn create_client(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(new): ApiJson<NewClient>,
) -> Result<(StatusCode, Json<ClientCredentialsView>), ApiError> {
    let name = new.name.clone();
    let run = client_admin::create(&app, new);
    let (_, credentials) = as_admin(&caller, "admin.create_client", &name, run).await?;
    Ok((StatusCode::CREATED, Json(credentials)))
}

/// One client.
#[utoipa::path(get, path = "/api/v1/clients/{id}", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Client id")),
    responses((status = 200, body = ClientView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_client(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ClientView>, ApiError> {
    let client = as_admin(&caller, "admin.get_client", &id, client_admin::get(&app, &id)).await?;
    Ok(Json(client.into()))
}

/// Deletes a client; every token it holds stops working at once.
#[utoipa::path(delete, path = "/api/v1/clients/{id}", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Client id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_client(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    as_admin(
        &caller,
        "admin.delete_client",
        &id,
        client_admin::delete(&app, &id),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces a confidential client's secret; the old one stops working at once.
#[utoipa::path(post, path = "/api/v1/clients/{id}/secret", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Client id")),
    responses((status = 200, body = ClientCredentialsView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rotate_client_secret(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ClientCredentialsView>, ApiError> {
    let run = client_admin::rotate_secret(&app, &id);
    Ok(Json(
        as_admin(&caller, "admin.rotate_client_secret", &id, run).await?,
    ))
}
