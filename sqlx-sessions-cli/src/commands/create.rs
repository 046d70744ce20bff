//! `create`: a new session, its token alone on standard output.

use std::io::Write;

use clap::Args;
use sqlx_sessions::NewSession;
use time::Duration;

use super::Context;
use crate::args::{ColumnValue, parse_column_value, parse_ttl};
use crate::connect;
use crate::error::{CliError, Outcome};
use crate::output;

/// Options of `create`.
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// The user the session belongs to (see --extra-column for which column that is).
    #[arg(long, value_name = "ID")]
    pub(crate) user: Option<String>,

    /// Session data: a JSON value, usually an object such as '{"note":"ci key"}'.
    #[arg(long, value_name = "JSON")]
    pub(crate) data: Option<String>,

    /// Lifetime such as 90m, 12h, 7d or 2w, or `none` for a session that never expires
    /// (default: 7d).
    #[arg(long, value_name = "DURATION", value_parser = parse_lifetime)]
    pub(crate) ttl: Option<Lifetime>,

    /// Sets another extra column. Repeatable.
    #[arg(long = "extra", value_name = "NAME=VALUE", value_parser = parse_column_value)]
    pub(crate) extras: Vec<ColumnValue>,
}

/// A `--ttl`: a duration, or `None` for never.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lifetime(Option<Duration>);

fn parse_lifetime(text: &str) -> Result<Lifetime, String> {
    parse_ttl(text).map(Lifetime)
}

/// Runs `create`: the token goes to `out`, everything else to standard error.
pub(crate) async fn run(
    ctx: &Context,
    args: CreateArgs,
    out: &mut impl Write,
) -> Result<Outcome, CliError> {
    let store = &ctx.store;
    let mut new = NewSession::new();
    if let Some(user) = args.user {
        new = new.extra(connect::user_column(store)?, user);
    }
    for c in args.extras {
        new = new.extra(c.name, c.value);
    }
    if let Some(text) = args.data {
        let data: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| CliError::usage(format!("--data is not valid JSON: {e}")))?;
        new = new.data(data);
    }
    if let Some(Lifetime(ttl)) = args.ttl {
        new = new.expires_at(ttl.map(|d| store.now() + d));
    }
    let created = store.create(new).await?;
    let s = &created.session;
    deliver(store, &created, out).await?;
    let expires = s.expires_at.map_or_else(
        || "never expires".to_owned(),
        |t| format!("expires {}", output::format_time(t)),
    );
    eprintln!("created session {} ({expires})", s.id);
    Ok(Outcome::Done)
}

/// Writes a new token alone on one line of `out`; when that fails, the session nobody
/// received is deleted again (a token nobody has is a session nobody can use).
pub(crate) async fn deliver(
    store: &sqlx_sessions::SessionStore,
    created: &sqlx_sessions::CreatedSession,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let s = &created.session;
    let delivered = writeln!(out, "{}", created.token.expose()).and_then(|()| out.flush());
    if let Err(e) = delivered {
        let removed = store.delete(s.id).await.unwrap_or(false);
        let what = if removed {
            "deleted"
        } else {
            "could not be deleted"
        };
        return Err(CliError::Failed(format!(
            "cannot write the token to standard output ({e}); session {} {what}",
            s.id
        )));
    }
    Ok(())
}
