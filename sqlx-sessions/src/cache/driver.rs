//! The task that runs the channel's catch-up rounds, and the wait of a write for one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};

use super::entries::Entries;
use super::feed::{Change, Feed, FeedError};
use super::revoked::RevokedSessions;

/// How often the counters are logged at debug level.
const STATS_LOG_EVERY: Duration = Duration::from_secs(10);

/// The latest round outcomes, for writes waiting for one.
#[derive(Clone, Copy, Debug, Default)]
struct Rounds {
    /// When the last successful round started.
    ok_started: Option<Instant>,
    /// When the last round failed.
    failed_at: Option<Instant>,
}

/// What the store and its channel task share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) entries: Entries,
    pub(crate) revoked: RevokedSessions,
    wake: Notify,
    rounds: watch::Sender<Rounds>,
}

impl Shared {
    pub(crate) fn new(entries: Entries, revoked: RevokedSessions) -> Self {
        Shared {
            entries,
            revoked,
            wake: Notify::new(),
            rounds: watch::Sender::new(Rounds::default()),
        }
    }

    /// Returns once a round that started after this call has applied its changes, so a
    /// change this instance committed before the call is no longer served. A round that
    /// fails or does not finish within the bound clears the cache instead.
    pub(crate) async fn sync(&self) {
        let asked = Instant::now();
        let mut rounds = self.rounds.subscribe();
        self.wake.notify_one();
        let confirmed = tokio::time::timeout(
            self.entries.bound(),
            rounds.wait_for(|r| {
                r.ok_started.is_some_and(|s| s >= asked) || r.failed_at.is_some_and(|f| f >= asked)
            }),
        )
        .await;
        let ok = matches!(&confirmed, Ok(Ok(r)) if r.ok_started.is_some_and(|s| s >= asked));
        if !ok {
            self.entries.clear();
            tracing::debug!("cache cleared: a write was not confirmed by the channel in time");
        }
    }
}

/// Runs catch-up rounds forever: four per bound, and at once when a write asks.
pub(crate) async fn drive(shared: Arc<Shared>, mut feed: Box<dyn Feed>) {
    let entries = &shared.entries;
    let interval = entries.bound() / 4;
    let round_timeout = (entries.bound() * 4).max(Duration::from_secs(2));
    // The cache starts empty, but clearing on the first success costs nothing and keeps
    // one rule: the cache answers only after a clear that followed the last failure.
    let mut must_clear = true;
    let mut failing = false;
    let mut changes = Vec::new();
    let mut logged = Instant::now();
    loop {
        let started = Instant::now();
        changes.clear();
        let result = match tokio::time::timeout(round_timeout, feed.catch_up(&mut changes)).await {
            Ok(result) => result,
            Err(_) => Err(FeedError(
                "the catch-up round did not finish in time".into(),
            )),
        };
        if result.is_err() {
            // A failed or abandoned round leaves the connection in an unknown state.
            feed.reset();
        }
        let ok = result.is_ok();
        match result {
            Ok(()) => {
                if must_clear || changes.contains(&Change::All) {
                    entries.clear();
                    shared.revoked.gap();
                    tracing::debug!("cache cleared by the channel");
                } else if !changes.is_empty() {
                    for change in changes.drain(..) {
                        match change {
                            Change::Key(key) => entries.invalidate(&key),
                            Change::Revoked(id) => shared.revoked.insert(id),
                            Change::All => {}
                        }
                    }
                }
                must_clear = false;
                entries.confirm(started);
                if failing {
                    tracing::info!("cache channel back: cache cleared, answering again");
                    failing = false;
                }
                shared.rounds.send_modify(|r| r.ok_started = Some(started));
            }
            Err(error) => {
                entries.suspend();
                must_clear = true;
                if !failing {
                    tracing::warn!(%error, "cache channel failed: every lookup goes to the database until it is back");
                    failing = true;
                }
                shared
                    .rounds
                    .send_modify(|r| r.failed_at = Some(Instant::now()));
            }
        }
        if logged.elapsed() >= STATS_LOG_EVERY {
            tracing::debug!(stats = %entries.stats(), "cache counters");
            logged = Instant::now();
        }
        let next = tokio::time::Instant::from_std(started + interval);
        if ok {
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                _ = shared.wake.notified() => {}
            }
        } else {
            // No retry storm while the database is away: writes asking for a round are
            // answered by the failure (and clear the cache themselves).
            tokio::time::sleep_until(next.max(tokio::time::Instant::now() + interval)).await;
        }
    }
}
