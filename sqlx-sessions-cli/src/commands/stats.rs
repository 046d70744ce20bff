//! `stats`: totals of the table.

use std::io::Write;

use clap::Args;
use serde_json::json;
use sqlx_sessions::{Filter, SessionStore, Status};
use time::OffsetDateTime;

use super::Context;
use crate::connect;
use crate::error::{CliError, Outcome};
use crate::output;

/// Options of `stats`.
#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    /// Print one JSON object instead of lines for people.
    #[arg(long)]
    pub(crate) json: bool,
}

/// The totals `stats` reports.
#[derive(Debug, Default)]
struct Stats {
    total: u64,
    valid: u64,
    expired: u64,
    distinct_users: u64,
    oldest: Option<OffsetDateTime>,
    newest: Option<OffsetDateTime>,
}

/// Runs `stats`.
pub(crate) async fn run(
    ctx: &Context,
    args: StatsArgs,
    out: &mut impl Write,
) -> Result<Outcome, CliError> {
    let stats = collect(&ctx.store).await?;
    let time = |t: Option<OffsetDateTime>| t.map(output::format_time);
    if args.json {
        let value = json!({
            "total": stats.total,
            "valid": stats.valid,
            "expired": stats.expired,
            "distinct_users": stats.distinct_users,
            "oldest": time(stats.oldest),
            "newest": time(stats.newest),
        });
        writeln!(out, "{value}")?;
    } else {
        let none = || "-".to_owned();
        let fields = [
            ("total", stats.total.to_string()),
            ("valid", stats.valid.to_string()),
            ("expired", stats.expired.to_string()),
            ("distinct users", stats.distinct_users.to_string()),
            ("oldest", time(stats.oldest).unwrap_or_else(none)),
            ("newest", time(stats.newest).unwrap_or_else(none)),
        ]
        .map(|(k, v)| (k.to_owned(), v));
        output::write_fields(out, &fields)?;
    }
    Ok(Outcome::Done)
}

/// A few aggregate queries: counts by status, distinct users, and the creation-time range.
async fn collect(store: &SessionStore) -> Result<Stats, CliError> {
    let all = Filter::new().status(Status::All);
    let user = connect::user_column(store)?;
    let range = store.inserted_range(&all).await?;
    Ok(Stats {
        total: count(store, Status::All).await?,
        valid: count(store, Status::Valid).await?,
        expired: count(store, Status::Expired).await?,
        distinct_users: store.count_distinct(&user, &all).await?,
        oldest: range.map(|(oldest, _)| oldest),
        newest: range.map(|(_, newest)| newest),
    })
}

async fn count(store: &SessionStore, status: Status) -> Result<u64, CliError> {
    Ok(store.count(&Filter::new().status(status)).await?)
}
