//! The JSON shapes of accounts, roles and clients in the API (and `--json` on the command line).
//! No hash or secret is ever part of them.

use serde::Serialize;
use utoipa::ToSchema;

use crate::store::clients::Client;
use crate::store::roles::Role;
use crate::store::users::User;

/// An account.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// The user id: `sub` in the user's tokens.
    pub id: String,
    pub email: String,
    pub email_verified: bool,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub locale: Option<String>,
    /// `active`, `disabled` or `deleted`.
    pub status: &'static str,
    pub roles: Vec<String>,
    /// Every permission the roles grant.
    pub permissions: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<i64>,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        UserView {
            status: match user.deleted_at {
                Some(_) => "deleted",
                None => user.status.as_str(),
            },
            id: user.id,
            email: user.email,
            email_verified: user.email_verified,
            name: user.profile.name,
            given_name: user.profile.given_name,
            family_name: user.profile.family_name,
            locale: user.profile.locale,
            roles: user.roles,
            permissions: user.permissions,
            created_at: user.created_at,
            updated_at: user.updated_at,
            deleted_at: user.deleted_at,
        }
    }
}

/// One page of accounts.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub users: Vec<UserView>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// A role.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleView {
    pub name: String,
    pub permissions: Vec<String>,
    /// Built-in roles (`user`, `staff`, `admin`) cannot be deleted.
    pub builtin: bool,
}

impl From<Role> for RoleView {
    fn from(role: Role) -> Self {
        RoleView {
            name: role.name,
            permissions: role.permissions,
            builtin: role.builtin,
        }
    }
}

/// A registered OAuth client.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientView {
    pub client_id: String,
    pub name: String,
    /// A public client has no secret.
    pub public: bool,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// The operator's own application: users are not asked for consent.
    pub first_party: bool,
    pub created_at: i64,
}

impl From<Client> for ClientView {
    fn from(c: Client) -> Self {
        ClientView {
            public: c.is_public(),
            client_id: c.id,
            name: c.name,
            grant_types: c.grant_types,
            scopes: c.scopes,
            redirect_uris: c.redirect_uris,
            post_logout_redirect_uris: c.post_logout_redirect_uris,
            first_party: c.first_party,
            created_at: c.created_at,
        }
    }
}

/// A client's credentials, shown once when they are made.
#[derive(Serialize, ToSchema)]
pub struct ClientCredentialsView {
    pub client_id: String,
    /// Absent for a public client. keyward keeps only its hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}
