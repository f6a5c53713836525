//! A schema of its own in the PostgreSQL database the benchmark is given, so that a run needs no
//! preparation, starts empty, and leaves nothing behind.

use keyward::store;

pub struct Schema {
    base: String,
    name: String,
}

impl Schema {
    /// Creates `kwbench_<pid>` in the database `base` names (which must exist; `postgres` does).
    pub async fn create(base: &str) -> Self {
        let name = format!("kwbench_{}", std::process::id());
        let schema = Self {
            base: base.to_owned(),
            name,
        };
        schema
            .execute(&format!(
                "drop schema if exists {0} cascade; create schema {0}",
                schema.name
            ))
            .await;
        schema
    }

    /// The database URL that selects this schema.
    pub fn url(&self) -> String {
        let separator = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{separator}options=-c%20search_path%3D{}", self.base, self.name)
    }

    pub async fn drop(self) {
        self.execute(&format!("drop schema {} cascade", self.name)).await;
    }

    async fn execute(&self, statements: &str) {
        let db = store::connect(&self.base)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {}: {e:#}", self.base));
        for statement in statements.split("; ") {
            sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
                .execute(&db)
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e:#}"));
        }
        db.close().await;
    }
}
