//! OIDC Core §5.3: the claims about the signed-in user that the access token's scope allows.

use serde::Serialize;

use crate::app::AppState;
use crate::oauth::scope::Scope;
use crate::oauth::{BearerError, access};
use crate::store::users::User;

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

/// The claims for the user of a live access token.
pub async fn userinfo(app: &AppState, token: &str) -> Result<UserInfo, BearerError> {
    let live = access::live_user(app, token).await?;
    let scope = live.claims.scope();
    // §5.3: the UserInfo endpoint serves OpenID Connect requests, which carry `openid`.
    if !scope.contains("openid") {
        return Err(BearerError::InsufficientScope("openid"));
    }
    Ok(UserInfo {
        claims: StandardClaims::released(&live.user, &scope),
        sub: live.user.id.clone(),
    })
}
