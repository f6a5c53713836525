//! Protocol errors: the token-endpoint error of RFC 6749 §5.2 and the bearer error of RFC 6750 §3.1.

use std::borrow::Cow;

use crate::fault::Fault;

type Text = Cow<'static, str>;

/// The longest error description sent, in bytes. Descriptions that name a request's own values
/// (a scope, an address) are cut here, so an error never repeats unbounded input back.
pub const MAX_DESCRIPTION: usize = 256;

/// `text` cut to at most [`MAX_DESCRIPTION`] bytes at a character boundary, ending in `...`
/// where it was cut.
pub fn bounded(text: &str) -> Cow<'_, str> {
    if text.len() <= MAX_DESCRIPTION {
        return Cow::Borrowed(text);
    }
    let mut end = MAX_DESCRIPTION - 3;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}...", &text[..end]))
}

/// An error of the token, revocation or introspection endpoint, named with its RFC code.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("invalid_request: {0}")]
    InvalidRequest(Text),
    #[error("invalid_client: {0}")]
    InvalidClient(Text),
    #[error("invalid_grant: {0}")]
    InvalidGrant(Text),
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(Text),
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(Text),
    #[error("invalid_scope: {0}")]
    InvalidScope(Text),
    /// Too many failed password logins: answered 429 with `Retry-After`.
    #[error("too many failed sign-in attempts")]
    TooManyAttempts { retry_after: u64 },
    /// The body exceeded the limit: `invalid_request` with status 413.
    #[error("request body too large")]
    PayloadTooLarge,
    /// Too many password checks at once: 503 with `Retry-After`, answered before any work.
    #[error("password checks are at capacity")]
    Overloaded,
    /// A backing service (database, Redis) is unreachable: 503 with `Retry-After`.
    #[error("a backing service is unavailable: {0:#}")]
    Unavailable(anyhow::Error),
    /// A fault of ours; logged with its chain, shown only as `server_error`.
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for OAuthError {
    fn from(err: anyhow::Error) -> Self {
        match Fault::from(err) {
            Fault::Overloaded => OAuthError::Overloaded,
            Fault::Unavailable(e) => OAuthError::Unavailable(e),
            Fault::Internal(e) => OAuthError::Internal(e),
        }
    }
}

impl From<sqlx::Error> for OAuthError {
    fn from(err: sqlx::Error) -> Self {
        OAuthError::from(anyhow::Error::from(err))
    }
}

impl OAuthError {
    pub fn invalid_request(text: impl Into<Text>) -> Self {
        OAuthError::InvalidRequest(text.into())
    }

    pub fn invalid_grant(text: impl Into<Text>) -> Self {
        OAuthError::InvalidGrant(text.into())
    }

    /// The `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) | OAuthError::PayloadTooLarge => "invalid_request",
            OAuthError::InvalidClient(_) => "invalid_client",
            OAuthError::InvalidGrant(_) | OAuthError::TooManyAttempts { .. } => "invalid_grant",
            OAuthError::UnauthorizedClient(_) => "unauthorized_client",
            OAuthError::UnsupportedGrantType(_) => "unsupported_grant_type",
            OAuthError::InvalidScope(_) => "invalid_scope",
            OAuthError::Unavailable(_) | OAuthError::Overloaded => "temporarily_unavailable",
            OAuthError::Internal(_) => "server_error",
        }
    }

    /// The HTTP status: 400 by §5.2, 401 for `invalid_client`.
    pub fn status(&self) -> u16 {
        match self {
            OAuthError::InvalidClient(_) => 401,
            OAuthError::TooManyAttempts { .. } => 429,
            OAuthError::PayloadTooLarge => 413,
            OAuthError::Unavailable(_) | OAuthError::Overloaded => 503,
            OAuthError::Internal(_) => 500,
            _ => 400,
        }
    }

    /// The `error_description`: human-readable, never a secret, never an internal detail.
    pub fn description(&self) -> Cow<'_, str> {
        match self {
            OAuthError::InvalidRequest(t)
            | OAuthError::InvalidClient(t)
            | OAuthError::InvalidGrant(t)
            | OAuthError::UnauthorizedClient(t)
            | OAuthError::UnsupportedGrantType(t)
            | OAuthError::InvalidScope(t) => bounded(t),
            OAuthError::TooManyAttempts { retry_after } => Cow::Owned(format!(
                "too many failed sign-in attempts; retry in {retry_after} seconds"
            )),
            OAuthError::PayloadTooLarge => Cow::Borrowed("request body too large"),
            OAuthError::Unavailable(_) => {
                Cow::Borrowed("the service is temporarily unavailable; retry shortly")
            }
            OAuthError::Overloaded => Cow::Borrowed("too many sign-ins at once; retry in a second"),
            OAuthError::Internal(_) => Cow::Borrowed("the server could not complete the request"),
        }
    }
}

/// An error of a resource endpoint that takes a bearer token (RFC 6750 §3.1).
#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    /// No token was sent: 401 with a bare `Bearer` challenge and no error code (§3.1).
    #[error("no access token")]
    Missing,
    #[error("invalid_request: {0}")]
    InvalidRequest(Text),
    #[error("invalid_token: {0}")]
    InvalidToken(Text),
    #[error("insufficient_scope: requires {0}")]
    InsufficientScope(&'static str),
    /// The token's state could not be checked: 503, never a guess.
    #[error("a backing service is unavailable: {0:#}")]
    Unavailable(anyhow::Error),
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for BearerError {
    fn from(err: anyhow::Error) -> Self {
        match Fault::from(err) {
            Fault::Unavailable(e) => BearerError::Unavailable(e),
            Fault::Internal(e) => BearerError::Internal(e),
            // Resource endpoints check no password; should one be refused, it is internal.
            Fault::Overloaded => BearerError::Internal(anyhow::anyhow!("password checks are at capacity")),
        }
    }
}

impl From<sqlx::Error> for BearerError {
    fn from(err: sqlx::Error) -> Self {
        BearerError::from(anyhow::Error::from(err))
    }
}

#[cfg(test)]
mod description_tests {
    use super::*;

    #[test]
    fn long_descriptions_are_cut_at_a_character_boundary() {
        assert_eq!(bounded("short"), "short");
        let exact = "a".repeat(MAX_DESCRIPTION);
        assert_eq!(bounded(&exact), exact);
        // Two-byte characters straddle the cut: it moves back to a boundary.
        let long = "é".repeat(MAX_DESCRIPTION);
        let cut = bounded(&long);
        assert!(cut.len() <= MAX_DESCRIPTION);
        assert!(cut.ends_with("..."));
        assert!(cut.trim_end_matches("...").chars().all(|c| c == 'é'));
    }
}
