//! OIDC Core §5.3: the claims about the signed-in user that the access token's scope allows.

use serde::Serialize;

use crate::app::AppState;
use crate::oauth::BearerError;
use crate::oauth::tokens::AccessClaims;
use crate::store::users::{self, UserStatus};

/// The UserInfo response (§5.3.2).
#[derive(Debug, Serialize)]
pub struct UserInfo {
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The claims for a live access token's user.
pub async fn userinfo(app: &AppState, claims: &AccessClaims) -> Result<UserInfo, BearerError> {
    if claims.sid.is_none() {
        return Err(BearerError::InvalidToken(
            "the access token was not issued to a user".into(),
        ));
    }
    let scope = claims.scope();
    // §5.3: the UserInfo endpoint serves OpenID Connect requests, which carry `openid`.
    if !scope.contains("openid") {
        return Err(BearerError::InsufficientScope("openid"));
    }
    let user = users::find(&app.db, &claims.sub)
        .await?
        .filter(|u| u.status == UserStatus::Active)
        .ok_or_else(|| BearerError::InvalidToken("the account no longer exists or is disabled".into()))?;
    let email = scope.contains("email");
    Ok(UserInfo {
        sub: user.id,
        email: email.then_some(user.email),
        email_verified: email.then_some(user.email_verified),
        name: if scope.contains("profile") {
            user.name
        } else {
            None
        },
    })
}
