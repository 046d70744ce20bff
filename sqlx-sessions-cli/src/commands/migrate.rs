//! `migrate`: create (or drop) the sessions table, or print its DDL.

use std::io::Write;

use clap::Args;

use super::Context;
use crate::error::{CliError, Outcome};

/// Options of `migrate`.
#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    /// Drop the table and its indexes instead (every session is lost).
    #[arg(long)]
    pub(crate) down: bool,

    /// Print the SQL instead of running it (no connection is made).
    #[arg(long)]
    pub(crate) print: bool,
}

/// Runs `migrate`.
pub(crate) async fn run(
    ctx: &Context,
    args: MigrateArgs,
    out: &mut impl Write,
) -> Result<Outcome, CliError> {
    let store = &ctx.store;
    let table = store.spec().table();
    if args.print {
        let migration = store.migration();
        let sql = if args.down {
            migration.down_sql()
        } else {
            migration.up_sql()
        };
        write!(out, "{sql}")?;
        return Ok(Outcome::Done);
    }
    if args.down {
        store.migrate_down().await?;
        writeln!(out, "dropped table {table} and its indexes")?;
    } else {
        store.migrate().await?;
        writeln!(out, "table {table} and its indexes are in place")?;
    }
    Ok(Outcome::Done)
}
