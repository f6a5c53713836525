//! Authorization-server metadata: OIDC Discovery 1.0 §3 and RFC 8414 §2, one document for both.

use serde_json::{Value, json};

use crate::oauth::pkce;
use crate::oauth::request::GRANT_TYPES;

/// Endpoint paths below the issuer.
pub const TOKEN_PATH: &str = "/oauth/token";
pub const REVOCATION_PATH: &str = "/oauth/revoke";
pub const INTROSPECTION_PATH: &str = "/oauth/introspect";
pub const AUTHORIZATION_PATH: &str = "/oauth/authorize";
pub const END_SESSION_PATH: &str = "/oauth/logout";
pub const USERINFO_PATH: &str = "/userinfo";
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// Scopes keyward knows; clients may be registered for others (API scopes) as well.
pub const SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// The metadata document for `issuer` (no trailing slash).
pub fn document(issuer: &str) -> Value {
    let url = |path: &str| format!("{issuer}{path}");
    json!({
        "issuer": issuer,
        "authorization_endpoint": url(AUTHORIZATION_PATH),
        "token_endpoint": url(TOKEN_PATH),
        "userinfo_endpoint": url(USERINFO_PATH),
        "jwks_uri": url(JWKS_PATH),
        "revocation_endpoint": url(REVOCATION_PATH),
        "introspection_endpoint": url(INTROSPECTION_PATH),
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "code_challenge_methods_supported": [pkce::S256],
        "end_session_endpoint": url(END_SESSION_PATH),
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "authorization_response_iss_parameter_supported": true,
        "grant_types_supported": GRANT_TYPES,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "azp", "at_hash", "amr",
            "email", "email_verified", "name", "given_name", "family_name", "locale"
        ],
        "service_documentation": url("/docs"),
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    })
}
