//! The command line: global options and the subcommands.

use std::io::{self, BufWriter, Write as _};

use clap::{Parser, Subcommand};

use crate::args::GlobalArgs;
use crate::commands::{self, Context};
use crate::connect;
use crate::error::{CliError, Outcome};

const AFTER_HELP: &str = "\
Give the database URL in the environment (export DATABASE_URL=...) rather than with
--database-url: command lines are visible to other users in `ps`.

The secret salt (or HMAC key) is read from the environment variable SQLX_SESSIONS_SECRET_SALT
only, never from a flag, so it does not land in shell history. The earlier names without the
SQLX_ prefix (SESSIONS_SECRET_SALT, SESSIONS_HASHING, ...) are still read, with a warning.

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
    /// Give a valid session a new token (same id, data and creation time) and print it,
    /// alone on one line of standard output; the old token stops working.
    Rotate(commands::change::RotateArgs),
    /// Merge JSON into the data of a valid session; exits 1 when there is none.
    Update(commands::change::UpdateArgs),
    /// Set the expiry of a session, whatever its status (--at RFC3339, or --never); a future
    /// expiry brings an expired one back.
    SetExpiry(commands::change::SetExpiryArgs),
    /// API keys: create with scopes and expiry, list, suspend, resume, roll. The table
    /// has the key columns (`keys migrate` creates it; use --table for its name).
    #[command(subcommand)]
    Keys(commands::keys::KeysCommand),
}

/// Opens the database and the store, runs the subcommand, closes the pool.
pub(crate) async fn run(cli: Cli) -> Result<Outcome, CliError> {
    let creates_table = match &cli.command {
        Command::Migrate(a) | Command::Keys(commands::keys::KeysCommand::Migrate(a)) => {
            !a.print && !a.down
        }
        _ => false,
    };
    let keys = matches!(cli.command, Command::Keys(_));
    let db = connect::open(&cli.global, creates_table).await?;
    let batch = match &cli.command {
        Command::Prune(a) => a.batch,
        _ => None,
    };
    let store = connect::store(&cli.global, &db, batch, keys)?;
    if !matches!(
        cli.command,
        Command::Migrate(_) | Command::Keys(commands::keys::KeysCommand::Migrate(_))
    ) {
        // Before any statement: a wrong --table, --schema or --extra-column is a usage
        // error naming it, and on SQLite a filter on a missing column (a double-quoted
        // name SQLite would read as a string) never runs.
        store.check_table().await?;
    }
    let ctx = Context { db, store };
    let mut out = BufWriter::new(io::stdout().lock());
    let result = match cli.command {
        Command::Migrate(args) => commands::migrate::run(&ctx, args, &mut out).await,
        Command::Create(args) => commands::create::run(&ctx, args, &mut out).await,
        Command::List(args) => commands::list::run(&ctx, args, &mut out).await,
        Command::Count(args) => commands::count::run(&ctx, args, &mut out).await,
        Command::Get(args) => commands::get::run(&ctx, args, &mut out).await,
        Command::Expire(args) => commands::expire::run(&ctx, args, &mut out).await,
        Command::Revoke(args) => commands::revoke::run(&ctx, args, &mut out).await,
        Command::Prune(args) => commands::prune::run(&ctx, args, &mut out).await,
        Command::Stats(args) => commands::stats::run(&ctx, args, &mut out).await,
        Command::Rotate(args) => commands::change::rotate(&ctx, args, &mut out).await,
        Command::Update(args) => commands::change::update(&ctx, args, &mut out).await,
        Command::SetExpiry(args) => commands::change::set_expiry(&ctx, args, &mut out).await,
        Command::Keys(command) => commands::keys::run(&ctx, command, &mut out).await,
    };
    let flushed = out.flush();
    ctx.db.close().await;
    let outcome = result?;
    flushed?;
    Ok(outcome)
}
