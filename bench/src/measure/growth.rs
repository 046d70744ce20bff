//! Measurement 5: lookup latency (one task) as the tables grow through the plan's sizes, and the
//! process's peak resident memory while looking up at each size.

use anyhow::Result;

use crate::cli::Plan;
use crate::db::Db;
use crate::load::{self, Stop};
use crate::report::GrowthResult;
use crate::stats::{self, LatencySummary};

/// Grows each contender's table size by size, measuring at each.
pub async fn run(plan: &Plan, db: &Db) -> Result<Vec<GrowthResult>> {
    let contenders = super::open_all(&plan.contenders, db, "growth").await?;
    let mut out = Vec::new();
    let mut filled = 0;
    for &size in &plan.growth_sizes {
        eprintln!("[{}] growth: {size} rows", db.kind.name());
        super::fill_all(db, &contenders, filled..size, super::valid_expiry()).await?;
        filled = size;
        for c in &contenders {
            load::lookups(c, size, 1, Stop::after(plan.warmup)).await?;
            stats::reset_peak_rss();
            let r = load::lookups(c, size, 1, Stop::after(plan.growth_case)).await?;
            let latency = LatencySummary::from(&r.hist);
            eprintln!(
                "  [{}] growth {:>9} {:<15} p50 {:>7.1} us p99 {:>7.1} us",
                db.kind.name(),
                size,
                c.kind().name(),
                latency.p50_us,
                latency.p99_us
            );
            out.push(GrowthResult {
                db: db.kind,
                contender: c.kind(),
                rows: size,
                throughput: r.throughput(),
                latency,
                peak_rss_kib: stats::peak_rss_kib().unwrap_or(0),
            });
        }
    }
    super::close_all(&contenders).await;
    Ok(out)
}
