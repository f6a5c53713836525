//! OAuth 2.0 and OpenID Connect protocol rules, free of HTTP types.

/// Bearer access tokens as resource endpoints see them (RFC 6750), and whether they are live.
pub mod access;
/// The authorization endpoint's decisions (RFC 6749 §4.1, OIDC Core §3.1.2).
pub mod authorize;
/// Client authentication (RFC 6749 §2.3) and client registration.
pub mod client;
/// The token-endpoint error (RFC 6749 §5.2) and the bearer error (RFC 6750 §3.1).
pub mod error;
/// One module per grant type, each with one `exchange` entry point.
pub mod grant;
/// RFC 7662 token introspection.
pub mod introspection;
/// Checking an email and password, for every way of signing in.
pub mod login;
/// OIDC RP-Initiated Logout.
pub mod logout;
/// Authorization-server metadata (RFC 8414, OIDC Discovery 1.0).
pub mod metadata;
/// `application/x-www-form-urlencoded` request parameters (RFC 6749 §3.1, Appendix B).
pub mod params;
/// Proof Key for Code Exchange (RFC 7636), S256 only.
pub mod pkce;
/// Redirect URIs: registration rules and exact matching.
pub mod redirect_uri;
/// The token request and its grants (RFC 6749 §4.3.2, §4.4.2, §6).
pub mod request;
/// RFC 7009 token revocation.
pub mod revocation;
/// Scopes (RFC 6749 §3.3).
pub mod scope;
/// Sign-in sessions: the refresh family behind every user login.
pub mod session;
/// Browser sign-in sessions (single sign-on).
pub mod signin;
/// Brute-force protection of the password grant (RFC 6749 §4.3.2, §10.10).
pub mod throttle;
/// Minting access tokens, ID tokens and the token response.
pub mod tokens;
/// The OIDC UserInfo response (OIDC Core §5.3).
pub mod userinfo;

pub use error::{BearerError, OAuthError};
