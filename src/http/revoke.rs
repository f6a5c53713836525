//! RFC 7009 §2: the revocation endpoint.

use axum::extract::State;
use axum::http::StatusCode;

use crate::app::AppState;
use crate::http::docs::{OAuthErrorBody, TokenParam};
use crate::http::extract::{Authorization, OAuthForm};
use crate::http::token::authenticated_client;
use crate::oauth::{OAuthError, revocation};

/// Revokes a token of the calling client; 200 whether or not there was anything to revoke (§2.2).
#[utoipa::path(post, path = "/oauth/revoke", tag = "oauth",
    security((), ("basic" = [])),
    request_body(content = TokenParam, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke"),
        (status = 400, body = OAuthErrorBody),
        (status = 401, description = "invalid_client", body = OAuthErrorBody),
    ))]
pub async fn revoke_token(
    State(app): State<AppState>,
    authorization: Authorization,
    OAuthForm(params): OAuthForm,
) -> Result<StatusCode, OAuthError> {
    let client = authenticated_client(&app, authorization, &params).await?;
    let token = params.require("token")?;
    revocation::revoke_token(&app, &client, token).await?;
    Ok(StatusCode::OK)
}
