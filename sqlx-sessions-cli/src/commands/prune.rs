//! `prune`: delete expired sessions in batches, with progress.

use std::io::{IsTerminal as _, Write};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sqlx_sessions::{Filter, Status};

use super::Context;
use crate::error::{CliError, Outcome};
use crate::output;

/// Options of `prune`.
#[derive(Debug, Args)]
pub(crate) struct PruneArgs {
    /// Rows deleted per statement, 1 to 100000 (default 5000): smaller batches hold
    /// shorter locks.
    #[arg(long, value_name = "N")]
    pub(crate) batch: Option<u32>,
}

/// Where progress goes: a bar on a terminal, plain lines otherwise (logs, cron mail).
enum Progress {
    Bar(ProgressBar),
    Lines,
}

impl Progress {
    fn new(expected: u64) -> Self {
        if !std::io::stderr().is_terminal() {
            return Progress::Lines;
        }
        let bar = ProgressBar::new(expected);
        if let Ok(style) = ProgressStyle::with_template(
            "{bar:40} {pos}/{len} expired sessions deleted ({elapsed})",
        ) {
            bar.set_style(style);
        }
        Progress::Bar(bar)
    }

    fn batch(&self, number: u64, deleted: u64, total: u64) {
        match self {
            Progress::Bar(bar) => {
                // Sessions that expire while pruning can push the total past the estimate.
                if total > bar.length().unwrap_or(0) {
                    bar.set_length(total);
                }
                bar.set_position(total);
            }
            Progress::Lines => eprintln!("batch {number}: deleted {deleted} ({total} so far)"),
        }
    }

    fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// Runs `prune`: prints the total deleted (zero is fine: exit 0).
pub(crate) async fn run(
    ctx: &Context,
    _args: PruneArgs,
    out: &mut impl Write,
) -> Result<Outcome, CliError> {
    let store = &ctx.store;
    let batch = u64::from(store.settings().prune_batch_size);
    let expected = store.count(&Filter::new().status(Status::Expired)).await?;
    let progress = Progress::new(expected);
    let mut total = 0;
    let mut number = 0;
    let result = loop {
        let n = match store.delete_expired_batch().await {
            Ok(n) => n,
            Err(e) => break Err(e),
        };
        number += 1;
        total += n;
        progress.batch(number, n, total);
        if n < batch {
            break Ok(());
        }
    };
    progress.finish();
    if let Err(e) = result {
        // Batches already deleted stay deleted: say how far it got.
        eprintln!("deleted {} before the failure", output::sessions(total));
        return Err(e.into());
    }
    writeln!(
        out,
        "deleted {} expired {}",
        total,
        if total == 1 { "session" } else { "sessions" }
    )?;
    Ok(Outcome::Done)
}
