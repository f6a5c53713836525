//! RFC 6749 §4.3: the resource owner's email and password, verified with Argon2id.

use std::net::IpAddr;

use crate::app::AppState;
use crate::crypto::password::Password;
use crate::oauth::request::REFRESH_TOKEN;
use crate::oauth::scope::Scope;
use crate::oauth::tokens::{self, TokenResponse};
use crate::oauth::{OAuthError, login, session};
use crate::store::clients::Client;

/// Verifies the user's credentials and starts a session.
pub async fn exchange(
    app: &AppState,
    client: &Client,
    address: Option<IpAddr>,
    username: &str,
    password: Password,
    scope: Option<Scope>,
) -> Result<TokenResponse, OAuthError> {
    // Before the password check, so a refused request costs no hashing.
    let scope = Scope::resolve(scope, &Scope::from_words(&client.scopes))?;
    let user = login::check_password(app, username, password, address).await?;
    let start = session::Start::now(app, client.allows_grant(REFRESH_TOKEN));
    let (session, refresh_token) = session::start(app, client, &user, &scope, start).await?;
    tracing::info!(user_id = %user.id, client_id = %client.id, sid = %session.id, "password login");
    tokens::for_user(app, client, &user, &session, &scope, refresh_token, None)
}
