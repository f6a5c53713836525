//! The account and admin API under `/api/v1`: JSON in and out, a Bearer access token for
//! everything but sign-up and the verification link.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::accounts::{ApiError, Caller};
use crate::app::AppState;
use crate::http::extract::Authorization;
use crate::oauth::BearerError;

/// The caller's own account, sign-up, verification and sign-out.
pub mod account;
/// Accounts, roles and clients for administrators.
pub mod admin;

/// The largest JSON body accepted; account requests are a few hundred bytes.
pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// A JSON body, rejected as [`ApiError`] (400, 413 or 415) instead of axum's plain text.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes =
            match axum::body::Bytes::from_request(Request::from_parts(parts.clone(), body), state).await {
                Ok(bytes) => bytes,
                Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    return Err(ApiError::PayloadTooLarge);
                }
                Err(rejection) => return Err(ApiError::invalid(rejection.body_text())),
            };
        if has_nul_escape(&bytes) {
            return Err(ApiError::invalid("JSON strings must not contain NUL characters"));
        }
        let req = Request::from_parts(parts, axum::body::Body::from(bytes));
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::UnsupportedMediaType),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::PayloadTooLarge)
            }
            Err(rejection) => Err(ApiError::invalid(rejection.body_text())),
        }
    }
}

/// Whether a JSON text holds the escape `\u0000` (a raw NUL is not valid JSON at all). No field of
/// ours holds a NUL, and PostgreSQL cannot store or compare text with one.
fn has_nul_escape(json: &[u8]) -> bool {
    json.windows(6).enumerate().any(|(at, w)| {
        w[0] == b'\\'
            && w[1] == b'u'
            && &w[2..] == b"0000"
            // The backslash is an escape only if an even number of backslashes precede it.
            && json[..at].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 0
    })
}

/// Query parameters, rejected as [`ApiError`].
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts
            .uri
            .query()
            .is_some_and(|q| q.to_ascii_lowercase().contains("%00"))
        {
            return Err(ApiError::invalid(
                "query parameters must not contain NUL characters",
            ));
        }
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|rejection: QueryRejection| ApiError::invalid(rejection.body_text()))
    }
}

/// A path parameter (an id or a role name), rejected as [`ApiError`]. A NUL cannot name anything
/// of ours, and PostgreSQL refuses text holding one, so it is refused here instead of as a 500.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts.uri.path().contains("%00") {
            return Err(ApiError::invalid(
                "path parameters must not contain NUL characters",
            ));
        }
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|rejection: PathRejection| ApiError::invalid(rejection.body_text()))
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        let Ok(Authorization(header)) = Authorization::from_request_parts(parts, app).await;
        let header = header
            .transpose()
            .map_err(|()| BearerError::InvalidRequest("malformed Authorization header".into()))?;
        Ok(Caller::authenticate(app, header.as_deref()).await?)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_a_real_nul_escape_counts() {
        assert!(super::has_nul_escape(br#"{"a":"x\u0000"}"#));
        assert!(super::has_nul_escape(br#"{"a":"\\\u0000"}"#));
        assert!(!super::has_nul_escape(br#"{"a":"\\u0000"}"#));
        assert!(!super::has_nul_escape(br#"{"a":"u0000"}"#));
    }
}
