//! Sign-up: a new account with an email and a password, open or closed by configuration.

use std::net::IpAddr;

use serde::Deserialize;
use utoipa::ToSchema;

use crate::accounts::{ApiError, password_policy, request_limits, roles, verification};
use crate::app::AppState;
use crate::clock::UnixTime;
use crate::config::Signup;
use crate::crypto::password::{Password, PasswordHasher};
use crate::store::Db;
use crate::store::users::{self, CreateUserError, NewUser, User};

/// RFC 5321 §4.5.3.1.3 bounds a path to 256 octets, so an address fits in 254.
pub const MAX_EMAIL_CHARS: usize = 254;
/// The longest profile field.
pub const MAX_FIELD_CHARS: usize = 200;

/// `POST /api/v1/users`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUpRequest {
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// 8 to 128 characters, not a common password.
    #[schema(example = "correct horse battery staple")]
    pub password: String,
    #[schema(example = "Ada Lovelace")]
    pub name: Option<String>,
}

/// Creates the account, with the `user` role, and sends the verification email.
pub async fn sign_up(app: &AppState, req: SignUpRequest, address: Option<IpAddr>) -> Result<User, ApiError> {
    if app.config.signup == Signup::Closed {
        return Err(ApiError::Forbidden("sign-up is closed".into()));
    }
    // Counted before the password is hashed: a flood costs a row update each, not a hash.
    request_limits::count(app, &[request_limits::by_address("signup", address)]).await?;
    let account = NewAccount {
        email: req.email,
        password: Password::new(req.password),
        name: req.name,
        roles: vec!["user".to_owned()],
    };
    let user = match create_account(&app.db, &app.passwords, account, app.clock.now()).await {
        Err(ApiError::Conflict(_)) => {
            return Err(ApiError::Conflict("this email cannot be used to sign up".into()));
        }
        other => other?,
    };
    // The account exists either way; a mail failure is logged and the user can ask again.
    if let Err(e) = verification::send(app, &user).await {
        tracing::warn!(user_id = %user.id, error = %format!("{e:#}"), "sending the verification email failed");
    }
    Ok(user)
}

/// An account to create, before the rules are applied.
#[derive(Debug)]
pub struct NewAccount {
    pub email: String,
    pub password: Password,
    pub name: Option<String>,
    pub roles: Vec<String>,
}

/// Creates an account by the rules every way of making one shares (sign-up, the command line,
/// `serve --dev`): a valid email, an allowed name, the password policy, at most so many roles,
/// each of which must exist. The password is hashed before the insert, so a taken address
/// costs the same time as a new one.
pub async fn create_account(
    db: &Db,
    passwords: &PasswordHasher,
    account: NewAccount,
    now: UnixTime,
) -> Result<User, ApiError> {
    let email = valid_email(&account.email)?;
    let name = optional_field("name", account.name)?;
    password_policy::check(account.password.expose(), &email)?;
    roles::check_count(&account.roles)?;
    let hash = passwords.hash(account.password).await?;
    let created = users::create(
        db,
        NewUser {
            email: &email,
            password_hash: Some(hash),
            name: name.as_deref(),
            roles: &account.roles,
        },
        now,
    )
    .await;
    match created {
        Ok(user) => Ok(user),
        Err(CreateUserError::DuplicateEmail) => {
            Err(ApiError::Conflict("an account with this email exists".into()))
        }
        Err(CreateUserError::UnknownRole(role)) => Err(ApiError::invalid(format!("no role named {role:?}"))),
        Err(CreateUserError::Db(e)) => Err(e.into()),
    }
}

/// A trimmed email address of plausible shape (RFC 5322 addr-spec, as lettre parses it).
pub fn valid_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim();
    if email.is_empty() {
        return Err(ApiError::invalid("email is required"));
    }
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Err(ApiError::invalid(format!(
            "email must have at most {MAX_EMAIL_CHARS} characters"
        )));
    }
    email
        .parse::<lettre::Address>()
        .map_err(|_| ApiError::invalid("email is not a valid address"))?;
    Ok(email.to_owned())
}

/// A profile field: trimmed, empty meaning unset, at most [`MAX_FIELD_CHARS`] characters.
pub fn optional_field(field: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    let value = value.trim();
    if value.chars().count() > MAX_FIELD_CHARS {
        return Err(ApiError::invalid(format!(
            "{field} must have at most {MAX_FIELD_CHARS} characters"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok((!value.is_empty()).then(|| value.to_owned()))
}
