//! Schema evolution: what `migrate` does to a table that already exists.
//!
//! Everything is planned from the column catalogue ([`TableSpec::columns`]) against what the
//! database reports ([`Snapshot`]), so a column added to the catalogue is added to old
//! tables with no code of its own. The plan is made in full before anything runs, so a
//! refusal changes nothing, on every database.
//!
//! - A missing column is added (`ALTER TABLE ... ADD COLUMN`), with its foreign key.
//! - A missing index or foreign key is added.
//! - A column of the wrong type is refused (the same message as
//!   [`SessionStore::check_table`](crate::SessionStore::check_table)): converting data is
//!   the application's decision.
//! - A new `NOT NULL` column without a default is refused on a table that has rows (there is
//!   no value to give them), and on SQLite at all (its `ADD COLUMN` refuses it), as is a
//!   missing primary key.
//! - A foreign key on an existing column is refused on SQLite, whose `ALTER TABLE` cannot
//!   add one.
//!
//! Each applied step is recorded in `<table>_migrations` (see [`record_table`]).

use time::OffsetDateTime;
use uuid::Uuid;

use crate::backend::{Backend, fitted_name, foreign_key, indexes};
use crate::columns::{Column, Field, Storage};
use crate::error::{Error, Result};
use crate::migrate::Migration;
use crate::schema::{ColumnType, TableSpec};
use crate::sql::{Param, Stmt, quote};

/// What a table has, as the database reports it.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    /// `(name, type)` of each column; empty when the table does not exist.
    pub(crate) columns: Vec<(String, String)>,
    /// The names of the table's indexes.
    pub(crate) indexes: Vec<String>,
    /// The columns that are (the first column of) a foreign key.
    pub(crate) foreign_keys: Vec<String>,
    /// Whether the table holds at least one row.
    pub(crate) has_rows: bool,
}

/// One change a migration applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Step {
    /// What it does, for people: `create`, `add column last_used_at`, ...
    pub(crate) description: String,
    /// The statement, in the database's dialect.
    pub(crate) sql: String,
}

/// What a migration runs, in this order: the steps, the idempotent statements every
/// migration runs (`always`: support tables and the record; `after`: the cache's log and
/// triggers, which need the table), then the record of each step.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub(crate) steps: Vec<Step>,
    pub(crate) always: Vec<String>,
    pub(crate) after: Vec<String>,
    pub(crate) record: Vec<Stmt>,
}

impl Plan {
    /// The statements in the order a migration in one transaction runs them.
    pub(crate) fn ddl(&self) -> impl Iterator<Item = &String> {
        let steps = self.steps.iter().map(|s| &s.sql);
        steps.chain(&self.always).chain(&self.after)
    }
}

/// Makes the plan from what the table has; called by the backend under its migration lock.
pub(crate) type Planner<'a> = dyn Fn(&Snapshot) -> Result<Plan> + Send + Sync + 'a;

/// The name of the record of a table's migrations: `<table>_migrations`.
pub(crate) fn record_name(spec: &TableSpec) -> String {
    fitted_name(format!("{}_migrations", spec.table))
}

/// The record's columns: `id` (uuid, key), `applied_at`, `position` (order within one
/// migration), `description` and `sql_text`.
fn record_columns() -> [(&'static str, Storage); 5] {
    [
        ("id", Storage::Value(ColumnType::Uuid)),
        ("applied_at", Storage::Value(ColumnType::Timestamp)),
        ("position", Storage::Value(ColumnType::Integer)),
        ("description", Storage::Value(ColumnType::Text)),
        ("sql_text", Storage::Value(ColumnType::Text)),
    ]
}

/// `CREATE TABLE IF NOT EXISTS <table>_migrations (...)` and its `DROP`, in the database's
/// dialect: one row per applied step, in the store's own column types.
pub(crate) fn record_table(spec: &TableSpec, backend: &dyn Backend) -> Migration {
    let table = spec.qualify(&record_name(spec));
    let defs: Vec<String> = record_columns()
        .iter()
        .map(|(name, storage)| {
            let key = if *name == "id" { " PRIMARY KEY" } else { "" };
            let ty = match storage {
                Storage::Value(ColumnType::Text) => backend.long_text_type(),
                other => backend.sql_type(*other),
            };
            format!("{} {ty} NOT NULL{key}", quote(name))
        })
        .collect();
    Migration {
        up: vec![backend.adapt_sql(format!(
            "CREATE TABLE IF NOT EXISTS {table} (\n  {}\n)",
            defs.join(",\n  ")
        ))],
        down: vec![backend.adapt_sql(format!("DROP TABLE IF EXISTS {table}"))],
    }
}

/// The statement recording `step` as the `position`-th of a migration at `now`.
fn record_step(spec: &TableSpec, step: &Step, position: usize, now: OffsetDateTime) -> Stmt {
    let names: Vec<String> = record_columns().iter().map(|(n, _)| quote(n)).collect();
    Stmt {
        sql: format!(
            "INSERT INTO {} ({}) VALUES ($1, $2, $3, $4, $5)",
            spec.qualify(&record_name(spec)),
            names.join(", ")
        )
        .into(),
        params: vec![
            Param::Uuid(Uuid::new_v4()),
            Param::Time(Some(now)),
            Param::Int(i64::try_from(position).unwrap_or(i64::MAX)),
            Param::Text(step.description.clone()),
            Param::Text(step.sql.clone()),
        ],
    }
}

/// The steps that bring the table `snapshot` describes up to `backend`'s spec, or the
/// refusal of the first change that cannot be made safely.
pub(crate) fn steps(backend: &dyn Backend, snapshot: &Snapshot) -> Result<Vec<Step>> {
    let spec = backend.spec();
    if snapshot.columns.is_empty() {
        return Ok(backend
            .migration()
            .up
            .into_iter()
            .map(|sql| Step {
                description: "create".into(),
                sql,
            })
            .collect());
    }
    let alter = |sql: String| backend.adapt_sql(sql);
    let refuse = |column: &str, reason: String| Error::TableMismatch {
        table: spec.display_name(),
        column: Some(column.to_owned()),
        reason,
    };
    let mut out = Vec::new();
    for col in spec.columns() {
        let existing = snapshot.columns.iter().find(|(name, _)| name == col.name);
        if let Some((_, actual)) = existing {
            if let Some(reason) = type_mismatch(backend, &col, actual) {
                return Err(refuse(
                    col.name,
                    format!(
                        "{reason}; migrate does not change a column's type (convert it yourself, then migrate)"
                    ),
                ));
            }
        } else {
            if col.field == Field::Id {
                return Err(refuse(
                    col.name,
                    "the table has no `id` primary key, which migrate cannot add".into(),
                ));
            }
            let has_default = col.storage == Storage::Json;
            if col.not_null && !has_default {
                if snapshot.has_rows {
                    return Err(refuse(
                        col.name,
                        format!(
                            "`{}` would be a NOT NULL column without a default on a table that has rows; declare it optional, or add and fill it yourself",
                            col.name
                        ),
                    ));
                }
                if !backend.adds_required_columns() {
                    return Err(refuse(
                        col.name,
                        format!(
                            "SQLite cannot add the NOT NULL column `{}` without a default to an existing table; declare it optional",
                            col.name
                        ),
                    ));
                }
            }
            out.push(Step {
                description: format!("add column {}", col.name),
                sql: alter(format!(
                    "ALTER TABLE {} ADD COLUMN {}",
                    spec.qualified(),
                    crate::backend::column_def(spec, &col, backend)
                )),
            });
        }
        if let Some(fk) = foreign_key(spec, &col) {
            let has_fk = snapshot.foreign_keys.iter().any(|c| c == col.name);
            let added_inline = existing.is_none() && backend.inline_foreign_keys();
            if !has_fk && !added_inline {
                if backend.inline_foreign_keys() {
                    return Err(refuse(
                        col.name,
                        format!(
                            "SQLite cannot add a foreign key to the existing column `{}`; rebuild the table to add one",
                            col.name
                        ),
                    ));
                }
                out.push(Step {
                    description: format!("add foreign key {}", col.name),
                    sql: alter(format!(
                        "ALTER TABLE {} ADD {}",
                        spec.qualified(),
                        crate::backend::foreign_key_constraint(spec, col.name, fk)
                    )),
                });
            }
        }
    }
    for index in indexes(spec) {
        if !snapshot.indexes.contains(&index.name) {
            out.push(Step {
                description: format!("add index {}", index.name),
                sql: alter(backend.create_index(&index)),
            });
        }
    }
    Ok(out)
}

/// The reason a column the database reports as `actual` cannot hold `col`, as
/// [`SessionStore::check_table`](crate::SessionStore::check_table) words it.
pub(crate) fn type_mismatch(
    backend: &dyn Backend,
    col: &Column<'_>,
    actual: &str,
) -> Option<String> {
    (!backend.type_fits(col.storage, actual)).then(|| {
        format!(
            "column `{}` is `{actual}`, expected `{}`",
            col.name,
            backend.sql_type(col.storage)
        )
    })
}

/// The whole plan: [`steps`], then the idempotent statements run by every migration (the
/// support tables, the record, and `after`: the cache's) and the record of each step at
/// `now`.
pub(crate) fn plan(
    backend: &dyn Backend,
    snapshot: &Snapshot,
    after: &[String],
    now: OffsetDateTime,
) -> Result<Plan> {
    let spec = backend.spec();
    let steps = steps(backend, snapshot)?;
    let mut always = backend.support_ddl().up;
    always.extend(record_table(spec, backend).up);
    let record = steps
        .iter()
        .enumerate()
        .map(|(i, step)| record_step(spec, step, i, now))
        .collect();
    Ok(Plan {
        steps,
        always,
        after: after.to_vec(),
        record,
    })
}
