//! Email verification: a single-use link, valid for `KEYWARD_EMAIL_VERIFICATION_TTL` (24 h),
//! whose token is stored only as its hash.

use std::net::IpAddr;

use crate::accounts::{ApiError, request_limits};
use crate::app::AppState;
use crate::clock::seconds;
use crate::crypto::token::{PlainToken, TokenHash};
use crate::mail::Mail;
use crate::store::email_links::{self, LinkKind};
use crate::store::users::{self, User};

/// The path of the link in the email: a page with a button that verifies.
pub const VERIFY_PATH: &str = "/verify-email";
/// A new link may be asked for once a minute, so the endpoint cannot flood a mailbox.
const RESEND_AFTER: i64 = 60;

/// Sends `user` a new link; earlier links stop working.
pub async fn send(app: &AppState, user: &User) -> anyhow::Result<()> {
    let now = app.clock.now();
    let token = PlainToken::generate();
    let expires_at = now + seconds(app.config.email_verification_ttl);
    email_links::create(
        &app.db,
        LinkKind::Verification,
        &token.hashed(),
        &user.id,
        &user.email,
        expires_at,
        now,
    )
    .await?;
    let link = format!("{}{VERIFY_PATH}?token={}", app.config.issuer, token.expose());
    let hours = seconds(app.config.email_verification_ttl) / 3600;
    app.mailer
        .send(Mail {
            to: user.email.clone(),
            subject: "Verify your email address".into(),
            body: format!(
                "Hello,\n\nconfirm that {} is your email address by opening this link:\n\n{link}\n\n\
                 The link works once, for {hours} hours. If you did not sign up, ignore this email.\n",
                user.email
            ),
        })
        .await
}

/// `POST /api/v1/users/me/verify-email`: a new link for the caller, at most once a minute, and
/// at most [`request_limits::PER_ADDRESS`] an hour from one client address.
pub async fn resend(app: &AppState, user: &User, address: Option<IpAddr>) -> Result<(), ApiError> {
    if user.email_verified {
        return Err(ApiError::Conflict("the email address is already verified".into()));
    }
    // Per client address too: one client holding many unverified accounts mails for each.
    request_limits::count(app, &[request_limits::by_address("verify", address)]).await?;
    let now = app.clock.now();
    if let Some(sent) = email_links::last_sent(&app.db, LinkKind::Verification, &user.id).await?
        && now < sent + RESEND_AFTER
    {
        return Err(ApiError::TooManyAttempts {
            retry_after: (sent + RESEND_AFTER - now).unsigned_abs(),
        });
    }
    send(app, user).await?;
    Ok(())
}

/// Redeems a link: the account's email is verified if it still has the address the link was
/// sent to. Unknown, used and expired links read the same.
pub async fn verify(app: &AppState, token: &str) -> Result<User, ApiError> {
    let invalid = || ApiError::invalid("the verification link is invalid, used or expired");
    if token.is_empty() || token.len() > 128 {
        return Err(invalid());
    }
    let now = app.clock.now();
    let redeemed = email_links::redeem(&app.db, LinkKind::Verification, &TokenHash::of(token), now)
        .await?
        .ok_or_else(invalid)?;
    let marked = users::mark_email_verified(&app.db, &redeemed.user_id, &redeemed.email, now).await?;
    app.users.forget(&redeemed.user_id);
    if !marked {
        return Err(invalid());
    }
    users::find(&app.db, &redeemed.user_id).await?.ok_or_else(invalid)
}
