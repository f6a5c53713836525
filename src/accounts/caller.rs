//! The signed-in user behind a request to the account API: a live user access token (exactly
//! what introspection would call active) whose account still exists and is enabled.

use std::sync::Arc;

use crate::accounts::ApiError;
use crate::app::AppState;
use crate::oauth::tokens::AccessClaims;
use crate::oauth::{BearerError, access};
use crate::store::users::{User, UserStatus};

/// The role that opens the admin API.
pub const ADMIN: &str = "admin";

/// An authenticated caller.
#[derive(Debug)]
pub struct Caller {
    pub claims: AccessClaims,
    /// The account as it is now.
    pub user: Arc<User>,
    /// The roles the caller acts with: those in the token that the account still holds, so a
    /// role taken away stops working at once and a role given needs a new token.
    pub roles: Vec<String>,
}

impl Caller {
    /// Authenticates the `Authorization` header value.
    pub async fn authenticate(app: &AppState, authorization: Option<&str>) -> Result<Self, BearerError> {
        let token = access::bearer_token(authorization)?;
        let claims = access::verify(app, token).await?.ok_or_else(|| {
            BearerError::InvalidToken("the access token is invalid, expired or revoked".into())
        })?;
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
        Ok(Self { claims, user, roles })
    }

    /// The session the request came from.
    pub fn session(&self) -> &str {
        self.claims.sid.as_deref().unwrap_or_default()
    }

    /// Refuses the request unless the caller acts with `role`.
    pub fn require(&self, role: &str) -> Result<(), ApiError> {
        if self.roles.iter().any(|r| r == role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                format!("this requires the {role} role").into(),
            ))
        }
    }
}
