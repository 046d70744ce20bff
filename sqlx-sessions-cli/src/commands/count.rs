//! `count`: the number of matching sessions.

use std::io::Write;

use clap::Args;

use super::{Context, FilterArgs};
use crate::error::{CliError, Outcome};

/// Options of `count`.
#[derive(Debug, Args)]
pub(crate) struct CountArgs {
    /// Which sessions.
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
}

/// Runs `count`: prints the number alone (zero is an answer, exit 0).
pub(crate) async fn run(
    ctx: &Context,
    args: CountArgs,
    out: &mut impl Write,
) -> Result<Outcome, CliError> {
    let n = ctx.store.count(&args.filter.filter(&ctx.store)?).await?;
    writeln!(out, "{n}")?;
    Ok(Outcome::Done)
}
