//! Minting tokens: RFC 9068 JWT access tokens, OIDC ID tokens, and the RFC 6749 §5.1 response.

use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::clock::seconds;
use crate::crypto::jwt::{self, ACCESS_TOKEN_TYP, ID_TOKEN_TYP};
use crate::crypto::keys::Alg;
use crate::crypto::token::PlainToken;
use crate::oauth::OAuthError;
use crate::oauth::scope::Scope;
use crate::oauth::userinfo::StandardClaims;
use crate::store::clients::Client;
use crate::store::families::Family;
use crate::store::users::User;

/// The claims of a JWT access token (RFC 9068 §2.2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// The session (refresh family) of a user token; absent for client tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// Every permission the user's roles grant (a user token whose roles grant none has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
}

impl AccessClaims {
    /// The granted scope.
    pub fn scope(&self) -> Scope {
        Scope::parse(&self.scope).unwrap_or_default()
    }
}

/// The claims of an ID token (OIDC Core §2).
#[derive(Serialize)]
struct IdClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    azp: &'a str,
    exp: i64,
    iat: i64,
    auth_time: i64,
    sid: &'a str,
    at_hash: String,
    /// OIDC Core §3.1.2.1: the value of the authorization request, unchanged; never on refresh
    /// (§12.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    /// RFC 8176: every sign-in is with a password.
    amr: [&'static str; 1],
    #[serde(flatten)]
    claims: StandardClaims,
}

/// The successful token response (RFC 6749 §5.1). Deliberately not `Debug`: it holds tokens.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// Tokens for a client acting on its own behalf: `sub` is the client id (RFC 9068 §2.2), which
/// can never equal a user id, and no refresh token (RFC 6749 §4.4.3).
pub fn for_client(app: &AppState, client: &Client, scope: &Scope) -> Result<TokenResponse, OAuthError> {
    let access = AccessToken::mint(app, client, &client.id, scope, None)?;
    Ok(access.response(scope, None, None))
}

/// Tokens for a user in a session: an access token carrying `sid`, the refresh token if one was
/// issued, and an ID token when the scope holds `openid` (with `nonce` when the authorization
/// request sent one).
pub fn for_user(
    app: &AppState,
    client: &Client,
    user: &User,
    session: &Family,
    scope: &Scope,
    refresh_token: Option<PlainToken>,
    nonce: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let access = AccessToken::mint(app, client, &user.id, scope, Some((user, session)))?;
    let id_token = if scope.contains("openid") {
        let id = IdClaims {
            iss: &app.config.issuer,
            sub: &user.id,
            aud: &client.id,
            azp: &client.id,
            exp: access.issued_at + access.lifetime,
            iat: access.issued_at,
            auth_time: session.auth_time,
            sid: &session.id,
            at_hash: jwt::at_hash(&access.token),
            nonce,
            amr: ["pwd"],
            claims: StandardClaims::released(user, scope),
        };
        let keys = app.keys.current();
        let key = keys
            .signing(Alg::RS256, access.issued_at)
            .map_err(anyhow::Error::from)?;
        Some(jwt::sign(key, ID_TOKEN_TYP, &id)?)
    } else {
        None
    };
    Ok(access.response(scope, refresh_token, id_token))
}

/// A signed access token and when it was issued, for the response and the ID token.
struct AccessToken {
    token: String,
    issued_at: i64,
    lifetime: i64,
}

impl AccessToken {
    /// Signs an access token for `subject`; user tokens carry the session and the user's roles.
    fn mint(
        app: &AppState,
        client: &Client,
        subject: &str,
        scope: &Scope,
        user_session: Option<(&User, &Family)>,
    ) -> Result<Self, OAuthError> {
        let issued_at = app.clock.now();
        let lifetime = seconds(app.config.access_token_ttl);
        let claims = AccessClaims {
            iss: app.config.issuer.clone(),
            sub: subject.to_owned(),
            aud: app.config.access_token_audience().to_owned(),
            exp: issued_at + lifetime,
            iat: issued_at,
            jti: uuid::Uuid::new_v4().to_string(),
            client_id: client.id.clone(),
            scope: scope.to_string(),
            sid: user_session.map(|(_, session)| session.id.clone()),
            auth_time: user_session.map(|(_, session)| session.auth_time),
            roles: user_session.map(|(user, _)| user.roles.clone()),
            permissions: user_session
                .map(|(user, _)| user.permissions.clone())
                .filter(|p| !p.is_empty()),
        };
        let keys = app.keys.current();
        let key = app
            .keys
            .access_signer(&keys, issued_at)
            .map_err(anyhow::Error::from)?;
        let token = jwt::sign(key, ACCESS_TOKEN_TYP, &claims)?;
        Ok(Self {
            token,
            issued_at,
            lifetime,
        })
    }

    fn response(
        self,
        scope: &Scope,
        refresh_token: Option<PlainToken>,
        id_token: Option<String>,
    ) -> TokenResponse {
        TokenResponse {
            access_token: self.token,
            token_type: "Bearer",
            expires_in: self.lifetime,
            refresh_token: refresh_token.map(|t| t.expose().to_owned()),
            id_token,
            scope: (!scope.is_empty()).then(|| scope.to_string()),
        }
    }
}
