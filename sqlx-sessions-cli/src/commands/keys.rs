//! `keys`: API keys with their lifecycle. Every `keys` subcommand opens the table with the
//! key columns (`scopes`, `suspended_at`, `replaced_by`, `use_count`, `last_used_at`), as
//! `keys migrate` creates them.

use std::io::Write;

use clap::{Args, Subcommand};
use sqlx_sessions::{Filter, KeyExpiry, NewSession, Session, parse_duration};
use time::Duration;
use uuid::Uuid;

use super::{Context, FilterArgs};
use crate::connect;
use crate::error::{CliError, Outcome};
use crate::output::{self, Format};

/// The `keys` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Create the table of API keys with the key columns (or drop it with --down).
    Migrate(super::migrate::MigrateArgs),
    /// Create a key with its name, scopes and expiry; print it alone on standard output.
    Create(CreateKeyArgs),
    /// List keys with their scopes, status, expiry, last use and uses.
    List(ListKeysArgs),
    /// Suspend a key: refused until resumed, keeping everything it has.
    Suspend(KeyId),
    /// Resume a suspended key.
    Resume(KeyId),
    /// Issue a new key for the same owner, name and scopes; print it alone on standard
    /// output. The old key works for --grace, then never again.
    Roll(RollArgs),
}

/// Options of `keys create`.
#[derive(Debug, Args)]
pub(crate) struct CreateKeyArgs {
    /// The user the key belongs to (see --extra-column for which column that is).
    #[arg(long, value_name = "ID")]
    pub(crate) user: Option<String>,

    /// What the key is for (kept in its data as `name`).
    #[arg(long, value_name = "NAME")]
    pub(crate) name: String,

    /// A scope the key grants, such as `orders:read`, `orders:*` or `*`. Repeatable.
    #[arg(long = "scope", value_name = "SCOPE")]
    pub(crate) scopes: Vec<String>,

    /// When the key expires: a span (30d, 90d, 12h), a date (2031-01-31 or RFC 3339), or
    /// `never`. Required: the choice is explicit.
    #[arg(long, value_name = "WHEN", value_parser = parse_expiry)]
    pub(crate) expires: KeyExpiry,
}

/// Options of `keys list`.
#[derive(Debug, Args)]
pub(crate) struct ListKeysArgs {
    /// Which keys.
    #[command(flatten)]
    pub(crate) filter: FilterArgs,

    /// Only keys whose scopes grant SCOPE (wildcards included). Repeatable: all of them.
    #[arg(long = "scope", value_name = "SCOPE")]
    pub(crate) scopes: Vec<String>,

    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

/// The key a subcommand acts on.
#[derive(Debug, Args)]
pub(crate) struct KeyId {
    /// The key's id, as `keys list` shows it.
    pub(crate) id: Uuid,
}

/// Options of `keys roll`.
#[derive(Debug, Args)]
pub(crate) struct RollArgs {
    /// The key's id, as `keys list` shows it.
    pub(crate) id: Uuid,

    /// How long the old key keeps working (such as 1h or 7d; 0 rolls it at once).
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = parse_grace)]
    pub(crate) grace: Duration,
}

fn parse_expiry(text: &str) -> Result<KeyExpiry, String> {
    text.parse()
        .map_err(|e: sqlx_sessions::Error| e.to_string())
}

fn parse_grace(text: &str) -> Result<Duration, String> {
    parse_duration("grace", text).map_err(|e| e.to_string())
}

/// Runs a `keys` subcommand.
pub(crate) async fn run(
    ctx: &Context,
    command: KeysCommand,
    out: &mut impl Write,
) -> Result<Outcome, CliError> {
    let store = &ctx.store;
    match command {
        KeysCommand::Migrate(args) => super::migrate::run(ctx, args, out).await,
        KeysCommand::Create(args) => {
            let mut new = NewSession::new()
                .data(serde_json::json!({ "name": args.name }))
                .scopes(args.scopes)
                .expiry(args.expires);
            if let Some(user) = args.user {
                new = new.extra(connect::user_column(store)?, user);
            }
            let created = store.create(new).await?;
            super::create::deliver(store, &created, out).await?;
            eprintln!(
                "created key {} ({})",
                created.session.id,
                expires(&created.session)
            );
            Ok(Outcome::Done)
        }
        KeysCommand::List(args) => {
            let mut filter: Filter = args.filter.filter(store)?;
            for scope in args.scopes {
                filter = filter.has_scope(scope);
            }
            let keys = store.list(&filter).await?;
            if args.json {
                output::write_sessions(out, &keys, Format::JsonLines, None)?;
            } else {
                output::write_keys(out, &keys, store.now())?;
                if keys.is_empty() {
                    eprintln!("no keys");
                }
            }
            Ok(Outcome::Done)
        }
        KeysCommand::Suspend(KeyId { id }) => changed(store.suspend(id).await?, "suspended"),
        KeysCommand::Resume(KeyId { id }) => changed(store.resume(id).await?, "resumed"),
        KeysCommand::Roll(args) => {
            if args.grace.is_negative() {
                return Err(CliError::usage("--grace must be zero or more"));
            }
            let Some(rolled) = store.roll(args.id, args.grace).await? else {
                eprintln!("no valid, unsuspended key {} to roll", args.id);
                return Ok(Outcome::NothingFound);
            };
            super::create::deliver(store, &rolled, out).await?;
            eprintln!(
                "rolled key {} to {} ({}); the old key works for {}",
                args.id,
                rolled.session.id,
                expires(&rolled.session),
                args.grace
            );
            Ok(Outcome::Done)
        }
    }
}

fn expires(s: &Session) -> String {
    s.expires_at.map_or_else(
        || "never expires".to_owned(),
        |t| format!("expires {}", output::format_time(t)),
    )
}

fn changed(session: Option<Session>, what: &str) -> Result<Outcome, CliError> {
    match session {
        Some(s) => {
            eprintln!("{what} key {}", s.id);
            Ok(Outcome::Done)
        }
        None => {
            eprintln!("no valid key found");
            Ok(Outcome::NothingFound)
        }
    }
}
