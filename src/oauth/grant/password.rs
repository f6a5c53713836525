//! RFC 6749 §4.3: the resource owner's email and password, verified with Argon2id.

use std::net::IpAddr;

use crate::app::AppState;
use crate::crypto::password::Password;
use crate::oauth::scope::Scope;
use crate::oauth::tokens::{self, TokenResponse};
use crate::oauth::{OAuthError, session, throttle};
use crate::store::clients::Client;
use crate::store::users::{self, UserStatus};

/// Verifies the user's credentials and starts a session.
pub async fn exchange(
    app: &AppState,
    client: &Client,
    address: Option<IpAddr>,
    username: &str,
    password: Password,
    scope: Option<Scope>,
) -> Result<TokenResponse, OAuthError> {
    let scope = Scope::resolve(scope, &Scope::from_words(&client.scopes))?;
    // Under overload, refused before any other work, so shedding stays cheap.
    let reservation = app.passwords.reserve().map_err(|_| OAuthError::Overloaded)?;
    let attempt = throttle::check(app, username, address).await?;
    let found = users::find_for_login(&app.db, username).await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, None),
    };
    // With no account (or no password) the dummy hash is verified: same cost, same answer.
    let verified = reservation.verify(password, hash).await?;
    let user = match user {
        Some(user) if verified => user,
        _ => {
            throttle::failed(app, &attempt).await?;
            return Err(OAuthError::invalid_grant("invalid username or password"));
        }
    };
    throttle::succeeded(app, &attempt).await?;
    if user.status != UserStatus::Active {
        return Err(OAuthError::invalid_grant("the account is disabled"));
    }
    let (session, refresh_token) = session::start(app, client, &user, &scope).await?;
    tracing::info!(user_id = %user.id, client_id = %client.id, sid = %session.id, "password login");
    tokens::for_user(app, client, &user, &session, &scope, refresh_token)
}
