//! The cached sessions, the epochs that keep a racing fill out, and the freshness of the
//! channel.
//!
//! An invalidation of a key takes its stripe's lock, bumps the stripe's epoch and removes the
//! key. A fill reads the epoch *before* its database read and inserts, under the same lock,
//! only if the epoch has not moved: so a row read before a change can never be inserted
//! after that change's invalidation, and hits need no lock at all.

use std::hash::BuildHasher as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::session::Session;

use super::CacheStats;

/// Independent epochs; a change invalidates the fills of one stripe only.
const STRIPES: usize = 64;

type Map = quick_cache::sync::Cache<Box<[u8]>, Arc<Session>>;

/// A fill's claim: the epoch of its key's stripe before the database was read.
#[derive(Debug)]
pub(crate) struct Ticket {
    stripe: usize,
    epoch: u64,
}

pub(crate) struct Entries {
    map: Map,
    stripes: Box<[Mutex<u64>]>,
    hasher: std::collections::hash_map::RandomState,
    /// Nanoseconds after `base` at which the last completed catch-up round started, plus
    /// one; zero while the channel is down.
    fresh_from: AtomicU64,
    base: Instant,
    bound: Duration,
    hits: AtomicU64,
    misses: AtomicU64,
    unconfirmed: AtomicU64,
    invalidations: AtomicU64,
    clears: AtomicU64,
}

impl std::fmt::Debug for Entries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entries")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

fn lock(m: &Mutex<u64>) -> MutexGuard<'_, u64> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Entries {
    pub(crate) fn new(max_entries: usize, bound: Duration) -> Self {
        Entries {
            map: Map::new(max_entries),
            stripes: (0..STRIPES).map(|_| Mutex::new(0)).collect(),
            hasher: Default::default(),
            fresh_from: AtomicU64::new(0),
            base: Instant::now(),
            bound,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            unconfirmed: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
            clears: AtomicU64::new(0),
        }
    }

    pub(crate) fn bound(&self) -> Duration {
        self.bound
    }

    fn stripe(&self, key: &[u8]) -> usize {
        (self.hasher.hash_one(key) as usize) % STRIPES
    }

    /// Whether a catch-up round that started within the bound has completed.
    pub(crate) fn serving(&self) -> bool {
        let from = self.fresh_from.load(Ordering::Acquire);
        if from == 0 {
            return false;
        }
        let started = Duration::from_nanos(from - 1);
        self.base.elapsed() < started + self.bound
    }

    /// The session cached under `key` if the channel is fresh and `servable` accepts it;
    /// otherwise the ticket a fill after the database read needs.
    pub(crate) fn get(
        &self,
        key: &[u8],
        servable: impl FnOnce(&Session) -> bool,
    ) -> Result<Session, Ticket> {
        // Freshness first, then the probe: the entry then reflects every round that had
        // completed when the lookup was served.
        let serving = self.serving();
        if serving
            && let Some(entry) = self.map.get(key)
            && servable(&entry)
        {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Session::clone(&entry));
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        if !serving {
            self.unconfirmed.fetch_add(1, Ordering::Relaxed);
        }
        let stripe = self.stripe(key);
        let epoch = *lock(&self.stripes[stripe]);
        Err(Ticket { stripe, epoch })
    }

    /// Caches `session` under `key` unless its stripe was invalidated since `ticket`.
    pub(crate) fn fill(&self, ticket: Ticket, key: &[u8], session: &Session) {
        let guard = lock(&self.stripes[ticket.stripe]);
        if *guard == ticket.epoch {
            self.map.insert(key.into(), Arc::new(session.clone()));
        }
        drop(guard);
    }

    /// Removes `key` and refuses every fill of its stripe that read before now.
    pub(crate) fn invalidate(&self, key: &[u8]) {
        let mut guard = lock(&self.stripes[self.stripe(key)]);
        *guard += 1;
        if self.map.remove(key).is_some() {
            self.invalidations.fetch_add(1, Ordering::Relaxed);
        }
        drop(guard);
    }

    /// Empties the cache and refuses every fill that read before now.
    pub(crate) fn clear(&self) {
        let mut guards: Vec<_> = self.stripes.iter().map(lock).collect();
        for g in &mut guards {
            **g += 1;
        }
        self.map.clear();
        self.clears.fetch_add(1, Ordering::Relaxed);
        drop(guards);
    }

    /// Records a completed round that started at `started`.
    pub(crate) fn confirm(&self, started: Instant) {
        let nanos = started.saturating_duration_since(self.base).as_nanos();
        let nanos = u64::try_from(nanos).unwrap_or(u64::MAX - 1) + 1;
        self.fresh_from.fetch_max(nanos, Ordering::AcqRel);
    }

    /// Stops answering until a round completes again.
    pub(crate) fn suspend(&self) {
        self.fresh_from.store(0, Ordering::Release);
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            unconfirmed: self.unconfirmed.load(Ordering::Relaxed),
            invalidations: self.invalidations.load(Ordering::Relaxed),
            clears: self.clears.load(Ordering::Relaxed),
            entries: self.map.len() as u64,
            serving: self.serving(),
            bound: self.bound,
        }
    }
}
