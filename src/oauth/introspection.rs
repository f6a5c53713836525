//! RFC 7662: the state of a token for an authenticated client. Anything not provably live is
//! exactly `{"active": false}` (§2.2).

use serde::Serialize;

use crate::app::AppState;
use crate::oauth::BearerError;
use crate::oauth::access::{self, looks_like_jwt};
use crate::oauth::tokens::AccessClaims;
use crate::store::families::{FamilyStore, RefreshToken};
use crate::store::users::UserStatus;

/// The introspection response (§2.2).
#[derive(Debug, Default, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct IntrospectionResponse {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Whether the user's email address is verified (user tokens only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
}

impl IntrospectionResponse {
    /// `{"active": false}` and nothing else.
    pub fn inactive() -> Self {
        Self::default()
    }

    /// The claims of a live access token; a user token's account fields are added by the caller.
    fn of_access_token(claims: AccessClaims) -> Self {
        Self {
            active: true,
            scope: (!claims.scope.is_empty()).then_some(claims.scope),
            client_id: Some(claims.client_id),
            token_type: Some("Bearer"),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            sub: Some(claims.sub),
            aud: Some(claims.aud),
            iss: Some(claims.iss),
            jti: Some(claims.jti),
            sid: claims.sid,
            ..Self::default()
        }
    }
}

/// Introspects an access token (JWT) or a refresh token (opaque).
pub async fn introspect_token(app: &AppState, token: &str) -> anyhow::Result<IntrospectionResponse> {
    if looks_like_jwt(token) {
        let Some(claims) = access::verify(app, token).await? else {
            return Ok(IntrospectionResponse::inactive());
        };
        // A user token is active only while its account exists and may sign in, and it carries
        // the roles it was issued with that the account still holds.
        if claims.sid.is_some() {
            let live = match access::user_of(app, claims).await {
                Ok(live) => live,
                Err(BearerError::InvalidToken(_)) => return Ok(IntrospectionResponse::inactive()),
                Err(BearerError::Unavailable(e) | BearerError::Internal(e)) => return Err(e),
                Err(other) => return Err(anyhow::anyhow!("{other}")),
            };
            let permissions = live.user.permissions_of(&live.roles);
            return Ok(IntrospectionResponse {
                username: Some(live.user.email.clone()),
                email_verified: Some(live.user.email_verified),
                roles: Some(live.roles),
                permissions: Some(permissions),
                ..IntrospectionResponse::of_access_token(live.claims)
            });
        }
        return Ok(IntrospectionResponse::of_access_token(claims));
    }
    let now = app.clock.now();
    let Some(presented) = RefreshToken::parse(token) else {
        return Ok(IntrospectionResponse::inactive());
    };
    let Some(found) = app.families.find_by_token(&presented).await? else {
        return Ok(IntrospectionResponse::inactive());
    };
    let family = found.family;
    if !found.current
        || !family.refreshable(now, app.lifetimes())
        || app.client(&family.client_id).await?.is_none()
    {
        return Ok(IntrospectionResponse::inactive());
    }
    let Some(user) = app
        .user(&family.user_id)
        .await?
        .filter(|u| u.status == UserStatus::Active)
    else {
        return Ok(IntrospectionResponse::inactive());
    };
    Ok(IntrospectionResponse {
        active: true,
        exp: Some(family.expires_at(app.lifetimes())),
        iat: Some(family.rotated_at),
        scope: (!family.scope.is_empty()).then_some(family.scope),
        client_id: Some(family.client_id),
        username: Some(user.email.clone()),
        email_verified: Some(user.email_verified),
        token_type: Some("refresh_token"),
        sub: Some(family.user_id),
        aud: None,
        iss: Some(app.config.issuer.clone()),
        jti: None,
        sid: Some(family.id),
        permissions: Some(user.permissions.clone()),
        roles: Some(user.roles.clone()),
    })
}
