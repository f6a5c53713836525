//! RFC 6749 §4.4: a confidential client obtains a token for itself; no refresh token (§4.4.3).

use crate::app::AppState;
use crate::oauth::OAuthError;
use crate::oauth::scope::Scope;
use crate::oauth::tokens::{self, TokenResponse};
use crate::store::clients::Client;

/// Exchanges the client's own credentials (already verified) for an access token.
pub fn exchange(app: &AppState, client: &Client, scope: Option<Scope>) -> Result<TokenResponse, OAuthError> {
    // §4.4: "The client credentials grant type MUST only be used by confidential clients."
    if client.is_public() {
        return Err(OAuthError::UnauthorizedClient(
            "public clients may not use the client_credentials grant".into(),
        ));
    }
    let scope = Scope::resolve(scope, &Scope::from_words(&client.scopes))?;
    tokens::for_client(app, client, &scope)
}
