//! Load drivers: concurrent tokio tasks sharing one contender (so one pool), each recording the
//! latency of every operation into its own histogram, merged at the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::contenders::{Contender, Kind};
use crate::stats::new_histogram;

/// What the lookup tasks ask, once per request: a contender's lookup, or anything else that
/// answers a token (an access-token verifier).
pub trait Probe: Clone + Send + Sync + 'static {
    /// Which contender or case this is, in reports.
    fn kind(&self) -> Kind;
    /// The token a client would send for row `i`.
    fn token(&self, i: u64) -> String;
    /// Answers one request for `token`: true when it was accepted.
    fn probe(&self, token: &str) -> impl Future<Output = Result<bool>> + Send;
}

impl Probe for Contender {
    fn kind(&self) -> Kind {
        Contender::kind(self)
    }

    fn token(&self, i: u64) -> String {
        Contender::token(self, i)
    }

    fn probe(&self, token: &str) -> impl Future<Output = Result<bool>> + Send {
        self.lookup(token)
    }
}

/// When the tasks stop.
#[derive(Clone, Debug)]
pub enum Stop {
    /// At a fixed instant.
    At(Instant),
    /// When the flag is raised.
    Flag(Arc<AtomicBool>),
}

impl Stop {
    /// Stop after `d` from now.
    pub fn after(d: Duration) -> Self {
        Stop::At(Instant::now() + d)
    }

    fn done(&self) -> bool {
        match self {
            Stop::At(t) => Instant::now() >= *t,
            Stop::Flag(f) => f.load(Ordering::Relaxed),
        }
    }
}

/// What a load run did.
#[derive(Debug)]
pub struct LoadResult {
    /// Completed operations.
    pub ops: u64,
    /// Lookups that found nothing (must be 0: every token looked up is valid).
    pub misses: u64,
    /// Wall time from start until every task finished.
    pub elapsed: Duration,
    /// Latencies in nanoseconds.
    pub hist: Histogram<u64>,
}

impl LoadResult {
    /// Operations per second.
    pub fn throughput(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Where lookup tasks take their tokens from.
#[derive(Clone, Debug)]
pub enum Tokens {
    /// A random row of `0..n` of the contender's table, its token derived when picked.
    Rows(u64),
    /// A random entry of a list made beforehand, and the task yields to the scheduler after
    /// each lookup. For lookups answered from memory: deriving a token costs about as much as
    /// a hit, and a hit never waits, so without the yield one task would hold a worker
    /// thread (and starve the others, and a cache's own channel task) until the end.
    List(Arc<[String]>),
}

/// Looks up random valid tokens (rows `0..rows`) from `concurrency` tasks until `stop`.
/// Making the token (what the client sends) is outside the timed section.
pub async fn lookups(
    c: &Contender,
    rows: u64,
    concurrency: usize,
    stop: Stop,
) -> Result<LoadResult> {
    lookups_from(c, Tokens::Rows(rows), concurrency, stop).await
}

/// Looks up random tokens of `tokens` from `concurrency` tasks until `stop`.
pub async fn lookups_from<P: Probe>(
    c: &P,
    tokens: Tokens,
    concurrency: usize,
    stop: Stop,
) -> Result<LoadResult> {
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for t in 0..concurrency {
        let c = c.clone();
        let stop = stop.clone();
        let tokens = tokens.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(
                0x5eed ^ (t as u64) << 32 ^ start.elapsed().as_nanos() as u64,
            );
            let mut hist = new_histogram();
            let (mut ops, mut misses) = (0u64, 0u64);
            while !stop.done() {
                let derived;
                let token = match &tokens {
                    Tokens::Rows(rows) => {
                        derived = c.token(rng.random_range(0..*rows));
                        derived.as_str()
                    }
                    Tokens::List(list) => list[rng.random_range(0..list.len())].as_str(),
                };
                let t0 = Instant::now();
                let found = c.probe(token).await?;
                hist.saturating_record(t0.elapsed().as_nanos() as u64);
                ops += 1;
                misses += u64::from(!found);
                if matches!(tokens, Tokens::List(_)) {
                    tokio::task::yield_now().await;
                }
            }
            anyhow::Ok((ops, misses, hist))
        }));
    }
    merge(start, tasks).await
}

/// Creates sessions from `concurrency` tasks until `stop`.
pub async fn creates(c: &Contender, concurrency: usize, stop: Stop) -> Result<LoadResult> {
    let start = Instant::now();
    let counter = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let c = c.clone();
        let stop = stop.clone();
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            let mut hist = new_histogram();
            let mut ops = 0u64;
            while !stop.done() {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let t0 = Instant::now();
                std::hint::black_box(c.create(n).await?);
                hist.saturating_record(t0.elapsed().as_nanos() as u64);
                ops += 1;
            }
            anyhow::Ok((ops, 0, hist))
        }));
    }
    merge(start, tasks).await
}

type TaskOutput = Result<(u64, u64, Histogram<u64>)>;

async fn merge(
    start: Instant,
    tasks: Vec<tokio::task::JoinHandle<TaskOutput>>,
) -> Result<LoadResult> {
    let mut hist = new_histogram();
    let (mut ops, mut misses) = (0, 0);
    for task in tasks {
        let (o, m, h) = task.await.context("load task panicked")??;
        ops += o;
        misses += m;
        hist.add(&h).context("merging histograms")?;
    }
    Ok(LoadResult {
        ops,
        misses,
        elapsed: start.elapsed(),
        hist,
    })
}
