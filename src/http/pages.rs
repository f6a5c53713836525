//! The pages' templates (askama, in `templates/`), each a struct of exactly what it shows, and the
//! stylesheet they share.

use std::borrow::Cow;

use askama::Template;
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;

/// The sign-in form, alone or within an authorization request.
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub site: &'a str,
    pub csrf: &'a str,
    /// The authorization request the sign-in continues, encoded.
    pub request: Option<&'a str>,
    pub client_name: Option<&'a str>,
    pub email: &'a str,
    pub error: Option<&'a str>,
}

/// Asks the user to allow a client the scopes it requests.
#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    pub site: &'a str,
    pub csrf: &'a str,
    pub request: &'a str,
    pub client_name: &'a str,
    pub email: &'a str,
    pub scopes: Vec<Cow<'static, str>>,
}

/// Something went wrong that the user should know of.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub site: &'a str,
    pub title: &'a str,
    pub message: &'a str,
}

/// A short outcome, with a link onwards.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub site: &'a str,
    pub title: &'a str,
    pub message: &'a str,
    pub link: Option<(&'a str, &'a str)>,
}

/// Asks before signing out (OIDC RP-Initiated Logout §2).
#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutPage<'a> {
    pub site: &'a str,
    pub csrf: &'a str,
    pub email: Option<&'a str>,
    /// The logout request's parameters, carried through the confirmation.
    pub fields: Vec<(&'a str, &'a str)>,
}

/// Asks for the email address to send a reset link to.
#[derive(Template)]
#[template(path = "forgot_password.html")]
pub struct ForgotPasswordPage<'a> {
    pub site: &'a str,
    pub csrf: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
}

/// Asks for the new password of a reset link.
#[derive(Template)]
#[template(path = "reset_password.html")]
pub struct ResetPasswordPage<'a> {
    pub site: &'a str,
    pub csrf: &'a str,
    pub token: &'a str,
    pub error: Option<&'a str>,
}

/// The landing page of the email-verification link: a button, so that a mail scanner fetching
/// the link does not use it up.
#[derive(Template)]
#[template(path = "verify_email.html")]
pub struct VerifyEmailPage<'a> {
    pub site: &'a str,
    pub csrf: &'a str,
    pub token: &'a str,
}

/// The `form_post` response: a form the browser submits to the client at once.
#[derive(Template)]
#[template(path = "form_post.html")]
pub struct FormPostPage<'a> {
    pub site: &'a str,
    pub action: &'a str,
    pub fields: &'a [(&'static str, String)],
    pub script: &'a str,
}

/// The pages' stylesheet, compiled in.
pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
            (CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400")),
        ],
        include_str!("../../assets/keyward.css"),
    )
}
