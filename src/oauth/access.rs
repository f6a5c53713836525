//! Access tokens as resource endpoints receive them: the `Bearer` header (RFC 6750 §2.1), and
//! whether a token is live (valid signature, type, issuer and expiry; not revoked; session alive).

use std::sync::Arc;

use crate::app::AppState;
use crate::crypto::jwt::{self, ACCESS_TOKEN_TYP};
use crate::oauth::BearerError;
use crate::oauth::tokens::AccessClaims;
use crate::store::families::FamilyStore;

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
    if let Some(claims) = app.verified.get(token) {
        return Some(AccessClaims::clone(&claims));
    }
    match jwt::verify::<AccessClaims>(&app.keys, token, ACCESS_TOKEN_TYP, &app.config.issuer) {
        Ok(claims) => {
            app.verified.insert(token, Arc::new(claims.clone()));
            Some(claims)
        }
        Err(reason) => {
            tracing::debug!(%reason, "access token rejected");
            None
        }
    }
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
