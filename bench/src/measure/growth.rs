//! Measurement 5: lookup latency (one task) as the tables grow through the plan's sizes, and the
//! process's peak resident memory while looking up at each size.

use std::collections::HashMap;

use anyhow::Result;

use crate::cli::Plan;
use crate::contenders::Kind;
use crate::db::Db;
use crate::load::{self, Stop};
use crate::report::GrowthResult;
use crate::stats::{self, LatencySummary, median, new_histogram};

/// Grows each contender's table size by size, measuring at each.
pub async fn run(plan: &Plan, db: &Db) -> Result<Vec<GrowthResult>> {
    let contenders = super::open_all(&plan.contenders, db, "growth").await?;
    let mut out = Vec::new();
    let mut filled = 0;
    for (step, &size) in plan.growth_sizes.iter().enumerate() {
        eprintln!("[{}] growth: {size} rows", db.kind.name());
        super::fill_all(db, &contenders, filled..size, super::valid_expiry()).await?;
        filled = size;
        for c in &contenders {
            super::prewarm(db, c).await?;
            load::lookups(c, size, 1, Stop::after(plan.warmup)).await?;
        }
        // Interleaved rounds in an order that rotates, so that none is always first.
        let mut acc: HashMap<Kind, (Vec<f64>, hdrhistogram::Histogram<u64>, u64)> = HashMap::new();
        for round in 0..plan.rounds as usize {
            for c in &super::rotated(&contenders, step + round) {
                stats::reset_peak_rss();
                let r = load::lookups(c, size, 1, Stop::after(plan.growth_case)).await?;
                let peak = stats::peak_rss_kib().unwrap_or(0);
                eprintln!(
                    "  [{}] growth {:>9} round {} {:<15} p50 {:>7.1} us p99 {:>7.1} us",
                    db.kind.name(),
                    size,
                    round + 1,
                    c.kind().name(),
                    r.hist.value_at_quantile(0.5) as f64 / 1000.0,
                    r.hist.value_at_quantile(0.99) as f64 / 1000.0
                );
                let e = acc
                    .entry(c.kind())
                    .or_insert_with(|| (Vec::new(), new_histogram(), 0));
                e.0.push(r.throughput());
                e.1.add(&r.hist)?;
                e.2 = e.2.max(peak);
            }
        }
        for c in &contenders {
            if let Some((tp, hist, peak)) = acc.remove(&c.kind()) {
                out.push(GrowthResult {
                    db: db.kind,
                    contender: c.kind(),
                    rows: size,
                    throughput: median(&tp),
                    latency: LatencySummary::from(&hist),
                    peak_rss_kib: peak,
                });
            }
        }
    }
    super::close_all(&contenders).await;
    Ok(out)
}
