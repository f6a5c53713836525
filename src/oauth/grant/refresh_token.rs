//! RFC 6749 §6: a refresh token is exchanged for new tokens and replaced by its successor;
//! presenting a replaced one again ends the session.

use crate::app::AppState;
use crate::crypto::token::PlainToken;
use crate::oauth::OAuthError;
use crate::oauth::scope::Scope;
use crate::oauth::tokens::{self, TokenResponse};
use crate::store::clients::Client;
use crate::store::families::{FamilyStore, RefreshToken, Rotation};
use crate::store::users::UserStatus;

/// Rotates the presented refresh token and issues tokens for the same session.
pub async fn exchange(
    app: &AppState,
    client: &Client,
    refresh_token: PlainToken,
    scope: Option<Scope>,
) -> Result<TokenResponse, OAuthError> {
    let invalid = || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
    let Some(presented) = RefreshToken::parse(refresh_token.expose()) else {
        return Err(invalid());
    };
    // A narrower scope is checked before rotating, so a refused request does not use up the
    // token. The family's scope never changes, so this read cannot go stale.
    if let Some(requested) = &scope
        && let Some(found) = app.families.find_by_token(&presented).await?
        && found.family.client_id == client.id
        && !requested.is_subset(&Scope::parse(&found.family.scope)?)
    {
        return Err(OAuthError::InvalidScope(
            "a refresh may narrow the scope, never widen it (RFC 6749 §6)".into(),
        ));
    }
    let (successor, successor_ref) = RefreshToken::issue(&presented.family_id);
    let now = app.clock.now();
    let family = match app
        .families
        .rotate(&presented, &successor_ref.hash, &client.id, now, app.lifetimes())
        .await?
    {
        Rotation::Rotated(family) => family,
        Rotation::Reused(family) => {
            crate::telemetry::family_revoked("reuse");
            tracing::warn!(sid = %family.id, user_id = %family.user_id, client_id = %client.id,
                "refresh token reuse: session revoked");
            return Err(OAuthError::invalid_grant(
                "the refresh token was already used; the session has been revoked",
            ));
        }
        Rotation::Invalid => return Err(invalid()),
    };
    let user = match app.user(&family.user_id).await? {
        Some(user) if user.status == UserStatus::Active => user,
        _ => {
            app.families
                .revoke(&family.id, "account unavailable", now)
                .await?;
            return Err(invalid());
        }
    };
    let granted = Scope::parse(&family.scope)?;
    let scope = scope.unwrap_or(granted);
    tokens::for_user(app, client, &user, &family, &scope, Some(successor), None)
}
