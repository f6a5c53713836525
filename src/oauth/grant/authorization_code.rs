//! RFC 6749 §4.1.3: an authorization code is exchanged for tokens, once, by the client it was
//! issued to, from the same redirect URI, with the PKCE verifier (RFC 7636 §4.5). A second
//! presentation revokes what the first one issued (§4.1.2, §10.5).

use crate::app::AppState;
use crate::clock::seconds;
use crate::crypto::token::PlainToken;
use crate::oauth::authorize::request::OFFLINE_ACCESS;
use crate::oauth::request::REFRESH_TOKEN;
use crate::oauth::scope::Scope;
use crate::oauth::tokens::{self, TokenResponse};
use crate::oauth::{OAuthError, pkce, session};
use crate::store::clients::Client;
use crate::store::codes::{CodeGrant, Redeemed};
use crate::store::families::FamilyStore;
use crate::store::signins;
use crate::store::users::UserStatus;

/// The code's parameters at the token endpoint.
#[derive(Debug)]
pub struct CodeExchange {
    pub code: PlainToken,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
}

/// Exchanges a code for tokens in a new session, started through the browser's sign-in session.
pub async fn exchange(
    app: &AppState,
    client: &Client,
    presented: CodeExchange,
) -> Result<TokenResponse, OAuthError> {
    let invalid = || OAuthError::invalid_grant("the authorization code is invalid, expired or already used");
    if presented.code.expose().len() > 128 {
        return Err(invalid());
    }
    let now = app.clock.now();
    // A spent code is remembered as long as an access token lives, so that a replay within that
    // time still finds what to revoke.
    let retain = seconds(app.config.access_token_ttl);
    let grant = match app.codes.redeem(&presented.code.hashed(), now, retain).await? {
        Redeemed::Fresh(grant) => grant,
        Redeemed::Unknown => return Err(invalid()),
        Redeemed::Replayed { family_id } => {
            // §4.1.2: "If an authorization code is used more than once, the authorization server
            // MUST deny the request and SHOULD revoke (when possible) all tokens previously issued
            // based on that authorization code."
            let revoked = app
                .families
                .revoke(&family_id, "authorization code replayed", now)
                .await?;
            tracing::warn!(client_id = %client.id, sid = %family_id, revoked, "authorization code replayed");
            crate::telemetry::family_revoked("code_replay");
            return Err(OAuthError::invalid_grant(
                "the authorization code was already used; the tokens issued for it are revoked",
            ));
        }
    };
    if grant.expires_at <= now || grant.client_id != client.id {
        return Err(invalid());
    }
    check_binding(&grant, &presented)?;
    let user = match app.user(&grant.user_id).await? {
        Some(user) if user.status == UserStatus::Active => user,
        _ => return Err(invalid()),
    };
    // A browser that signed out between the redirect and the exchange starts no new session.
    let idle = seconds(app.config.session_idle_ttl);
    if !signins::is_live(&app.db, &grant.signin_id, now, idle).await? {
        return Err(OAuthError::invalid_grant("the sign-in session has ended"));
    }
    let scope = Scope::parse(&grant.scope)?;
    // OIDC Core §11: an OpenID Connect client gets a refresh token when it asked for
    // offline_access; a plain OAuth client whenever it may refresh.
    let refresh =
        client.allows_grant(REFRESH_TOKEN) && (scope.contains(OFFLINE_ACCESS) || !scope.contains("openid"));
    let start = session::Start {
        id: grant.family_id.clone(),
        auth_time: grant.auth_time,
        signin_id: Some(&grant.signin_id),
        refresh,
    };
    let (session, refresh_token) = session::start(app, client, &user, &scope, start).await?;
    tracing::info!(user_id = %user.id, client_id = %client.id, sid = %session.id, "authorization code exchanged");
    tokens::for_user(
        app,
        client,
        &user,
        &session,
        &scope,
        refresh_token,
        grant.nonce.as_deref(),
    )
}

/// The redirect URI (§4.1.3) and the PKCE verifier (RFC 7636 §4.6) must match the request.
fn check_binding(grant: &CodeGrant, presented: &CodeExchange) -> Result<(), OAuthError> {
    // §4.1.3: required if the authorization request included it, and then identical.
    let redirect_ok = match &presented.redirect_uri {
        Some(uri) => *uri == grant.redirect_uri,
        None => !grant.redirect_uri_given,
    };
    if !redirect_ok {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&grant.code_challenge, &presented.code_verifier) {
        (Some(challenge), Some(verifier)) if pkce::verify(verifier, challenge) => Ok(()),
        (Some(_), Some(_)) => Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge",
        )),
        (Some(_), None) => Err(OAuthError::invalid_grant(
            "code_verifier is required: the authorization request sent a code_challenge",
        )),
        // RFC 9700 §2.1.1: a verifier for a code issued without a challenge is a downgrade attempt.
        (None, Some(_)) => Err(OAuthError::invalid_grant(
            "the authorization request sent no code_challenge",
        )),
        (None, None) => Ok(()),
    }
}
