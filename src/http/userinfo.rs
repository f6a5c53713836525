//! OIDC Core §5.3: the UserInfo endpoint, GET or POST with a Bearer access token.

use axum::Json;
use axum::extract::State;

use crate::app::AppState;
use crate::http::docs::OAuthErrorBody;
use crate::http::extract::Authorization;
use crate::oauth::userinfo::{self, UserInfo};
use crate::oauth::{BearerError, access};

/// The signed-in user's claims (OIDC Core §5.3).
#[utoipa::path(method(get, post), path = "/userinfo", tag = "oauth",
    security(("bearer" = [])),
    responses(
        (status = 200, body = UserInfo),
        (status = 401, description = "RFC 6750 invalid_token", body = OAuthErrorBody),
        (status = 403, description = "insufficient_scope: the token lacks openid", body = OAuthErrorBody),
    ))]
pub async fn userinfo(
    State(app): State<AppState>,
    Authorization(header): Authorization,
) -> Result<Json<UserInfo>, BearerError> {
    let header = header
        .transpose()
        .map_err(|()| BearerError::InvalidRequest("malformed Authorization header".into()))?;
    let token = access::bearer_token(header.as_deref())?;
    Ok(Json(userinfo::userinfo(&app, token).await?))
}
