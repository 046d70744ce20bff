//! Measurement 1: lookups of random valid tokens, at each concurrency, interleaving the
//! contenders round by round.

use anyhow::Result;

use super::Cases;
use crate::cli::Plan;
use crate::contenders::Contender;
use crate::db::Db;
use crate::load::{self, Stop};
use crate::report::LookupResult;

/// Fills the lookup tables to `plan.rows` and measures; returns the contenders (still open,
/// for the creation measurement) and the results.
pub async fn run(plan: &Plan, db: &Db) -> Result<(Vec<Contender>, Vec<LookupResult>)> {
    eprintln!(
        "[{}] lookup: filling {} rows per contender",
        db.kind.name(),
        plan.rows
    );
    let contenders = super::open_all(&plan.contenders, db, "main").await?;
    super::fill_all(db, &contenders, 0..plan.rows, super::valid_expiry()).await?;
    let results = measure(plan, db, &contenders, plan.rows).await?;
    Ok((contenders, results))
}

/// Measures lookups on tables holding `rows` valid rows.
pub async fn measure(
    plan: &Plan,
    db: &Db,
    contenders: &[Contender],
    rows: u64,
) -> Result<Vec<LookupResult>> {
    let mut cases = Cases::default();
    for round in 0..plan.rounds as usize {
        for &conc in &plan.concurrency {
            for c in super::rotated(contenders, round) {
                load::lookups(&c, rows, conc, Stop::after(plan.warmup)).await?;
                let r = load::lookups(&c, rows, conc, Stop::after(plan.case)).await?;
                eprintln!(
                    "  [{}] lookup round {} conc {:>2} {:<15} {:>9.0}/s p99 {:>7.1} us",
                    db.kind.name(),
                    round + 1,
                    conc,
                    c.kind().name(),
                    r.throughput(),
                    r.hist.value_at_quantile(0.99) as f64 / 1000.0
                );
                cases.add(c.kind(), conc, &r)?;
            }
        }
    }
    let kinds: Vec<_> = contenders.iter().map(Contender::kind).collect();
    Ok(cases.finish(db.kind, &kinds, &plan.concurrency, |_| rows))
}
