//! `list`: sessions as a table or as JSON lines.

use std::io::Write;

use clap::Args;

use super::{Context, FilterArgs};
use crate::error::{CliError, Outcome};
use crate::output::{self, Format};

/// Options of `list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Which sessions.
    #[command(flatten)]
    pub(crate) filter: FilterArgs,

    /// At most N sessions (the newest).
    #[arg(long, value_name = "N")]
    pub(crate) limit: Option<u32>,

    /// One JSON object per line instead of a table, with the fields id, extras, data,
    /// expires_at, inserted_at, updated_at, last_used_at, token_hint and is_expired (and
    /// digest with --show-digest).
    #[arg(long)]
    pub(crate) json: bool,

    /// Also show each session's stored token digest (hex). Never the token.
    #[arg(long)]
    pub(crate) show_digest: bool,
}

/// Runs `list`. An empty list is a valid answer (exit 0); the table then prints nothing
/// and says so on standard error.
pub(crate) async fn run(
    ctx: &Context,
    args: ListArgs,
    out: &mut impl Write,
) -> Result<Outcome, CliError> {
    let store = &ctx.store;
    let show = super::ShowDigests::new(store, args.show_digest)?;
    let mut filter = args.filter.filter(store)?;
    if let Some(n) = args.limit {
        filter = filter.limit(n);
    }
    let sessions = store.list(&filter).await?;
    let digests = show.of(sessions.iter().map(|s| s.id)).await?;
    let format = if args.json {
        Format::JsonLines
    } else {
        Format::Table
    };
    output::write_sessions(out, &sessions, format, digests.as_ref())?;
    if sessions.is_empty() && format == Format::Table {
        eprintln!("no sessions");
    }
    Ok(Outcome::Done)
}
