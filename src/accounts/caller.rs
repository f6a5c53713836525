//! The signed-in user behind a request to the account API: a live user access token (exactly
//! what introspection would call active) whose account still exists and is enabled.

use std::ops::Deref;

use crate::accounts::ApiError;
use crate::app::AppState;
use crate::oauth::BearerError;
use crate::oauth::access::{self, LiveUser};

/// The role that opens the admin API.
pub const ADMIN: &str = "admin";

/// An authenticated caller: the live user of the request's access token.
#[derive(Debug)]
pub struct Caller(pub LiveUser);

impl Deref for Caller {
    type Target = LiveUser;

    fn deref(&self) -> &LiveUser {
        &self.0
    }
}

impl Caller {
    /// Authenticates the `Authorization` header value.
    pub async fn authenticate(app: &AppState, authorization: Option<&str>) -> Result<Self, BearerError> {
        let token = access::bearer_token(authorization)?;
        Ok(Self(access::live_user(app, token).await?))
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
