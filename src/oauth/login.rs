//! Checking an email and password: the one path that the password grant, the sign-in page and a
//! password change all take, so they share the brute-force counters and the timing guarantees.

use std::net::IpAddr;

use crate::app::AppState;
use crate::crypto::password::Password;
use crate::oauth::{OAuthError, throttle};
use crate::store::users::{self, User, UserStatus};
use crate::telemetry;

/// The answer to a wrong email or password, whichever was wrong.
pub const WRONG_CREDENTIALS: &str = "invalid username or password";

/// The account of `email` if `password` is its password and it may sign in. In order: a place
/// among the password checks is taken (refused at once under overload), a locked account or
/// address is refused before any hashing, the account is looked up, the password is verified
/// (against a dummy hash when there is no account, so that both cost the same), and the outcome
/// is counted.
pub async fn check_password(
    app: &AppState,
    email: &str,
    password: Password,
    address: Option<IpAddr>,
) -> Result<User, OAuthError> {
    let reservation = app.passwords.reserve().map_err(|_| {
        telemetry::login_shed();
        OAuthError::Overloaded
    })?;
    let attempt = throttle::check(app, email, address).await.inspect_err(|e| {
        if matches!(e, OAuthError::TooManyAttempts { .. }) {
            telemetry::login_failed(true);
        }
    })?;
    let (user, hash) = match users::find_for_login(&app.db, email).await? {
        Some((user, hash)) => (Some(user), hash),
        None => (None, None),
    };
    let verified = reservation.verify(password, hash).await?;
    let user = match user {
        Some(user) if verified => user,
        _ => {
            telemetry::login_failed(false);
            throttle::failed(app, &attempt).await?;
            return Err(OAuthError::invalid_grant(WRONG_CREDENTIALS));
        }
    };
    throttle::succeeded(app, &attempt).await?;
    if user.status != UserStatus::Active {
        return Err(OAuthError::invalid_grant("the account is disabled"));
    }
    Ok(user)
}
