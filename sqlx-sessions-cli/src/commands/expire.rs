//! `expire`: end sessions now, keeping their rows (for the record, or for `prune`).

use std::io::Write;

use clap::Args;

use super::{Context, TargetArgs, affected};
use crate::error::{CliError, Outcome};
use crate::output;

/// Options of `expire`.
#[derive(Debug, Args)]
pub(crate) struct ExpireArgs {
    /// Which sessions.
    #[command(flatten)]
    pub(crate) target: TargetArgs,
}

/// Runs `expire`: prints how many valid sessions it expired; exits 1 when none.
pub(crate) async fn run(
    ctx: &Context,
    args: ExpireArgs,
    out: &mut impl Write,
) -> Result<Outcome, CliError> {
    let store = &ctx.store;
    let n = match args.target.filter(store)? {
        Some(filter) => store.expire_all(&filter).await?.len() as u64,
        None => {
            let mut n = 0;
            for id in &args.target.which.ids {
                n += u64::from(store.expire(*id).await?);
            }
            n
        }
    };
    writeln!(out, "expired {}", output::sessions(n))?;
    Ok(affected(n))
}
