//! `stats`: totals of the table.

use std::collections::HashSet;
use std::io::Write;

use clap::Args;
use serde_json::json;
use sqlx_sessions::{Filter, SessionStore, Status};
use time::OffsetDateTime;

use super::Context;
use crate::connect;
use crate::error::{CliError, Outcome};
use crate::output;

/// Sessions read per statement while scanning for distinct users.
const PAGE: u32 = 5_000;

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

/// Counts through the store, then one paged scan of every session for the distinct users
/// and the oldest and newest creation times.
async fn collect(store: &SessionStore) -> Result<Stats, CliError> {
    let mut stats = Stats {
        total: count(store, Status::All).await?,
        valid: count(store, Status::Valid).await?,
        expired: count(store, Status::Expired).await?,
        ..Stats::default()
    };
    let user = connect::user_column(store)?;
    let mut users = HashSet::new();
    let mut offset = 0;
    loop {
        let page = store
            .list(&Filter::new().status(Status::All).limit(PAGE).offset(offset))
            .await?;
        for s in &page {
            if let Some(v) = s.extra(&user).filter(|v| !v.is_null()) {
                users.insert(v.to_string());
            }
            stats.oldest = Some(stats.oldest.map_or(s.inserted_at, |t| t.min(s.inserted_at)));
            stats.newest = Some(stats.newest.map_or(s.inserted_at, |t| t.max(s.inserted_at)));
        }
        if page.len() < PAGE as usize {
            break;
        }
        offset += PAGE;
    }
    stats.distinct_users = users.len() as u64;
    Ok(stats)
}

async fn count(store: &SessionStore, status: Status) -> Result<u64, CliError> {
    Ok(store.count(&Filter::new().status(status)).await?)
}
