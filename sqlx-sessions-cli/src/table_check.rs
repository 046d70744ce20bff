//! Checks that a SQLite table has the columns the options declare, before any statement
//! filters on them.
//!
//! SQLite reads a double-quoted name that matches no column as a string literal, so a
//! filter on an undeclared column (`WHERE "tenant" = 'x'`) would compare two strings
//! instead of failing, and `revoke --where tenant=tenant` would delete every row.
//! PostgreSQL refuses unknown columns itself (SQLSTATE 42703), so it needs no check.

use sqlx::Row as _;
use sqlx_sessions::SessionStore;

use crate::connect::Database;
use crate::error::CliError;

/// Refuses (exit 2) when the table is missing or lacks a declared extra column.
pub(crate) async fn check_columns(db: &Database, store: &SessionStore) -> Result<(), CliError> {
    let Database::Sqlite(pool) = db else {
        return Ok(());
    };
    let table = store.spec().table();
    let rows = sqlx::query("SELECT name FROM pragma_table_info($1)")
        .bind(table)
        .fetch_all(pool)
        .await?;
    if rows.is_empty() {
        return Err(CliError::usage(format!(
            "no table `{table}` in the database (check --table, or run `sqlx-sessions migrate` first)"
        )));
    }
    let columns = rows
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<Vec<_>, _>>()?;
    for col in store.spec().extras() {
        if !columns.iter().any(|c| c == col.name()) {
            return Err(CliError::usage(format!(
                "table `{table}` has no column `{}` (check --extra-column)",
                col.name()
            )));
        }
    }
    Ok(())
}
