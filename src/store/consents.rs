//! Consent: the scopes a user has granted a client, remembered so that they are asked once.

use crate::clock::UnixTime;
use crate::store::{Db, join_words, split_words};

/// The scopes `user_id` has granted `client_id`; empty when none.
pub async fn granted(db: &Db, user_id: &str, client_id: &str) -> Result<Vec<String>, sqlx::Error> {
    let scope: Option<String> =
        sqlx::query_scalar("select scope from consents where user_id = $1 and client_id = $2")
            .bind(user_id)
            .bind(client_id)
            .fetch_optional(db)
            .await?;
    Ok(scope.as_deref().map(split_words).unwrap_or_default())
}

/// Remembers that `user_id` granted `client_id` the scopes `scope` (replacing what was there:
/// the caller passes the union).
pub async fn grant(
    db: &Db,
    user_id: &str,
    client_id: &str,
    scope: &[String],
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into consents (user_id, client_id, scope, updated_at) values ($1, $2, $3, $4)
         on conflict (user_id, client_id) do update set scope = excluded.scope, updated_at = excluded.updated_at",
    )
    .bind(user_id)
    .bind(client_id)
    .bind(join_words(scope))
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}
