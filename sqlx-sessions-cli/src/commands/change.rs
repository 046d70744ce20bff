//! `rotate`, `update` and `set-expiry`: change one session in place.

use std::io::Write;

use clap::{ArgGroup, Args};
use sqlx_sessions::{Session, SessionUpdate};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::Context;
use crate::error::{CliError, Outcome};
use crate::output;

/// Options of `rotate`.
#[derive(Debug, Args)]
pub(crate) struct RotateArgs {
    /// The session (its id, as `list` shows it).
    pub(crate) id: Uuid,
}

/// Options of `update`.
#[derive(Debug, Args)]
pub(crate) struct UpdateArgs {
    /// The session (its id, as `list` shows it).
    pub(crate) id: Uuid,

    /// A JSON object whose top-level keys are merged into the session's data (added or
    /// overwritten; the other keys stay).
    #[arg(long, value_name = "JSON")]
    pub(crate) data: String,
}

/// Options of `set-expiry`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("when").required(true).args(["at", "never"])))]
pub(crate) struct SetExpiryArgs {
    /// The session (its id, as `list` shows it).
    pub(crate) id: Uuid,

    /// The new expiry, RFC 3339 (such as 2031-01-01T00:00:00Z). A future one brings an
    /// expired or revoked session back; a past one expires it.
    #[arg(long, value_name = "RFC3339", value_parser = parse_rfc3339)]
    pub(crate) at: Option<OffsetDateTime>,

    /// The session never expires (the store's --max-lifetime still caps it).
    #[arg(long)]
    pub(crate) never: bool,
}

fn parse_rfc3339(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| format!("not an RFC 3339 time: {e}"))
}

/// Runs `rotate`: the new token alone on standard output; exits 1 when the session is not
/// valid.
pub(crate) async fn rotate(
    ctx: &Context,
    args: RotateArgs,
    out: &mut impl Write,
) -> Result<Outcome, CliError> {
    let Some(rotated) = ctx.store.rotate(args.id).await? else {
        return Ok(none());
    };
    writeln!(out, "{}", rotated.token.expose()).and_then(|()| out.flush())?;
    eprintln!("rotated the token of session {}", rotated.session.id);
    Ok(Outcome::Done)
}

/// Runs `update`: merges `--data` into the valid session and shows it.
pub(crate) async fn update(
    ctx: &Context,
    args: UpdateArgs,
    out: &mut impl Write,
) -> Result<Outcome, CliError> {
    let patch: serde_json::Value = serde_json::from_str(&args.data)
        .map_err(|e| CliError::usage(format!("--data is not valid JSON: {e}")))?;
    if !patch.is_object() {
        return Err(CliError::usage("--data must be a JSON object"));
    }
    let change = SessionUpdate::new().merge(patch);
    show(ctx.store.update(args.id, change).await?, out)
}

/// Runs `set-expiry`: any expiry, on a session of any status, and shows it.
pub(crate) async fn set_expiry(
    ctx: &Context,
    args: SetExpiryArgs,
    out: &mut impl Write,
) -> Result<Outcome, CliError> {
    let at = if args.never { None } else { args.at };
    show(ctx.store.set_expiry(args.id, at).await?, out)
}

fn show(session: Option<Session>, out: &mut impl Write) -> Result<Outcome, CliError> {
    match session {
        Some(s) => {
            output::write_session_fields(out, &s, None)?;
            Ok(Outcome::Done)
        }
        None => Ok(none()),
    }
}

fn none() -> Outcome {
    eprintln!("no session found");
    Outcome::NothingFound
}
