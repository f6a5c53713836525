//! The signing keys' dates and public JWKs, shared by every replica, and the claim that lets one
//! replica rotate automatically while the others wait.

use sqlx::FromRow;

use crate::clock::UnixTime;
use crate::store::Db;

/// A row of `signing_keys`.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct KeyRow {
    pub kid: String,
    pub alg: String,
    pub public_jwk: String,
    pub created_at: UnixTime,
    pub activates_at: UnixTime,
    pub retired_at: Option<UnixTime>,
}

/// Every key, retired ones included.
pub async fn list(db: &Db) -> Result<Vec<KeyRow>, sqlx::Error> {
    sqlx::query_as(
        "select kid, alg, public_jwk, created_at, activates_at, retired_at from signing_keys
         order by activates_at, kid",
    )
    .fetch_all(db)
    .await
}

/// Records a key; a key recorded already (another replica was first) is left as it is.
pub async fn insert(db: &Db, row: &KeyRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into signing_keys (kid, alg, public_jwk, created_at, activates_at, retired_at)
         values ($1, $2, $3, $4, $5, $6) on conflict (kid) do nothing",
    )
    .bind(&row.kid)
    .bind(&row.alg)
    .bind(&row.public_jwk)
    .bind(row.created_at)
    .bind(row.activates_at)
    .bind(row.retired_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Moves a key's activation to `at`; false when no unretired key has that kid.
pub async fn activate(db: &Db, kid: &str, at: UnixTime) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("update signing_keys set activates_at = $2 where kid = $1 and retired_at is null")
        .bind(kid)
        .bind(at)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Retires a key at `at`; false when no unretired key has that kid.
pub async fn retire(db: &Db, kid: &str, at: UnixTime) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("update signing_keys set retired_at = $2 where kid = $1 and retired_at is null")
        .bind(kid)
        .bind(at)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Claims the automatic rotation of `alg` at `now` unless some replica claimed it after
/// `unless_after`. Exactly one of several replicas racing gets `true`: the upsert's row lock
/// (PostgreSQL) or the single writer (SQLite) serialises them, and the later ones find the claim
/// fresh.
pub async fn claim_rotation(
    db: &Db,
    alg: &str,
    now: UnixTime,
    unless_after: UnixTime,
) -> Result<bool, sqlx::Error> {
    let claimed: Option<String> = sqlx::query_scalar(
        "insert into key_rotations (alg, claimed_at) values ($1, $2)
         on conflict (alg) do update set claimed_at = excluded.claimed_at
         where key_rotations.claimed_at <= $3
         returning alg",
    )
    .bind(alg)
    .bind(now)
    .bind(unless_after)
    .fetch_optional(db)
    .await?;
    Ok(claimed.is_some())
}
