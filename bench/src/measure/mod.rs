//! The measurements of the issue, one module each, and what they share.

pub mod access;
pub mod cache;
pub mod create;
pub mod growth;
pub mod http;
pub mod lookup;
pub mod prune;
pub mod revoke;
pub mod tower_http;
pub mod writes;

use std::collections::HashMap;
use std::ops::Range;
use std::time::Instant;

use anyhow::Result;
use hdrhistogram::Histogram;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};
use time::OffsetDateTime;

use crate::cli::Plan;
use crate::contenders::{Contender, Kind};
use crate::db::{Db, DbKind};
use crate::load::{self, LoadResult, Probe, Stop, Tokens};
use crate::report::LookupResult;
use crate::stats::{LatencySummary, median, new_histogram};

/// Expiry of valid rows: a week from now (the libraries' default lifetime).
pub fn valid_expiry() -> OffsetDateTime {
    OffsetDateTime::now_utc() + time::Duration::days(7)
}

/// Expiry of expired rows: a day ago.
pub fn past_expiry() -> OffsetDateTime {
    OffsetDateTime::now_utc() - time::Duration::days(1)
}

/// Opens one contender of each kind for the measurement `name`.
pub async fn open_all(kinds: &[Kind], db: &Db, name: &str) -> Result<Vec<Contender>> {
    let mut out = Vec::new();
    for &k in kinds {
        out.push(Contender::open(k, db, name).await?);
    }
    Ok(out)
}

/// Bulk-fills rows `range` of every contender, then settles the tables.
pub async fn fill_all(
    db: &Db,
    contenders: &[Contender],
    range: Range<u64>,
    expires_at: OffsetDateTime,
) -> Result<()> {
    for c in contenders {
        let t0 = Instant::now();
        c.fill(range.clone(), expires_at).await?;
        settle(db, c).await?;
        eprintln!(
            "  [{}] filled {} rows {}..{} in {:.1}s",
            db.kind.name(),
            c.kind().name(),
            range.start,
            range.end,
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Brings a freshly written table to a steady state so every contender starts alike:
/// `VACUUM ANALYZE` on PostgreSQL, a WAL checkpoint on SQLite, `ANALYZE TABLE` on MySQL.
pub async fn settle(db: &Db, c: &Contender) -> Result<()> {
    match db.kind {
        DbKind::Postgres => {
            let mut conn = db.pg_connection().await?;
            let sql = format!("VACUUM ANALYZE \"{}\".\"{}\"", c.pg_schema(), c.table());
            sqlx::query(AssertSqlSafe(sql)).execute(&mut conn).await?;
            conn.close().await?;
        }
        DbKind::Sqlite => {
            let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(db.sqlite_file(c.table()))
                .busy_timeout(std::time::Duration::from_secs(60))
                .connect()
                .await?;
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut conn)
                .await?;
            conn.close().await?;
        }
        DbKind::Mysql => {
            let mut conn = db.mysql_connection().await?;
            let sql = format!("ANALYZE TABLE `{}`", c.table());
            sqlx::query(AssertSqlSafe(sql)).execute(&mut conn).await?;
            conn.close().await?;
        }
    }
    Ok(())
}

/// Reads a contender's table and its indexes once, so every contender is measured with its
/// pages in memory whatever order the tables were written in (a machine that reclaims cold
/// page cache otherwise favours the table written last). PostgreSQL: `pg_prewarm` in `read`
/// mode (into the OS page cache) of the table and each index; SQLite: the file read through;
/// MySQL: a full count through the primary key (into InnoDB's buffer pool).
pub async fn prewarm(db: &Db, c: &Contender) -> Result<()> {
    match db.kind {
        DbKind::Postgres => {
            let mut conn = db.pg_connection().await?;
            sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
                .execute(&mut conn)
                .await?;
            let table = format!("\"{}\".\"{}\"", c.pg_schema(), c.table());
            sqlx::query(
                "SELECT sum(pg_prewarm(r, 'read')) FROM (SELECT $1::regclass AS r UNION ALL \
                 SELECT indexrelid::regclass FROM pg_index WHERE indrelid = $1::regclass) AS t",
            )
            .bind(table)
            .execute(&mut conn)
            .await?;
            conn.close().await?;
        }
        DbKind::Sqlite => {
            let path = db.sqlite_file(c.table());
            tokio::task::spawn_blocking(move || -> Result<()> {
                let mut file = std::fs::File::open(path)?;
                std::io::copy(&mut file, &mut std::io::sink())?;
                Ok(())
            })
            .await??;
        }
        DbKind::Mysql => {
            let mut conn = db.mysql_connection().await?;
            let sql = format!("SELECT COUNT(*) FROM `{}` FORCE INDEX (PRIMARY)", c.table());
            sqlx::query(AssertSqlSafe(sql)).execute(&mut conn).await?;
            conn.close().await?;
        }
    }
    Ok(())
}

/// Closes every contender's pool.
pub async fn close_all(contenders: &[Contender]) {
    for c in contenders {
        c.close().await;
    }
}

/// `contenders` rotated by `round`, so no contender always runs first.
pub fn rotated<T: Clone>(items: &[T], round: usize) -> Vec<T> {
    let mut v = items.to_vec();
    if !v.is_empty() {
        let k = round % v.len();
        v.rotate_left(k);
    }
    v
}

/// Measures every case at each of `concurrency`, `plan.rounds` times: the cases rotated
/// round by round, a warm-up before each measured slice, a progress line after it.
pub async fn interleave<P: Probe>(
    plan: &Plan,
    db: &Db,
    what: &str,
    cases: &[(P, Tokens)],
    concurrency: &[usize],
) -> Result<Cases> {
    let mut acc = Cases::default();
    for round in 0..plan.rounds as usize {
        for &conc in concurrency {
            for (c, tokens) in rotated(cases, round) {
                load::lookups_from(&c, tokens.clone(), conc, Stop::after(plan.warmup)).await?;
                let r = load::lookups_from(&c, tokens, conc, Stop::after(plan.case)).await?;
                eprintln!(
                    "  [{}] {what} round {} conc {conc:>2} {:<20} {:>10.0}/s p50 {:>7.1} us p99 {:>7.1} us",
                    db.kind.name(),
                    round + 1,
                    c.kind().name(),
                    r.throughput(),
                    r.hist.value_at_quantile(0.5) as f64 / 1000.0,
                    r.hist.value_at_quantile(0.99) as f64 / 1000.0
                );
                acc.add(c.kind(), conc, &r)?;
            }
        }
    }
    Ok(acc)
}

/// Accumulates the rounds of throughput cases (one per contender and concurrency).
#[derive(Debug, Default)]
pub struct Cases {
    map: HashMap<(Kind, usize), CaseAcc>,
}

#[derive(Debug)]
struct CaseAcc {
    throughputs: Vec<f64>,
    ops: u64,
    misses: u64,
    hist: Histogram<u64>,
}

impl Cases {
    /// Adds one measured slice.
    pub fn add(&mut self, kind: Kind, concurrency: usize, r: &LoadResult) -> Result<()> {
        let e = self
            .map
            .entry((kind, concurrency))
            .or_insert_with(|| CaseAcc {
                throughputs: Vec::new(),
                ops: 0,
                misses: 0,
                hist: new_histogram(),
            });
        e.throughputs.push(r.throughput());
        e.ops += r.ops;
        e.misses += r.misses;
        e.hist.add(&r.hist)?;
        Ok(())
    }

    /// One result per contender and concurrency: median throughput, merged latencies.
    pub fn finish(
        mut self,
        db: DbKind,
        kinds: &[Kind],
        concurrency: &[usize],
        rows: impl Fn(Kind) -> u64,
    ) -> Vec<LookupResult> {
        let mut out = Vec::new();
        for &conc in concurrency {
            for &k in kinds {
                if let Some(acc) = self.map.remove(&(k, conc)) {
                    out.push(LookupResult {
                        db,
                        contender: k,
                        concurrency: conc,
                        rows: rows(k),
                        throughput: median(&acc.throughputs),
                        round_throughputs: acc.throughputs,
                        ops: acc.ops,
                        misses: acc.misses,
                        latency: LatencySummary::from(&acc.hist),
                    });
                }
            }
        }
        out
    }
}
