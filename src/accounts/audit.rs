//! The audit trail: one structured event per account or admin action, on the `keyward::audit`
//! target, naming the actor, the action, its target and the outcome. Never a secret.

use crate::accounts::ApiError;

/// Records `result` of `action` by `actor` on `target`, and hands it back.
pub fn record<T>(
    actor: &str,
    action: &'static str,
    target: &str,
    result: Result<T, ApiError>,
) -> Result<T, ApiError> {
    let outcome = match &result {
        Ok(_) => "success",
        Err(err) => err.code(),
    };
    tracing::info!(target: "keyward::audit", actor, action, "target" = target, outcome, "audit");
    result
}
