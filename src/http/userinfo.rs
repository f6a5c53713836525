//! OIDC Core §5.3: the UserInfo endpoint, GET or POST with a Bearer access token.

use axum::Json;
use axum::extract::State;

use crate::app::AppState;
use crate::http::extract::Authorization;
use crate::oauth::userinfo::{self, UserInfo};
use crate::oauth::{BearerError, access};

/// The signed-in user's claims.
pub async fn userinfo(
    State(app): State<AppState>,
    Authorization(header): Authorization,
) -> Result<Json<UserInfo>, BearerError> {
    let header = header
        .transpose()
        .map_err(|()| BearerError::InvalidRequest("malformed Authorization header".into()))?;
    let token = access::bearer_token(header.as_deref())?;
    let claims = access::verify(&app, token)
        .await?
        .ok_or_else(|| BearerError::InvalidToken("the access token is invalid, expired or revoked".into()))?;
    Ok(Json(userinfo::userinfo(&app, &claims).await?))
}
