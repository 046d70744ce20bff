//! Checks that the table exists and has the columns the options declare, before any
//! statement runs on it, so a wrong `--table`, `--schema` or `--extra-column` gets the
//! same clear message on every database.
//!
//! On SQLite this is also a safeguard: SQLite reads a double-quoted name that matches no
//! column as a string literal, so a filter on an undeclared column (`WHERE "tenant" = 'x'`)
//! would compare two strings instead of failing, and `revoke --where tenant=tenant` would
//! delete every row.

use sqlx_sessions::SessionStore;

use crate::connect::Database;
use crate::error::CliError;

/// Refuses (exit 2) when the table is missing or lacks a declared extra column.
pub(crate) async fn check_columns(db: &Database, store: &SessionStore) -> Result<(), CliError> {
    let spec = store.spec();
    let table = spec.table();
    let columns: Vec<String> = match db {
        Database::Sqlite(pool) => {
            sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
                .bind(table)
                .fetch_all(pool)
                .await?
        }
        Database::Postgres(pool) => {
            sqlx::query_scalar(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = COALESCE($1, current_schema()) AND table_name = $2",
            )
            .bind(spec.schema())
            .bind(table)
            .fetch_all(pool)
            .await?
        }
    };
    let shown = match spec.schema() {
        Some(schema) => format!("{schema}.{table}"),
        None => table.to_owned(),
    };
    if columns.is_empty() {
        return Err(CliError::usage(format!(
            "no table `{shown}` in the database (check --table and --schema, or run \
             `sqlx-sessions migrate` first)"
        )));
    }
    for col in spec.extras() {
        if !columns.iter().any(|c| c == col.name()) {
            return Err(CliError::usage(format!(
                "table `{shown}` has no column `{}` (check --extra-column)",
                col.name()
            )));
        }
    }
    Ok(())
}
