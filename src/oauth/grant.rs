//! The grants of the token endpoint, one module each.

/// RFC 6749 §4.1.3: the authorization code grant, with PKCE.
pub mod authorization_code;
/// RFC 6749 §4.4: the client credentials grant.
pub mod client_credentials;
/// RFC 6749 §4.3: the resource owner password credentials grant.
pub mod password;
/// RFC 6749 §6: refreshing, with rotation and reuse detection.
pub mod refresh_token;
