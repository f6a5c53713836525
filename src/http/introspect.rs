//! RFC 7662 §2: the introspection endpoint, for authenticated confidential clients only.

use axum::Json;
use axum::extract::State;

use crate::app::AppState;
use crate::http::docs::{OAuthErrorBody, TokenParam};
use crate::http::extract::{Authorization, OAuthForm};
use crate::http::token::authenticated_client;
use crate::oauth::OAuthError;
use crate::oauth::introspection::{self, IntrospectionResponse};

/// Describes a token. §2.1 requires authorization of the caller: a public client, which has no
/// credentials, is refused with 401, unlike servers that let anyone introspect.
#[utoipa::path(post, path = "/oauth/introspect", tag = "oauth",
    security(("basic" = [])),
    request_body(content = TokenParam, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The token's state; `{\"active\": false}` for anything not live", body = IntrospectionResponse),
        (status = 401, description = "invalid_client", body = OAuthErrorBody),
    ))]
pub async fn introspect_token(
    State(app): State<AppState>,
    authorization: Authorization,
    OAuthForm(params): OAuthForm,
) -> Result<Json<IntrospectionResponse>, OAuthError> {
    let client = authenticated_client(&app, authorization, &params).await?;
    if client.is_public() {
        return Err(OAuthError::InvalidClient(
            "introspection requires a confidential client's credentials".into(),
        ));
    }
    let token = params.require("token")?;
    let answer = introspection::introspect_token(&app, token).await?;
    crate::telemetry::introspection(answer.active);
    Ok(Json(answer))
}
