//! The authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1), validated in the order
//! §4.1.2.1 requires: the client and its redirect URI first, whose failures are shown to the
//! user and never redirected; then the rest, whose failures go back to the client.

use std::sync::Arc;

use crate::app::AppState;
use crate::oauth::authorize::AuthorizeError;
use crate::oauth::authorize::response::{AuthorizationResponse, ResponseMode};
use crate::oauth::params::Params;
use crate::oauth::request::{AUTHORIZATION_CODE, REFRESH_TOKEN};
use crate::oauth::scope::Scope;
use crate::oauth::{pkce, redirect_uri};
use crate::store::clients::Client;

/// The longest `state` carried back; longer ones are refused rather than echoed.
const MAX_STATE: usize = 2000;
const MAX_NONCE: usize = 500;
const MAX_LOGIN_HINT: usize = 254;
/// OIDC Core §11: asks for a refresh token; allowed to every client that may refresh.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// The `prompt` values (OIDC Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    /// Show no page: answer `login_required` or `consent_required` instead.
    pub none: bool,
    /// Ask for the password even within a sign-in session.
    pub login: bool,
    /// Ask for consent even when it was given before.
    pub consent: bool,
}

/// A request that passed every check.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub client: Arc<Client>,
    pub redirect_uri: String,
    /// Whether the request named the redirect URI (the token request must then repeat it).
    pub redirect_uri_given: bool,
    pub mode: ResponseMode,
    pub state: Option<String>,
    pub scope: Scope,
    pub nonce: Option<String>,
    /// The PKCE `S256` challenge.
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    /// Seconds since the last password entry beyond which the password is asked again.
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// The parameters, encoded, for the sign-in pages to send back with their forms.
    pub encoded: String,
}

impl AuthorizationRequest {
    /// Validates the request's parameters.
    pub async fn validate(app: &AppState, params: &Params) -> Result<Self, AuthorizeError> {
        let client_id = params.get("client_id").ok_or(AuthorizeError::Page(
            "The request does not say which application it is for.",
        ))?;
        let client = match client_id.len() {
            1..=200 => app.client(client_id).await?,
            _ => None,
        }
        .ok_or(AuthorizeError::Page(
            "The application that sent you here is not registered with this server.",
        ))?;
        let openid = params
            .get("scope")
            .is_some_and(|s| s.split(' ').any(|t| t == "openid"));
        let (redirect_uri, redirect_uri_given) = match params.get("redirect_uri") {
            Some(uri) if redirect_uri::is_registered(&client.redirect_uris, uri) => (uri.to_owned(), true),
            Some(_) => {
                return Err(AuthorizeError::Page(
                    "The address the application asked to return to is not registered for it.",
                ));
            }
            // RFC 6749 §3.1.2.3: may be left out when exactly one is registered; OpenID Connect
            // requests must always name it (OIDC Core §3.1.2.1).
            None if !openid && client.redirect_uris.len() == 1 => (client.redirect_uris[0].clone(), false),
            None => {
                return Err(AuthorizeError::Page(
                    "The request does not say where to return to (redirect_uri).",
                ));
            }
        };

        // From here on, errors go back to the client.
        let state = params.get("state");
        let oversized_state = state.is_some_and(|s| s.len() > MAX_STATE);
        let mode = ResponseMode::parse(params.get("response_mode"));
        let refuse = |error: &'static str, description: &str| {
            AuthorizeError::Redirect(AuthorizationResponse::error(
                &redirect_uri,
                mode.unwrap_or(ResponseMode::Query),
                state.filter(|_| !oversized_state),
                &app.config.issuer,
                error,
                description,
            ))
        };
        let Some(mode) = mode else {
            return Err(refuse(
                "invalid_request",
                "response_mode must be query or form_post",
            ));
        };
        if oversized_state {
            return Err(refuse("invalid_request", "state is longer than 2000 characters"));
        }
        // OIDC Core §6: request objects are not served.
        if params.get("request").is_some() {
            return Err(refuse(
                "request_not_supported",
                "request objects are not supported",
            ));
        }
        if params.get("request_uri").is_some() {
            return Err(refuse(
                "request_uri_not_supported",
                "request_uri is not supported",
            ));
        }
        match params.get("response_type") {
            Some("code") => {}
            None => return Err(refuse("invalid_request", "response_type is required")),
            Some(_) => {
                return Err(refuse(
                    "unsupported_response_type",
                    "only response_type=code is supported",
                ));
            }
        }
        if !client.allows_grant(AUTHORIZATION_CODE) {
            return Err(refuse(
                "unauthorized_client",
                "the client is not registered for the authorization code flow",
            ));
        }
        let mut allowed = Scope::from_words(&client.scopes);
        if client.allows_grant(REFRESH_TOKEN) {
            allowed.insert(OFFLINE_ACCESS);
        }
        let requested = match params.get("scope").map(Scope::parse).transpose() {
            Ok(requested) => requested,
            Err(e) => return Err(refuse("invalid_scope", &e.description())),
        };
        // §3.3: without a scope, the default is what the client is registered for.
        let scope = match requested {
            None => Scope::from_words(&client.scopes),
            Some(requested) => Scope::resolve(Some(requested), &allowed)
                .map_err(|e| refuse("invalid_scope", &e.description()))?,
        };
        let code_challenge = params.get("code_challenge");
        let method = params.get("code_challenge_method");
        match (code_challenge, method) {
            (Some(challenge), _) => {
                pkce::check_challenge(challenge, method).map_err(|why| refuse("invalid_request", why))?;
            }
            (None, Some(_)) => {
                return Err(refuse(
                    "invalid_request",
                    "code_challenge_method without code_challenge",
                ));
            }
            // RFC 9700 §2.1.1: public clients MUST use PKCE.
            (None, None) if client.is_public() => {
                return Err(refuse(
                    "invalid_request",
                    "PKCE is required: send code_challenge and code_challenge_method=S256",
                ));
            }
            (None, None) => {}
        }
        let prompt = parse_prompt(params.get("prompt")).map_err(|why| refuse("invalid_request", why))?;
        let max_age = params
            .get("max_age")
            .map(|age| age.parse::<i64>().ok().filter(|a| *a >= 0))
            .map(|age| age.ok_or_else(|| refuse("invalid_request", "max_age must be a number of seconds")))
            .transpose()?;
        let nonce = params.get("nonce");
        if nonce.is_some_and(|n| n.len() > MAX_NONCE) {
            return Err(refuse("invalid_request", "nonce is longer than 500 characters"));
        }
        let login_hint = params
            .get("login_hint")
            .filter(|hint| hint.chars().count() <= MAX_LOGIN_HINT && !hint.contains(char::is_control));
        Ok(Self {
            client,
            redirect_uri,
            redirect_uri_given,
            mode,
            state: state.map(str::to_owned),
            scope,
            nonce: nonce.map(str::to_owned),
            code_challenge: code_challenge.map(str::to_owned),
            prompt,
            max_age,
            login_hint: login_hint.map(str::to_owned),
            encoded: params.encode(),
        })
    }

    /// An error response for this request's client.
    pub fn error(&self, app: &AppState, error: &'static str, description: &str) -> AuthorizationResponse {
        AuthorizationResponse::error(
            &self.redirect_uri,
            self.mode,
            self.state.as_deref(),
            &app.config.issuer,
            error,
            description,
        )
    }
}

/// OIDC Core §3.1.2.1: space-delimited; `none` with any other value is an error.
/// `select_account` asks to choose among accounts; a browser holds one here, so it is served by
/// showing that one.
fn parse_prompt(value: Option<&str>) -> Result<Prompt, &'static str> {
    let mut prompt = Prompt::default();
    let Some(value) = value else { return Ok(prompt) };
    for word in value.split(' ').filter(|w| !w.is_empty()) {
        match word {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            "select_account" => {}
            _ => return Err("prompt may hold none, login, consent or select_account"),
        }
    }
    if prompt.none && (prompt.login || prompt.consent) {
        return Err("prompt=none cannot be combined with other values");
    }
    Ok(prompt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_none_stands_alone() {
        // OIDC Core §3.1.2.1: "If this parameter contains none with any other value, an error
        // is returned."
        assert!(parse_prompt(Some("none login")).is_err());
        assert!(parse_prompt(Some("none consent")).is_err());
        assert_eq!(
            parse_prompt(Some("login consent")).unwrap(),
            Prompt {
                none: false,
                login: true,
                consent: true
            }
        );
        assert!(parse_prompt(Some("magic")).is_err());
        assert_eq!(parse_prompt(None).unwrap(), Prompt::default());
    }
}
