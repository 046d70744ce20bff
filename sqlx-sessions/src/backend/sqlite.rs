//! SQLite: `TEXT` ids, `BLOB` digests, JSON `TEXT` data, and timestamps as `INTEGER`
//! microseconds since the Unix epoch (UTC; exact, and compared as numbers).
//!
//! An adopted ecto_sessions table made through `ecto_sqlite3` keeps that adapter's layout:
//! hex digests and ISO-8601 timestamps as `TEXT` (`2032-02-03T08:00:00.500000Z`, the
//! encoding of `utc_datetime_usec`; one fixed width, so they compare as text in time order).

use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Connection as _, Row as _, Sqlite};
use time::OffsetDateTime;
use uuid::Uuid;

use super::json::Object;
use super::run::{Driver, Query};
use super::{Backend, Locked, On};
use crate::columns::Storage;
use crate::error::{Error, Result};
use crate::evolve::{Planner, Snapshot, Step};
use crate::migrate::Migration;
use crate::schema::{ColumnType, DigestFormat, TableSpec};
use crate::sql::{Param, Stmt, StmtBuilder};

/// Options for a SQLite database file as sessions like it: created when missing, WAL
/// journal, `synchronous = NORMAL`, a 5-second busy timeout, foreign keys on.
///
/// `target` is a path or a `sqlite:` URL.
pub(crate) fn connect_options(target: &str) -> Result<SqliteConnectOptions> {
    let options = if target.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(target).map_err(|e| Error::InvalidUrl(e.to_string()))?
    } else {
        SqliteConnectOptions::new().filename(target)
    };
    Ok(options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true))
}

/// A store's table on SQLite.
pub(crate) type SqliteBackend = super::run::Table<Sqlite>;

/// Binds `pool` to the table `spec`.
pub(crate) fn backend(pool: SqlitePool, spec: Arc<TableSpec>) -> Result<Arc<dyn Backend>> {
    if spec.schema.is_some() {
        return Err(Error::config(
            "schema",
            "SQLite has no schemas; use a table name of its own instead",
        ));
    }
    Ok(Arc::new(SqliteBackend { pool, spec }))
}

/// SQLite reads a double-quoted name that matches no column as a string literal, so a
/// filter on a column missing from the table would compare two strings instead of failing.
/// Grave accents always mean an identifier.
fn backticks(sql: &str) -> String {
    sql.replace('"', "`")
}

/// `json_set` and `json_remove` replace top-level members by path (`json_patch` would
/// merge nested objects too).
const DATA_MERGE: super::json::PathMerge = super::json::PathMerge {
    object: "CASE WHEN json_type(\"data\") = 'object' THEN \"data\" ELSE '{}' END",
    value: ("json(", ")"),
};

impl SqliteBackend {
    /// Whether the table is an adopted ecto_sqlite3 one (hex digests, ISO-8601 times).
    fn ecto(&self) -> bool {
        self.spec.digest_format == DigestFormat::Hex
    }
}

impl Driver for Sqlite {
    fn query(spec: &TableSpec, stmt: Stmt) -> Query<Sqlite> {
        let ecto = spec.digest_format == DigestFormat::Hex;
        let sql = if stmt.sql.contains('"') {
            backticks(&stmt.sql).into()
        } else {
            stmt.sql
        };
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for p in stmt.params {
            q = match p {
                Param::Text(s) | Param::Json(s) => q.bind(s),
                Param::Digest(d) if ecto => q.bind(String::from_utf8_lossy(&d).into_owned()),
                Param::Digest(d) => q.bind(d),
                Param::Int(i) => q.bind(i),
                Param::Bool(b) => q.bind(b),
                Param::Uuid(u) => q.bind(u.hyphenated().to_string()),
                Param::Time(t) if ecto => q.bind(t.map(iso_text)),
                Param::Time(t) => q.bind(t.map(to_micros)),
                Param::Null(_) => q.bind(None::<String>),
            };
        }
        q
    }
}

/// `ecto_sqlite3`'s text for a `utc_datetime_usec`: UTC, microseconds, a `Z`.
const ISO_TEXT: &[time::format_description::BorrowedFormatItem<'_>] = time::macros::format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
);

/// What Elixir's `NaiveDateTime.from_iso8601` reads back: `T` or a space, any fraction,
/// with or without a `Z`.
const ISO_READ: &[time::format_description::BorrowedFormatItem<'_>] = time::macros::format_description!(
    "[year]-[month]-[day][first [T][ ]][hour]:[minute]:[second][optional [.[subsecond]]][optional [Z]]"
);

fn iso_text(t: OffsetDateTime) -> String {
    let utc = t.to_offset(time::UtcOffset::UTC);
    // Only a year past 9999 fails, and no session reaches it (the settings cap lifetimes).
    utc.format(ISO_TEXT)
        .unwrap_or_else(|_| "9999-12-31T23:59:59.999999Z".to_owned())
}

fn parse_iso(text: &str) -> Result<OffsetDateTime> {
    time::PrimitiveDateTime::parse(text, ISO_READ)
        .map(time::PrimitiveDateTime::assume_utc)
        .map_err(|e| sqlx::Error::Decode(Box::new(e)).into())
}

fn to_micros(t: OffsetDateTime) -> i64 {
    // Every representable timestamp fits: i64 microseconds span ±292,000 years.
    i64::try_from(t.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

fn from_micros(us: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000)
        .map_err(|e| sqlx::Error::Decode(Box::new(e)).into())
}

fn parse_uuid(text: &str) -> Result<Uuid> {
    Uuid::try_parse(text).map_err(|e| sqlx::Error::Decode(Box::new(e)).into())
}

/// An adopted ecto_sqlite3 table's ids, digests and times are text; the store's own
/// table keeps times as microseconds.
impl super::Columns for Sqlite {
    fn uuid(row: &SqliteRow, i: usize) -> Result<Option<Uuid>> {
        row.try_get::<Option<&str>, _>(i)?
            .map(parse_uuid)
            .transpose()
    }

    fn time(row: &SqliteRow, i: usize, spec: &TableSpec) -> Result<Option<OffsetDateTime>> {
        if spec.digest_format == DigestFormat::Hex {
            row.try_get::<Option<&str>, _>(i)?
                .map(parse_iso)
                .transpose()
        } else {
            row.try_get::<Option<i64>, _>(i)?
                .map(from_micros)
                .transpose()
        }
    }

    fn json(row: &SqliteRow, i: usize) -> Result<String> {
        Ok(row.try_get(i)?)
    }
}

#[async_trait::async_trait]
impl Backend for SqliteBackend {
    fn migration(&self) -> Migration {
        let spec = &self.spec;
        let mut up = vec![super::create_table(spec, self)];
        up.extend(super::index_statements(self));
        Migration {
            up: up.iter().map(|s| backticks(s)).collect(),
            down: vec![backticks(&format!(
                "DROP TABLE IF EXISTS {}",
                spec.qualified()
            ))],
        }
    }

    fn sql_type(&self, storage: Storage) -> &'static str {
        match storage {
            Storage::Digest if self.ecto() => "TEXT",
            Storage::Digest => "BLOB",
            Storage::Json | Storage::Value(ColumnType::Text | ColumnType::Uuid) => "TEXT",
            Storage::Value(ColumnType::Timestamp) if self.ecto() => "TEXT",
            Storage::Value(ColumnType::Integer | ColumnType::Boolean | ColumnType::Timestamp) => {
                "INTEGER"
            }
        }
    }

    fn empty_json(&self) -> &'static str {
        "'{}'"
    }

    fn spec(&self) -> &TableSpec {
        &self.spec
    }

    fn inline_foreign_keys(&self) -> bool {
        true
    }

    fn adds_required_columns(&self) -> bool {
        false
    }

    async fn snapshot(&self) -> Result<Snapshot> {
        let mut conn = self.pool.acquire().await?;
        Ok(snapshot_on(&mut conn, &self.spec).await?)
    }

    async fn evolve(&self, plan: &Planner<'_>) -> Result<Vec<Step>> {
        // As `run_ddl`: run again when SQLite answers busy at once.
        let mut attempt = 0u32;
        loop {
            match self.evolve_once(plan).await {
                Err(Error::Database(sqlx::Error::Database(e)))
                    if is_busy(e.as_ref()) && attempt < DDL_RETRIES =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
                }
                other => return other,
            }
        }
    }

    fn bounded_delete(&self, table: &str, tail: &str) -> String {
        // The rowid is the table's own key: no detour through the `id` index.
        format!("DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table}{tail})")
    }

    fn adapt_sql(&self, sql: String) -> String {
        backticks(&sql)
    }

    fn push_data_merge(&self, b: &mut StmtBuilder, set: &Object, remove: &[String]) {
        super::json::push_path_merge(b, set, remove, &DATA_MERGE);
    }

    #[cfg(feature = "cache")]
    fn cache_feed(&self) -> Option<Box<dyn crate::cache::Feed>> {
        Some(Box::new(crate::cache::sqlite::SqliteFeed::new(
            self.pool.clone(),
            &self.spec,
        )))
    }

    async fn run_ddl(&self, statements: &[String]) -> Result<()> {
        // SQLite answers SQLITE_BUSY at once, without waiting for the busy timeout, when
        // waiting could deadlock (a schema change racing another connection's read, such
        // as a read cache's poll): the documented answer is to run the transaction again.
        let mut attempt = 0u32;
        loop {
            match self.ddl_once(statements).await {
                Err(sqlx::Error::Database(e)) if is_busy(e.as_ref()) && attempt < DDL_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
                }
                other => return Ok(other?),
            }
        }
    }

    async fn begin_locked<'a>(&'a self, on: On<'a, '_>, _key: &str) -> Result<Locked<'a>> {
        let tx = match self.given(on)? {
            None => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Some(conn) if !conn.is_in_transaction() => conn.begin_with("BEGIN IMMEDIATE").await?,
            Some(conn) => {
                let mut tx = conn.begin().await?;
                // Inside the caller's (deferred) transaction: a write that changes nothing
                // takes the database's write lock now, before anything is read.
                sqlx::query(AssertSqlSafe(backticks(&format!(
                    "UPDATE {} SET \"id\" = \"id\" WHERE 1 = 0",
                    self.spec.qualified()
                ))))
                .execute(&mut *tx)
                .await?;
                tx
            }
        };
        Ok(Locked::Sqlite(tx))
    }
}

/// Times a migration is run again after SQLite answered "database is locked" at once.
const DDL_RETRIES: u32 = 20;

/// Whether SQLite refused with SQLITE_BUSY (code 5, also in its extended forms).
fn is_busy(e: &dyn sqlx::error::DatabaseError) -> bool {
    e.code()
        .and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| c & 0xff == 5)
}

/// What `spec`'s table has, read on `conn`.
async fn snapshot_on(
    conn: &mut sqlx::SqliteConnection,
    spec: &TableSpec,
) -> std::result::Result<Snapshot, sqlx::Error> {
    let table = &spec.table;
    let columns: Vec<(String, String)> =
        sqlx::query_as("SELECT name, type FROM pragma_table_info($1)")
            .bind(table)
            .fetch_all(&mut *conn)
            .await?;
    let indexes = sqlx::query_scalar("SELECT name FROM pragma_index_list($1)")
        .bind(table)
        .fetch_all(&mut *conn)
        .await?;
    let foreign_keys = sqlx::query_scalar("SELECT \"from\" FROM pragma_foreign_key_list($1)")
        .bind(table)
        .fetch_all(&mut *conn)
        .await?;
    let catalog = (columns, indexes, foreign_keys);
    super::run::snapshot::<Sqlite>(conn, &format!("`{table}`"), catalog).await
}

impl SqliteBackend {
    /// One migration in one transaction, taking the write lock up front.
    async fn evolve_once(&self, plan: &Planner<'_>) -> Result<Vec<Step>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if self.spec.extras.iter().any(|c| c.foreign_key().is_some()) {
            let on: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
                .fetch_one(&mut *tx)
                .await?;
            if on == 0 {
                return Err(Error::config(
                    "references",
                    "SQLite enforces foreign keys only on connections with PRAGMA foreign_keys = ON, and this pool's have it off: connect with SqliteConnectOptions::foreign_keys(true) (sqlx's default)",
                ));
            }
        }
        let plan = plan(&snapshot_on(&mut tx, &self.spec).await?)?;
        self.apply(tx, plan).await
    }

    /// One transaction of `statements`, taking the write lock up front.
    async fn ddl_once(&self, statements: &[String]) -> std::result::Result<(), sqlx::Error> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Self::run_all(&mut tx, statements).await?;
        tx.commit().await
    }
}
