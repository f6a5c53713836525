//! What the pages for browsers share: their cookies (the sign-in session and the CSRF token),
//! the double-submit CSRF check, the security headers, form bodies and the rendered page.

use std::sync::LazyLock;

use askama::Template;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, RETRY_AFTER, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::config::Config;
use crate::crypto::token::random_b64url;
use crate::http::extract::OAuthForm;
use crate::oauth::params::Params;

/// The cookie of the sign-in session; `__Host-` on https (RFC 6265bis §4.1.3.2: Secure, path
/// `/`, no Domain, so no other host can set or read it).
const SESSION: &str = "kw_session";
/// The CSRF token's cookie, compared with the token in each form (double submit).
const CSRF: &str = "kw_csrf";

/// Pages may be shown in no frame, sniffed as nothing else, and leak no URL in `Referer`. The
/// login and consent forms post to this server; `form-action` is left out because a form's
/// redirect to the client's redirect URI would fall under it.
const CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'";

/// A cookie's name, with the `__Host-` prefix when the issuer is https.
fn cookie_name(config: &Config, name: &str) -> String {
    if config.is_https() {
        format!("__Host-{name}")
    } else {
        name.to_owned()
    }
}

/// A cookie for the browser: `HttpOnly`, `SameSite=Lax` (sent on the top-level navigation from
/// the client that starts a sign-in, never on cross-site subrequests or POSTs), `Secure` on https.
fn cookie(config: &Config, name: &str, value: String, max_age: Option<i64>) -> String {
    let mut cookie = Cookie::build((cookie_name(config, name), value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(config.is_https());
    if let Some(seconds) = max_age {
        cookie = cookie.max_age(cookie::time::Duration::seconds(seconds));
    }
    cookie.build().to_string()
}

/// The cookies of a request from a browser.
pub struct Browser {
    session: Option<String>,
    csrf: Option<String>,
}

impl FromRequestParts<AppState> for Browser {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        let session_name = cookie_name(&app.config, SESSION);
        let csrf_name = cookie_name(&app.config, CSRF);
        let mut browser = Browser {
            session: None,
            csrf: None,
        };
        let cookies = parts
            .headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok);
        for cookie in cookies {
            if cookie.name() == session_name {
                browser.session = Some(cookie.value().to_owned());
            } else if cookie.name() == csrf_name {
                browser.csrf = Some(cookie.value().to_owned());
            }
        }
        Ok(browser)
    }
}

impl Browser {
    /// The secret of the sign-in session cookie.
    pub fn session(&self) -> Option<&str> {
        self.session.as_deref()
    }

    /// The CSRF token for a form: the cookie's, or a new one (which the page sets).
    pub fn csrf(&self) -> Csrf {
        match self.csrf.as_deref().filter(|t| t.len() == 43) {
            Some(token) => Csrf {
                token: token.to_owned(),
                new: false,
            },
            None => Csrf {
                token: random_b64url::<32>(),
                new: true,
            },
        }
    }

    /// Whether a submitted form carries the token of this browser's CSRF cookie. Another site
    /// can make the browser post a form, but cannot read the cookie to copy its token.
    pub fn csrf_matches(&self, form: &Params) -> bool {
        match (self.csrf.as_deref(), form.get("csrf")) {
            (Some(cookie), Some(submitted)) => {
                cookie.len() == 43 && bool::from(cookie.as_bytes().ct_eq(submitted.as_bytes()))
            }
            _ => false,
        }
    }
}

/// A form's CSRF token, and whether its cookie must still be set.
pub struct Csrf {
    pub token: String,
    new: bool,
}

/// A form body from a browser; a malformed one gets an error page. Only for requests that may
/// come from elsewhere (a client's POST to the authorization or end-session endpoint); a form
/// of ours is read with [`CsrfForm`].
pub struct PageForm(pub Params);

/// A form of one of our pages: read as [`PageForm`], refused with [`Page::stale_form`] unless it
/// carries this browser's CSRF token.
pub struct CsrfForm(pub Params);

impl FromRequest<AppState> for CsrfForm {
    type Rejection = Response;

    async fn from_request(req: Request, app: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let Ok(browser) = Browser::from_request_parts(&mut parts, app).await;
        let PageForm(form) = PageForm::from_request(Request::from_parts(parts, body), app).await?;
        if !browser.csrf_matches(&form) {
            return Err(Page::stale_form(app).into_response());
        }
        Ok(Self(form))
    }
}

impl FromRequest<AppState> for PageForm {
    type Rejection = Response;

    async fn from_request(req: Request, app: &AppState) -> Result<Self, Self::Rejection> {
        match OAuthForm::from_request(req, app).await {
            Ok(OAuthForm(params)) => Ok(Self(params)),
            Err(err) => Err(Page::error(
                app,
                StatusCode::BAD_REQUEST,
                "The form could not be read",
                &err.description(),
            )
            .into_response()),
        }
    }
}

/// A response to a browser: a rendered page or a redirect, with the cookies it sets.
pub struct Page {
    status: StatusCode,
    body: Option<String>,
    headers: HeaderMap,
}

impl Page {
    /// A rendered template.
    pub fn html(status: StatusCode, template: &impl Template) -> Self {
        match template.render() {
            Ok(body) => Self {
                status,
                body: Some(body),
                headers: HeaderMap::new(),
            },
            Err(e) => {
                tracing::error!(error = %e, "rendering a page failed");
                Self {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    body: Some("The page could not be shown.".into()),
                    headers: HeaderMap::new(),
                }
            }
        }
    }

    /// A redirect: 303 after a form, 302 otherwise (RFC 9110 §15.4).
    pub fn redirect(status: StatusCode, location: &str) -> Self {
        let mut headers = HeaderMap::new();
        match HeaderValue::from_str(location) {
            Ok(value) => {
                headers.insert(LOCATION, value);
                Self {
                    status,
                    body: None,
                    headers,
                }
            }
            Err(_) => Self {
                status: StatusCode::BAD_REQUEST,
                body: Some("The address to return to is not valid.".into()),
                headers,
            },
        }
    }

    /// The error page.
    pub fn error(app: &AppState, status: StatusCode, title: &str, message: &str) -> Self {
        Page::html(
            status,
            &crate::http::pages::ErrorPage {
                site: &app.config.site_name,
                title,
                message: &crate::oauth::error::bounded(message),
            },
        )
    }

    /// The form has no valid CSRF token: it did not come from our page in this browser, or its
    /// page is too old.
    pub fn stale_form(app: &AppState) -> Self {
        Page::error(
            app,
            StatusCode::FORBIDDEN,
            "This form has expired",
            "Go back, reload the page and try again. Cookies must be enabled to sign in.",
        )
    }

    /// 503 with `Retry-After`.
    pub fn unavailable(app: &AppState, retry_after: u64) -> Self {
        Page::error(
            app,
            StatusCode::SERVICE_UNAVAILABLE,
            "Please try again in a moment",
            "The service is busy or briefly unavailable.",
        )
        .retry_after(retry_after)
    }

    /// 500; the cause goes to the log only.
    pub fn internal(app: &AppState, err: &anyhow::Error) -> Self {
        tracing::error!(error = ?err, "request failed");
        Page::error(
            app,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "The server could not complete the request.",
        )
    }

    /// Sets the CSRF cookie if the form's token is new.
    pub fn with_csrf(self, app: &AppState, csrf: &Csrf) -> Self {
        if csrf.new {
            self.with_cookie(cookie(&app.config, CSRF, csrf.token.clone(), None))
        } else {
            self
        }
    }

    /// Sets the sign-in session cookie to `secret`, for `max_age` seconds.
    pub fn with_session(self, app: &AppState, secret: &str, max_age: i64) -> Self {
        self.with_cookie(cookie(&app.config, SESSION, secret.to_owned(), Some(max_age)))
    }

    /// Removes the sign-in session cookie.
    pub fn without_session(self, app: &AppState) -> Self {
        self.with_cookie(cookie(&app.config, SESSION, String::new(), Some(0)))
    }

    /// Adds `Retry-After`.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
        self
    }

    /// Replaces the default Content-Security-Policy.
    pub fn with_csp(mut self, policy: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(policy) {
            self.headers
                .insert(HeaderName::from_static("content-security-policy"), value);
        }
        self
    }

    fn with_cookie(mut self, cookie: String) -> Self {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            self.headers.append(SET_COOKIE, value);
        }
        self
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let mut response = match self.body {
            Some(body) => (
                self.status,
                [(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))],
                body,
            )
                .into_response(),
            None => self.status.into_response(),
        };
        let headers = response.headers_mut();
        for (name, value) in self.headers.iter() {
            headers.append(name, value.clone());
        }
        response
    }
}

/// The headers every browser-facing response carries: no framing (also `X-Frame-Options` for
/// old browsers), no sniffing, no `Referer`, never cached, HSTS on https.
pub fn security_headers(config: &Config, headers: &mut HeaderMap) {
    let set = |headers: &mut HeaderMap, name: &'static str, value: &'static str| {
        headers
            .entry(HeaderName::from_static(name))
            .or_insert(HeaderValue::from_static(value));
    };
    set(headers, "content-security-policy", CSP);
    set(headers, "x-frame-options", "DENY");
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "referrer-policy", "no-referrer");
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if config.is_https() {
        set(headers, "strict-transport-security", "max-age=31536000");
    }
}

/// The script that submits a `form_post` response, and the policy that allows exactly it.
pub static FORM_POST_SCRIPT: &str = "document.forms[0].submit()";
pub static FORM_POST_CSP: LazyLock<String> = LazyLock::new(|| {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, FORM_POST_SCRIPT.as_bytes());
    let hash = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, digest.as_ref());
    format!("{CSP}; script-src 'sha256-{hash}'")
});
