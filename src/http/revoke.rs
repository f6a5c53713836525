//! RFC 7009 §2: the revocation endpoint.

use axum::extract::State;
use axum::http::StatusCode;

use crate::app::AppState;
use crate::http::extract::{Authorization, OAuthForm};
use crate::http::token::authenticated_client;
use crate::oauth::{OAuthError, revocation};

/// Revokes a token of the calling client; 200 whether or not there was anything to revoke (§2.2).
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
