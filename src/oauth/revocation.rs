//! RFC 7009: a client revokes one of its own tokens. A refresh token ends its session; an access
//! token is denylisted by `jti` until it expires and its session lives on.

use crate::app::AppState;
use crate::oauth::OAuthError;
use crate::oauth::access::{looks_like_jwt, verify_signature};
use crate::store::clients::Client;
use crate::store::families::{FamilyStore, RefreshToken};

/// Revokes `token` if it is `client`'s. Unknown, foreign and malformed tokens change nothing
/// and are not an error (§2.2). The `token_type_hint` is not needed: our refresh tokens are
/// opaque and our access tokens are JWTs, so the token's shape says which it is.
pub async fn revoke_token(app: &AppState, client: &Client, token: &str) -> Result<(), OAuthError> {
    let now = app.clock.now();
    if looks_like_jwt(token) {
        if let Some(claims) = verify_signature(app, token)
            && claims.client_id == client.id
            && claims.exp > now
        {
            app.families
                .deny_access_token(&claims.jti, claims.sid.as_deref(), claims.exp, now)
                .await?;
            tracing::info!(client_id = %client.id, jti = %claims.jti, "access token revoked");
            crate::telemetry::revocation("access_token");
        }
        return Ok(());
    }
    if let Some(presented) = RefreshToken::parse(token)
        && let Some(found) = app.families.find_by_token(&presented).await?
        && found.family.client_id == client.id
    {
        // §2.1: revoking a refresh token SHOULD also invalidate the access tokens of the same
        // grant; ending the family does both.
        app.families
            .revoke(&found.family.id, "revoked by client", now)
            .await?;
        tracing::info!(client_id = %client.id, sid = %found.family.id, "session revoked through its refresh token");
        crate::telemetry::revocation("refresh_token");
        crate::telemetry::family_revoked("revocation");
    }
    Ok(())
}
