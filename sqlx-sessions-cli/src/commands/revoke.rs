//! `revoke`: delete sessions, signing their owners out.

use std::io::Write;

use clap::Args;

use super::{Context, TargetArgs, affected};
use crate::error::{CliError, Outcome};
use crate::output;

/// Options of `revoke`.
#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    /// Which sessions (valid or expired).
    #[command(flatten)]
    pub(crate) target: TargetArgs,
}

/// Runs `revoke`: prints how many sessions it deleted; exits 1 when none.
pub(crate) async fn run(
    ctx: &Context,
    args: RevokeArgs,
    out: &mut impl Write,
) -> Result<Outcome, CliError> {
    let store = &ctx.store;
    let n = match args.target.filter(store)? {
        Some(filter) => store.delete_all(&filter).await?.len() as u64,
        None => {
            let mut n = 0;
            for id in &args.target.which.ids {
                n += u64::from(store.delete(*id).await?);
            }
            n
        }
    };
    writeln!(out, "revoked {}", output::sessions(n))?;
    Ok(affected(n))
}
