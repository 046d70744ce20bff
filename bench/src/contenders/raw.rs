//! Raw sqlx 0.9, no library: SHA-256 of the token, then one point `SELECT` of the six columns
//! by the 64-hex digest (a unique text key) on a table equivalent to the library's:
//! `(id, digest, data, expires_at, user_id, inserted_at)`.

use std::ops::Range;
use std::sync::Arc;

use anyhow::Result;
use serde_json::Value;
use sqlx::query::Query;
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, Database, Executor, FromRow, IntoArguments};
use sqlx_sessions::Pool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{Bind, Db, DbKind, count_rows, insert_in_batches, insert_unnested, on_pool};
use crate::tokens;

/// Rows per multi-row `INSERT` on SQLite (6 parameters each).
const SQLITE_BATCH: usize = 500;

/// The raw sqlx contender on one table.
#[derive(Clone, Debug)]
pub struct Raw {
    table: Arc<str>,
    seed: u64,
    kind: DbKind,
    pool: Pool,
    lookup_sql: Arc<str>,
    insert_sql: Arc<str>,
}

type SqliteRow = (
    String,
    String,
    Json<Value>,
    Option<OffsetDateTime>,
    String,
    OffsetDateTime,
);
type PgRow = (
    Uuid,
    String,
    Json<Value>,
    Option<OffsetDateTime>,
    String,
    OffsetDateTime,
);

/// `(id, digest, data, expires_at, user_id, inserted_at)` as MySQL returns them (MariaDB's
/// `JSON` is a `LONGTEXT`: the text is parsed, as sqlx's `Json` does on SQLite).
type MysqlRow = (
    Uuid,
    String,
    String,
    Option<OffsetDateTime>,
    String,
    OffsetDateTime,
);

/// A row's values but its id and data, which each database stores its own way.
struct Row {
    digest: String,
    expires_at: OffsetDateTime,
    user_id: String,
    inserted_at: OffsetDateTime,
}

impl Row {
    /// `q` with `id`, `data` and this row's values bound, in the table's column order.
    fn bind<'q, DB>(
        self,
        q: Query<'q, DB, DB::Arguments>,
        id: impl Bind<DB>,
        data: impl Bind<DB>,
    ) -> Query<'q, DB, DB::Arguments>
    where
        DB: Database,
        String: Bind<DB>,
        OffsetDateTime: Bind<DB>,
    {
        q.bind(id)
            .bind(self.digest)
            .bind(data)
            .bind(self.expires_at)
            .bind(self.user_id)
            .bind(self.inserted_at)
    }
}

impl Raw {
    /// Opens (and creates if needed) the raw table `name` on `db`.
    pub async fn open(db: &Db, name: &str) -> Result<Self> {
        let table = format!("raw_{name}");
        let user_index = format!("CREATE INDEX IF NOT EXISTS {table}_user_id ON {table} (user_id)");
        let expiry_index =
            format!("CREATE INDEX IF NOT EXISTS {table}_expires_at ON {table} (expires_at)");
        let (pool, ddl) = match db.kind {
            DbKind::Sqlite => (
                Pool::Sqlite(db.sqlite_pool(&table).await?),
                vec![
                    format!(
                        "CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY NOT NULL, \
                         digest TEXT NOT NULL UNIQUE, data TEXT NOT NULL DEFAULT '{{}}', \
                         expires_at TEXT, user_id TEXT NOT NULL, inserted_at TEXT NOT NULL)"
                    ),
                    user_index,
                    expiry_index,
                ],
            ),
            DbKind::Postgres => (
                Pool::Postgres(db.pg_pool().await?),
                vec![
                    format!(
                        "CREATE TABLE IF NOT EXISTS {table} (id uuid PRIMARY KEY, \
                         digest text NOT NULL UNIQUE, data jsonb NOT NULL DEFAULT '{{}}', \
                         expires_at timestamptz, user_id text NOT NULL, \
                         inserted_at timestamptz NOT NULL DEFAULT now())"
                    ),
                    user_index,
                    expiry_index,
                ],
            ),
            DbKind::Mysql => (
                Pool::Mysql(db.mysql_pool().await?),
                vec![format!(
                    "CREATE TABLE IF NOT EXISTS {table} (id binary(16) PRIMARY KEY, \
                     digest char(64) NOT NULL UNIQUE, data json NOT NULL, \
                     expires_at datetime(6), user_id varchar(255) NOT NULL, \
                     inserted_at datetime(6) NOT NULL, \
                     INDEX {table}_user_id (user_id), INDEX {table}_expires_at (expires_at))"
                )],
            ),
        };
        for statement in ddl {
            on_pool!(&pool, p => {
                sqlx::query(AssertSqlSafe(statement)).execute(p).await?;
            });
        }
        let (lookup_sql, insert_sql) = statements(db.kind, &table);
        Ok(Self {
            seed: tokens::seed_for(&table),
            table: table.into(),
            kind: db.kind,
            pool,
            lookup_sql: lookup_sql.into(),
            insert_sql: insert_sql.into(),
        })
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The token of row `i`.
    pub fn token(&self, i: u64) -> String {
        tokens::token(self.seed, i)
    }

    /// Inserts rows `range` with the given expiry, in large transactions.
    pub async fn fill(&self, range: Range<u64>, expires_at: OffsetDateTime) -> Result<()> {
        let now = OffsetDateTime::now_utc();
        let sql = |n| multi_row_insert(&self.table, n);
        let data = |i| format!("{{\"user_id\":\"u{i}\"}}");
        match &self.pool {
            // The same multi-row inserts, but for the id: text on SQLite.
            Pool::Sqlite(pool) => {
                insert_in_batches(pool, range, SQLITE_BATCH, sql, |q, i| {
                    let id = Uuid::new_v4().to_string();
                    self.bulk_row(i, expires_at, now).bind(q, id, data(i))
                })
                .await
            }
            Pool::Mysql(pool) => {
                insert_in_batches(pool, range, SQLITE_BATCH, sql, |q, i| {
                    self.bulk_row(i, expires_at, now)
                        .bind(q, Uuid::new_v4(), data(i))
                })
                .await
            }
            Pool::Postgres(pool) => {
                let sql = format!(
                    "INSERT INTO {} (id, digest, data, expires_at, user_id, inserted_at) \
                     SELECT gen_random_uuid(), d, jsonb_build_object('user_id', 'u' || ($2 + o - 1)), \
                     $3 - make_interval(secs => (($2 + o - 1) % {})::float8), 'u' || ($2 + o - 1), now() \
                     FROM UNNEST($1::text[]) WITH ORDINALITY AS u(d, o)",
                    self.table,
                    super::EXPIRY_SPREAD_SECS
                );
                let digest = |i| tokens::sha256_hex(&self.token(i));
                insert_unnested(pool, sql.into(), range, expires_at, digest).await
            }
            other => anyhow::bail!("no SQL for {}", other.kind()),
        }
    }

    /// Bulk row `i`, expiring at `expires_at` less its spread, inserted at `now`.
    fn bulk_row(&self, i: u64, expires_at: OffsetDateTime, now: OffsetDateTime) -> Row {
        Row {
            digest: tokens::sha256_hex(&self.token(i)),
            expires_at: super::row_expiry(expires_at, i),
            user_id: format!("u{i}"),
            inserted_at: now,
        }
    }

    /// Looks a token up: hash, then one `SELECT`; true when a valid row came back.
    pub async fn lookup(&self, token: &str) -> Result<bool> {
        let digest = tokens::sha256_hex(token);
        let now = OffsetDateTime::now_utc();
        let sql = AssertSqlSafe(self.lookup_sql.clone());
        let found = match &self.pool {
            Pool::Sqlite(pool) => {
                let row: Option<SqliteRow> = fetch_valid(pool, sql, digest, now).await?;
                std::hint::black_box(row).is_some()
            }
            Pool::Postgres(pool) => {
                let row: Option<PgRow> = fetch_valid(pool, sql, digest, now).await?;
                std::hint::black_box(row).is_some()
            }
            Pool::Mysql(pool) => {
                let row: Option<MysqlRow> = fetch_valid(pool, sql, digest, now).await?;
                let data = row
                    .map(|r| serde_json::from_str::<Value>(&r.2))
                    .transpose()?;
                std::hint::black_box(data).is_some()
            }
            other => anyhow::bail!("no SQL for {}", other.kind()),
        };
        Ok(found)
    }

    /// Creates one session with a fresh random token (one `INSERT`); returns the token.
    pub async fn create(&self, n: u64) -> Result<String> {
        let token = tokens::random_token();
        let now = OffsetDateTime::now_utc();
        let row = Row {
            digest: tokens::sha256_hex(&token),
            expires_at: now + time::Duration::days(7),
            user_id: format!("c{n}"),
            inserted_at: now,
        };
        let data = format!("{{\"user_id\":\"c{n}\"}}");
        let sql = AssertSqlSafe(self.insert_sql.clone());
        match &self.pool {
            Pool::Sqlite(pool) => {
                let q = row.bind(sqlx::query(sql), Uuid::new_v4().to_string(), data);
                q.execute(pool).await?;
            }
            Pool::Postgres(pool) => {
                let data: Value = serde_json::from_str(&data)?;
                let q = row.bind(sqlx::query(sql), Uuid::new_v4(), Json(data));
                q.execute(pool).await?;
            }
            Pool::Mysql(pool) => {
                let q = row.bind(sqlx::query(sql), Uuid::new_v4(), data);
                q.execute(pool).await?;
            }
            other => anyhow::bail!("no SQL for {}", other.kind()),
        }
        Ok(token)
    }

    /// Deletes every expired row in one statement (the table has an index on `expires_at`).
    pub async fn delete_expired(&self) -> Result<u64> {
        let now = OffsetDateTime::now_utc();
        let sql = format!(
            "DELETE FROM {} WHERE expires_at < {}",
            self.table,
            self.kind.param(1)
        );
        let done = on_pool!(&self.pool, p => sqlx::query(AssertSqlSafe(sql))
            .bind(now)
            .execute(p)
            .await?
            .rows_affected());
        Ok(done)
    }

    /// Rows in the table.
    pub async fn count(&self) -> Result<u64> {
        count_rows(&self.pool, &self.table).await
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The lookup and the single-row insert of table `table` on `kind`.
fn statements(kind: DbKind, table: &str) -> (String, String) {
    let param = |i| kind.param(i);
    let lookup = format!(
        "SELECT id, digest, data, expires_at, user_id, inserted_at FROM {table} \
         WHERE digest = {} AND (expires_at IS NULL OR expires_at > {})",
        param(1),
        param(2)
    );
    let insert = format!(
        "INSERT INTO {table} (id, digest, data, expires_at, user_id, inserted_at) VALUES ({})",
        (1..=6).map(param).collect::<Vec<_>>().join(", ")
    );
    (lookup, insert)
}

/// The row of digest `digest` valid at `now`, by the lookup statement `sql`.
async fn fetch_valid<DB, R>(
    pool: &sqlx::Pool<DB>,
    sql: AssertSqlSafe<Arc<str>>,
    digest: String,
    now: OffsetDateTime,
) -> Result<Option<R>>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    R: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
    String: Bind<DB>,
    OffsetDateTime: Bind<DB>,
{
    let row = sqlx::query_as(sql)
        .bind(digest)
        .bind(now)
        .fetch_optional(pool)
        .await?;
    Ok(row)
}

/// A multi-row `INSERT` of `n` rows into the raw table (`?` placeholders: SQLite and MySQL).
fn multi_row_insert(table: &str, n: usize) -> String {
    let mut sql =
        format!("INSERT INTO {table} (id, digest, data, expires_at, user_id, inserted_at) VALUES ");
    sql.push_str(&vec!["(?, ?, ?, ?, ?, ?)"; n].join(", "));
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_use_each_databases_placeholders() {
        let select = "SELECT id, digest, data, expires_at, user_id, inserted_at FROM raw_t WHERE";
        let insert =
            "INSERT INTO raw_t (id, digest, data, expires_at, user_id, inserted_at) VALUES";
        for (kind, lookup_params, insert_params) in [
            (DbKind::Sqlite, ("?1", "?2"), "?1, ?2, ?3, ?4, ?5, ?6"),
            (DbKind::Postgres, ("$1", "$2"), "$1, $2, $3, $4, $5, $6"),
            (DbKind::Mysql, ("?", "?"), "?, ?, ?, ?, ?, ?"),
        ] {
            let (a, b) = lookup_params;
            assert_eq!(
                statements(kind, "raw_t"),
                (
                    format!("{select} digest = {a} AND (expires_at IS NULL OR expires_at > {b})"),
                    format!("{insert} ({insert_params})"),
                ),
                "{kind:?}"
            );
        }
    }
}
