//! Measurement 9: how soon a revocation made elsewhere is seen by a cached instance.
//!
//! Instance A answers lookups from its cache while tasks keep looking sessions up on it;
//! instance B (its own store on its own pool, on the same table) revokes sessions that A has
//! cached, or the same pool runs a plain SQL statement instead of B's call. For every
//! revocation, a watcher looks the session up on A every millisecond from the moment the
//! revoking call returned (the commit acknowledged) until A refuses it: that time is the
//! revocation's visibility. Lookups that still found the session later than the staleness
//! bound after the commit are counted (the target is none), and so are lookups that found it
//! again after a first refusal.
//!
//! sqlx-sessions: A is a cached store, B an uncached one; B revokes with `expire`, the plain
//! SQL is `UPDATE ... SET expires_at = now()`. tower-sessions + moka: A is its
//! `CachingSessionStore`, B the plain `SqliteStore`/`PostgresStore`; B revokes with `delete`
//! (signing out), the plain SQL is a `DELETE`. Each revocation of tower-sessions is watched for
//! a fixed window, since it is never heard of.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde::Serialize;
use sqlx::AssertSqlSafe;
use sqlx_sessions::Pool;
use sqlx_sessions::cache::CacheConfig;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::cli::Plan;
use crate::contenders::moka::TowerMoka;
use crate::contenders::sqlx_sessions::SqlxSessions;
use crate::contenders::tower::Tower;
use crate::contenders::{Contender, Kind};
use crate::db::{Db, DbKind};
use crate::load::{self, Stop, Tokens};

/// Sessions the background lookups on instance A cycle through.
const LOAD_ROWS: u64 = 10_000;
/// Tasks looking sessions up on instance A during the revocations.
const LOAD_TASKS: usize = 4;
/// Revocations watched at once.
const WATCHERS: usize = 32;
/// Time between two lookups of a watched session.
const PROBE: Duration = Duration::from_millis(1);
/// Lookups of a session after its first refusal (each must refuse it too).
const AFTER_REFUSAL: usize = 3;

/// Who revokes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// Instance B, through its store.
    InstanceB,
    /// A plain SQL statement on B's pool, not through any store.
    PlainSql,
}

impl Source {
    /// Name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Source::InstanceB => "instance B",
            Source::PlainSql => "plain SQL",
        }
    }
}

/// Visibility of the revocations of one source on one cached contender.
#[derive(Clone, Debug, Serialize)]
pub struct RevokeResult {
    /// Database.
    pub db: DbKind,
    /// Contender (its instance A).
    pub contender: Kind,
    /// Who revoked.
    pub source: Source,
    /// Revocations made.
    pub revocations: u64,
    /// Revocations that instance A refused within the watch window.
    pub refused: u64,
    /// Median time from the commit to the first refusal, of the refused ones, ms.
    pub p50_ms: Option<f64>,
    /// 99th percentile of the same, ms.
    pub p99_ms: Option<f64>,
    /// Longest of the same, ms.
    pub max_ms: Option<f64>,
    /// Lookups on A that found a revoked session later than the bound after the commit.
    pub served_after_bound: u64,
    /// Lookups on A that found a revoked session again after refusing it once.
    pub served_after_refusal: u64,
    /// The staleness bound (sqlx-sessions' on this database; the same for tower-sessions).
    pub bound_ms: f64,
    /// How long each revocation was watched at most, ms.
    pub watch_ms: f64,
    /// Background lookups on A during this source's revocations.
    pub load_lookups: u64,
}

/// A session to revoke: the token a client sends, and its id for a store call.
#[derive(Clone, Debug)]
struct Target {
    token: String,
    id: Option<Uuid>,
}

/// Instance A (cached) and instance B (not) of one contender on one table.
#[derive(Clone, Debug)]
enum Pair {
    Lib { a: SqlxSessions, b: SqlxSessions },
    Moka { a: TowerMoka, b: Tower },
}

impl Pair {
    fn a(&self) -> Contender {
        match self {
            Pair::Lib { a, .. } => Contender::Lib(a.clone()),
            Pair::Moka { a, .. } => Contender::Moka(a.clone()),
        }
    }

    async fn revoke(&self, source: Source, t: &Target) -> Result<()> {
        match (self, source) {
            (Pair::Lib { b, .. }, Source::InstanceB) => {
                let id = t.id.context("no id")?;
                ensure!(
                    b.store().expire(id).await?,
                    "instance B found no session to expire"
                );
            }
            (Pair::Lib { b, .. }, Source::PlainSql) => {
                sql_expire(b, t.id.context("no id")?).await?;
            }
            (Pair::Moka { b, .. }, Source::InstanceB) => b.delete(&t.token).await?,
            (Pair::Moka { b, .. }, Source::PlainSql) => b.delete_by_sql(&t.token).await?,
        }
        Ok(())
    }
}

/// `UPDATE <table> SET expires_at = now() WHERE id = ...` on `b`'s pool, as psql would.
async fn sql_expire(b: &SqlxSessions, id: Uuid) -> Result<()> {
    let t = b.table();
    match b.pool() {
        Pool::Sqlite(pool) => {
            let now_us = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000) as i64;
            let sql = format!("UPDATE \"{t}\" SET \"expires_at\" = ?1 WHERE \"id\" = ?2");
            sqlx::query(AssertSqlSafe(sql))
                .bind(now_us)
                .bind(id.hyphenated().to_string())
                .execute(pool)
                .await?;
        }
        Pool::Postgres(pool) => {
            let sql = format!("UPDATE \"{t}\" SET \"expires_at\" = now() WHERE \"id\" = $1");
            sqlx::query(AssertSqlSafe(sql))
                .bind(id)
                .execute(pool)
                .await?;
        }
        other => bail!("the read cache is not offered on {}", other.kind()),
    }
    Ok(())
}

/// Revocation visibility on `db` for sqlx-sessions with its cache and for tower-sessions +
/// moka, from instance B and from plain SQL.
pub async fn run(plan: &Plan, db: &Db) -> Result<Vec<RevokeResult>> {
    let name = db.kind.name();
    let config = CacheConfig::new((LOAD_ROWS + 2 * plan.revocations) as usize);
    let a = SqlxSessions::open_with(db, "revoke", Some(config)).await?;
    let b = SqlxSessions::open(db, "revoke").await?;
    let bound = a
        .store()
        .cache_stats()
        .context("the cached store has no cache")?
        .bound;
    let lib_watch = (bound * 3).max(Duration::from_secs(1));
    let mut out = Vec::new();
    eprintln!("[{name}] revoke: sqlx-sessions, bound {bound:?}");
    out.extend(measure(db, &Pair::Lib { a, b }, plan.revocations, bound, lib_watch).await?);

    let tower_n = plan.tower_revocations;
    let a = TowerMoka::open(db, "revoke", LOAD_ROWS + 2 * tower_n).await?;
    let b = Tower::open(db, "revoke").await?;
    eprintln!("[{name}] revoke: tower-sessions + moka");
    out.extend(
        measure(
            db,
            &Pair::Moka { a, b },
            tower_n,
            bound,
            plan.tower_revoke_watch,
        )
        .await?,
    );
    Ok(out)
}

/// `n` revocations from each source on `pair`, under lookup load on its instance A.
async fn measure(
    db: &Db,
    pair: &Pair,
    n: u64,
    bound: Duration,
    watch: Duration,
) -> Result<Vec<RevokeResult>> {
    let a = pair.a();
    a.fill(0..LOAD_ROWS + 2 * n, super::valid_expiry()).await?;
    super::settle(db, &a).await?;
    let load_tokens: Arc<[String]> = (0..LOAD_ROWS).map(|i| a.token(i)).collect();
    super::cache::warm(&a, &load_tokens).await?;
    let mut targets = Vec::new();
    for i in LOAD_ROWS..LOAD_ROWS + 2 * n {
        let token = a.token(i);
        let id = match pair {
            Pair::Lib { a, .. } => Some(
                a.store()
                    .lookup(&token)
                    .await?
                    .context("a target session was not found")?
                    .id,
            ),
            Pair::Moka { a, .. } => {
                ensure!(a.lookup(&token).await?, "a target session was not found");
                None
            }
        };
        targets.push(Target { token, id });
    }
    let mut out = Vec::new();
    for (k, source) in [Source::InstanceB, Source::PlainSql]
        .into_iter()
        .enumerate()
    {
        let flag = Arc::new(AtomicBool::new(false));
        let background = {
            let (a, tokens, stop) = (a.clone(), load_tokens.clone(), Stop::Flag(flag.clone()));
            tokio::spawn(async move {
                load::lookups_from(&a, Tokens::List(tokens), LOAD_TASKS, stop).await
            })
        };
        let mine: Arc<[Target]> = targets[k * n as usize..(k + 1) * n as usize].into();
        let t0 = Instant::now();
        let watched = watch_all(pair, source, mine, bound, watch).await;
        flag.store(true, Ordering::Relaxed);
        let load = background.await??;
        let watched = watched?;
        ensure!(
            load.misses == 0,
            "{} background lookups found nothing",
            load.misses
        );
        let mut r = summarise(db.kind, pair, source, n, &watched, bound, watch);
        r.load_lookups = load.ops;
        eprintln!(
            "  [{}] revoke {:<20} {:<10} {} of {} refused in {:.1}s: p50 {} p99 {} max {} ms, served after the bound {}, after a refusal {}",
            db.kind.name(),
            a.kind().name(),
            source.name(),
            r.refused,
            r.revocations,
            t0.elapsed().as_secs_f64(),
            ms(r.p50_ms),
            ms(r.p99_ms),
            ms(r.max_ms),
            r.served_after_bound,
            r.served_after_refusal
        );
        out.push(r);
    }
    a.close().await;
    match pair {
        Pair::Lib { b, .. } => b.close().await,
        Pair::Moka { b, .. } => b.close().await,
    }
    Ok(out)
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "never".to_string(), |v| format!("{v:.1}"))
}

/// What watching one revocation saw.
#[derive(Clone, Copy, Debug)]
struct Watched {
    refused_after: Option<Duration>,
    served_after_bound: u64,
    served_after_refusal: u64,
}

/// Revokes every target from `WATCHERS` tasks, each watching its revocation to the end.
async fn watch_all(
    pair: &Pair,
    source: Source,
    targets: Arc<[Target]>,
    bound: Duration,
    watch: Duration,
) -> Result<Vec<Watched>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..WATCHERS {
        let (pair, targets, next) = (pair.clone(), targets.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let a = pair.a();
            let mut seen = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(t) = targets.get(i) else { break };
                ensure!(
                    a.lookup(&t.token).await?,
                    "a target was not valid before its revocation"
                );
                pair.revoke(source, t).await?;
                seen.push(watch_one(&a, &t.token, Instant::now(), bound, watch).await?);
            }
            anyhow::Ok(seen)
        }));
    }
    let mut out = Vec::new();
    for task in tasks {
        out.extend(task.await??);
    }
    Ok(out)
}

/// Looks `token` up on `a` every [`PROBE`] from `committed` until it is refused (then a few
/// more times) or `watch` has passed.
async fn watch_one(
    a: &Contender,
    token: &str,
    committed: Instant,
    bound: Duration,
    watch: Duration,
) -> Result<Watched> {
    let mut w = Watched {
        refused_after: None,
        served_after_bound: 0,
        served_after_refusal: 0,
    };
    loop {
        let found = a.lookup(token).await?;
        let elapsed = committed.elapsed();
        if !found {
            w.refused_after = Some(elapsed);
            break;
        }
        if elapsed > bound {
            w.served_after_bound += 1;
        }
        if elapsed > watch {
            return Ok(w);
        }
        tokio::time::sleep(PROBE).await;
    }
    for _ in 0..AFTER_REFUSAL {
        tokio::time::sleep(PROBE).await;
        if a.lookup(token).await? {
            w.served_after_refusal += 1;
            if committed.elapsed() > bound {
                w.served_after_bound += 1;
            }
        }
    }
    Ok(w)
}

/// The `q` quantile of sorted `v` (nearest rank).
fn quantile(v: &[f64], q: f64) -> Option<f64> {
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len().max(1));
    v.get(rank - 1).copied()
}

/// The result of `watched` (its `load_lookups` left at 0 for the caller).
fn summarise(
    db: DbKind,
    pair: &Pair,
    source: Source,
    n: u64,
    watched: &[Watched],
    bound: Duration,
    watch: Duration,
) -> RevokeResult {
    let mut refused: Vec<f64> = watched
        .iter()
        .filter_map(|w| w.refused_after)
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    refused.sort_by(f64::total_cmp);
    RevokeResult {
        db,
        contender: pair.a().kind(),
        source,
        revocations: n,
        refused: refused.len() as u64,
        p50_ms: quantile(&refused, 0.50),
        p99_ms: quantile(&refused, 0.99),
        max_ms: refused.last().copied(),
        served_after_bound: watched.iter().map(|w| w.served_after_bound).sum(),
        served_after_refusal: watched.iter().map(|w| w.served_after_refusal).sum(),
        bound_ms: bound.as_secs_f64() * 1000.0,
        watch_ms: watch.as_secs_f64() * 1000.0,
        load_lookups: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::quantile;

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), Some(50.0));
        assert_eq!(quantile(&v, 0.99), Some(99.0));
        assert_eq!(quantile(&[7.0], 0.99), Some(7.0));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
