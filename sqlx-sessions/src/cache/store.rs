//! The cache as a store holds it, and the store's side of it: hits, fills, invalidation
//! after writes, counters.

use std::sync::Arc;

use tokio::task::JoinHandle;

use super::driver::{Shared, drive};
use super::entries::{Entries, Ticket};
use super::revoked::RevokedSessions;
use super::{CacheConfig, CacheStats, Feed};
use crate::clock::Clock;
use crate::digest::Hashing;
use crate::error::{Error, Result};
use crate::migrate::Migration;
use crate::session::Session;
use crate::store::SessionStore;

/// A store's cache and its channel task (ended when the store's last clone is dropped).
#[derive(Debug)]
pub(crate) struct StoreCache {
    shared: Arc<Shared>,
    migration: Migration,
    task: JoinHandle<()>,
}

impl Drop for StoreCache {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StoreCache {
    /// Validates `config` and starts the channel task on the current tokio runtime.
    pub(crate) fn start(
        config: &CacheConfig,
        feed: Option<Box<dyn Feed>>,
        hashing: Hashing,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        config.validate()?;
        if hashing == Hashing::None {
            return Err(Error::config(
                "cache",
                "the cache is keyed by digest, and with hashing `none` the digest is the token",
            ));
        }
        let Some(feed) = feed else {
            return Err(Error::config(
                "cache",
                "this database has no invalidation channel for the cache",
            ));
        };
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::config(
                "cache",
                "a store with a cache must be built inside a tokio runtime (its invalidation channel is a task)",
            )
        })?;
        let bound = config.bound.unwrap_or_else(|| feed.default_bound());
        let shared = Arc::new(Shared::new(
            Entries::new(config.max_entries, bound),
            RevokedSessions::new(clock),
        ));
        let migration = feed.migration();
        let task = runtime.spawn(drive(shared.clone(), feed));
        Ok(StoreCache {
            shared,
            migration,
            task,
        })
    }

    /// The DDL of the triggers (and change log) the channel reads.
    pub(crate) fn migration(&self) -> &Migration {
        &self.migration
    }

    /// The cached session of `key` if it may be served (see the module docs), or the ticket
    /// for filling it after the database read.
    pub(crate) fn get(
        &self,
        key: &[u8],
        servable: impl FnOnce(&Session) -> bool,
    ) -> std::result::Result<Session, Ticket> {
        self.shared.entries.get(key, servable)
    }

    pub(crate) fn fill(&self, ticket: Ticket, key: &[u8], session: &Session) {
        self.shared.entries.fill(ticket, key, session);
    }

    pub(crate) fn invalidate(&self, key: &[u8]) {
        self.shared.entries.invalidate(key);
    }

    #[cfg(feature = "access-tokens")]
    /// The sessions the feed reported revoked.
    pub(crate) fn revoked(&self) -> &RevokedSessions {
        &self.shared.revoked
    }

    #[cfg(feature = "access-tokens")]
    /// Whether the feed has confirmed a round within its bound (see
    /// [`CacheStats::serving`]).
    pub(crate) fn serving(&self) -> bool {
        self.shared.entries.serving()
    }

    /// Returns when no lookup on this instance can be answered with a row as it was before
    /// a write that has already run.
    pub(crate) async fn sync(&self) {
        self.shared.sync().await;
    }
}

impl SessionStore {
    /// The cache's counters, or `None` for a store without a cache.
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.cache().map(|c| c.shared.entries.stats())
    }
}
