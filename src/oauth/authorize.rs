//! The authorization endpoint's decisions (RFC 6749 §4.1, OIDC Core §3.1.2): whether the browser
//! must sign in, whether the user must consent, and the code that goes back to the client.

use std::borrow::Cow;

use crate::app::AppState;
use crate::crypto::token::PlainToken;
use crate::fault::Fault;
use crate::oauth::scope::Scope;
use crate::oauth::signin::Signin;
use crate::store::codes::CodeGrant;
use crate::store::consents;

/// The authorization request and its validation.
pub mod request;
/// The authorization response, in the query or as a form post.
pub mod response;

pub use request::AuthorizationRequest;
pub use response::{AuthorizationResponse, ResponseMode};

/// How long a code may wait for its exchange (RFC 6749 §4.1.2 recommends at most 10 minutes;
/// a browser redirect takes seconds).
pub const CODE_LIFETIME: i64 = 60;

/// Why the authorization endpoint cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizeError {
    /// The client or its redirect URI cannot be trusted: the user sees this, and the browser is
    /// never redirected (§4.1.2.1).
    #[error("{0}")]
    Page(&'static str),
    /// An error for the client, sent to its redirect URI.
    #[error("error response for the client")]
    Redirect(AuthorizationResponse),
    /// Too many password checks at once.
    #[error("password checks are at capacity")]
    Overloaded,
    /// A backing service is unreachable.
    #[error("a backing service is unavailable: {0:#}")]
    Unavailable(anyhow::Error),
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for AuthorizeError {
    fn from(err: anyhow::Error) -> Self {
        match Fault::from(err) {
            Fault::Overloaded => AuthorizeError::Overloaded,
            Fault::Unavailable(e) => AuthorizeError::Unavailable(e),
            Fault::Internal(e) => AuthorizeError::Internal(e),
        }
    }
}

impl From<sqlx::Error> for AuthorizeError {
    fn from(err: sqlx::Error) -> Self {
        AuthorizeError::from(anyhow::Error::from(err))
    }
}

/// What the browser sees next.
#[derive(Debug)]
pub enum Next {
    /// The sign-in page.
    Login,
    /// The consent page.
    Consent,
    /// Back to the client.
    Respond(AuthorizationResponse),
}

/// The step after a valid request, for a browser in `signin` (if signed in). `fresh` says the
/// password was checked in this very request.
pub async fn next(
    app: &AppState,
    req: &AuthorizationRequest,
    signin: Option<&Signin>,
    fresh: bool,
) -> Result<Next, AuthorizeError> {
    let now = app.clock.now();
    // OIDC Core §3.1.2.1: `prompt=login` and an exceeded `max_age` ask for the password again;
    // `max_age=0` always does.
    let recent_enough = |signin: &&Signin| {
        fresh
            || (!req.prompt.login
                && req
                    .max_age
                    .is_none_or(|age| age > 0 && now - signin.session.auth_time <= age))
    };
    let Some(signin) = signin.filter(recent_enough) else {
        if req.prompt.none {
            return Err(AuthorizeError::Redirect(req.error(
                app,
                "login_required",
                "the user is not signed in",
            )));
        }
        return Ok(Next::Login);
    };
    if needs_consent(app, req, signin).await? {
        if req.prompt.none {
            return Err(AuthorizeError::Redirect(req.error(
                app,
                "consent_required",
                "the user has not consented to this client and scope",
            )));
        }
        return Ok(Next::Consent);
    }
    Ok(Next::Respond(issue_code(app, req, signin).await?))
}

/// Whether the consent page must be shown: never for a first-party client; always with
/// `prompt=consent`; otherwise when the scope asks for more than was granted before.
async fn needs_consent(app: &AppState, req: &AuthorizationRequest, signin: &Signin) -> anyhow::Result<bool> {
    if req.client.first_party {
        return Ok(false);
    }
    if req.prompt.consent {
        return Ok(true);
    }
    let granted = consents::granted(&app.db, &signin.user.id, &req.client.id).await?;
    Ok(!req.scope.is_subset(&Scope::from_words(&granted)))
}

/// The user's answer on the consent page: a code, remembering the consent, or `access_denied`.
pub async fn decide(
    app: &AppState,
    req: &AuthorizationRequest,
    signin: &Signin,
    allow: bool,
) -> Result<AuthorizationResponse, AuthorizeError> {
    if !allow {
        return Ok(req.error(app, "access_denied", "the user denied the request"));
    }
    let mut granted = Scope::from_words(&consents::granted(&app.db, &signin.user.id, &req.client.id).await?);
    for token in req.scope.iter() {
        granted.insert(token);
    }
    let granted: Vec<String> = granted.iter().map(str::to_owned).collect();
    consents::grant(
        &app.db,
        &signin.user.id,
        &req.client.id,
        &granted,
        app.clock.now(),
    )
    .await?;
    issue_code(app, req, signin).await
}

/// A new code for `signin`'s user, bound to everything the exchange must check (§4.1.2).
async fn issue_code(
    app: &AppState,
    req: &AuthorizationRequest,
    signin: &Signin,
) -> Result<AuthorizationResponse, AuthorizeError> {
    let code = PlainToken::generate();
    let grant = CodeGrant {
        client_id: req.client.id.clone(),
        redirect_uri: req.redirect_uri.clone(),
        redirect_uri_given: req.redirect_uri_given,
        code_challenge: req.code_challenge.clone(),
        nonce: req.nonce.clone(),
        scope: req.scope.to_string(),
        user_id: signin.user.id.clone(),
        auth_time: signin.session.auth_time,
        signin_id: signin.session.id.clone(),
        family_id: uuid::Uuid::new_v4().to_string(),
        expires_at: app.clock.now() + CODE_LIFETIME,
    };
    app.codes.issue(&code.hashed(), &grant).await?;
    tracing::info!(user_id = %grant.user_id, client_id = %grant.client_id, "authorization code issued");
    let mut params = vec![("code", code.expose().to_owned())];
    if let Some(state) = &req.state {
        params.push(("state", state.clone()));
    }
    params.push(("iss", app.config.issuer.clone()));
    Ok(AuthorizationResponse {
        redirect_uri: req.redirect_uri.clone(),
        mode: req.mode,
        params,
    })
}

/// A plain-words line for each scope on the consent page.
pub fn describe_scope(scope: &Scope) -> Vec<Cow<'static, str>> {
    scope
        .iter()
        .map(|token| match token {
            "openid" => Cow::Borrowed("Know who you are when you sign in"),
            "profile" => Cow::Borrowed("See your name and preferred language"),
            "email" => Cow::Borrowed("See your email address"),
            request::OFFLINE_ACCESS => Cow::Borrowed("Stay signed in and act for you until you sign out"),
            other => Cow::Owned(format!("Use the “{other}” permission")),
        })
        .collect()
}
