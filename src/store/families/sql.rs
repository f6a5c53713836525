//! Refresh families in SQL: rotation and reuse detection in one transaction, with the rotation
//! itself a single compare-and-set `update`, so concurrent presentations of one token serialise
//! on the row and exactly one wins.

use std::future::Future;
use std::sync::Arc;

use sqlx::FromRow;

use super::{Family, FamilyStore, Lifetimes, NewFamily, Presented, RefreshToken, Rotation};
use crate::clock::UnixTime;
use crate::crypto::token::TokenHash;
use crate::store::Db;
use crate::store::inline_reads::InlineReads;

use super::live_tokens::LiveTokens;

/// Families in the application database.
#[derive(Clone)]
pub struct SqlFamilies {
    db: Db,
    /// On SQLite, writers queue here instead of in SQLite's busy handler, whose sleeps (up to
    /// 100 ms each) put seconds into the tail latency of concurrent refreshes. SQLite allows one
    /// writer at a time anyway; PostgreSQL needs no such queue.
    writes: Option<Arc<tokio::sync::Mutex<()>>>,
    /// On SQLite, the liveness check of bearer requests reads inline.
    inline: Option<Arc<InlineReads>>,
    /// On SQLite, access tokens found live, until the next commit of any process.
    live: Arc<LiveTokens>,
}

impl SqlFamilies {
    /// Families in `db`; `inline`, the process's inline SQLite reads, if any.
    pub fn new(db: Db, inline: Option<Arc<InlineReads>>) -> Self {
        let sqlite = crate::store::is_sqlite_pool(&db);
        Self {
            db,
            writes: sqlite.then(Default::default),
            inline,
            live: Arc::default(),
        }
    }

    /// Runs `work` in this process's write turn (on SQLite; at once elsewhere).
    async fn in_turn<T>(&self, work: impl Future<Output = T>) -> T {
        let Some(writes) = &self.writes else {
            return work.await;
        };
        let turn = writes.lock().await;
        let done = work.await;
        drop(turn);
        // Releasing the turn wakes the next writer into this worker thread's LIFO slot, which
        // other workers cannot steal: it would wait for whatever this task does next (signing
        // two tokens, half a millisecond), and every turn would last that long. Yielding lets
        // it take the turn now; measured, this alone doubled refresh throughput on SQLite.
        tokio::task::yield_now().await;
        done
    }
}

/// The family columns, unqualified (as `returning` needs them)...
macro_rules! columns {
    () => {
        "id, user_id, client_id, scope, auth_time, absolute_expires_at, rotated_at, generation, status, signin_id"
    };
}
/// ...and qualified, for joins.
macro_rules! f_columns {
    () => {
        "f.id, f.user_id, f.client_id, f.scope, f.auth_time, f.absolute_expires_at, f.rotated_at, f.generation, f.status, f.signin_id"
    };
}

#[derive(FromRow)]
struct FamilyRow {
    id: String,
    user_id: String,
    client_id: String,
    scope: String,
    auth_time: i64,
    absolute_expires_at: i64,
    rotated_at: i64,
    generation: i64,
    status: String,
    signin_id: Option<String>,
}

impl From<FamilyRow> for Family {
    fn from(row: FamilyRow) -> Self {
        Family {
            id: row.id,
            user_id: row.user_id,
            client_id: row.client_id,
            scope: row.scope,
            auth_time: row.auth_time,
            absolute_expires_at: row.absolute_expires_at,
            rotated_at: row.rotated_at,
            generation: row.generation,
            active: row.status == "active",
            signin_id: row.signin_id,
        }
    }
}

#[derive(FromRow)]
struct PresentedRow {
    #[sqlx(flatten)]
    family: FamilyRow,
    current_hash: Option<String>,
    previous_hash: Option<String>,
    /// When the presented token stopped being current; null while current, or if that was
    /// before migration 20261206000006.
    replaced_at: Option<i64>,
}

impl FamilyStore for SqlFamilies {
    async fn create(&self, family: NewFamily<'_>, now: UnixTime) -> anyhow::Result<()> {
        // The first refresh token is recorded by a trigger (migration 20261205000005).
        let insert = sqlx::query(
            "insert into families (id, user_id, client_id, scope, auth_time, created_at, absolute_expires_at,
                                   current_hash, generation, rotated_at, signin_id)
             values ($1, $2, $3, $4, $5, $6, $7, $8, 0, $6, $9)",
        )
        .bind(family.id)
        .bind(family.user_id)
        .bind(family.client_id)
        .bind(family.scope)
        .bind(family.auth_time)
        .bind(now)
        .bind(family.absolute_expires_at)
        .bind(family.refresh.map(TokenHash::as_str))
        .bind(family.signin_id)
        .execute(&self.db);
        self.in_turn(insert).await?;
        Ok(())
    }

    async fn rotate(
        &self,
        presented: &RefreshToken,
        successor: &TokenHash,
        client_id: &str,
        now: UnixTime,
        lifetimes: Lifetimes,
    ) -> anyhow::Result<Rotation> {
        self.in_turn(rotate_in(
            &self.db, presented, successor, client_id, now, lifetimes,
        ))
        .await
    }

    async fn find_by_token(&self, token: &RefreshToken) -> anyhow::Result<Option<Presented>> {
        let found = find_presented(&self.db, token).await?;
        Ok(found.map(|row| Presented {
            current: row.current_hash.as_deref() == Some(token.hash.as_str()),
            family: Family::from(row.family),
        }))
    }

    async fn find(&self, id: &str) -> anyhow::Result<Option<Family>> {
        let row: Option<FamilyRow> =
            sqlx::query_as(concat!("select ", columns!(), " from families where id = $1"))
                .bind(id)
                .fetch_optional(&self.db)
                .await?;
        Ok(row.map(Family::from))
    }

    async fn revoke(&self, id: &str, reason: &str, now: UnixTime) -> anyhow::Result<bool> {
        Ok(self.in_turn(revoke_in(&self.db, id, reason, now)).await?)
    }

    async fn revoke_user(
        &self,
        user_id: &str,
        except: Option<&str>,
        reason: &str,
        now: UnixTime,
    ) -> anyhow::Result<u64> {
        let update = sqlx::query(
            "update families set status = 'revoked', revoked_reason = $2, revoked_at = $3
             where user_id = $1 and status = 'active' and id <> $4",
        )
        .bind(user_id)
        .bind(reason)
        .bind(now)
        .bind(except.unwrap_or(""))
        .execute(&self.db);
        let done = self.in_turn(update).await?;
        Ok(done.rows_affected())
    }

    async fn revoke_signin(&self, signin_id: &str, reason: &str, now: UnixTime) -> anyhow::Result<u64> {
        let update = sqlx::query(
            "update families set status = 'revoked', revoked_reason = $2, revoked_at = $3
             where signin_id = $1 and status = 'active'",
        )
        .bind(signin_id)
        .bind(reason)
        .bind(now)
        .execute(&self.db);
        let done = self.in_turn(update).await?;
        Ok(done.rows_affected())
    }

    async fn deny_access_token(
        &self,
        jti: &str,
        _sid: Option<&str>,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> anyhow::Result<()> {
        let deny = async {
            let mut tx = self.db.begin().await?;
            sqlx::query(
                "insert into access_denylist (jti, expires_at) values ($1, $2)
                 on conflict (jti) do update set expires_at = excluded.expires_at",
            )
            .bind(jti)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
            // Entries past their token's expiry protect nothing; revocations are rare, so
            // pruning here keeps the table at the size of the live denylist.
            sqlx::query("delete from access_denylist where expires_at <= $1")
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        };
        self.in_turn(deny).await?;
        Ok(())
    }

    async fn access_token_live(&self, jti: &str, sid: Option<&str>, now: UnixTime) -> anyhow::Result<bool> {
        // Read before the liveness: an answer is remembered only at a commit it already saw.
        let at = self.inline.as_ref().and_then(|inline| inline.commit());
        if let Some(at) = at
            && self.live.contains(at, jti, sid)
        {
            return Ok(true);
        }
        let inline = self.inline.as_ref().and_then(|inline| {
            inline.read("select (select count(*) from access_denylist …", |c| {
                c.prepare_cached(ACCESS_TOKEN_LIVE)?.query_row(
                    rusqlite::named_params! { "$1": jti, "$2": sid, "$3": now },
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
            })
        });
        let (denied, live_sessions): (i64, i64) = match inline {
            Some(counts) => counts,
            None => {
                sqlx::query_as(ACCESS_TOKEN_LIVE)
                    .bind(jti)
                    .bind(sid)
                    .bind(now)
                    .fetch_one(&self.db)
                    .await?
            }
        };
        let live = denied == 0 && (sid.is_none() || live_sessions == 1);
        // Only a live answer is kept: without a commit it stays true as time passes (a denylist
        // entry only expires), where a refusal could turn with the clock.
        if live && let Some(at) = at {
            self.live.insert(at, jti, sid);
        }
        Ok(live)
    }
}

/// The rotation itself (see [`FamilyStore::rotate`]), in the write turn.
async fn rotate_in(
    db: &Db,
    presented: &RefreshToken,
    successor: &TokenHash,
    client_id: &str,
    now: UnixTime,
    lifetimes: Lifetimes,
) -> anyhow::Result<Rotation> {
    // The compare-and-set: matches only while `presented` is current, so of several
    // concurrent presentations exactly one updates the row. It is the whole rotation: a
    // trigger records the successor in `refresh_tokens` within the same statement
    // (migration 20261205000005), so it needs no transaction around it.
    let rotated: Option<FamilyRow> = sqlx::query_as(concat!(
        "update families set previous_hash = current_hash, current_hash = $2,
                generation = generation + 1, rotated_at = $4
         where current_hash = $1 and client_id = $3 and status = 'active'
           and absolute_expires_at > $4 and rotated_at > $4 - $5
         returning ",
        columns!()
    ))
    .bind(presented.hash.as_str())
    .bind(successor.as_str())
    .bind(client_id)
    .bind(now)
    .bind(lifetimes.idle)
    .fetch_optional(db)
    .await?;
    if let Some(row) = rotated {
        return Ok(Rotation::Rotated(Family::from(row)));
    }

    // Not current. What follows needs no transaction either: a token that is not current
    // can never become current again, and each change below is a compare-and-set of its own.
    let Some(found) = find_presented(db, presented).await? else {
        return Ok(Rotation::Invalid);
    };
    let is_previous = found.previous_hash.as_deref() == Some(presented.hash.as_str());
    let is_current = found.current_hash.as_deref() == Some(presented.hash.as_str());
    let family = Family::from(found.family);
    // Another client's token, a dead session or an expired chain: refuse, change nothing.
    if family.client_id != client_id || !family.refreshable(now, lifetimes) || is_current {
        return Ok(Rotation::Invalid);
    }
    // A token replaced less than the leeway ago: a response that was lost, or a stale duplicate
    // of a request that ran late (a paused process) after the client had moved on. It gets a
    // successor, which becomes the one current token (compare-and-set on the current token
    // seen); the token it replaces is stamped by the trigger and starts its own leeway. Before
    // migration 20261206000006 only the previous token's time was known: the rotation's.
    let replaced_at = found.replaced_at.or(is_previous.then_some(family.rotated_at));
    if let Some(replaced_at) = replaced_at
        && now < replaced_at.saturating_add(lifetimes.leeway)
    {
        if found.replaced_at.is_none() {
            // The fallback's time is the family's, which the rotation below moves on: stamp the
            // token with it first, or each replay would restart its own window.
            sqlx::query("update refresh_tokens set replaced_at = $1 where hash = $2 and replaced_at is null")
                .bind(replaced_at)
                .bind(presented.hash.as_str())
                .execute(db)
                .await?;
        }
        let rotated: Option<FamilyRow> = sqlx::query_as(concat!(
            "update families set previous_hash = $3, current_hash = $2,
                    generation = generation + 1, rotated_at = $5
             where id = $1 and current_hash = $4 and status = 'active'
             returning ",
            columns!()
        ))
        .bind(&family.id)
        .bind(successor.as_str())
        .bind(presented.hash.as_str())
        .bind(found.current_hash.as_deref())
        .bind(now)
        .fetch_optional(db)
        .await?;
        return Ok(rotated.map_or(Rotation::Invalid, |row| Rotation::Rotated(Family::from(row))));
    }
    // A token replaced earlier than that, presented again: someone holds a copy. The legitimate
    // client and the thief cannot be told apart, so the whole session ends (OAuth 2.0 Security
    // BCP §4.14.2).
    revoke_in(db, &family.id, "refresh token reuse", now).await?;
    Ok(Rotation::Reused(Family {
        active: false,
        ..family
    }))
}

/// Whether an access token's jti is denied, and whether its session is live: `$1` jti, `$2`
/// sid, `$3` now.
const ACCESS_TOKEN_LIVE: &str =
    "select (select count(*) from access_denylist where jti = $1 and expires_at > $3),
        (select count(*) from families where id = $2 and status = 'active')";

/// The family that issued `token`, with its current and previous hashes.
async fn find_presented<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    token: &RefreshToken,
) -> Result<Option<PresentedRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "select ",
        f_columns!(),
        ", f.current_hash, f.previous_hash, t.replaced_at
         from refresh_tokens t join families f on f.id = t.family_id
         where t.hash = $1 and t.family_id = $2"
    ))
    .bind(token.hash.as_str())
    .bind(&token.family_id)
    .fetch_optional(executor)
    .await
}

async fn revoke_in<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    id: &str,
    reason: &str,
    now: UnixTime,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update families set status = 'revoked', revoked_reason = $2, revoked_at = $3
         where id = $1 and status = 'active'",
    )
    .bind(id)
    .bind(reason)
    .bind(now)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}
