//! Extractors that turn HTTP into protocol input, rejecting with protocol errors.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;

use crate::oauth::OAuthError;
use crate::oauth::params::Params;

/// The largest form body accepted; token requests are a few hundred bytes.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The parameters of an `application/x-www-form-urlencoded` POST (RFC 6749 §3.2).
pub struct OAuthForm(pub Params);

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = OAuthError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        if !is_form(req.headers()) {
            return Err(OAuthError::invalid_request(
                "the request body must be application/x-www-form-urlencoded",
            ));
        }
        let body = axum::body::to_bytes(req.into_body(), MAX_FORM_BYTES)
            .await
            .map_err(|_| OAuthError::PayloadTooLarge)?;
        Ok(Self(Params::parse(&body)?))
    }
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// The `Authorization` header as text; a header that is not visible ASCII counts as present
/// but unreadable, which each endpoint answers in its own protocol's terms.
pub struct Authorization(pub Option<Result<String, ()>>);

impl<S: Send + Sync> FromRequestParts<S> for Authorization {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .headers
                .get(AUTHORIZATION)
                .map(|v| v.to_str().map(str::to_owned).map_err(|_| ())),
        ))
    }
}

/// The peer's address, when the server was started with connect info.
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}
