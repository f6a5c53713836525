//! Sign-in sessions: every user login starts a refresh family, whether or not a refresh token is
//! issued, so that logout, password change, disabling and deletion can end every token of it.

use crate::app::AppState;
use crate::clock::seconds;
use crate::crypto::token::PlainToken;
use crate::oauth::OAuthError;
use crate::oauth::request::REFRESH_TOKEN;
use crate::oauth::scope::Scope;
use crate::store::clients::Client;
use crate::store::families::{Family, FamilyStore, NewFamily, RefreshToken};
use crate::store::users::User;

/// Starts a session for `user` through `client`; returns it and its first refresh token, which
/// exists only if the client may use the refresh_token grant.
pub async fn start(
    app: &AppState,
    client: &Client,
    user: &User,
    scope: &Scope,
) -> Result<(Family, Option<PlainToken>), OAuthError> {
    let now = app.clock.now();
    let id = uuid::Uuid::new_v4().to_string();
    let refresh = client
        .allows_grant(REFRESH_TOKEN)
        .then(|| RefreshToken::issue(&id));
    let family = Family {
        id,
        user_id: user.id.clone(),
        client_id: client.id.clone(),
        scope: scope.to_string(),
        auth_time: now,
        absolute_expires_at: now.saturating_add(seconds(app.config.refresh_absolute_ttl)),
        rotated_at: now,
        generation: 0,
        active: true,
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
                signin_id: None,
            },
            now,
        )
        .await?;
    Ok((family, refresh.map(|(plain, _)| plain)))
}
