//! RFC 7662: the state of a token for an authenticated client. Anything not provably live is
//! exactly `{"active": false}` (§2.2).

use serde::Serialize;

use crate::app::AppState;
use crate::oauth::access::{self, looks_like_jwt};
use crate::store;
use crate::store::families::{FamilyStore, RefreshToken};
use crate::store::users::{self, UserStatus};

/// The introspection response (§2.2).
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct IntrospectionResponse {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
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
}

impl IntrospectionResponse {
    /// `{"active": false}` and nothing else.
    pub fn inactive() -> Self {
        Self::default()
    }
}

/// Introspects an access token (JWT) or a refresh token (opaque).
pub async fn introspect_token(app: &AppState, token: &str) -> anyhow::Result<IntrospectionResponse> {
    if looks_like_jwt(token) {
        let Some(claims) = access::verify(app, token).await? else {
            return Ok(IntrospectionResponse::inactive());
        };
        let username = match &claims.sid {
            Some(_) => users::find(&app.db, &claims.sub).await?.map(|u| u.email),
            None => None,
        };
        return Ok(IntrospectionResponse {
            active: true,
            scope: (!claims.scope.is_empty()).then_some(claims.scope),
            client_id: Some(claims.client_id),
            username,
            token_type: Some("Bearer"),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            sub: Some(claims.sub),
            aud: Some(claims.aud),
            iss: Some(claims.iss),
            jti: Some(claims.jti),
            sid: claims.sid,
            roles: claims.roles,
        });
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
        || !store::clients::exists(&app.db, &family.client_id).await?
    {
        return Ok(IntrospectionResponse::inactive());
    }
    let Some(user) = users::find(&app.db, &family.user_id)
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
        username: Some(user.email),
        token_type: Some("refresh_token"),
        sub: Some(family.user_id),
        aud: None,
        iss: Some(app.config.issuer.clone()),
        jti: None,
        sid: Some(family.id),
        roles: Some(user.roles),
    })
}
