//! Accounts on top of the OAuth core: sign-up, email verification, the caller's own account,
//! roles, administration and the audit trail. Sign-in is the password grant; sign-out ends the
//! session (the refresh family).

/// Administering accounts.
pub mod admin;
/// The audit trail.
pub mod audit;
/// Who is calling: a live user access token.
pub mod caller;
/// Administering OAuth clients.
pub mod client_admin;
/// The API's error.
pub mod error;
/// The caller's profile, password and sessions.
pub mod me;
/// The password policy (NIST SP 800-63B).
pub mod password_policy;
/// Password reset through a link sent by email.
pub mod password_reset;
/// Request limits of the endpoints anyone may call.
pub mod request_limits;
/// Custom roles.
pub mod roles;
/// Creating accounts.
pub mod signup;
/// Email-verification links.
pub mod verification;
/// JSON shapes of accounts, roles and clients.
pub mod view;

pub use caller::Caller;
pub use error::ApiError;
