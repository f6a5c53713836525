//! The caller's own account: profile, password, sign-out.

use std::net::IpAddr;

use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;

use crate::accounts::signup::optional_field;
use crate::accounts::{ApiError, Caller, password_policy};
use crate::app::AppState;
use crate::crypto::password::Password;
use crate::oauth::{OAuthError, login, signin};
use crate::store::families::FamilyStore;
use crate::store::users::{self, User};

/// `PATCH /api/v1/users/me`: a field left out stays, `null` or `""` clears it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, example = "Ada Lovelace")]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub given_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub family_name: Option<Option<String>>,
    /// A BCP 47 language tag, such as `en-GB`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, example = "en-GB")]
    pub locale: Option<Option<String>>,
}

/// Tells a field sent as `null` (`Some(None)`) from a field not sent (`None`, the default).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Applies `patch` to the caller's profile.
pub async fn update_profile(app: &AppState, caller: &Caller, patch: ProfilePatch) -> Result<User, ApiError> {
    let mut profile = caller.user.profile.clone();
    let fields = [
        ("name", patch.name, &mut profile.name),
        ("given_name", patch.given_name, &mut profile.given_name),
        ("family_name", patch.family_name, &mut profile.family_name),
        ("locale", patch.locale, &mut profile.locale),
    ];
    for (field, value, slot) in fields {
        if let Some(value) = value {
            *slot = optional_field(field, value)?;
        }
    }
    if let Some(locale) = &profile.locale
        && !is_language_tag(locale)
    {
        return Err(ApiError::invalid(
            "locale must be a BCP 47 language tag such as en-GB",
        ));
    }
    users::set_profile(&app.db, &caller.user.id, &profile, app.clock.now()).await?;
    app.users.forget(&caller.user.id);
    users::find(&app.db, &caller.user.id)
        .await?
        .ok_or_else(|| ApiError::not_found("the account no longer exists"))
}

/// The shape of RFC 5646 tags: alphanumeric subtags of 1 to 8 characters joined by hyphens,
/// the first alphabetic.
fn is_language_tag(tag: &str) -> bool {
    let mut subtags = tag.split('-');
    subtags
        .next()
        .is_some_and(|first| (2..=8).contains(&first.len()) && first.bytes().all(|b| b.is_ascii_alphabetic()))
        && subtags.all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// `PUT /api/v1/users/me/password`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// Checks the current password (throttled like sign-in), sets the new one and ends every other
/// session of the user; the caller's own session goes on.
pub async fn change_password(
    app: &AppState,
    caller: &Caller,
    address: Option<IpAddr>,
    change: PasswordChange,
) -> Result<(), ApiError> {
    let user = &caller.user;
    // A stolen access token must not become a way to guess the password: the check is the
    // sign-in's, with its lockout.
    let checked =
        login::check_password(app, &user.email, Password::new(change.current_password), address).await;
    match checked {
        Ok(_) => {}
        Err(OAuthError::InvalidGrant(_)) => {
            return Err(ApiError::Forbidden("the current password is wrong".into()));
        }
        Err(other) => return Err(other.into()),
    }
    password_policy::check(&change.new_password, &user.email)?;
    let hash = app.passwords.hash(Password::new(change.new_password)).await?;
    let now = app.clock.now();
    users::set_password_hash(&app.db, &user.id, &hash, now).await?;
    let ended = signin::end_all(app, &user.id, Some(caller.session()), "password changed").await?;
    tracing::info!(user_id = %user.id, ended, "password changed; other sessions ended");
    Ok(())
}

/// `POST /api/v1/logout`: ends the caller's session, or with `all`, every session of the user.
pub async fn logout(app: &AppState, caller: &Caller, all: bool) -> Result<u64, ApiError> {
    let now = app.clock.now();
    if all {
        return Ok(signin::end_all(app, &caller.user.id, None, "signed out everywhere").await?);
    }
    Ok(u64::from(
        app.families.revoke(caller.session(), "signed out", now).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_tags_have_the_rfc_5646_shape() {
        for ok in ["en", "en-GB", "zh-Hant-TW", "de-CH-1996"] {
            assert!(is_language_tag(ok), "{ok}");
        }
        for bad in ["", "e", "en_GB", "en-", "-en", "waytoolongtag", "12-ab"] {
            assert!(!is_language_tag(bad), "{bad}");
        }
    }
}
