//! Every failure of the tool, its one-line message and its exit code, in one place.
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | success |
//! | 1 | nothing found (`get`, and `expire`/`revoke` that affected no session) |
//! | 2 | bad usage or bad input: flags, values, URL, JSON, a table that does not fit |
//! | 3 | the database is unreachable or failing |

use std::io;

use sqlx_sessions::error_chain;

use sqlx::error::DatabaseError;
use sqlx_sessions::redact::redact_password;

use crate::output::escape_control;

/// How a command that did not fail ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It did what it was asked (exit 0).
    Done,
    /// It found nothing to show or to act on (exit 1).
    NothingFound,
}

impl Outcome {
    /// The process exit code.
    pub(crate) fn exit_code(self) -> u8 {
        match self {
            Outcome::Done => 0,
            Outcome::NothingFound => 1,
        }
    }
}

/// A failure, with the one line printed on standard error.
#[derive(Debug)]
pub(crate) enum CliError {
    /// Bad usage or bad input (exit 2); the message names what was wrong.
    Usage(String),
    /// The database is unreachable or failing, or the tool itself failed (exit 3).
    Failed(String),
    /// Standard output was closed by its reader (`... | head`): stop quietly (exit 0).
    OutputClosed,
}

impl CliError {
    /// The exit code of a panic (which should never happen).
    pub(crate) const INTERNAL_EXIT_CODE: u8 = 3;

    /// Bad usage or bad input.
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        CliError::Usage(message.into())
    }

    /// The process exit code.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Failed(_) => 3,
            CliError::OutputClosed => 0,
        }
    }

    /// Prints the message on standard error (one line, control characters escaped, no
    /// password of the database URL `url`) and returns the exit code.
    pub(crate) fn report(&self, url: &str) -> u8 {
        match self {
            CliError::Usage(m) | CliError::Failed(m) => {
                let message = redact_password(&one_line(m), url);
                eprintln!("sqlx-sessions: error: {}", escape_control(&message));
            }
            CliError::OutputClosed => {}
        }
        self.exit_code()
    }
}

impl From<sqlx_sessions::Error> for CliError {
    fn from(err: sqlx_sessions::Error) -> Self {
        use sqlx_sessions::Error as E;
        match err {
            E::Database(db) | E::Conflict(db) => db.into(),
            E::TableMismatch {
                table,
                column: None,
                ..
            } => CliError::Usage(format!(
                "no table `{table}` in the database (check --table and --schema, or run \
                 `sqlx-sessions migrate` first)"
            )),
            E::TableMismatch { .. } => CliError::Usage(format!(
                "{err} (check --table, --schema and --extra-column, or run `sqlx-sessions migrate` first)"
            )),
            E::InvalidUrl(reason) => CliError::Usage(format!("invalid --database-url: {reason}")),
            E::Config { .. }
            | E::UnknownColumn(_)
            | E::InvalidValue { .. }
            | E::MissingColumn(_)
            | E::InvalidToken(_)
            | E::Unsupported { .. }
            | E::Refused(_)
            | E::Json(_) => CliError::Usage(err.to_string()),
            other => CliError::Failed(error_chain(&other)),
        }
    }
}

impl From<sqlx::Error> for CliError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Database(db) if table_mismatch(db.as_ref()) => CliError::Usage(format!(
                "the table does not fit the options: {} (check --table, --schema and \
                 --extra-column, or run `sqlx-sessions migrate` first)",
                db.message()
            )),
            sqlx::Error::PoolTimedOut => CliError::Failed(
                "database unreachable: no connection within the connect timeout \
                 (--connect-timeout)"
                    .into(),
            ),
            sqlx::Error::Configuration(e) => {
                CliError::Usage(format!("invalid --database-url: {e}"))
            }
            _ => CliError::Failed(format!("database failure: {}", error_chain(&err))),
        }
    }
}

impl From<io::Error> for CliError {
    /// Errors writing standard output.
    fn from(err: io::Error) -> Self {
        if err.kind() == io::ErrorKind::BrokenPipe {
            CliError::OutputClosed
        } else {
            CliError::Failed(format!("cannot write the output: {err}"))
        }
    }
}

/// Whether a database refused a statement because the table, a column or the schema does
/// not exist: the options do not describe the table (or it was never migrated). Decided by
/// error code: PostgreSQL's SQLSTATE, SQLite's generic `SQLITE_ERROR` (1), which is what
/// it returns for statements that do not fit the schema.
fn table_mismatch(db: &dyn DatabaseError) -> bool {
    const UNDEFINED: [&str; 3] = ["42P01", "42703", "3F000"];
    let Some(code) = db.code() else {
        return false;
    };
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        code == "1"
    } else {
        UNDEFINED.contains(&code.as_ref())
    }
}

/// Collapses line breaks so every message stays on one line.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Replaces the default panic output (a backtrace) with one line: a panic is a bug in the
/// tool, never the way an error is reported.
pub(crate) fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        eprintln!(
            "sqlx-sessions: internal error (please report it): {}",
            escape_control(&one_line(&what))
        );
    }));
}
