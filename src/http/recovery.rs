//! The pages of the links keyward emails: forgot password, choose a new password, verify the
//! email address. Each link opens a page with a form, so that a mail scanner that fetches the
//! link does not use it up.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;

use crate::accounts::{ApiError, password_reset, verification};
use crate::app::AppState;
use crate::crypto::password::Password;
use crate::http::browser::{Browser, CsrfForm, Page};
use crate::http::extract::ClientAddr;
use crate::http::pages::{ForgotPasswordPage, MessagePage, ResetPasswordPage, VerifyEmailPage};
use crate::oauth::params::Params;

/// The token in a link's query; empty when there is none (or the query is malformed).
fn link_token(query: Option<String>) -> String {
    Params::parse(query.unwrap_or_default().as_bytes())
        .ok()
        .and_then(|params| params.get("token").map(str::to_owned))
        .unwrap_or_default()
}

/// GET /forgot-password.
#[utoipa::path(get, path = "/forgot-password", tag = "pages",
    responses((status = 200, description = "The form asking for the account's email (HTML)")))]
pub async fn forgot_form(State(app): State<AppState>, browser: Browser) -> Page {
    forgot_page(&app, &browser, "", None, StatusCode::OK)
}

/// POST /forgot-password: sends the link if an account has the address; the page says the same
/// either way.
#[utoipa::path(post, path = "/forgot-password", tag = "pages",
    request_body(content_type = "application/x-www-form-urlencoded", description = "`csrf`, `email`"),
    responses(
        (status = 200, description = "The same notice whether or not an account has the address"),
        (status = 400, description = "Not an email address"),
        (status = 429, description = "Too many requests; the page says when to retry"),
    ))]
pub async fn forgot_submit(
    State(app): State<AppState>,
    ClientAddr(address): ClientAddr,
    browser: Browser,
    CsrfForm(form): CsrfForm,
) -> Page {
    let email = form.get("email").unwrap_or_default().trim();
    match password_reset::request(&app, email, address).await {
        Ok(()) => message(
            &app,
            "Check your email",
            &format!(
                "If an account uses {email}, a link to choose a new password is on its way. It works once, for {} minutes.",
                app.config.password_reset_ttl.as_secs() / 60
            ),
            None,
        ),
        Err(ApiError::InvalidRequest(why)) => {
            forgot_page(&app, &browser, email, Some(&why), StatusCode::BAD_REQUEST)
        }
        Err(ApiError::TooManyAttempts { retry_after }) => forgot_page(
            &app,
            &browser,
            email,
            Some("Too many requests. Wait an hour, then ask again."),
            StatusCode::TOO_MANY_REQUESTS,
        )
        .retry_after(retry_after),
        Err(other) => api_failure(&app, other),
    }
}

fn forgot_page(
    app: &AppState,
    browser: &Browser,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Page {
    let csrf = browser.csrf();
    Page::html(
        status,
        &ForgotPasswordPage {
            site: &app.config.site_name,
            csrf: &csrf.token,
            email,
            error,
        },
    )
    .with_csrf(app, &csrf)
}

/// GET /reset-password?token=…: the form for the new password, if the link is live.
#[utoipa::path(get, path = "/reset-password", tag = "pages",
    params(("token" = String, Query, description = "The token of the link in the email")),
    responses(
        (status = 200, description = "The form for the new password (HTML)"),
        (status = 400, description = "The link is invalid, used or expired"),
    ))]
pub async fn reset_form(State(app): State<AppState>, browser: Browser, RawQuery(query): RawQuery) -> Page {
    let token = link_token(query);
    match password_reset::is_valid(&app, &token).await {
        Ok(true) => reset_page(&app, &browser, &token, None, StatusCode::OK),
        Ok(false) => dead_link(&app),
        Err(e) => api_failure(&app, e),
    }
}

/// POST /reset-password: sets the password; every session of the account ends.
#[utoipa::path(post, path = "/reset-password", tag = "pages",
    request_body(content_type = "application/x-www-form-urlencoded", description = "`csrf`, `token`, `password`"),
    responses(
        (status = 200, description = "The password is set"),
        (status = 400, description = "The password is refused (the form again), or the link is dead"),
    ))]
pub async fn reset_submit(State(app): State<AppState>, browser: Browser, CsrfForm(form): CsrfForm) -> Page {
    let token = form.get("token").unwrap_or_default();
    let password = Password::new(form.get("password").unwrap_or_default());
    match password_reset::complete(&app, token, password).await {
        Ok(user) => message(
            &app,
            "Your password is set",
            &format!(
                "Sign in to {} with your new password. Every earlier session has ended.",
                user.email
            ),
            Some(("/login", "Sign in")),
        ),
        Err(ApiError::InvalidRequest(why)) => match password_reset::is_valid(&app, token).await {
            // The link still works: the password was refused.
            Ok(true) => reset_page(&app, &browser, token, Some(&why), StatusCode::BAD_REQUEST),
            Ok(false) => dead_link(&app),
            Err(e) => api_failure(&app, e),
        },
        Err(other) => api_failure(&app, other),
    }
}

fn reset_page(
    app: &AppState,
    browser: &Browser,
    token: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Page {
    let csrf = browser.csrf();
    Page::html(
        status,
        &ResetPasswordPage {
            site: &app.config.site_name,
            csrf: &csrf.token,
            token,
            error,
        },
    )
    .with_csrf(app, &csrf)
}

fn dead_link(app: &AppState) -> Page {
    Page::error(
        app,
        StatusCode::BAD_REQUEST,
        "This link no longer works",
        "The link is invalid, was used already, or has expired. Ask for a new one from the sign-in page.",
    )
}

/// GET /verify-email?token=…: the landing page of the verification link.
#[utoipa::path(get, path = "/verify-email", tag = "pages",
    params(("token" = String, Query, description = "The token of the link in the email")),
    responses((status = 200, description = "A page with the button that verifies (HTML)")))]
pub async fn verify_form(State(app): State<AppState>, browser: Browser, RawQuery(query): RawQuery) -> Page {
    let token = link_token(query);
    if token.is_empty() || token.len() > 128 {
        return dead_link(&app);
    }
    let csrf = browser.csrf();
    Page::html(
        StatusCode::OK,
        &VerifyEmailPage {
            site: &app.config.site_name,
            csrf: &csrf.token,
            token: &token,
        },
    )
    .with_csrf(&app, &csrf)
}

/// POST /verify-email: verifies the address of the link.
#[utoipa::path(post, path = "/verify-email", tag = "pages",
    request_body(content_type = "application/x-www-form-urlencoded", description = "`csrf`, `token`"),
    responses(
        (status = 200, description = "The address is verified"),
        (status = 400, description = "The link is invalid, used or expired"),
    ))]
pub async fn verify_submit(State(app): State<AppState>, CsrfForm(form): CsrfForm) -> Page {
    match verification::verify(&app, form.get("token").unwrap_or_default()).await {
        Ok(user) => message(
            &app,
            "Your email address is verified",
            &format!("{} is confirmed as the address of your account.", user.email),
            None,
        ),
        Err(ApiError::InvalidRequest(_)) => dead_link(&app),
        Err(other) => api_failure(&app, other),
    }
}

fn message(app: &AppState, title: &str, text: &str, link: Option<(&str, &str)>) -> Page {
    Page::html(
        StatusCode::OK,
        &MessagePage {
            site: &app.config.site_name,
            title,
            message: text,
            link,
        },
    )
}

/// An account error that is no fault of the form: overload, an outage, a bug.
fn api_failure(app: &AppState, err: ApiError) -> Page {
    match err {
        ApiError::Overloaded => Page::unavailable(app, 1),
        ApiError::Unavailable(e) => {
            tracing::warn!(error = %format!("{e:#}"), "dependency unavailable");
            Page::unavailable(app, 5)
        }
        ApiError::Internal(e) => Page::internal(app, &e),
        other => Page::internal(app, &anyhow::anyhow!("unexpected: {other}")),
    }
}
