//! The authorization endpoint (RFC 6749 §3.1, §4.1; OIDC Core §3.1.2) and the sign-in and
//! consent forms it leads through. Each form carries the authorization request back, which is
//! validated again in full, so no step trusts another's state.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::crypto::password::Password;
use crate::http::browser::{Browser, CsrfForm, FORM_POST_CSP, FORM_POST_SCRIPT, Page, PageForm};
use crate::http::extract::ClientAddr;
use crate::http::pages::{ConsentPage, FormPostPage, LoginPage, MessagePage};
use crate::oauth::authorize::{
    self, AuthorizationRequest, AuthorizationResponse, AuthorizeError, Next, ResponseMode,
};
use crate::oauth::params::Params;
use crate::oauth::signin::{self, Signin};
use crate::oauth::{OAuthError, login};

/// GET: the request in the query (§4.1.1).
#[utoipa::path(get, path = "/oauth/authorize", tag = "oauth",
    params(
        ("response_type" = String, Query, description = "`code`"),
        ("client_id" = String, Query),
        ("redirect_uri" = Option<String>, Query, description = "Exactly as registered (any port on a loopback IP); required for OpenID Connect"),
        ("scope" = Option<String>, Query, description = "Space-separated; `openid` for OpenID Connect, `offline_access` for a refresh token"),
        ("state" = Option<String>, Query),
        ("nonce" = Option<String>, Query),
        ("code_challenge" = Option<String>, Query, description = "PKCE, required of public clients"),
        ("code_challenge_method" = Option<String>, Query, description = "`S256`"),
        ("response_mode" = Option<String>, Query, description = "`query` (default) or `form_post`"),
        ("prompt" = Option<String>, Query, description = "`none`, `login`, `consent`, `select_account`"),
        ("max_age" = Option<i64>, Query),
        ("login_hint" = Option<String>, Query),
    ),
    responses(
        (status = 200, description = "The sign-in or consent page (HTML), or a form_post response"),
        (status = 302, description = "Back to the redirect URI with `code`, `state` and `iss`, or an error"),
        (status = 400, description = "An error page: unknown client or unregistered redirect URI (never redirected)"),
    ))]
pub async fn authorize_get(
    State(app): State<AppState>,
    browser: Browser,
    RawQuery(query): RawQuery,
) -> Response {
    match Params::parse(query.unwrap_or_default().as_bytes()) {
        Ok(params) => authorize(&app, &browser, &params).await,
        Err(err) => bad_request(&app, &err.description()).into_response(),
    }
}

/// POST: the request as a form (OIDC Core §3.1.2.1).
#[utoipa::path(post, path = "/oauth/authorize", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "The parameters of GET /oauth/authorize"),
    responses(
        (status = 200, description = "The sign-in or consent page (HTML), or a form_post response"),
        (status = 303, description = "Back to the redirect URI"),
        (status = 400, description = "An error page"),
    ))]
pub async fn authorize_post(
    State(app): State<AppState>,
    browser: Browser,
    PageForm(params): PageForm,
) -> Response {
    authorize(&app, &browser, &params).await
}

async fn authorize(app: &AppState, browser: &Browser, params: &Params) -> Response {
    let step = async {
        let req = AuthorizationRequest::validate(app, params).await?;
        let signin = signin::current(app, browser.session()).await?;
        let next = authorize::next(app, &req, signin.as_ref(), false).await?;
        Ok::<_, AuthorizeError>((req, signin, next))
    };
    match step.await {
        Ok((req, signin, next)) => show(app, browser, &req, signin.as_ref(), next, StatusCode::FOUND),
        Err(err) => failure(app, err, StatusCode::FOUND),
    }
    .into_response()
}

/// The page or redirect for the next step.
fn show(
    app: &AppState,
    browser: &Browser,
    req: &AuthorizationRequest,
    signin: Option<&Signin>,
    next: Next,
    redirect: StatusCode,
) -> Page {
    match next {
        Next::Login => {
            let email = req
                .login_hint
                .as_deref()
                .or(signin.map(|s| s.user.email.as_str()))
                .unwrap_or_default();
            login_page(app, browser, Some(req), email, None, StatusCode::OK)
        }
        Next::Consent => match signin {
            Some(signin) => consent_page(app, browser, req, signin),
            None => login_page(app, browser, Some(req), "", None, StatusCode::OK),
        },
        Next::Respond(response) => respond(app, &response, redirect),
    }
}

/// The sign-in form.
fn login_page(
    app: &AppState,
    browser: &Browser,
    req: Option<&AuthorizationRequest>,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Page {
    let csrf = browser.csrf();
    Page::html(
        status,
        &LoginPage {
            site: &app.config.site_name,
            csrf: &csrf.token,
            request: req.map(|r| r.encoded.as_str()),
            client_name: req.map(|r| r.client.name.as_str()),
            email,
            error,
        },
    )
    .with_csrf(app, &csrf)
}

fn consent_page(app: &AppState, browser: &Browser, req: &AuthorizationRequest, signin: &Signin) -> Page {
    let csrf = browser.csrf();
    Page::html(
        StatusCode::OK,
        &ConsentPage {
            site: &app.config.site_name,
            csrf: &csrf.token,
            request: &req.encoded,
            client_name: &req.client.name,
            email: &signin.user.email,
            scopes: authorize::describe_scope(&req.scope),
        },
    )
    .with_csrf(app, &csrf)
}

/// Sends the authorization response to the client: a redirect, or a page that posts it.
fn respond(app: &AppState, response: &AuthorizationResponse, redirect: StatusCode) -> Page {
    match response.mode {
        ResponseMode::Query => Page::redirect(redirect, &response.location()),
        ResponseMode::FormPost => Page::html(
            StatusCode::OK,
            &FormPostPage {
                site: &app.config.site_name,
                action: &response.redirect_uri,
                fields: &response.params,
                script: FORM_POST_SCRIPT,
            },
        )
        .with_csp(&FORM_POST_CSP),
    }
}

/// An error of the authorization endpoint: a page, or a response for the client.
pub fn failure(app: &AppState, err: AuthorizeError, redirect: StatusCode) -> Page {
    match err {
        AuthorizeError::Page(message) => Page::error(
            app,
            StatusCode::BAD_REQUEST,
            "This sign-in request cannot be completed",
            message,
        ),
        AuthorizeError::Redirect(response) => respond(app, &response, redirect),
        AuthorizeError::Overloaded => Page::unavailable(app, 1),
        AuthorizeError::Unavailable(e) => {
            tracing::warn!(error = %format!("{e:#}"), "dependency unavailable");
            Page::unavailable(app, 5)
        }
        AuthorizeError::Internal(e) => Page::internal(app, &e),
    }
}

fn bad_request(app: &AppState, message: &str) -> Page {
    Page::error(app, StatusCode::BAD_REQUEST, "The request is not valid", message)
}

/// The authorization request a form carries back, validated again.
async fn carried_request(
    app: &AppState,
    form: &Params,
) -> Result<Option<AuthorizationRequest>, AuthorizeError> {
    let Some(encoded) = form.get("request") else {
        return Ok(None);
    };
    let params = Params::parse(encoded.as_bytes())
        .map_err(|_| AuthorizeError::Page("The sign-in request in the form is malformed."))?;
    Ok(Some(AuthorizationRequest::validate(app, &params).await?))
}

/// GET /login: the sign-in form on its own (after a password reset, say).
#[utoipa::path(get, path = "/login", tag = "pages",
    responses((status = 200, description = "The sign-in page (HTML)")))]
pub async fn login_form(State(app): State<AppState>, browser: Browser) -> Page {
    login_page(&app, &browser, None, "", None, StatusCode::OK)
}

/// POST /login: checks the password (with the password grant's brute-force protection), starts
/// or renews the sign-in session, and goes on with the authorization request, if any.
#[utoipa::path(post, path = "/login", tag = "pages",
    request_body(content_type = "application/x-www-form-urlencoded", description = "`csrf`, `email`, `password`, and `request` (the authorization request)"),
    responses(
        (status = 200, description = "The consent page, or a signed-in notice"),
        (status = 303, description = "Back to the client with a code"),
        (status = 400, description = "The sign-in page again, saying what was wrong"),
        (status = 403, description = "The CSRF token is missing or wrong"),
        (status = 429, description = "Too many failed attempts; the page says when to retry"),
    ))]
pub async fn login_submit(
    State(app): State<AppState>,
    ClientAddr(address): ClientAddr,
    browser: Browser,
    CsrfForm(form): CsrfForm,
) -> Page {
    let req = match carried_request(&app, &form).await {
        Ok(req) => req,
        Err(err) => return failure(&app, err, StatusCode::SEE_OTHER),
    };
    let email = form.get("email").unwrap_or_default().trim();
    let password = form.get("password").unwrap_or_default();
    let retry =
        |message: &str, status| login_page(&app, &browser, req.as_ref(), email, Some(message), status);
    if email.is_empty() || password.is_empty() {
        return retry("Enter your email address and password.", StatusCode::BAD_REQUEST);
    }
    let user = match login::check_password(&app, email, Password::new(password), address).await {
        Ok(user) => user,
        Err(OAuthError::InvalidGrant(why)) => {
            // The same words whether the account exists or not.
            let message = if why == login::WRONG_CREDENTIALS {
                "The email address or password is wrong."
            } else {
                "This account is disabled."
            };
            return retry(message, StatusCode::BAD_REQUEST);
        }
        Err(OAuthError::TooManyAttempts { retry_after }) => {
            let message = format!(
                "Too many failed attempts. Try again in {}.",
                wait_words(retry_after)
            );
            return retry(&message, StatusCode::TOO_MANY_REQUESTS).retry_after(retry_after);
        }
        Err(OAuthError::Overloaded) => return Page::unavailable(&app, 1),
        Err(OAuthError::Unavailable(e)) => {
            return failure(&app, AuthorizeError::Unavailable(e), StatusCode::SEE_OTHER);
        }
        Err(OAuthError::Internal(e)) => return Page::internal(&app, &e),
        Err(other) => return Page::internal(&app, &anyhow::anyhow!("unexpected: {other}")),
    };
    let signed_in = async {
        let existing = signin::current(&app, browser.session()).await?;
        let (session, secret) = signin::sign_in(&app, existing, &user).await?;
        let max_age = signin::cookie_max_age(&app, &session);
        let signin = Signin {
            session,
            user: Arc::new(user),
        };
        let next = match &req {
            Some(req) => Some(authorize::next(&app, req, Some(&signin), true).await?),
            None => None,
        };
        Ok::<_, AuthorizeError>((signin, secret, max_age, next))
    };
    let (signin, secret, max_age, next) = match signed_in.await {
        Ok(done) => done,
        Err(err) => return failure(&app, err, StatusCode::SEE_OTHER),
    };
    let page = match (req, next) {
        (Some(req), Some(next)) => show(&app, &browser, &req, Some(&signin), next, StatusCode::SEE_OTHER),
        _ => Page::html(
            StatusCode::OK,
            &MessagePage {
                site: &app.config.site_name,
                title: "You are signed in",
                message: &format!("You are signed in as {}.", signin.user.email),
                link: None,
            },
        ),
    };
    match secret {
        Some(secret) => page.with_session(&app, secret.expose(), max_age),
        None => page,
    }
}

/// POST /consent: the user's answer; Allow is remembered for this client and scope.
#[utoipa::path(post, path = "/consent", tag = "pages",
    request_body(content_type = "application/x-www-form-urlencoded", description = "`csrf`, `request`, and `decision`: `allow` or `deny`"),
    responses(
        (status = 303, description = "Back to the client: a code, or `access_denied`"),
        (status = 403, description = "The CSRF token is missing or wrong"),
    ))]
pub async fn consent_submit(State(app): State<AppState>, browser: Browser, CsrfForm(form): CsrfForm) -> Page {
    let decided = async {
        let req = carried_request(&app, &form)
            .await?
            .ok_or(AuthorizeError::Page("The form does not carry a sign-in request."))?;
        let Some(signin) = signin::current(&app, browser.session()).await? else {
            // Signed out meanwhile (or the session expired): sign in again first.
            return Ok(Err(req));
        };
        let allow = match form.get("decision") {
            Some("allow") => true,
            Some("deny") => false,
            _ => {
                return Err(AuthorizeError::Page(
                    "The form does not say whether to allow or deny.",
                ));
            }
        };
        Ok(Ok(authorize::decide(&app, &req, &signin, allow).await?))
    };
    match decided.await {
        Ok(Ok(response)) => respond(&app, &response, StatusCode::SEE_OTHER),
        Ok(Err(req)) => login_page(&app, &browser, Some(&req), "", None, StatusCode::OK),
        Err(err) => failure(&app, err, StatusCode::SEE_OTHER),
    }
}

/// "30 seconds", "2 minutes".
fn wait_words(seconds: u64) -> String {
    match seconds {
        0..=1 => "a second".into(),
        2..=90 => format!("{seconds} seconds"),
        _ => format!("{} minutes", seconds.div_ceil(60)),
    }
}
