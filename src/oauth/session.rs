//! Sessions: every user login starts a refresh family, whether or not a refresh token is issued,
//! so that logout, password change, disabling and deletion can end every token of it.

use crate::app::AppState;
use crate::clock::{UnixTime, seconds};
use crate::crypto::token::PlainToken;
use crate::oauth::OAuthError;
use crate::oauth::scope::Scope;
use crate::store::clients::Client;
use crate::store::families::{Family, FamilyStore, NewFamily, RefreshToken};
use crate::store::users::User;

/// How a session begins.
#[derive(Debug)]
pub struct Start<'a> {
    /// The session id (`sid`): new for the password grant, named in advance by an authorization
    /// code.
    pub id: String,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// The browser's sign-in session, for a session started through the sign-in pages.
    pub signin_id: Option<&'a str>,
    /// Whether a refresh token is issued.
    pub refresh: bool,
}

impl Start<'_> {
    /// A session that begins with a password checked now.
    pub fn now(app: &AppState, refresh: bool) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            auth_time: app.clock.now(),
            signin_id: None,
            refresh,
        }
    }
}

/// Starts a session for `user` through `client`; returns it and its first refresh token, if
/// one is issued.
pub async fn start(
    app: &AppState,
    client: &Client,
    user: &User,
    scope: &Scope,
    start: Start<'_>,
) -> Result<(Family, Option<PlainToken>), OAuthError> {
    let now = app.clock.now();
    let refresh = start.refresh.then(|| RefreshToken::issue(&start.id));
    let family = Family {
        id: start.id,
        user_id: user.id.clone(),
        client_id: client.id.clone(),
        scope: scope.to_string(),
        auth_time: start.auth_time,
        absolute_expires_at: now.saturating_add(seconds(app.config.refresh_absolute_ttl)),
        rotated_at: now,
        generation: 0,
        active: true,
        signin_id: start.signin_id.map(str::to_owned),
    };
    app.families
        .create(
            NewFamily {
                id: &family.id,
                user_id: &family.user_id,
                client_id: &family.client_id,
                scope: &family.scope,
                auth_time: family.auth_time,
                absolute_expires_at: family.absolute_expires_at,
                expires_at: family.expires_at(app.lifetimes()),
                refresh: refresh.as_ref().map(|(_, token)| &token.hash),
                signin_id: start.signin_id,
            },
            now,
        )
        .await?;
    Ok((family, refresh.map(|(plain, _)| plain)))
}
