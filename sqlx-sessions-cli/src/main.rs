//! `sqlx-sessions`: look at and act on a sessions table from the command line.
//!
//! Run `sqlx-sessions --help` for the subcommands. Every subcommand lives in its own
//! module under [`commands`]; errors become exit codes in [`error`], and everything that is
//! printed for people or scripts is formatted in [`output`].
//!
//! Exit codes: 0 success, 1 nothing found, 2 bad usage or bad input, 3 database
//! unreachable or failing.

mod cli;
mod commands;
mod connect;
mod digests;
mod error;
mod output;
mod table_check;

use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::Cli;
use crate::error::{CliError, Outcome};

fn main() -> ExitCode {
    error::install_panic_hook();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version exit 0, usage errors 2 (clap's own codes match ours).
        Err(err) => err.exit(),
    };
    let result = std::panic::catch_unwind(|| run(cli));
    let code = match result {
        Ok(Ok(outcome)) => outcome.exit_code(),
        Ok(Err(err)) => err.report(),
        // The panic hook already printed a one-line message.
        Err(_) => CliError::INTERNAL_EXIT_CODE,
    };
    ExitCode::from(code)
}

/// Runs one command on a single-threaded runtime: the tool does one thing at a time.
fn run(cli: Cli) -> Result<Outcome, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(commands::run(cli))
}
