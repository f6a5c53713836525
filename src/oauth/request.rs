//! The token request: `grant_type` and the parameters of each grant (RFC 6749 §4.1.3, §4.3.2,
//! §4.4.2, §6).

use crate::crypto::password::Password;
use crate::crypto::token::PlainToken;
use crate::oauth::OAuthError;
use crate::oauth::grant::authorization_code::CodeExchange;
use crate::oauth::params::Params;
use crate::oauth::scope::Scope;

/// `grant_type` values keyward serves.
pub const GRANT_TYPES: [&str; 4] = [AUTHORIZATION_CODE, PASSWORD, CLIENT_CREDENTIALS, REFRESH_TOKEN];
pub const AUTHORIZATION_CODE: &str = "authorization_code";
pub const PASSWORD: &str = "password";
pub const CLIENT_CREDENTIALS: &str = "client_credentials";
pub const REFRESH_TOKEN: &str = "refresh_token";

/// A grant presented at the token endpoint.
#[derive(Debug)]
pub enum Grant {
    /// §4.1.3: an authorization code, with the PKCE verifier (RFC 7636 §4.5).
    AuthorizationCode(CodeExchange),
    /// §4.3.2: the resource owner's credentials.
    Password {
        username: String,
        password: Password,
        scope: Option<Scope>,
    },
    /// §4.4.2: the client acting on its own behalf.
    ClientCredentials { scope: Option<Scope> },
    /// §6: a refresh token for a new access token.
    RefreshToken {
        refresh_token: PlainToken,
        scope: Option<Scope>,
    },
}

impl Grant {
    /// Reads the grant from the token request's parameters.
    pub fn from_params(params: &Params) -> Result<Self, OAuthError> {
        let scope = params.get("scope").map(Scope::parse).transpose()?;
        match params.require("grant_type")? {
            AUTHORIZATION_CODE => Ok(Grant::AuthorizationCode(CodeExchange {
                code: PlainToken::presented(params.require("code")?),
                redirect_uri: params.get("redirect_uri").map(str::to_owned),
                code_verifier: params.get("code_verifier").map(str::to_owned),
            })),
            PASSWORD => Ok(Grant::Password {
                username: params.require("username")?.to_owned(),
                password: Password::new(params.require("password")?),
                scope,
            }),
            CLIENT_CREDENTIALS => Ok(Grant::ClientCredentials { scope }),
            REFRESH_TOKEN => Ok(Grant::RefreshToken {
                refresh_token: PlainToken::presented(params.require("refresh_token")?),
                scope,
            }),
            other => Err(OAuthError::UnsupportedGrantType(
                format!("grant_type {other:?} is not supported").into(),
            )),
        }
    }

    /// The `grant_type` value, as clients are registered for it.
    pub fn grant_type(&self) -> &'static str {
        match self {
            Grant::AuthorizationCode(_) => AUTHORIZATION_CODE,
            Grant::Password { .. } => PASSWORD,
            Grant::ClientCredentials { .. } => CLIENT_CREDENTIALS,
            Grant::RefreshToken { .. } => REFRESH_TOKEN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(body: &str) -> Result<Grant, OAuthError> {
        Grant::from_params(&Params::parse(body.as_bytes()).unwrap())
    }

    #[test]
    fn missing_grant_type_is_invalid_request() {
        assert_eq!(grant("scope=a").unwrap_err().code(), "invalid_request");
    }

    #[test]
    fn unknown_grant_type_is_unsupported() {
        assert_eq!(
            grant("grant_type=implicit").unwrap_err().code(),
            "unsupported_grant_type"
        );
    }

    #[test]
    fn password_grant_needs_username_and_password() {
        assert_eq!(
            grant("grant_type=password&username=a").unwrap_err().code(),
            "invalid_request"
        );
        assert!(matches!(
            grant("grant_type=password&username=a&password=b"),
            Ok(Grant::Password { .. })
        ));
    }
}
