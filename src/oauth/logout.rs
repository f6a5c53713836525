//! OpenID Connect RP-Initiated Logout 1.0: a client sends the browser to the end-session
//! endpoint with the ID token it holds (`id_token_hint`), where to return afterwards
//! (`post_logout_redirect_uri`, registered per client and matched exactly) and `state`. The
//! sign-in session ends, and with it every session (refresh family) started through it.

use std::sync::Arc;

use serde::Deserialize;

use crate::app::AppState;
use crate::crypto::jwt::{self, ID_TOKEN_TYP};
use crate::oauth::params::Params;
use crate::oauth::signin::{self, Signin};
use crate::store::clients::Client;
use crate::store::families::FamilyStore;

const MAX_STATE: usize = 2000;

/// The claims of an ID token that logout reads.
#[derive(Debug, Deserialize)]
struct HintClaims {
    sub: String,
    aud: String,
    sid: String,
}

/// A valid logout request.
#[derive(Debug)]
pub struct LogoutRequest {
    /// The user and session the `id_token_hint` names, when one was sent.
    pub hint: Option<Hint>,
    pub client: Option<Arc<Client>>,
    /// Where to send the browser afterwards, with `state`.
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
}

/// What a valid `id_token_hint` names.
#[derive(Debug)]
pub struct Hint {
    pub user_id: String,
    /// The session (refresh family) the ID token was issued in.
    pub sid: String,
}

impl LogoutRequest {
    /// Validates the parameters (§2). An invalid request is shown to the user; the browser is
    /// never redirected to an address that is not registered.
    pub async fn validate(app: &AppState, params: &Params) -> Result<Self, &'static str> {
        // §2: the OP need not check the expiry of an ID token hint; an old one still says who
        // is signing out.
        let hint = match params.get("id_token_hint") {
            Some(token) => Some(
                jwt::verify::<HintClaims>(
                    &app.keys.current(),
                    app.clock.now(),
                    token,
                    ID_TOKEN_TYP,
                    &app.config.issuer,
                )
                .map_err(|_| "The application sent an ID token that this server did not issue.")?,
            ),
            None => None,
        };
        let client_id = match (params.get("client_id"), &hint) {
            (Some(id), Some(hint)) if id != hint.aud => {
                return Err("The client_id does not match the ID token.");
            }
            (Some(id), _) => Some(id),
            (None, Some(hint)) => Some(hint.aud.as_str()),
            (None, None) => None,
        };
        let client = match client_id {
            Some(id) if id.len() <= 200 => app.client(id).await.map_err(|e| {
                tracing::warn!(error = %e, "reading the client of a logout request failed");
                "The service is briefly unavailable; try again."
            })?,
            _ => None,
        };
        let post_logout_redirect_uri = match params.get("post_logout_redirect_uri") {
            // §3: the URI MUST have been registered, and is compared exactly.
            Some(uri) => match &client {
                Some(client) if client.post_logout_redirect_uris.iter().any(|r| r == uri) => {
                    Some(uri.to_owned())
                }
                Some(_) => {
                    return Err(
                        "The address to return to after signing out is not registered for this application.",
                    );
                }
                None => {
                    return Err(
                        "The request names an address to return to but not the application (id_token_hint or client_id).",
                    );
                }
            },
            None => None,
        };
        let state = params.get("state");
        if state.is_some_and(|s| s.len() > MAX_STATE) {
            return Err("The request's state is too long.");
        }
        Ok(Self {
            hint: hint.map(|claims| Hint {
                user_id: claims.sub,
                sid: claims.sid,
            }),
            client,
            post_logout_redirect_uri,
            state: state.map(str::to_owned),
        })
    }

    /// Whether the user must confirm: unless a valid ID token hint says who asks, a third party
    /// could sign anyone out with a link (§2: the OP "SHOULD ask the End-User"). Asking also
    /// brings a cross-site POST, which carries no `SameSite=Lax` cookie, back to this site.
    pub fn needs_confirmation(&self) -> bool {
        self.hint.is_none()
    }

    /// Where to send the browser afterwards, if anywhere: the URI with `state` added.
    pub fn return_to(&self) -> Option<String> {
        let uri = self.post_logout_redirect_uri.as_deref()?;
        let Some(state) = &self.state else {
            return Some(uri.to_owned());
        };
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("state", state)
            .finish();
        let separator = if uri.contains('?') { '&' } else { '?' };
        Some(format!("{uri}{separator}{query}"))
    }
}

/// Signs out: the session the hint names (its sign-in session, or the refresh family alone when
/// it came from the password grant) and the browser's own sign-in session, unless that belongs
/// to another user than the hint names. Returns whether the browser's session ended.
pub async fn end(app: &AppState, req: &LogoutRequest, browser: Option<&Signin>) -> anyhow::Result<bool> {
    let now = app.clock.now();
    if let Some(hint) = &req.hint
        && let Some(family) = app.families.find(&hint.sid).await?
        && family.user_id == hint.user_id
    {
        match &family.signin_id {
            Some(signin_id) => {
                signin::end(app, signin_id, "signed out").await?;
            }
            None => {
                app.families.revoke(&family.id, "signed out", now).await?;
            }
        }
    }
    let Some(browser) = browser else {
        return Ok(false);
    };
    if req
        .hint
        .as_ref()
        .is_some_and(|hint| hint.user_id != browser.user.id)
    {
        return Ok(false);
    }
    signin::end(app, &browser.session.id, "signed out").await?;
    Ok(true)
}
