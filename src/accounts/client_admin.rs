//! Administering OAuth clients (admin role), as `keyward client …` does on the command line.

use serde::Deserialize;
use utoipa::ToSchema;

use crate::accounts::ApiError;
use crate::accounts::view::ClientCredentialsView;
use crate::app::AppState;
use crate::oauth::client::{self, ClientSpec, RegisterError};
use crate::store::{self, clients::Client};

/// `POST /api/v1/clients`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    #[schema(example = "billing-service")]
    pub name: String,
    /// `authorization_code`, `password`, `client_credentials`, `refresh_token`; by default
    /// `client_credentials` for a confidential client and `password refresh_token` for a public one.
    #[serde(default)]
    #[schema(example = json!(["client_credentials"]))]
    pub grant_types: Vec<String>,
    /// The most the client may ask for.
    #[serde(default)]
    #[schema(example = json!(["invoices:read"]))]
    pub scopes: Vec<String>,
    /// Where authorization responses may go; matched exactly (any port for a loopback IP).
    #[serde(default)]
    #[schema(example = json!(["https://app.example.com/callback"]))]
    pub redirect_uris: Vec<String>,
    /// Where the browser may go after logout (OIDC RP-Initiated Logout).
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// A public client has no secret and cannot use client_credentials.
    #[serde(default)]
    pub public: bool,
    /// The operator's own application: its users are not asked for consent.
    #[serde(default)]
    pub first_party: bool,
}

/// Registers a client; its secret is in the answer and nowhere else.
pub async fn create(app: &AppState, new: NewClient) -> Result<(Client, ClientCredentialsView), ApiError> {
    let spec = ClientSpec {
        name: new.name,
        grant_types: new.grant_types,
        scopes: new.scopes,
        redirect_uris: new.redirect_uris,
        post_logout_redirect_uris: new.post_logout_redirect_uris,
        public: new.public,
        first_party: new.first_party,
    };
    match client::register(&app.db, spec, app.clock.now()).await {
        Ok((client, secret)) => {
            let credentials = ClientCredentialsView {
                client_id: client.id.clone(),
                client_secret: secret.map(|s| s.expose().to_owned()),
            };
            Ok((client, credentials))
        }
        Err(RegisterError::Invalid(reason)) => Err(ApiError::invalid(reason)),
        Err(RegisterError::Store(e)) => Err(e.into()),
    }
}

/// A client by id.
pub async fn get(app: &AppState, id: &str) -> Result<Client, ApiError> {
    store::clients::find(&app.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such client"))
}

/// Deletes a client; every token it holds stops working at once.
pub async fn delete(app: &AppState, id: &str) -> Result<(), ApiError> {
    let deleted = store::clients::delete(&app.db, id).await?;
    app.clients.forget(id);
    if !deleted {
        return Err(ApiError::not_found("no such client"));
    }
    Ok(())
}

/// A new secret for a confidential client; the old one stops working at once.
pub async fn rotate_secret(app: &AppState, id: &str) -> Result<ClientCredentialsView, ApiError> {
    let secret = client::rotate_secret(&app.db, id, app.clock.now()).await;
    app.clients.forget(id);
    let secret = secret?.ok_or_else(|| ApiError::not_found("no such confidential client"))?;
    Ok(ClientCredentialsView {
        client_id: id.to_owned(),
        client_secret: Some(secret.expose().to_owned()),
    })
}
