//! The arguments the subcommands share: the global options and the values several
//! subcommands parse. The subcommands and the command line both use this module; it uses
//! neither.

use clap::{Args, ValueEnum};
use sqlx_sessions::{
    ColumnType, ExtraColumn, Hashing, Status, parse_duration, parse_optional_duration,
};
use time::Duration;

/// Where the sessions are and how their table and tokens look.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub(crate) struct GlobalArgs {
    /// The database: `sqlite:path/to/file.db` (or a file path) or
    /// `postgres://user:password@host/database`. Prefer the environment variable
    /// DATABASE_URL: a flag is visible to every user of the machine in `ps` and lands in
    /// shell history. Passwords are never printed (shown as `***`).
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

    /// The PostgreSQL schema of the table.
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
    /// `none` is taken from this flag only, never from SQLX_SESSIONS_HASHING alone.
    #[arg(
        long,
        env = "SQLX_SESSIONS_HASHING",
        default_value = "sha256",
        value_parser = parse_hashing,
        global = true,
        value_name = "ALGORITHM"
    )]
    pub(crate) hashing: Hashing,

    /// The API-key prefix of the tokens (such as `myapp_sk_`), when the application uses one.
    #[arg(
        long,
        env = "SQLX_SESSIONS_TOKEN_PREFIX",
        global = true,
        value_name = "PREFIX"
    )]
    pub(crate) token_prefix: Option<String>,

    /// Random characters in a new token.
    #[arg(
        long,
        env = "SQLX_SESSIONS_TOKEN_LENGTH",
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
        env = "SQLX_SESSIONS_MAX_LIFETIME",
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

/// Parses `NAME:TYPE`, then the flags `optional` and `noindex` (`NAME:TYPE:optional`).
fn parse_extra_column(text: &str) -> Result<ExtraColumn, String> {
    let mut parts = text.split(':');
    let name = parts.next().unwrap_or_default();
    let ty = parts
        .next()
        .ok_or_else(|| format!("invalid setting `extra_column`: `{text}` is not NAME:TYPE"))?;
    let ty: ColumnType = ty
        .parse()
        .map_err(|e: sqlx_sessions::Error| e.to_string())?;
    let (mut optional, mut indexed) = (false, true);
    for flag in parts {
        match flag {
            "optional" => optional = true,
            "noindex" => indexed = false,
            _ => {
                return Err(format!(
                    "invalid setting `extra_column`: unknown flag `{flag}` in `{text}`"
                ));
            }
        }
    }
    let mut col = ExtraColumn::new(name, ty);
    if optional {
        col = col.optional();
    }
    if indexed {
        col = col.indexed();
    }
    Ok(col)
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
