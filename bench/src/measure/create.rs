//! Measurement 2: sessions created per second through each contender's own creation path.

use std::collections::HashMap;

use anyhow::Result;

use super::Cases;
use crate::cli::Plan;
use crate::contenders::Contender;
use crate::db::Db;
use crate::load::{self, Stop};
use crate::report::LookupResult;

/// Creates sessions at each concurrency, interleaving contenders round by round.
pub async fn run(plan: &Plan, db: &Db, contenders: &[Contender]) -> Result<Vec<LookupResult>> {
    let mut cases = Cases::default();
    let mut rows_before = HashMap::new();
    for c in contenders {
        rows_before.insert(c.kind(), c.count().await?);
    }
    for round in 0..plan.rounds as usize {
        for &conc in &plan.concurrency {
            for c in super::rotated(contenders, round) {
                let r = load::creates(&c, conc, Stop::after(plan.case)).await?;
                eprintln!(
                    "  [{}] create round {} conc {:>2} {:<15} {:>9.0}/s",
                    db.kind.name(),
                    round + 1,
                    conc,
                    c.kind().name(),
                    r.throughput()
                );
                cases.add(c.kind(), conc, &r)?;
            }
        }
    }
    let kinds: Vec<_> = contenders.iter().map(Contender::kind).collect();
    Ok(cases.finish(db.kind, &kinds, &plan.concurrency, |k| {
        rows_before.get(&k).copied().unwrap_or(0)
    }))
}
