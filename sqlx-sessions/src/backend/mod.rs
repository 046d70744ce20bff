//! The seam between the store and each database.
//!
//! The store writes statements ([`Stmt`]) in one dialect; a [`Backend`] adapts them, binds
//! their parameters to its own types, runs them and decodes rows. Everything that differs
//! between SQLite, PostgreSQL and MySQL (column types, timestamp encoding, quoting, DDL,
//! `RETURNING`) lives in that database's file, behind its cargo feature.
#![cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code)
)]

use std::fmt;

use crate::columns::{Column, Field, Storage};
use crate::error::Result;
use crate::evolve::{Planner, Snapshot, Step};
use crate::migrate::Migration;
use crate::schema::{ForeignKey, TableSpec};
use crate::session::Session;
use crate::sql::{Param, Stmt, StmtBuilder, quote};
use json::Object;

mod conn;
mod json;
mod row;
mod run;
pub use conn::Conn;
pub(crate) use conn::{Held, Locked, On};
pub(crate) use row::{Columns, Reader};
pub(crate) use run::{Native, Run};

#[cfg(feature = "mysql")]
pub(crate) mod mysql;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;

/// A session row as a backend returns it, with its stored digest when it was selected.
#[derive(Debug)]
pub(crate) struct Fetched {
    /// The decoded session (`is_expired` is filled in by the store).
    pub(crate) session: Session,
    /// The stored digest (raw bytes, or the bytes of the hex text), when selected.
    pub(crate) digest: Option<Vec<u8>>,
}

/// An `UPDATE` or `DELETE` that reports the rows it changed.
#[derive(Debug)]
pub(crate) struct Change {
    /// The quoted, qualified table.
    pub(crate) table: String,
    /// The assignments of an `UPDATE` (`"a" = $1, ...`); `None` for a `DELETE`.
    pub(crate) set: Option<String>,
    /// ` WHERE ...`, selecting the rows to change.
    pub(crate) filter: String,
    /// The parameters of `set` and `filter`, numbered across both.
    pub(crate) params: Vec<Param>,
    /// The columns to report, as [`select_list`](crate::query::select_list) writes them.
    pub(crate) returning: String,
}

/// One database's way of running a store's statements on one table; the statements every
/// database runs alike come from [`Run`].
#[async_trait::async_trait]
pub(crate) trait Backend: Run + Send + Sync + fmt::Debug + 'static {
    /// The DDL that creates and drops the table and its indexes.
    fn migration(&self) -> Migration;

    /// The SQL type of a column stored as `storage`, as the database reports it back.
    fn sql_type(&self, storage: Storage) -> &'static str;

    /// The type of text of any length (the record of migrations keeps whole statements),
    /// whatever an adopted table's text columns are.
    fn long_text_type(&self) -> &'static str {
        "text"
    }

    /// The literal of an empty JSON object, for the default of the `data` column.
    fn empty_json(&self) -> &'static str;

    /// Whether a column the database reports as `actual` can hold `storage`.
    fn type_fits(&self, storage: Storage, actual: &str) -> bool {
        actual.eq_ignore_ascii_case(self.sql_type(storage))
    }

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

    /// Appends the SQL of the `data` column with the top-level keys of `set` added or
    /// overwritten and the keys `remove` taken out, evaluated on the row as the statement
    /// writes it (data that is not an object counts as `{}`). Keys hold no `"` or NUL.
    fn push_data_merge(&self, b: &mut StmtBuilder, set: &Object, remove: &[String]);

    /// The cache's invalidation channel on this table, where the database has one.
    #[cfg(feature = "cache")]
    fn cache_feed(&self) -> Option<Box<dyn crate::cache::Feed>> {
        None
    }

    /// Runs DDL statements in one transaction.
    async fn run_ddl(&self, statements: &[String]) -> Result<()>;

    /// Whether a foreign key is written in its column's definition (SQLite, whose `ALTER
    /// TABLE` adds no constraint) rather than as a named table constraint.
    fn inline_foreign_keys(&self) -> bool {
        false
    }

    /// Whether `ALTER TABLE ... ADD COLUMN` takes a `NOT NULL` column without a default
    /// (on an empty table). SQLite refuses it whatever the table holds.
    fn adds_required_columns(&self) -> bool {
        true
    }

    /// `CREATE INDEX` for `index` on an existing table.
    fn create_index(&self, index: &Index<'_>) -> String {
        let unique = if index.unique { "UNIQUE " } else { "" };
        format!(
            "CREATE {unique}INDEX IF NOT EXISTS {} ON {} ({})",
            quote(&index.name),
            self.spec().qualified(),
            quote(index.column.name)
        )
    }

    /// Statements the store's own support tables need, idempotent, run by every migration
    /// (MySQL: the owners' lock rows of a cap).
    fn support_ddl(&self) -> Migration {
        Migration::default()
    }

    /// The table's spec.
    fn spec(&self) -> &TableSpec;

    /// Under the table's migration lock (in one transaction where the database has
    /// transactional DDL): reads what the table has, asks `plan` what to apply, applies it
    /// and records it. Returns the steps applied.
    async fn evolve(&self, plan: &Planner<'_>) -> Result<Vec<Step>>;

    /// What the table has now, read on the pool.
    async fn snapshot(&self) -> Result<Snapshot>;

    /// Whether [`Backend::begin_locked`] can lock any key: MySQL locks owner rows, which
    /// exist only in a store with a cap per owner.
    fn locks_per_key(&self) -> bool {
        true
    }

    /// Begins a transaction that holds the table's write lock for `key` (SQLite: the
    /// database's write lock, `BEGIN IMMEDIATE`; PostgreSQL: an advisory transaction lock on
    /// the table and key), on the caller's connection when `on` is one (a savepoint inside
    /// its transaction) or on a pooled one. Statements run on [`Locked::conn`].
    async fn begin_locked<'a>(&'a self, on: On<'a, '_>, key: &str) -> Result<Locked<'a>>;

    /// Runs `change` on `on` and returns the changed rows (after an `UPDATE`, as it left
    /// them). The default is one statement with `RETURNING`.
    async fn change_returning(&self, on: On<'_, '_>, change: Change) -> Result<Vec<Session>> {
        let sql = match &change.set {
            Some(set) => format!("UPDATE {} SET {set}{}", change.table, change.filter),
            None => format!("DELETE FROM {}{}", change.table, change.filter),
        };
        self.fetch_all(
            on,
            Stmt {
                sql: format!("{sql} RETURNING {}", change.returning).into(),
                params: change.params,
            },
        )
        .await
    }
}

/// The longest identifier PostgreSQL keeps (longer ones are cut, silently).
const MAX_IDENTIFIER_BYTES: usize = 63;

/// The name of the index of `column` on `table`: `<table>_<column>_index` when it fits in
/// 63 bytes (the name ecto_sessions gives), otherwise cut as [`fitted_name`] cuts it.
pub(crate) fn index_name(table: &str, column: &str) -> String {
    fitted_name(format!("{table}_{column}_index"))
}

/// `full` when it fits in 63 bytes, otherwise its first bytes and 16 hex digits of the
/// SHA-256 of the whole name, so long names neither collide nor get cut by PostgreSQL.
pub(crate) fn fitted_name(full: String) -> String {
    use sha2::Digest as _;
    if full.len() <= MAX_IDENTIFIER_BYTES {
        return full;
    }
    let hash = hex::encode(&sha2::Sha256::digest(full.as_bytes())[..8]);
    // Identifiers are ASCII (checked when the store is built): any byte is a boundary.
    let keep = MAX_IDENTIFIER_BYTES - hash.len() - 1;
    format!("{}_{hash}", &full[..keep])
}

/// The definition of `col` in `CREATE TABLE` or `ADD COLUMN`, typed by `backend`.
pub(crate) fn column_def(spec: &TableSpec, col: &Column<'_>, backend: &dyn Backend) -> String {
    let mut def = format!("{} {}", quote(col.name), backend.sql_type(col.storage));
    if col.field == Field::Id {
        def.push_str(" PRIMARY KEY");
    }
    if col.not_null {
        def.push_str(" NOT NULL");
    }
    if col.storage == Storage::Json {
        def.push_str(" DEFAULT ");
        def.push_str(backend.empty_json());
    }
    if let Some(fk) = foreign_key(spec, col).filter(|_| backend.inline_foreign_keys()) {
        def.push_str(&references(fk));
    }
    def
}

/// The foreign key of `col`, when it is an extra column that has one.
pub(crate) fn foreign_key<'s>(spec: &'s TableSpec, col: &Column<'_>) -> Option<&'s ForeignKey> {
    match col.field {
        Field::Extra(i) => spec.extras[i].foreign_key(),
        _ => None,
    }
}

/// ` REFERENCES "table" ("column") ON DELETE CASCADE`.
fn references(fk: &ForeignKey) -> String {
    format!(
        " REFERENCES {} ({}) ON DELETE CASCADE",
        quote(&fk.table),
        quote(&fk.column)
    )
}

/// The named constraint making `col` a foreign key, for `CREATE TABLE` and
/// `ALTER TABLE ... ADD` (PostgreSQL and MySQL).
pub(crate) fn foreign_key_constraint(spec: &TableSpec, col: &str, fk: &ForeignKey) -> String {
    format!(
        "CONSTRAINT {} FOREIGN KEY ({}){}",
        quote(&fitted_name(format!("{}_{col}_fkey", spec.table))),
        quote(col),
        references(fk)
    )
}

/// `CREATE TABLE` for `spec`, each column typed by `backend`.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn create_table(spec: &TableSpec, backend: &dyn Backend) -> String {
    create_table_with(spec, backend, &[])
}

/// [`create_table`] with table-level definitions (keys) after the columns; foreign keys
/// that are not inline come last.
pub(crate) fn create_table_with(
    spec: &TableSpec,
    backend: &dyn Backend,
    keys: &[String],
) -> String {
    let columns = spec.columns();
    let mut defs: Vec<String> = columns
        .iter()
        .map(|col| column_def(spec, col, backend))
        .collect();
    defs.extend(keys.iter().cloned());
    if !backend.inline_foreign_keys() {
        for col in &columns {
            if let Some(fk) = foreign_key(spec, col) {
                defs.push(foreign_key_constraint(spec, col.name, fk));
            }
        }
    }
    format!(
        "CREATE TABLE IF NOT EXISTS {} (\n  {}\n)",
        spec.qualified(),
        defs.join(",\n  ")
    )
}

/// One index the store's table has.
#[derive(Debug)]
pub(crate) struct Index<'s> {
    pub(crate) name: String,
    pub(crate) column: Column<'s>,
    pub(crate) unique: bool,
}

/// The indexes of the store's table: the unique digest index, the expiry index and one per
/// indexed extra column.
pub(crate) fn indexes(spec: &TableSpec) -> Vec<Index<'_>> {
    spec.columns()
        .into_iter()
        .filter(|col| match col.field {
            Field::Digest | Field::ExpiresAt | Field::PreviousDigest => true,
            Field::Extra(i) => spec.extras[i].is_indexed(),
            _ => false,
        })
        .map(|column| Index {
            name: index_name(&spec.table, column.name),
            unique: column.field == Field::Digest,
            column,
        })
        .collect()
}

/// The index statements of PostgreSQL and SQLite (`CREATE INDEX IF NOT EXISTS`).
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn index_statements(backend: &dyn Backend) -> Vec<String> {
    indexes(backend.spec())
        .iter()
        .map(|index| backend.create_index(index))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::index_name;

    #[test]
    fn index_names_fit_and_stay_distinct() {
        assert_eq!(
            index_name("sessions", "expires_at"),
            "sessions_expires_at_index"
        );
        for len in [40, 52, 53, 62, 63] {
            let table = "t".repeat(len);
            let names: Vec<_> = ["auth_token_digest", "expires_at", "user_id"]
                .iter()
                .map(|c| index_name(&table, c))
                .collect();
            for n in &names {
                assert!(n.len() <= 63, "{n}");
                assert_ne!(n, &table);
            }
            assert!(names[0] != names[1] && names[1] != names[2] && names[0] != names[2]);
            // Stable: the same table and column always give the same name.
            assert_eq!(names[1], index_name(&table, "expires_at"));
        }
    }
}
