//! Raw sqlx 0.9, no library: SHA-256 of the token, then one point `SELECT` of the six columns
//! by the 64-hex digest (a unique text key) on a table equivalent to the library's:
//! `(id, digest, data, expires_at, user_id, inserted_at)`.

use std::ops::Range;
use std::sync::Arc;

use anyhow::Result;
use serde_json::Value;
use sqlx::AssertSqlSafe;
use sqlx::types::Json;
use sqlx_sessions::Pool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{Db, DbKind};
use crate::tokens;

/// Rows per multi-row `INSERT` on SQLite (6 parameters each).
const SQLITE_BATCH: usize = 500;
/// Rows per `UNNEST` insert on PostgreSQL.
const PG_BATCH: usize = 10_000;

/// The raw sqlx contender on one table.
#[derive(Clone, Debug)]
pub struct Raw {
    table: Arc<str>,
    seed: u64,
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

impl Raw {
    /// Opens (and creates if needed) the raw table `name` on `db`.
    pub async fn open(db: &Db, name: &str) -> Result<Self> {
        let table = format!("raw_{name}");
        let pool = match db.kind {
            DbKind::Sqlite => {
                let pool = db.sqlite_pool(&table).await?;
                for ddl in [
                    format!(
                        "CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY NOT NULL, \
                         digest TEXT NOT NULL UNIQUE, data TEXT NOT NULL DEFAULT '{{}}', \
                         expires_at TEXT, user_id TEXT NOT NULL, inserted_at TEXT NOT NULL)"
                    ),
                    format!("CREATE INDEX IF NOT EXISTS {table}_user_id ON {table} (user_id)"),
                    format!(
                        "CREATE INDEX IF NOT EXISTS {table}_expires_at ON {table} (expires_at)"
                    ),
                ] {
                    sqlx::query(AssertSqlSafe(ddl)).execute(&pool).await?;
                }
                Pool::Sqlite(pool)
            }
            DbKind::Postgres => {
                let pool = db.pg_pool().await?;
                for ddl in [
                    format!(
                        "CREATE TABLE IF NOT EXISTS {table} (id uuid PRIMARY KEY, \
                         digest text NOT NULL UNIQUE, data jsonb NOT NULL DEFAULT '{{}}', \
                         expires_at timestamptz, user_id text NOT NULL, \
                         inserted_at timestamptz NOT NULL DEFAULT now())"
                    ),
                    format!("CREATE INDEX IF NOT EXISTS {table}_user_id ON {table} (user_id)"),
                    format!(
                        "CREATE INDEX IF NOT EXISTS {table}_expires_at ON {table} (expires_at)"
                    ),
                ] {
                    sqlx::query(AssertSqlSafe(ddl)).execute(&pool).await?;
                }
                Pool::Postgres(pool)
            }
            DbKind::Mysql => {
                let pool = db.mysql_pool().await?;
                let ddl = format!(
                    "CREATE TABLE IF NOT EXISTS {table} (id binary(16) PRIMARY KEY, \
                     digest char(64) NOT NULL UNIQUE, data json NOT NULL, \
                     expires_at datetime(6), user_id varchar(255) NOT NULL, \
                     inserted_at datetime(6) NOT NULL, \
                     INDEX {table}_user_id (user_id), INDEX {table}_expires_at (expires_at))"
                );
                sqlx::query(AssertSqlSafe(ddl)).execute(&pool).await?;
                Pool::Mysql(pool)
            }
        };
        let (lookup_sql, insert_sql) = match pool {
            Pool::Sqlite(_) => (
                format!(
                    "SELECT id, digest, data, expires_at, user_id, inserted_at FROM {table} \
                     WHERE digest = ?1 AND (expires_at IS NULL OR expires_at > ?2)"
                ),
                format!(
                    "INSERT INTO {table} (id, digest, data, expires_at, user_id, inserted_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                ),
            ),
            Pool::Postgres(_) => (
                format!(
                    "SELECT id, digest, data, expires_at, user_id, inserted_at FROM {table} \
                     WHERE digest = $1 AND (expires_at IS NULL OR expires_at > $2)"
                ),
                format!(
                    "INSERT INTO {table} (id, digest, data, expires_at, user_id, inserted_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)"
                ),
            ),
            Pool::Mysql(_) => (
                format!(
                    "SELECT id, digest, data, expires_at, user_id, inserted_at FROM {table} \
                     WHERE digest = ? AND (expires_at IS NULL OR expires_at > ?)"
                ),
                format!(
                    "INSERT INTO {table} (id, digest, data, expires_at, user_id, inserted_at) \
                     VALUES (?, ?, ?, ?, ?, ?)"
                ),
            ),
            other => anyhow::bail!("no SQL for {}", other.kind()),
        };
        Ok(Self {
            seed: tokens::seed_for(&table),
            table: table.into(),
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
        match &self.pool {
            Pool::Sqlite(pool) => {
                let mut start = range.start;
                while start < range.end {
                    let tx_end = (start + 100_000).min(range.end);
                    let mut tx = pool.begin().await?;
                    while start < tx_end {
                        let n = ((tx_end - start) as usize).min(SQLITE_BATCH);
                        let mut q = sqlx::query(AssertSqlSafe(multi_row_insert(&self.table, n)));
                        for i in start..start + n as u64 {
                            let digest = tokens::sha256_hex(&self.token(i));
                            q = q
                                .bind(Uuid::new_v4().to_string())
                                .bind(digest)
                                .bind(format!("{{\"user_id\":\"u{i}\"}}"))
                                .bind(super::row_expiry(expires_at, i))
                                .bind(format!("u{i}"))
                                .bind(now);
                        }
                        q.execute(&mut *tx).await?;
                        start += n as u64;
                    }
                    tx.commit().await?;
                }
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
                let sql: Arc<str> = sql.into();
                let mut start = range.start;
                while start < range.end {
                    let end = (start + PG_BATCH as u64).min(range.end);
                    let digests: Vec<String> = (start..end)
                        .map(|i| tokens::sha256_hex(&self.token(i)))
                        .collect();
                    sqlx::query(AssertSqlSafe(sql.clone()))
                        .bind(digests)
                        .bind(start as i64)
                        .bind(expires_at)
                        .execute(pool)
                        .await?;
                    start = end;
                }
            }
            Pool::Mysql(pool) => {
                let mut start = range.start;
                while start < range.end {
                    let tx_end = (start + 100_000).min(range.end);
                    let mut tx = pool.begin().await?;
                    while start < tx_end {
                        let n = ((tx_end - start) as usize).min(SQLITE_BATCH);
                        let mut q = sqlx::query(AssertSqlSafe(multi_row_insert(&self.table, n)));
                        for i in start..start + n as u64 {
                            q = q
                                .bind(Uuid::new_v4())
                                .bind(tokens::sha256_hex(&self.token(i)))
                                .bind(format!("{{\"user_id\":\"u{i}\"}}"))
                                .bind(super::row_expiry(expires_at, i))
                                .bind(format!("u{i}"))
                                .bind(now);
                        }
                        q.execute(&mut *tx).await?;
                        start += n as u64;
                    }
                    tx.commit().await?;
                }
            }
            other => anyhow::bail!("no SQL for {}", other.kind()),
        }
        Ok(())
    }

    /// Looks a token up: hash, then one `SELECT`; true when a valid row came back.
    pub async fn lookup(&self, token: &str) -> Result<bool> {
        let digest = tokens::sha256_hex(token);
        let now = OffsetDateTime::now_utc();
        let sql = AssertSqlSafe(self.lookup_sql.clone());
        let found = match &self.pool {
            Pool::Sqlite(pool) => {
                let row: Option<SqliteRow> = sqlx::query_as(sql)
                    .bind(digest)
                    .bind(now)
                    .fetch_optional(pool)
                    .await?;
                std::hint::black_box(row).is_some()
            }
            Pool::Postgres(pool) => {
                let row: Option<PgRow> = sqlx::query_as(sql)
                    .bind(digest)
                    .bind(now)
                    .fetch_optional(pool)
                    .await?;
                std::hint::black_box(row).is_some()
            }
            Pool::Mysql(pool) => {
                let row: Option<MysqlRow> = sqlx::query_as(sql)
                    .bind(digest)
                    .bind(now)
                    .fetch_optional(pool)
                    .await?;
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
        let digest = tokens::sha256_hex(&token);
        let now = OffsetDateTime::now_utc();
        let expires_at = now + time::Duration::days(7);
        let data = format!("{{\"user_id\":\"c{n}\"}}");
        let user_id = format!("c{n}");
        let sql = AssertSqlSafe(self.insert_sql.clone());
        match &self.pool {
            Pool::Sqlite(pool) => {
                sqlx::query(sql)
                    .bind(Uuid::new_v4().to_string())
                    .bind(digest)
                    .bind(data)
                    .bind(expires_at)
                    .bind(user_id)
                    .bind(now)
                    .execute(pool)
                    .await?;
            }
            Pool::Postgres(pool) => {
                let data: Value = serde_json::from_str(&data)?;
                sqlx::query(sql)
                    .bind(Uuid::new_v4())
                    .bind(digest)
                    .bind(Json(data))
                    .bind(expires_at)
                    .bind(user_id)
                    .bind(now)
                    .execute(pool)
                    .await?;
            }
            Pool::Mysql(pool) => {
                sqlx::query(sql)
                    .bind(Uuid::new_v4())
                    .bind(digest)
                    .bind(data)
                    .bind(expires_at)
                    .bind(user_id)
                    .bind(now)
                    .execute(pool)
                    .await?;
            }
            other => anyhow::bail!("no SQL for {}", other.kind()),
        }
        Ok(token)
    }

    /// Deletes every expired row in one statement (the table has an index on `expires_at`).
    pub async fn delete_expired(&self) -> Result<u64> {
        let now = OffsetDateTime::now_utc();
        let done = match &self.pool {
            Pool::Sqlite(pool) => {
                let sql = format!("DELETE FROM {} WHERE expires_at < ?1", self.table);
                sqlx::query(AssertSqlSafe(sql))
                    .bind(now)
                    .execute(pool)
                    .await?
                    .rows_affected()
            }
            Pool::Postgres(pool) => {
                let sql = format!("DELETE FROM {} WHERE expires_at < $1", self.table);
                sqlx::query(AssertSqlSafe(sql))
                    .bind(now)
                    .execute(pool)
                    .await?
                    .rows_affected()
            }
            Pool::Mysql(pool) => {
                let sql = format!("DELETE FROM {} WHERE expires_at < ?", self.table);
                sqlx::query(AssertSqlSafe(sql))
                    .bind(now)
                    .execute(pool)
                    .await?
                    .rows_affected()
            }
            other => anyhow::bail!("no SQL for {}", other.kind()),
        };
        Ok(done)
    }

    /// Rows in the table.
    pub async fn count(&self) -> Result<u64> {
        let sql = format!("SELECT COUNT(*) FROM {}", self.table);
        let n: i64 = match &self.pool {
            Pool::Sqlite(pool) => {
                sqlx::query_scalar(AssertSqlSafe(sql))
                    .fetch_one(pool)
                    .await?
            }
            Pool::Postgres(pool) => {
                sqlx::query_scalar(AssertSqlSafe(sql))
                    .fetch_one(pool)
                    .await?
            }
            Pool::Mysql(pool) => {
                sqlx::query_scalar(AssertSqlSafe(sql))
                    .fetch_one(pool)
                    .await?
            }
            other => anyhow::bail!("no SQL for {}", other.kind()),
        };
        Ok(n as u64)
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A multi-row `INSERT` of `n` rows into the raw table (`?` placeholders: SQLite and MySQL).
fn multi_row_insert(table: &str, n: usize) -> String {
    let mut sql =
        format!("INSERT INTO {table} (id, digest, data, expires_at, user_id, inserted_at) VALUES ");
    sql.push_str(&vec!["(?, ?, ?, ?, ?, ?)"; n].join(", "));
    sql
}
