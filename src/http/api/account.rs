//! The caller's own account: sign-up, verification, profile, password and sign-out.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::accounts::me::{self, PasswordChange, ProfilePatch};
use crate::accounts::password_reset::{self, ResetCompletion, ResetRequest};
use crate::accounts::signup::{self, SignUpRequest};
use crate::accounts::view::UserView;
use crate::accounts::{ApiError, Caller, audit, verification};
use crate::app::AppState;
use crate::crypto::password::Password;
use crate::http::api::{ApiJson, ApiQuery};
use crate::http::extract::ClientAddr;
use crate::store::users::User;

/// Creates an account. Sign in afterwards with the password grant at the token endpoint.
#[utoipa::path(post, path = "/api/v1/users", tag = "account",
    request_body = SignUpRequest,
    responses(
        (status = 201, description = "The account; a verification email is on its way", body = UserView),
        (status = 400, description = "Malformed JSON, a missing field, a refused password", body = ErrorBody),
        (status = 403, description = "Sign-up is closed", body = ErrorBody),
        (status = 409, description = "The email cannot be used", body = ErrorBody),
        (status = 429, description = "Too many sign-ups from this client address", body = ErrorBody),
    ))]
pub async fn sign_up(
    State(app): State<AppState>,
    ClientAddr(address): ClientAddr,
    ApiJson(req): ApiJson<SignUpRequest>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let created = signup::sign_up(&app, req, address).await;
    let target = created.as_ref().map_or("-", |u| u.id.as_str()).to_owned();
    let user = audit::record("anonymous", "user.sign_up", &target, created)?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// The query of the verification link.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VerifyQuery {
    /// The token from the email.
    pub token: String,
}

/// The answer to a redeemed verification link.
#[derive(Serialize, ToSchema)]
pub struct Verified {
    pub email: String,
    pub email_verified: bool,
}

/// Redeems the single-use link from the verification email.
#[utoipa::path(get, path = "/api/v1/users/verify-email", tag = "account",
    params(VerifyQuery),
    responses(
        (status = 200, description = "The email address is verified", body = Verified),
        (status = 400, description = "The link is invalid, used or expired", body = ErrorBody),
    ))]
pub async fn verify_email(
    State(app): State<AppState>,
    ApiQuery(query): ApiQuery<VerifyQuery>,
) -> Result<Json<Verified>, ApiError> {
    let user = verification::verify(&app, &query.token).await;
    let target = user.as_ref().map_or("-", |u| u.id.as_str()).to_owned();
    let user = audit::record("anonymous", "user.verify_email", &target, user)?;
    Ok(Json(Verified {
        email: user.email,
        email_verified: user.email_verified,
    }))
}

/// Sends a new verification email to the caller (at most once a minute).
#[utoipa::path(post, path = "/api/v1/users/me/verify-email", tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 202, description = "A new link is on its way"),
        (status = 401, description = "No live access token", body = ErrorBody),
        (status = 409, description = "Already verified", body = ErrorBody),
        (status = 429, description = "A link was sent less than a minute ago, or too many from this client address", body = ErrorBody),
    ))]
pub async fn resend_verification(
    State(app): State<AppState>,
    ClientAddr(address): ClientAddr,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    let sent = verification::resend(&app, &caller.user, address).await;
    audit::record(&caller.user.id, "user.resend_verification", &caller.user.id, sent)?;
    Ok(StatusCode::ACCEPTED)
}

/// The caller's account.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, body = UserView),
        (status = 401, description = "No live access token", body = ErrorBody),
    ))]
pub async fn me(caller: Caller) -> Json<UserView> {
    Json(UserView::from(User::clone(&caller.user)))
}

/// Changes the caller's profile.
#[utoipa::path(patch, path = "/api/v1/users/me", tag = "account",
    security(("bearer" = [])),
    request_body = ProfilePatch,
    responses(
        (status = 200, body = UserView),
        (status = 400, body = ErrorBody),
        (status = 401, description = "No live access token", body = ErrorBody),
    ))]
pub async fn update_me(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(patch): ApiJson<ProfilePatch>,
) -> Result<Json<UserView>, ApiError> {
    let updated = me::update_profile(&app, &caller, patch).await;
    let user = audit::record(&caller.user.id, "user.update_profile", &caller.user.id, updated)?;
    Ok(Json(user.into()))
}

/// Changes the caller's password; every other session of the user ends.
#[utoipa::path(put, path = "/api/v1/users/me/password", tag = "account",
    security(("bearer" = [])),
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed; the user's other sessions have ended"),
        (status = 400, description = "The new password is refused", body = ErrorBody),
        (status = 401, description = "No live access token", body = ErrorBody),
        (status = 403, description = "The current password is wrong", body = ErrorBody),
        (status = 429, description = "Too many wrong passwords", body = ErrorBody),
    ))]
pub async fn change_password(
    State(app): State<AppState>,
    ClientAddr(address): ClientAddr,
    caller: Caller,
    ApiJson(change): ApiJson<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    let changed = me::change_password(&app, &caller, address, change).await;
    audit::record(&caller.user.id, "user.change_password", &caller.user.id, changed)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a password-reset link to the address, if an enabled account has it. The answer is
/// the same either way.
#[utoipa::path(post, path = "/api/v1/password-reset", tag = "account",
    request_body = ResetRequest,
    responses(
        (status = 202, description = "If an account has this address, a link is on its way"),
        (status = 400, description = "Not an email address", body = ErrorBody),
        (status = 429, description = "Too many requests for this address or from this client", body = ErrorBody),
    ))]
pub async fn request_password_reset(
    State(app): State<AppState>,
    ClientAddr(address): ClientAddr,
    ApiJson(req): ApiJson<ResetRequest>,
) -> Result<StatusCode, ApiError> {
    let asked = password_reset::request(&app, &req.email, address).await;
    audit::record("anonymous", "user.request_password_reset", "-", asked)?;
    Ok(StatusCode::ACCEPTED)
}

/// Sets a new password with the token of a reset link; every session of the account ends.
#[utoipa::path(post, path = "/api/v1/password-reset/complete", tag = "account",
    request_body = ResetCompletion,
    responses(
        (status = 204, description = "The password is set; every session of the account has ended"),
        (status = 400, description = "The link is invalid, used or expired, or the password is refused", body = ErrorBody),
    ))]
pub async fn complete_password_reset(
    State(app): State<AppState>,
    ApiJson(req): ApiJson<ResetCompletion>,
) -> Result<StatusCode, ApiError> {
    let done = password_reset::complete(&app, &req.token, Password::new(req.new_password)).await;
    let target = done.as_ref().map_or("-", |u| u.id.as_str()).to_owned();
    audit::record("anonymous", "user.reset_password", &target, done)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The query of `POST /api/v1/logout`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogoutQuery {
    /// `true` ends every session of the user, not only the caller's.
    #[serde(default)]
    pub all: bool,
}

/// Ends the caller's session (its refresh tokens and access tokens), or all of the user's.
#[utoipa::path(post, path = "/api/v1/logout", tag = "account",
    security(("bearer" = [])),
    params(LogoutQuery),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "No live access token", body = ErrorBody),
    ))]
pub async fn logout(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<LogoutQuery>,
) -> Result<StatusCode, ApiError> {
    let action = if query.all {
        "user.logout_all"
    } else {
        "user.logout"
    };
    let ended = me::logout(&app, &caller, query.all).await;
    audit::record(&caller.user.id, action, caller.session(), ended)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every error of the API.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    #[schema(example = "invalid_request")]
    pub error: String,
    pub error_description: String,
}
