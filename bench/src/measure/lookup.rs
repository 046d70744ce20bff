//! Measurement 1: lookups of random valid tokens, at each concurrency, interleaving the
//! contenders round by round.

use anyhow::Result;

use crate::cli::Plan;
use crate::contenders::Contender;
use crate::db::Db;
use crate::load::Tokens;
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
    let cases: Vec<_> = contenders
        .iter()
        .map(|c| (c.clone(), Tokens::Rows(rows)))
        .collect();
    let measured = super::interleave(plan, db, "lookup", &cases, &plan.concurrency).await?;
    let kinds: Vec<_> = contenders.iter().map(Contender::kind).collect();
    Ok(measured.finish(db.kind, &kinds, &plan.concurrency, |_| rows))
}
