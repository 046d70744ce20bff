//! The command line: global options and the subcommands.

use clap::{Args, Parser, Subcommand, ValueEnum};
use sqlx_sessions::settings::{parse_duration, parse_optional_duration};
use sqlx_sessions::{ExtraColumn, Hashing, Status};
use time::Duration;

use crate::commands;

const AFTER_HELP: &str = "\
The secret salt (or HMAC key) is read from the environment variable SESSIONS_SECRET_SALT only,
never from a flag, so it does not land in shell history.

Exit codes: 0 success, 1 nothing found, 2 bad usage or bad input, 3 database unreachable or failing.";

/// Look at and act on a sessions table: list, count, expire, revoke and prune sessions and
/// API keys.
#[derive(Debug, Parser)]
#[command(name = "sqlx-sessions", version, after_help = AFTER_HELP)]
pub(crate) struct Cli {
    /// Options shared by every subcommand.
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Where the sessions are and how their table and tokens look.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub(crate) struct GlobalArgs {
    /// The database: `sqlite:path/to/file.db` (or a file path),
    /// `postgres://user:password@host/database` or `mysql://user:password@host/database`
    /// (also `mariadb://`).
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        global = true,
        value_name = "URL"
    )]
    pub(crate) database_url: Option<String>,

    /// The sessions table.
    #[arg(long, default_value = "sessions", global = true, value_name = "NAME")]
    pub(crate) table: String,

    /// The schema of the table (PostgreSQL), or its database (MySQL).
    #[arg(long, global = true, value_name = "NAME")]
    pub(crate) schema: Option<String>,

    /// An extra column of the table, `NAME:TYPE` or `NAME:TYPE:optional` (types: text,
    /// integer, boolean, uuid, timestamp). Repeatable; default `user_id:text`. `--user`
    /// means the `user_id` column, or the first extra column when there is none.
    #[arg(
        long = "extra-column",
        value_name = "NAME:TYPE",
        value_parser = parse_extra_column,
        global = true
    )]
    pub(crate) extra_columns: Vec<ExtraColumn>,

    /// The digest algorithm of the tokens (sha256, sha3_256, hmac_sha256, none, ...).
    /// `none` is taken from this flag only, never from SESSIONS_HASHING alone.
    #[arg(
        long,
        env = "SESSIONS_HASHING",
        default_value = "sha256",
        value_parser = parse_hashing,
        global = true,
        value_name = "ALGORITHM"
    )]
    pub(crate) hashing: Hashing,

    /// The API-key prefix of the tokens (such as `myapp_sk_`), when the application uses one.
    #[arg(
        long,
        env = "SESSIONS_TOKEN_PREFIX",
        global = true,
        value_name = "PREFIX"
    )]
    pub(crate) token_prefix: Option<String>,

    /// Random characters in a new token.
    #[arg(
        long,
        env = "SESSIONS_TOKEN_LENGTH",
        default_value_t = 64,
        global = true,
        value_name = "N"
    )]
    pub(crate) token_length: usize,

    /// The absolute lifetime of a session since its creation, as the application sets it
    /// (`30d` by default, as the library's; `none` when the application lifts it). Lists,
    /// counts and pruning treat older sessions as expired, and `create` caps new ones.
    #[arg(
        long,
        env = "SESSIONS_MAX_LIFETIME",
        default_value = "30d",
        value_parser = parse_max_lifetime,
        global = true,
        value_name = "DURATION"
    )]
    pub(crate) max_lifetime: MaxLifetime,

    /// How long to wait for a database connection (such as `10s`).
    #[arg(
        long,
        default_value = "10s",
        value_parser = parse_timeout,
        global = true,
        value_name = "DURATION"
    )]
    pub(crate) connect_timeout: Duration,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create the sessions table and its indexes (or drop them with --down).
    Migrate(commands::migrate::MigrateArgs),
    /// Create a session and print its token, alone on one line of standard output.
    Create(commands::create::CreateArgs),
    /// List sessions, newest first, as a table or as JSON lines.
    List(commands::list::ListArgs),
    /// Print the number of matching sessions.
    Count(commands::count::CountArgs),
    /// Show the session a token belongs to ("whose key is this?"); exits 1 when none.
    Get(commands::get::GetArgs),
    /// Expire sessions now, keeping their rows; prints how many it expired.
    Expire(commands::expire::ExpireArgs),
    /// Delete sessions (sign out); prints how many it deleted.
    Revoke(commands::revoke::RevokeArgs),
    /// Delete expired sessions in batches; prints how many it deleted.
    Prune(commands::prune::PruneArgs),
    /// Totals: sessions, valid, expired, distinct users, oldest and newest.
    Stats(commands::stats::StatsArgs),
}

/// A session status on the command line.
#[derive(Clone, Copy, Debug, Default, ValueEnum)]
pub(crate) enum StatusArg {
    /// Not expired.
    #[default]
    Valid,
    /// Expired.
    Expired,
    /// Both.
    All,
}

impl From<StatusArg> for Status {
    fn from(s: StatusArg) -> Self {
        match s {
            StatusArg::Valid => Status::Valid,
            StatusArg::Expired => Status::Expired,
            StatusArg::All => Status::All,
        }
    }
}

/// A `NAME=VALUE` pair naming an extra column.
#[derive(Clone, Debug)]
pub(crate) struct ColumnValue {
    /// The column name.
    pub(crate) name: String,
    /// The value, as text (the store converts it to the column's type).
    pub(crate) value: String,
}

/// Parses `NAME=VALUE`.
pub(crate) fn parse_column_value(text: &str) -> Result<ColumnValue, String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok(ColumnValue {
            name: name.to_owned(),
            value: value.to_owned(),
        }),
        _ => Err(format!("`{text}` is not NAME=VALUE")),
    }
}

fn parse_extra_column(text: &str) -> Result<ExtraColumn, String> {
    ExtraColumn::parse_spec(text).map_err(|e| e.to_string())
}

fn parse_hashing(text: &str) -> Result<Hashing, String> {
    text.parse()
        .map_err(|e: sqlx_sessions::Error| e.to_string())
}

/// A `--max-lifetime`: a duration, or `None` when lifted.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MaxLifetime(pub(crate) Option<Duration>);

fn parse_max_lifetime(text: &str) -> Result<MaxLifetime, String> {
    parse_optional_duration("max_lifetime", text)
        .map(MaxLifetime)
        .map_err(|e| e.to_string())
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    let d = parse_duration("connect_timeout", text).map_err(|e| e.to_string())?;
    if d.is_positive() {
        Ok(d)
    } else {
        Err("must be positive".into())
    }
}

/// Parses a lifetime such as `7d`, or `none` for one that never ends.
pub(crate) fn parse_ttl(text: &str) -> Result<Option<Duration>, String> {
    let d = parse_optional_duration("ttl", text).map_err(|e| e.to_string())?;
    match d {
        Some(d) if !d.is_positive() => Err("must be positive (or none)".into()),
        d => Ok(d),
    }
}
