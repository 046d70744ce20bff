//! Measurements 7 and 8: the read cache. Repeat lookups of the same distinct sessions, from
//! many tasks, answered by sqlx-sessions with its cache, by tower-sessions with its moka
//! `CachingSessionStore`, and by raw sqlx (no cache, the baseline); and the memory a cached
//! entry takes, as the growth of the process's resident memory while every session is looked
//! up once, less that growth for the raw contender (whose pool reads the same rows and caches
//! no session: on SQLite its connections' page caches grow alike).

use std::sync::Arc;

use anyhow::{Result, ensure};
use serde::Serialize;
use sqlx_sessions::SessionStore;
use sqlx_sessions::cache::{CacheConfig, CacheStats};

use crate::cli::Plan;
use crate::contenders::moka::TowerMoka;
use crate::contenders::sqlx_sessions::SqlxSessions;
use crate::contenders::{Contender, Kind, raw::Raw};
use crate::db::{Db, DbKind};
use crate::load::Tokens;
use crate::report::LookupResult;
use crate::stats;

/// The contenders of the cache measurements, in report order.
pub const KINDS: [Kind; 3] = [Kind::SqlxSessionsCache, Kind::TowerMoka, Kind::RawSqlx];

/// What caching every session once cost in resident memory.
#[derive(Clone, Debug, Serialize)]
pub struct CacheMemoryResult {
    /// Database.
    pub db: DbKind,
    /// Contender.
    pub contender: Kind,
    /// Sessions looked up once each (and so cached, for a cached contender).
    pub entries: u64,
    /// Resident memory of the process before the lookups, KiB.
    pub rss_before_kib: u64,
    /// Resident memory after them, KiB.
    pub rss_after_kib: u64,
    /// Bytes per entry: this contender's growth less the raw contender's, divided by
    /// `entries` (`None` for the raw contender itself).
    pub bytes_per_entry: Option<f64>,
}

/// A cached contender with its sessions filled and looked up once each.
struct Prepared {
    contender: Contender,
    tokens: Arc<[String]>,
    memory: CacheMemoryResult,
}

/// Opens the three contenders on tables `name` with caches of `n` entries times
/// `plan.cache_capacity`, fills `n` rows each and looks every session up once (which fills
/// the caches), recording the memory.
async fn prepare(plan: &Plan, db: &Db, name: &str, n: u64) -> Result<Vec<Prepared>> {
    let capacity = (n as f64 * plan.cache_capacity).ceil() as u64;
    let mut out = Vec::new();
    for kind in KINDS {
        let contender = match kind {
            Kind::SqlxSessionsCache => Contender::Lib(
                SqlxSessions::open_with(db, name, Some(CacheConfig::new(capacity as usize)))
                    .await?,
            ),
            Kind::TowerMoka => Contender::Moka(TowerMoka::open(db, name, capacity).await?),
            _ => Contender::Raw(Raw::open(db, name).await?),
        };
        super::fill_all(
            db,
            std::slice::from_ref(&contender),
            0..n,
            super::valid_expiry(),
        )
        .await?;
        let tokens: Arc<[String]> = (0..n).map(|i| contender.token(i)).collect();
        let rss_before_kib = stats::rss_kib().unwrap_or(0);
        let t0 = std::time::Instant::now();
        warm(&contender, &tokens).await?;
        let rss_after_kib = stats::rss_kib().unwrap_or(0);
        eprintln!(
            "  [{}] {} looked up {n} sessions once in {:.1}s: RSS {:.1} -> {:.1} MiB",
            db.kind.name(),
            kind.name(),
            t0.elapsed().as_secs_f64(),
            rss_before_kib as f64 / 1024.0,
            rss_after_kib as f64 / 1024.0
        );
        out.push(Prepared {
            contender,
            tokens,
            memory: CacheMemoryResult {
                db: db.kind,
                contender: kind,
                entries: n,
                rss_before_kib,
                rss_after_kib,
                bytes_per_entry: None,
            },
        });
    }
    let growth = |m: &CacheMemoryResult| m.rss_after_kib as f64 - m.rss_before_kib as f64;
    let control = out
        .iter()
        .find(|p| p.memory.contender == Kind::RawSqlx)
        .map(|p| growth(&p.memory))
        .unwrap_or(0.0);
    for p in &mut out {
        if p.memory.contender != Kind::RawSqlx {
            p.memory.bytes_per_entry =
                Some((growth(&p.memory) - control) * 1024.0 / n.max(1) as f64);
        }
    }
    Ok(out)
}

/// Looks every token up once, from 16 tasks; every one must be found.
pub(super) async fn warm(c: &Contender, tokens: &Arc<[String]>) -> Result<()> {
    const TASKS: usize = 16;
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let (c, tokens) = (c.clone(), tokens.clone());
        tasks.push(tokio::spawn(async move {
            let mut missing = 0u64;
            for token in tokens.iter().skip(t).step_by(TASKS) {
                missing += u64::from(!c.lookup(token).await?);
            }
            anyhow::Ok(missing)
        }));
    }
    let mut missing = 0;
    for task in tasks {
        missing += task.await??;
    }
    ensure!(missing == 0, "{missing} sessions were not found");
    Ok(())
}

/// Throughput and latency of repeat lookups of `plan.cache_sessions` sessions at
/// `plan.cache_concurrency` tasks, contenders interleaved round by round; and the memory of
/// caching them.
pub async fn run(plan: &Plan, db: &Db) -> Result<(Vec<LookupResult>, Vec<CacheMemoryResult>)> {
    let n = plan.cache_sessions;
    let conc = plan.cache_concurrency;
    eprintln!(
        "[{}] cache: {n} sessions, {conc} tasks, caches of {}x that",
        db.kind.name(),
        plan.cache_capacity
    );
    let prepared = prepare(plan, db, "cache", n).await?;
    let cases: Vec<_> = prepared
        .iter()
        .map(|p| (p.contender.clone(), Tokens::List(p.tokens.clone())))
        .collect();
    let lib = prepared.iter().find_map(|p| match &p.contender {
        Contender::Lib(lib) => Some(lib.store().clone()),
        _ => None,
    });
    let before = lib.as_ref().and_then(|s| s.cache_stats());
    let measured = super::interleave(plan, db, "cache", &cases, &[conc]).await?;
    if let Some(store) = &lib {
        report_stats(db, before, store);
    }
    let lookups = measured.finish(db.kind, &KINDS, &[conc], |_| n);
    let memory = prepared.iter().map(|p| p.memory.clone()).collect();
    for p in &prepared {
        p.contender.close().await;
    }
    Ok((lookups, memory))
}

/// Prints what `store`'s cache did since `before`: hits, and misses with those that went to
/// the database only because the channel had not confirmed a round within the bound.
pub(super) fn report_stats(db: &Db, before: Option<CacheStats>, store: &SessionStore) {
    if let (Some(before), Some(after)) = (before, store.cache_stats()) {
        eprintln!(
            "  [{}] cache during the measurement: {} hits, {} misses ({} while the channel was unconfirmed); now {after}",
            db.kind.name(),
            after.hits - before.hits,
            after.misses - before.misses,
            after.unconfirmed - before.unconfirmed,
        );
    }
}

/// Resident memory with `plan.cache_memory_entries` sessions cached (one lookup each).
pub async fn memory(plan: &Plan, db: &Db) -> Result<Vec<CacheMemoryResult>> {
    let n = plan.cache_memory_entries;
    eprintln!("[{}] cache memory: {n} sessions", db.kind.name());
    let prepared = prepare(plan, db, "cache_memory", n).await?;
    let memory = prepared.iter().map(|p| p.memory.clone()).collect();
    for p in &prepared {
        p.contender.close().await;
    }
    Ok(memory)
}
