//! The administrators' listing of accounts: filtered, paged by id, two statements a page.

use std::collections::HashMap;

use super::{User, UserRow, normalize_email};
use crate::store::{Db, split_words};

/// Each role an account holds with the permissions it grants.
type Grants = Vec<(String, Vec<String>)>;

/// Which accounts a listing returns; every field narrows it.
#[derive(Debug, Default)]
pub struct UserFilter<'a> {
    /// A part of the email, compared case-insensitively.
    pub email: Option<&'a str>,
    pub role: Option<&'a str>,
    /// `active`, `disabled` or `deleted`; by default every account that is not deleted.
    pub status: Option<&'a str>,
    /// Only accounts whose id sorts after this one (ids are time-ordered): the page cursor.
    pub after: Option<&'a str>,
    pub limit: i64,
}

/// Accounts matching `filter`, oldest first.
pub async fn list(db: &Db, filter: &UserFilter<'_>) -> Result<Vec<User>, sqlx::Error> {
    let email = filter
        .email
        .map(|e| format!("%{}%", escape_like(&normalize_email(e))));
    let rows: Vec<UserRow> = sqlx::query_as(
        "select id, email, name, given_name, family_name, locale, status, email_verified, created_at,
                updated_at, deleted_at
         from users u
         where ($1 is null or email_normalized like $1 escape '\\')
           and ($2 is null or exists (select 1 from user_roles r where r.user_id = u.id and r.role = $2))
           and (($3 is null and deleted_at is null)
                or (case when deleted_at is null then status else 'deleted' end) = $3)
           and id > $4
         order by id
         limit $5",
    )
    .bind(email)
    .bind(filter.role)
    .bind(filter.status)
    .bind(filter.after.unwrap_or(""))
    .bind(filter.limit)
    .fetch_all(db)
    .await?;
    let ids: Vec<&str> = rows.iter().map(|row| row.id.as_str()).collect();
    let mut grants = grants_of(db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let held = grants.remove(&row.id).unwrap_or_default();
            row.into_user(held)
        })
        .collect())
}

/// The roles of several accounts, each with the permissions it grants, in one statement.
async fn grants_of(db: &Db, ids: &[&str]) -> Result<HashMap<String, Grants>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    // One placeholder per id (a page holds at most a few hundred): `in` with bound values is
    // the one list form both engines take through the Any driver.
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let statement = format!(
        "select ur.user_id, ur.role, r.permissions from user_roles ur left join roles r on r.name = ur.role
         where ur.user_id in ({}) order by ur.user_id, ur.role",
        placeholders.join(", ")
    );
    let mut query = sqlx::query_as::<_, (String, String, Option<String>)>(sqlx::AssertSqlSafe(statement));
    for id in ids {
        query = query.bind(*id);
    }
    let mut grants: HashMap<String, Grants> = HashMap::new();
    for (user, role, permissions) in query.fetch_all(db).await? {
        let permissions = split_words(permissions.as_deref().unwrap_or_default());
        grants.entry(user).or_default().push((role, permissions));
    }
    Ok(grants)
}

/// `%`, `_` and the escape character itself match literally.
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}
