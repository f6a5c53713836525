//! Password reset: a single-use link sent by email, valid for `KEYWARD_PASSWORD_RESET_TTL` (1 h),
//! stored only as its hash. Asking answers the same whether or not the address has an account,
//! and is throttled per address and per client; a successful reset ends every session.

use std::net::IpAddr;

use crate::accounts::signup::valid_email;
use crate::accounts::{ApiError, password_policy, request_limits};
use crate::app::AppState;
use crate::clock::seconds;
use crate::crypto::password::Password;
use crate::crypto::token::{PlainToken, TokenHash};
use crate::mail::Mail;
use crate::oauth::signin;
use crate::store::email_links::{self, LinkKind};
use crate::store::users::{self, User, UserStatus, normalize_email};

/// The page the link opens.
pub const RESET_PATH: &str = "/reset-password";
/// Requests counted against one email address until an hour passes without one: enough for a
/// user who mistyped, too few to flood a mailbox.
const PER_EMAIL: i64 = 3;

/// Sends a reset link to `email` if an enabled account has it. The answer is the same either
/// way; the mail goes out in the background so that its delay reveals nothing either.
pub async fn request(app: &AppState, email: &str, address: Option<IpAddr>) -> Result<(), ApiError> {
    let email = valid_email(email)?;
    request_limits::count(
        app,
        &[
            (format!("reset:email:{}", normalize_email(&email)), PER_EMAIL),
            request_limits::by_address("reset", address),
        ],
    )
    .await?;
    let Some(user) = users::find_by_email(&app.db, &email)
        .await?
        .filter(|u| u.status == UserStatus::Active)
    else {
        tracing::info!("password reset asked for an address without an enabled account");
        return Ok(());
    };
    let now = app.clock.now();
    let token = PlainToken::generate();
    let ttl = seconds(app.config.password_reset_ttl);
    email_links::create(
        &app.db,
        LinkKind::PasswordReset,
        &token.hashed(),
        &user.id,
        &user.email,
        now + ttl,
        now,
    )
    .await?;
    let link = format!("{}{RESET_PATH}?token={}", app.config.issuer, token.expose());
    let minutes = ttl / 60;
    let mail = Mail {
        to: user.email.clone(),
        subject: format!("Reset your {} password", app.config.site_name),
        body: format!(
            "Hello,\n\nsomeone asked to reset the password of the account {} at {}. To choose a new \
             password, open this link:\n\n{link}\n\nThe link works once, for {minutes} minutes. Setting a \
             new password signs you out everywhere. If you did not ask for this, ignore this email: your \
             password stays as it is.\n",
            user.email, app.config.site_name
        ),
    };
    let mailer = app.mailer.clone();
    let user_id = user.id.clone();
    tokio::spawn(async move {
        if let Err(e) = mailer.send(mail).await {
            tracing::warn!(%user_id, error = %format!("{e:#}"), "sending the password-reset email failed");
        }
    });
    tracing::info!(user_id = %user.id, "password reset link sent");
    Ok(())
}

/// Whether `token` is a live reset link, without using it.
pub async fn is_valid(app: &AppState, token: &str) -> Result<bool, ApiError> {
    if !plausible(token) {
        return Ok(false);
    }
    let now = app.clock.now();
    Ok(
        email_links::peek(&app.db, LinkKind::PasswordReset, &TokenHash::of(token), now)
            .await?
            .is_some(),
    )
}

/// Sets the new password of a reset link's account and ends every session of it. The password
/// is checked against the policy and hashed before the link is used up, so a refused password
/// leaves the link working.
pub async fn complete(app: &AppState, token: &str, new_password: Password) -> Result<User, ApiError> {
    let invalid = || ApiError::invalid("the reset link is invalid, used or expired");
    if !plausible(token) {
        return Err(invalid());
    }
    let hash = TokenHash::of(token);
    let now = app.clock.now();
    let link = email_links::peek(&app.db, LinkKind::PasswordReset, &hash, now)
        .await?
        .ok_or_else(invalid)?;
    password_policy::check(new_password.expose(), &link.email)?;
    let password_hash = app.passwords.hash(new_password).await?;
    let redeemed = email_links::redeem(&app.db, LinkKind::PasswordReset, &hash, now)
        .await?
        .ok_or_else(invalid)?;
    // The account must still have the address the link went to.
    let user = users::find(&app.db, &redeemed.user_id)
        .await?
        .filter(|u| u.status == UserStatus::Active)
        .filter(|u| normalize_email(&u.email) == normalize_email(&redeemed.email))
        .ok_or_else(invalid)?;
    users::set_password_hash(&app.db, &user.id, &password_hash, now).await?;
    // Opening the link proved the address is the user's.
    users::mark_email_verified(&app.db, &user.id, &redeemed.email, now).await?;
    app.users.forget(&user.id);
    let ended = signin::end_all(app, &user.id, None, "password reset").await?;
    tracing::info!(user_id = %user.id, ended, "password reset; every session ended");
    users::find(&app.db, &user.id).await?.ok_or_else(invalid)
}

/// Our tokens are 43 characters; anything far off is not looked up.
fn plausible(token: &str) -> bool {
    !token.is_empty() && token.len() <= 128
}

/// `POST /api/v1/password-reset`.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    #[schema(example = "ada@example.com")]
    pub email: String,
}

/// `POST /api/v1/password-reset/complete`.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetCompletion {
    /// The token of the link in the email.
    pub token: String,
    pub new_password: String,
}
