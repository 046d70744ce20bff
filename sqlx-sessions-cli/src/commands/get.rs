//! `get`: the session a token (read from standard input) or an id belongs to.

use std::io::{self, Read as _, Write};

use clap::{ArgGroup, Args};
use sqlx_sessions::{Filter, GetOptions};
use uuid::Uuid;

use super::Context;
use crate::args::StatusArg;
use crate::error::{CliError, Outcome};
use crate::output;

/// The most standard input `get` reads: far more than any token.
const MAX_INPUT: u64 = 64 * 1024;

/// Options of `get`.
#[derive(Debug, Args)]
#[group(skip)]
#[command(group(ArgGroup::new("key").required(true).args(["token_stdin", "id"])))]
pub(crate) struct GetArgs {
    /// Read the token from standard input (so it stays out of shell history and `ps`).
    #[arg(long)]
    pub(crate) token_stdin: bool,

    /// Look the session up by id instead.
    #[arg(long, value_name = "ID")]
    pub(crate) id: Option<Uuid>,

    /// Which sessions may match (expired ones too by default: whose key it *was* matters).
    #[arg(long, value_enum, default_value_t = StatusArg::All)]
    pub(crate) status: StatusArg,

    /// Print the session as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,

    /// Also show the session's stored token digest (hex). Never the token.
    #[arg(long)]
    pub(crate) show_digest: bool,
}

/// Runs `get`: never extends the session it shows; exits 1 when there is none.
pub(crate) async fn run(
    ctx: &Context,
    args: GetArgs,
    out: &mut impl Write,
) -> Result<Outcome, CliError> {
    let store = &ctx.store;
    let show = super::ShowDigests::new(store, args.show_digest)?;
    let mut filter = Filter::new().status(args.status.into());
    if args.token_stdin {
        filter = filter.token(read_token()?);
    }
    if let Some(id) = args.id {
        filter = filter.id(id);
    }
    let Some(session) = store.get_with(&filter, GetOptions::extend(false)).await? else {
        eprintln!("no session found");
        return Ok(Outcome::NothingFound);
    };
    let digest = show
        .of([session.id])
        .await?
        .and_then(|mut found| found.remove(&session.id));
    if args.json {
        output::write_json(out, &output::session_json(&session, digest.as_deref()))?;
    } else {
        output::write_session_fields(out, &session, digest.as_deref())?;
    }
    Ok(Outcome::Done)
}

/// One token from standard input, surrounding whitespace removed. The token is never
/// repeated in an error message.
fn read_token() -> Result<String, CliError> {
    let mut input = String::new();
    io::stdin()
        .take(MAX_INPUT)
        .read_to_string(&mut input)
        .map_err(|e| CliError::usage(format!("cannot read a token from standard input: {e}")))?;
    let token = input.trim();
    if token.is_empty() {
        return Err(CliError::usage("no token on standard input"));
    }
    if token.contains(char::is_whitespace) {
        return Err(CliError::usage(
            "standard input holds more than one token; give exactly one",
        ));
    }
    Ok(token.to_owned())
}
