//! The end-session endpoint (OIDC RP-Initiated Logout 1.0 §2), GET or POST, with the
//! confirmation page shown when the request does not say who asks.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;

use crate::app::AppState;
use crate::http::browser::{Browser, Page, PageForm};
use crate::http::pages::{LogoutPage, MessagePage};
use crate::oauth::logout::{self, LogoutRequest};
use crate::oauth::params::Params;
use crate::oauth::signin::{self, Signin};

/// The parameters a logout request may carry through the confirmation page.
const CARRIED: [&str; 4] = ["id_token_hint", "client_id", "post_logout_redirect_uri", "state"];

/// GET: the request in the query.
#[utoipa::path(get, path = "/oauth/logout", tag = "oauth",
    params(
        ("id_token_hint" = Option<String>, Query, description = "An ID token this server issued (expired ones are accepted)"),
        ("post_logout_redirect_uri" = Option<String>, Query, description = "Registered for the client; compared exactly"),
        ("state" = Option<String>, Query),
        ("client_id" = Option<String>, Query, description = "Needed with post_logout_redirect_uri when there is no id_token_hint"),
    ),
    responses(
        (status = 200, description = "The confirmation page, or a signed-out notice (HTML)"),
        (status = 302, description = "Signed out; back to post_logout_redirect_uri with state"),
        (status = 400, description = "An error page: an invalid hint or an unregistered address"),
    ))]
pub async fn end_session_get(
    State(app): State<AppState>,
    browser: Browser,
    RawQuery(query): RawQuery,
) -> Page {
    match Params::parse(query.unwrap_or_default().as_bytes()) {
        Ok(params) => end_session(&app, &browser, &params, StatusCode::FOUND).await,
        Err(err) => invalid(&app, &err.description()),
    }
}

/// POST: the request as a form, or the answer of the confirmation page.
#[utoipa::path(post, path = "/oauth/logout", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "The parameters of GET /oauth/logout; from the confirmation page also `csrf` and `confirm`"),
    responses(
        (status = 200, description = "The confirmation page, or a signed-out notice (HTML)"),
        (status = 303, description = "Back to post_logout_redirect_uri with state"),
        (status = 400, description = "An error page"),
        (status = 403, description = "The confirmation's CSRF token is missing or wrong"),
    ))]
pub async fn end_session_post(
    State(app): State<AppState>,
    browser: Browser,
    PageForm(form): PageForm,
) -> Page {
    end_session(&app, &browser, &form, StatusCode::SEE_OTHER).await
}

async fn end_session(app: &AppState, browser: &Browser, params: &Params, redirect: StatusCode) -> Page {
    let req = match LogoutRequest::validate(app, params).await {
        Ok(req) => req,
        Err(message) => return invalid(app, message),
    };
    let current = match signin::current(app, browser.session()).await {
        Ok(current) => current,
        Err(e) => return Page::internal(app, &e),
    };
    // The answer of our own confirmation page carries its CSRF token.
    let confirmed = match params.get("csrf") {
        Some(_) if !browser.csrf_matches(params) => return Page::stale_form(app),
        Some(_) => match params.get("confirm") {
            Some("yes") => true,
            _ => return finish(app, &req, false, redirect, "You are still signed in."),
        },
        None => false,
    };
    if !confirmed && req.needs_confirmation() {
        return confirmation(app, browser, params, current.as_ref());
    }
    match logout::end(app, &req, current.as_ref()).await {
        Ok(ended) => finish(app, &req, ended, redirect, "You are signed out."),
        Err(e) => Page::internal(app, &e),
    }
}

fn confirmation(app: &AppState, browser: &Browser, params: &Params, current: Option<&Signin>) -> Page {
    let csrf = browser.csrf();
    let fields = CARRIED
        .iter()
        .filter_map(|name| params.get(name).map(|value| (*name, value)))
        .collect();
    Page::html(
        StatusCode::OK,
        &LogoutPage {
            site: &app.config.site_name,
            csrf: &csrf.token,
            email: current.map(|s| s.user.email.as_str()),
            fields,
        },
    )
    .with_csrf(app, &csrf)
}

/// Back to the client, or a page saying what happened; the cookie goes if its session ended.
fn finish(app: &AppState, req: &LogoutRequest, ended: bool, redirect: StatusCode, message: &str) -> Page {
    let page = match req.return_to() {
        Some(location) => Page::redirect(redirect, &location),
        None => Page::html(
            StatusCode::OK,
            &MessagePage {
                site: &app.config.site_name,
                title: message,
                message: if ended {
                    "Your session has ended in every application you signed in to with it."
                } else {
                    "You can close this page."
                },
                link: None,
            },
        ),
    };
    if ended { page.without_session(app) } else { page }
}

fn invalid(app: &AppState, message: &str) -> Page {
    Page::error(
        app,
        StatusCode::BAD_REQUEST,
        "This sign-out request cannot be completed",
        message,
    )
}
