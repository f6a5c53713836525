//! RFC 6749 §3.2: the token endpoint.

use axum::Json;
use axum::extract::State;

use crate::app::AppState;
use crate::http::docs::{OAuthErrorBody, TokenForm};
use crate::http::extract::{Authorization, ClientAddr, OAuthForm};
use crate::oauth::OAuthError;
use crate::oauth::client::{self, ClientCredentials};
use crate::oauth::grant;
use crate::oauth::params::Params;
use crate::oauth::request::Grant;
use crate::oauth::tokens::TokenResponse;
use crate::store::clients::Client;

/// Exchanges a grant for tokens (RFC 6749 §3.2): authorization_code, password,
/// client_credentials, refresh_token.
#[utoipa::path(post, path = "/oauth/token", tag = "oauth",
    security((), ("basic" = [])),
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens (RFC 6749 §5.1)", body = TokenResponse),
        (status = 400, description = "RFC 6749 §5.2 error", body = OAuthErrorBody),
        (status = 401, description = "invalid_client", body = OAuthErrorBody),
        (status = 429, description = "Too many failed sign-ins; see Retry-After", body = OAuthErrorBody),
        (status = 503, description = "A backing service is down; see Retry-After", body = OAuthErrorBody),
    ))]
pub async fn issue_token(
    State(app): State<AppState>,
    ClientAddr(address): ClientAddr,
    authorization: Authorization,
    OAuthForm(params): OAuthForm,
) -> Result<Json<TokenResponse>, OAuthError> {
    let client = authenticated_client(&app, authorization, &params).await?;
    let grant = Grant::from_params(&params)?;
    if !client.allows_grant(grant.grant_type()) {
        return Err(OAuthError::UnauthorizedClient(
            format!(
                "the client is not registered for the {} grant",
                grant.grant_type()
            )
            .into(),
        ));
    }
    let grant_type = grant.grant_type();
    let response = match grant {
        Grant::AuthorizationCode(exchange) => {
            grant::authorization_code::exchange(&app, &client, exchange).await?
        }
        Grant::Password {
            username,
            password,
            scope,
        } => grant::password::exchange(&app, &client, address, &username, password, scope).await?,
        Grant::ClientCredentials { scope } => grant::client_credentials::exchange(&app, &client, scope)?,
        Grant::RefreshToken { refresh_token, scope } => {
            grant::refresh_token::exchange(&app, &client, refresh_token, scope).await?
        }
    };
    crate::telemetry::token_issued(grant_type);
    if grant_type == crate::oauth::request::REFRESH_TOKEN {
        crate::telemetry::refresh_rotated();
    }
    Ok(Json(response))
}

/// Reads and checks the client's credentials (RFC 6749 §2.3), shared by every OAuth endpoint.
pub(crate) async fn authenticated_client(
    app: &AppState,
    Authorization(header): Authorization,
    params: &Params,
) -> Result<std::sync::Arc<Client>, OAuthError> {
    let header = header
        .transpose()
        .map_err(|()| OAuthError::InvalidClient("malformed Authorization header".into()))?;
    let credentials = ClientCredentials::from_request(header.as_deref(), params)?;
    client::authenticate(app, credentials).await
}
