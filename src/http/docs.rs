//! The OpenAPI 3.1 document of every endpoint (`/openapi.json`) and Swagger UI (`/docs`), whose
//! assets are compiled into the binary: nothing is fetched at build or run time.

use axum::Router;
use serde::Deserialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::server::Server;
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_swagger_ui::SwaggerUi;

use crate::app::AppState;
use crate::http::api::{account, admin};
use crate::http::{authorize, discovery, health, introspect, logout, recovery, revoke, token, userinfo};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "keyward",
        description = "An OAuth 2.0 / OpenID Connect authorization server, and the account API built on it. \
                       Sign in with the password grant at /oauth/token; call the account API with the \
                       access token as `Authorization: Bearer …`."
    ),
    paths(
        token::issue_token,
        revoke::revoke_token,
        introspect::introspect_token,
        userinfo::userinfo,
        authorize::authorize_get,
        authorize::authorize_post,
        authorize::login_form,
        authorize::login_submit,
        authorize::consent_submit,
        logout::end_session_get,
        logout::end_session_post,
        recovery::forgot_form,
        recovery::forgot_submit,
        recovery::reset_form,
        recovery::reset_submit,
        recovery::verify_form,
        recovery::verify_submit,
        discovery::openid_configuration,
        discovery::oauth_authorization_server,
        discovery::jwks,
        health::health,
        health::ready,
        account::sign_up,
        account::verify_email,
        account::me,
        account::update_me,
        account::change_password,
        account::resend_verification,
        account::logout,
        account::request_password_reset,
        account::complete_password_reset,
        admin::list_users,
        admin::get_user,
        admin::update_user,
        admin::delete_user,
        admin::list_roles,
        admin::create_role,
        admin::delete_role,
        admin::list_clients,
        admin::create_client,
        admin::get_client,
        admin::delete_client,
        admin::rotate_client_secret,
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "oauth", description = "OAuth 2.0 and OpenID Connect endpoints"),
        (name = "discovery", description = "Metadata and signing keys"),
        (name = "account", description = "Sign-up and the caller's own account"),
        (name = "admin", description = "Accounts and clients, for the admin role"),
        (name = "roles", description = "Roles and permissions"),
        (name = "health", description = "Liveness and readiness"),
        (name = "pages", description = "HTML pages for browsers: sign-in, consent, logout, password reset, email verification"),
    )
)]
struct ApiDoc;

/// The security schemes the paths name: client credentials and user access tokens.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("basic", SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)));
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.bearer_format = Some("JWT".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
    }
}

/// The document, with the issuer as its server.
pub fn openapi(issuer: &str) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.servers = Some(vec![Server::new(issuer)]);
    doc
}

/// `/openapi.json` and `/docs`.
pub fn routes(issuer: &str) -> Router<AppState> {
    SwaggerUi::new("/docs")
        .url("/openapi.json", openapi(issuer))
        .into()
}

/// The token request's form parameters (RFC 6749 §4.3.2, §4.4.2, §6). Client credentials go in
/// HTTP Basic or as `client_id`/`client_secret`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // describes a form for the document; the endpoint parses forms itself
pub struct TokenForm {
    /// `password`, `client_credentials` or `refresh_token`.
    grant_type: String,
    /// password grant: the user's email.
    username: Option<String>,
    /// password grant.
    password: Option<String>,
    /// refresh_token grant.
    refresh_token: Option<String>,
    /// Space-separated; by default everything the client is registered for.
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// The revocation and introspection form (RFC 7009 §2.1, RFC 7662 §2.1).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // describes a form for the document; the endpoints parse forms themselves
pub struct TokenParam {
    token: String,
    /// Not needed: the token's shape tells an access token from a refresh token.
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// An OAuth error (RFC 6749 §5.2, RFC 6750 §3.1).
#[derive(ToSchema)]
#[allow(dead_code)] // describes the body the error types write
pub struct OAuthErrorBody {
    error: String,
    error_description: String,
}
