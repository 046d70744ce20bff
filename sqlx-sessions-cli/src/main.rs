//! # `sqlx-sessions`: the command line tool of sqlx-sessions
//!
//! Operators look at and act on a sessions table without writing code: in an incident
//! (revoke everything of a user), in a migration, in a cron job (prune).
//!
//! ```text
//! export DATABASE_URL=postgres://app@db/app        # or sqlite:/var/lib/app/sessions.db
//!                                                  # (the environment, not --database-url: `ps`)
//! sqlx-sessions migrate --print > sessions.sql     # the DDL, for your migration tool
//! sqlx-sessions migrate                            # or create the table directly
//! TOKEN=$(sqlx-sessions create --user 42 --data '{"note":"ci key"}' --ttl 30d)
//! sqlx-sessions list --user 42                     # a table; --json for one object a line
//! sqlx-sessions count --status expired
//! echo "$TOKEN" | sqlx-sessions get --token-stdin  # whose key is this? (exit 1: nobody's)
//! sqlx-sessions revoke --user 42 --except <ID>     # sign out every other device
//! sqlx-sessions prune --batch 5000                 # in cron: delete expired sessions
//! sqlx-sessions stats --json
//! ```
//!
//! Global options name the table as the application declares it: `--table`, `--schema`
//! (PostgreSQL), `--extra-column NAME:TYPE` (repeatable, default `user_id:text`),
//! `--hashing` (`none` from the flag only, never from `SQLX_SESSIONS_HASHING` alone),
//! `--token-prefix`/`--token-length`, and `--max-lifetime` (30 days unless the application
//! lifts it: pass `none` then, or pruning would delete its older sessions). The secret salt
//! comes from `SQLX_SESSIONS_SECRET_SALT` only, never from a flag, so it does not land in
//! shell history, and has at least 32 bytes. The variables are the library's
//! (`SQLX_SESSIONS_*`); the earlier `SESSIONS_*` names still work, with a warning on
//! standard error, and the new name wins when both are set.
//!
//! ## Exit codes
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | success (an empty `list`, a zero `count` and a `prune` with nothing to do included) |
//! | 1 | nothing found: `get` without a session, `expire`/`revoke` that affected none |
//! | 2 | bad usage or bad input: flags, values, URL, `--data` JSON, a table or column that does not exist |
//! | 3 | the database is unreachable or failing |
//!
//! Every error is one line on standard error; the tool never panics on bad input. No
//! message shows the database password, and text from the database is printed with its
//! control characters escaped (`\x1b`), so a stored value cannot drive the terminal.
//!
//! ## Secrets
//!
//! A plaintext token is printed once: by `create`, alone on standard output (if it cannot
//! be written, the session is deleted again). `get` reads tokens from standard input, never
//! from arguments, and never echoes them. Digests appear only with `--show-digest`, which
//! is refused with hashing `none` (the "digest" would be the token).
//!
//! ## How it works
//!
//! - One module per subcommand (`commands/`), each with its clap `Args` and a `run`
//!   function; `args` holds the global options and the values several subcommands parse;
//!   `cli` puts them together and dispatches (the dependency runs one way: `cli` uses
//!   `commands` and `args`, `commands` uses `args`); `env` names the environment variables;
//!   `output` formats everything printed, `error` maps every failure to its message and
//!   exit code.
//! - `connect` opens a lazy pool (nothing connects before the first statement, so
//!   `migrate --print` needs no server) and builds the library's `SessionStore`; every
//!   read and write goes through the store, so the tool sees sessions exactly as the
//!   application does.
//! - Before any command but `migrate`, the store's table check verifies that the table
//!   and every declared column exist with fitting types, so a wrong `--table` or
//!   `--extra-column` is a usage error on both databases (and, on SQLite, a filter on an
//!   unknown column can never match every row).
//! - The tool writes no SQL of its own: the stored digests for `--show-digest` come from
//!   the store too.

mod args;
mod cli;
mod commands;
mod connect;
mod env;
mod error;
mod output;

use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory as _, FromArgMatches as _};
use sqlx_sessions::Hashing;

use crate::cli::Cli;
use crate::error::{CliError, Outcome};

fn main() -> ExitCode {
    error::install_panic_hook();
    // Help and version exit 0, usage errors 2 (clap's own codes match ours).
    let command = env::read_legacy(Cli::command());
    let matches = command.clone().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    let url = cli.global.database_url.clone().unwrap_or_default();
    if cli.global.hashing == Hashing::None
        && matches.value_source("hashing") == Some(ValueSource::EnvVariable)
    {
        // One stray variable must not make the tool write plaintext tokens.
        let name = env::of_option(&command, "hashing").unwrap_or_default();
        let err = CliError::usage(format!(
            "{name}=none is refused: hashing `none` stores tokens in plaintext; pass --hashing none to mean it",
        ));
        return ExitCode::from(err.report(&url));
    }
    let result = std::panic::catch_unwind(|| run(cli));
    let code = match result {
        Ok(Ok(outcome)) => outcome.exit_code(),
        Ok(Err(err)) => err.report(&url),
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
    runtime.block_on(cli::run(cli))
}
