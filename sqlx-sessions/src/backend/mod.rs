//! The seam between the store and each database.
//!
//! The store writes statements ([`Stmt`]) that both databases understand; a [`Backend`]
//! binds their parameters to its own types, runs them and decodes rows. Everything that
//! differs between SQLite and PostgreSQL (column types, timestamp encoding, DDL) lives in
//! that database's file, behind its cargo feature.
#![cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code)
)]

use std::fmt;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::Result;
use crate::migrate::Migration;
use crate::schema::{ColumnType, TableSpec};
use crate::session::{Extras, Session, SessionData};
use crate::sql::{Param, Stmt};
use crate::value::Value;

#[cfg(feature = "mysql")]
pub(crate) mod mysql;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;

/// A session row as a backend returns it, with its stored digest when it was selected.
#[derive(Debug)]
pub struct Fetched {
    /// The decoded session (`is_expired` is filled in by the store).
    pub session: Session,
    /// The stored digest (raw bytes, or the bytes of the hex text), when selected.
    pub digest: Option<Vec<u8>>,
}

/// An `UPDATE` or `DELETE` that reports the rows it changed.
#[derive(Debug)]
pub struct Change {
    /// The quoted, qualified table.
    pub table: String,
    /// The assignments of an `UPDATE` (`"a" = $1, ...`); `None` for a `DELETE`.
    pub set: Option<String>,
    /// ` WHERE ...`, selecting the rows to change.
    pub filter: String,
    /// The parameters of `set` and `filter`, numbered across both.
    pub params: Vec<Param>,
    /// The columns to report, as [`select_list`](crate::query::select_list) writes them.
    pub returning: String,
}

/// One database's way of running a store's statements on one table.
#[async_trait::async_trait]
pub trait Backend: Send + Sync + fmt::Debug + 'static {
    /// The table this backend serves.
    fn spec(&self) -> &TableSpec;

    /// The DDL that creates and drops the table and its indexes.
    fn migration(&self) -> Migration;

    /// Rewrites SQL written by the store (`"quoted"` identifiers, `$n` placeholders) into
    /// this database's dialect. Called once for the statements a store prepares up front.
    fn adapt_sql(&self, sql: String) -> String {
        sql
    }

    /// A statement deleting the rows that `tail` selects (`WHERE ... ORDER BY ... LIMIT $n`
    /// on `table`), by the cheapest row address this database has. The default goes by the
    /// primary key.
    fn bounded_delete(&self, table: &str, tail: &str) -> String {
        format!("DELETE FROM {table} WHERE \"id\" IN (SELECT \"id\" FROM {table}{tail})")
    }

    /// Runs DDL statements in one transaction.
    async fn run_ddl(&self, statements: &[String]) -> Result<()>;

    /// Runs a query returning at most one session row.
    async fn fetch_optional(&self, stmt: Stmt, with_digest: bool) -> Result<Option<Fetched>>;

    /// Runs a query returning session rows.
    async fn fetch_all(&self, stmt: Stmt) -> Result<Vec<Session>>;

    /// Runs a query returning one integer.
    async fn fetch_count(&self, stmt: Stmt) -> Result<i64>;

    /// Runs a query returning one row of timestamps (or `NULL`s), such as `MIN` and `MAX`.
    async fn fetch_times(&self, stmt: Stmt) -> Result<Vec<Option<OffsetDateTime>>>;

    /// Runs a statement and returns the number of rows it affected.
    async fn execute(&self, stmt: Stmt) -> Result<u64>;

    /// Runs `change` and returns the changed rows (after an `UPDATE`, as it left them). The
    /// default is one statement with `RETURNING`.
    async fn change_returning(&self, change: Change) -> Result<Vec<Session>> {
        let sql = match &change.set {
            Some(set) => format!("UPDATE {} SET {set}{}", change.table, change.filter),
            None => format!("DELETE FROM {}{}", change.table, change.filter),
        };
        self.fetch_all(Stmt {
            sql: format!("{sql} RETURNING {}", change.returning).into(),
            params: change.params,
        })
        .await
    }
}

/// Reads one typed column of a row by position; each backend implements it for its rows.
pub(crate) trait RowReader {
    fn uuid(&self, i: usize) -> Result<Uuid>;
    fn json(&self, i: usize) -> Result<String>;
    fn time(&self, i: usize) -> Result<Option<OffsetDateTime>>;
    fn text(&self, i: usize) -> Result<Option<String>>;
    fn value(&self, i: usize, ty: ColumnType) -> Result<Value>;
    fn digest(&self, i: usize) -> Result<Vec<u8>>;
}

/// Decodes a row selected with [`select_list`](crate::query::select_list).
pub(crate) fn decode_session(
    row: &impl RowReader,
    spec: &TableSpec,
    with_digest: bool,
) -> Result<Fetched> {
    let required = |i: usize| -> Result<OffsetDateTime> {
        row.time(i)?
            .ok_or_else(|| sqlx::Error::Decode("unexpected NULL timestamp".into()).into())
    };
    let mut i = 5;
    let mut next_optional = |present: bool| {
        let at = i;
        if present {
            i += 1;
        }
        present.then_some(at)
    };
    let opt = spec.optional;
    let last_used = next_optional(opt.last_used_at);
    let authenticated = next_optional(opt.authenticated_at);
    let hint = next_optional(opt.token_hint);
    let mut values = Vec::with_capacity(spec.extras.len());
    for col in spec.extras.iter() {
        values.push(row.value(i, col.column_type())?);
        i += 1;
    }
    let session = Session {
        id: row.uuid(0)?,
        data: SessionData(row.json(1)?),
        expires_at: row.time(2)?,
        inserted_at: required(3)?,
        updated_at: required(4)?,
        last_used_at: match last_used {
            Some(c) => row.time(c)?,
            None => None,
        },
        authenticated_at_column: match authenticated {
            Some(c) => row.time(c)?,
            None => None,
        },
        token_hint: match hint {
            Some(c) => row.text(c)?,
            None => None,
        },
        extras: Extras {
            columns: spec.extras.clone(),
            values,
        },
        is_expired: false,
    };
    let digest = if with_digest {
        Some(row.digest(i)?)
    } else {
        None
    };
    Ok(Fetched { session, digest })
}

/// The index statements every backend shares: the unique digest index, the expiry index
/// and one per indexed extra column.
pub(crate) fn index_statements(spec: &TableSpec) -> Vec<String> {
    let table = spec.qualified();
    let name = |col: &str| index_name(spec, col);
    let mut out = vec![
        format!(
            "CREATE UNIQUE INDEX IF NOT EXISTS {} ON {table} (\"auth_token_digest\")",
            name("auth_token_digest")
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS {} ON {table} (\"expires_at\")",
            name("expires_at")
        ),
    ];
    for col in spec.extras.iter().filter(|c| c.is_indexed()) {
        out.push(format!(
            "CREATE INDEX IF NOT EXISTS {} ON {table} ({})",
            name(col.name()),
            crate::sql::quote(col.name())
        ));
    }
    out
}

/// The quoted name of the index on `col`: `<table>_<col>_index`, at most 63 bytes.
pub(crate) fn index_name(spec: &TableSpec, col: &str) -> String {
    let mut n = format!("{}_{col}_index", spec.table);
    n.truncate(63);
    crate::sql::quote(&n)
}
