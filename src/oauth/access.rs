//! Access tokens as resource endpoints receive them: the `Bearer` header (RFC 6750 §2.1), and
//! whether a token is live (valid signature, type, issuer and expiry; not revoked; session alive).

use std::sync::Arc;

use crate::app::AppState;
use crate::crypto::jwt::{self, ACCESS_TOKEN_TYP};
use crate::oauth::BearerError;
use crate::oauth::tokens::AccessClaims;
use crate::store::families::FamilyStore;
use crate::store::users::{User, UserStatus};

/// The token of an `Authorization: Bearer …` header value.
pub fn bearer_token(authorization: Option<&str>) -> Result<&str, BearerError> {
    let header = authorization.ok_or(BearerError::Missing)?;
    let (scheme, token) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(BearerError::Missing);
    }
    let token = token.trim();
    if token.is_empty() || token.contains(' ') {
        return Err(BearerError::InvalidRequest("malformed Bearer credentials".into()));
    }
    Ok(token)
}

/// The claims of a live access token, or `None` for any token that must not be honoured.
pub async fn verify(app: &AppState, token: &str) -> anyhow::Result<Option<AccessClaims>> {
    let Some(claims) = verify_signature(app, token) else {
        return Ok(None);
    };
    let now = app.clock.now();
    if claims.exp <= now {
        return Ok(None);
    }
    // Deleting a client ends every token it holds at once, whichever store keeps its sessions.
    let (live, client) = tokio::try_join!(
        app.families
            .access_token_live(&claims.jti, claims.sid.as_deref(), now),
        async { Ok(app.client(&claims.client_id).await?.is_some()) },
    )?;
    Ok((live && client).then_some(claims))
}

/// The claims of an access token signed by one of our keys for our issuer, expired or not.
pub fn verify_signature(app: &AppState, token: &str) -> Option<AccessClaims> {
    let verified = jwt::verify_cached::<AccessClaims>(
        &app.keys.current(),
        app.clock.now(),
        &app.verified,
        token,
        ACCESS_TOKEN_TYP,
        &app.config.issuer,
    );
    verified
        .inspect_err(|reason| tracing::debug!(%reason, "access token rejected"))
        .ok()
}

/// A live access token of a signed-in user, as the account API, UserInfo, introspection and the
/// sign-in pages all see it.
#[derive(Debug)]
pub struct LiveUser {
    pub claims: AccessClaims,
    /// The account as it is now.
    pub user: Arc<User>,
    /// The roles the token carries that the account still holds: a role taken away stops
    /// working at once, a role given needs a new token.
    pub roles: Vec<String>,
}

/// The user behind a live access token: it must verify (see [`verify`]), be a user token
/// (`sid`), and its account must exist and be enabled.
pub async fn live_user(app: &AppState, token: &str) -> Result<LiveUser, BearerError> {
    let claims = verify(app, token)
        .await?
        .ok_or_else(|| BearerError::InvalidToken("the access token is invalid, expired or revoked".into()))?;
    user_of(app, claims).await
}

/// The live account behind the verified, live `claims` of a user token.
pub async fn user_of(app: &AppState, claims: AccessClaims) -> Result<LiveUser, BearerError> {
    if claims.sid.is_none() {
        return Err(BearerError::InvalidToken(
            "the access token was not issued to a user".into(),
        ));
    }
    let user = app
        .user(&claims.sub)
        .await?
        .filter(|u| u.status == UserStatus::Active)
        .ok_or_else(|| BearerError::InvalidToken("the account no longer exists or is disabled".into()))?;
    let roles = claims
        .roles
        .iter()
        .flatten()
        .filter(|role| user.roles.contains(role))
        .cloned()
        .collect();
    Ok(LiveUser { claims, user, roles })
}

/// Whether a token has the shape of a JWS (our access tokens) rather than of an opaque token.
pub fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token(Some("bearer abc")).unwrap(), "abc");
        assert_eq!(bearer_token(Some("Bearer abc")).unwrap(), "abc");
    }

    #[test]
    fn no_bearer_header_is_missing_not_invalid() {
        assert!(matches!(bearer_token(None), Err(BearerError::Missing)));
        assert!(matches!(
            bearer_token(Some("Basic abc")),
            Err(BearerError::Missing)
        ));
        assert!(matches!(
            bearer_token(Some("Bearer ")),
            Err(BearerError::InvalidRequest(_))
        ));
    }
}
