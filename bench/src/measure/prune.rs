//! Measurement 4: deleting `n` expired rows among `n` valid ones with each contender's own
//! delete-expired call, while lookup tasks keep running; their p99 is compared with an idle
//! baseline taken just before. Peak memory of the process during the call is recorded.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Result;

use crate::cli::Plan;
use crate::contenders::Contender;
use crate::db::Db;
use crate::load::{self, Stop};
use crate::report::PruneResult;
use crate::stats::{self, LatencySummary};

/// Runs the pruning case for every contender in turn.
pub async fn run(plan: &Plan, db: &Db) -> Result<Vec<PruneResult>> {
    let n = plan.prune_rows;
    let mut out = Vec::new();
    for &kind in &plan.contenders {
        let c = Contender::open(kind, db, "prune").await?;
        eprintln!(
            "[{}] prune: {}: filling {n} valid + {n} expired rows",
            db.kind.name(),
            kind.name()
        );
        super::fill_all(db, std::slice::from_ref(&c), 0..n, super::valid_expiry()).await?;
        super::fill_all(db, std::slice::from_ref(&c), n..2 * n, super::past_expiry()).await?;
        let r = measure(plan, db, &c, n).await?;
        eprintln!(
            "  [{}] prune {:<15} deleted {} in {:.2}s, p99 idle {:.1} us, during {:.1} us",
            db.kind.name(),
            kind.name(),
            r.deleted,
            r.seconds,
            r.idle.p99_us,
            r.during.p99_us
        );
        c.close().await;
        out.push(r);
    }
    Ok(out)
}

async fn measure(plan: &Plan, db: &Db, c: &Contender, n: u64) -> Result<PruneResult> {
    let conc = plan.prune_concurrency;
    load::lookups(c, n, conc, Stop::after(plan.warmup)).await?;
    let idle = load::lookups(c, n, conc, Stop::after(plan.prune_idle)).await?;

    let before = c.count().await?;
    stats::reset_peak_rss();
    let rss_before_kib = stats::rss_kib().unwrap_or(0);
    let flag = Arc::new(AtomicBool::new(false));
    let during = {
        let c = c.clone();
        let stop = Stop::Flag(flag.clone());
        tokio::spawn(async move { load::lookups(&c, n, conc, stop).await })
    };
    let t0 = Instant::now();
    c.delete_expired().await?;
    let seconds = t0.elapsed().as_secs_f64();
    flag.store(true, Ordering::Relaxed);
    let during = during.await??;
    let peak_rss_kib = stats::peak_rss_kib().unwrap_or(0);
    let deleted = before - c.count().await?;
    let idle_s = LatencySummary::from(&idle.hist);
    let during_s = LatencySummary::from(&during.hist);
    Ok(PruneResult {
        db: db.kind,
        contender: c.kind(),
        valid_rows: n,
        expired_rows: n,
        deleted,
        seconds,
        rows_per_sec: deleted as f64 / seconds.max(1e-9),
        p99_ratio: if idle_s.p99_us > 0.0 {
            during_s.p99_us / idle_s.p99_us
        } else {
            0.0
        },
        idle: idle_s,
        during: during_s,
        rss_before_kib,
        peak_rss_kib,
    })
}
