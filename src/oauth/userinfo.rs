//! OIDC Core §5.3: the claims about the signed-in user that the access token's scope allows.

use serde::Serialize;

use crate::app::AppState;
use crate::oauth::BearerError;
use crate::oauth::scope::Scope;
use crate::oauth::tokens::AccessClaims;
use crate::store::users::{User, UserStatus};

/// The UserInfo response (§5.3.2).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserInfo {
    pub sub: String,
    #[serde(flatten)]
    pub claims: StandardClaims,
}

/// The standard claims (§5.1) a scope releases (§5.4): `email` gives email and email_verified,
/// `profile` gives the profile fields the user has set.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct StandardClaims {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

impl StandardClaims {
    /// The claims of `user` that `scope` releases.
    pub fn released(user: &User, scope: &Scope) -> Self {
        let mut claims = Self::default();
        if scope.contains("email") {
            claims.email = Some(user.email.clone());
            claims.email_verified = Some(user.email_verified);
        }
        if scope.contains("profile") {
            let profile = user.profile.clone();
            claims.name = profile.name;
            claims.given_name = profile.given_name;
            claims.family_name = profile.family_name;
            claims.locale = profile.locale;
        }
        claims
    }
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
    let user = app
        .user(&claims.sub)
        .await?
        .filter(|u| u.status == UserStatus::Active)
        .ok_or_else(|| BearerError::InvalidToken("the account no longer exists or is disabled".into()))?;
    Ok(UserInfo {
        claims: StandardClaims::released(&user, &scope),
        sub: user.id.clone(),
    })
}
