//! The account and admin API under `/api/v1`: JSON in and out, a Bearer access token for
//! everything but sign-up and the verification link.

use axum::extract::rejection::{JsonRejection, QueryRejection};
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

/// Query parameters, rejected as [`ApiError`].
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|rejection: QueryRejection| ApiError::invalid(rejection.body_text()))
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
