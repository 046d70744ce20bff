//! A read cache of lookups that still honours every revocation (feature `cache`).
//!
//! [`StoreBuilder::cache`](crate::StoreBuilder::cache) keeps recently looked-up sessions in
//! memory, bounded by a number of entries and keyed by the token's stored digest (never
//! the token: a store with hashing `none` cannot have a cache). A hit costs one digest and
//! one probe; a miss is the ordinary lookup, whose row then fills the cache.
//!
//! # What is never served
//!
//! - **Changes through this store** (expire, delete, `expire_all`, `delete_all`, extension,
//!   `last_used_at`, re-digest, `mark_authenticated`, `update`, `set_expiry`, `rotate`, the
//!   eviction of a cap per owner, pruning): never served after the call returns, including
//!   to a lookup that raced the change. Every write path ends by waiting until the
//!   invalidation channel has caught up with its commit (or, when the channel does not
//!   answer within the bound, by clearing the cache).
//! - **Changes in a caller's transaction** (the `*_in` operations) are invalidated after
//!   their statement as well, but are only reported once the caller commits, so until the
//!   staleness bound after that commit the cache may still serve the row as it was before
//!   (which is what any other connection sees until then); `*_in` lookups never use the cache.
//! - **Changes by anyone else** (another instance, the CLI, plain SQL such as
//!   `UPDATE sessions SET expires_at = now()`): never served more than the *staleness
//!   bound* after they commit, with no cooperation from the writer. The database reports
//!   every `UPDATE`, `DELETE` (and, on PostgreSQL, `TRUNCATE`) of the table through
//!   triggers that the store's [migration](crate::SessionStore::migration) creates:
//!   - PostgreSQL: the triggers call `pg_notify`; the store listens on a connection of
//!     its own. Default bound 100 ms.
//!   - SQLite: the triggers append the changed digests to a change-log table
//!     (`<table>_changes`, which keeps its last 100,000 rows) that the store polls.
//!     Default bound 1 s.
//!   - MySQL and MariaDB: the same change log (an `AUTO_INCREMENT` sequence, kept at its
//!     last 100,000 rows by the pollers), polled on a connection of the store's own.
//!     Default bound 1 s. The sequence is not commit order there (a transaction can
//!     commit after a later one), so a poll reads again, every round, each sequence below
//!     the newest one it has not seen: as long as a transaction holds it open (found by a
//!     `READ UNCOMMITTED` read), or for 1 s when no row has it (rolled back, or allocated
//!     an instant before its row is inserted). A cascading foreign-key delete fires no
//!     trigger on MySQL, so a trigger on the referenced table logs the sessions it is
//!     about to delete. Creating the triggers needs the `TRIGGER` privilege. Run against
//!     MariaDB 10.11; MySQL 8 follows its documentation and was not run.
//! - **Expired sessions**: an entry is checked against the store's clock at every hit, like
//!   a row in the database: past `expires_at`, past `max_lifetime`, or revoked
//!   (`expires_at <= updated_at`) is never served. When a hit would be due for a write
//!   (extension, `last_used_at`), the lookup goes to the database instead and the
//!   compare-and-set decides, so the cache adds no writes and removes none.
//!
//! # When an entry may be served
//!
//! The channel catches up in rounds, four per bound. A round is a heartbeat on PostgreSQL
//! (a `pg_notify` on the listening connection, which PostgreSQL delivers in commit order,
//! so every change committed before the round started has been received when the
//! heartbeat comes back) and a poll of the change log on SQLite (a read transaction that
//! sees every change committed before it started) and on MySQL (`READ COMMITTED` reads,
//! each seeing every change committed before it started, of the new rows and of the
//! sequences still missing). An entry is served at instant `t` only
//! if a round that **started after `t - bound`** has completed and applied its changes, and
//! the entry was filled by a lookup whose read began after the last invalidation of its
//! key. A change committed at `c` is therefore applied by every round starting after `c`,
//! and a hit after `c + bound` needs such a round: that is the bound.
//!
//! It fails closed: when a round fails (the listening connection is lost, a poll fails, a
//! trigger is missing or disabled), the cache stops answering at once and every lookup goes
//! to the database. Once a round succeeds again the cache is cleared, then it answers.
//!
//! Writes that bypass the triggers cannot be seen: `session_replication_role = replica` on
//! PostgreSQL, `TRUNCATE` on MySQL (which fires no trigger there: use `DELETE`), or
//! dropping and re-creating the triggers by hand while writing. They are refused changes
//! to the table's contract, as a disabled or missing trigger is (the cache stops). On
//! MySQL, where DDL is not transactional, each round also notes when the triggers were
//! created: triggers made again since the last round (by `migrate`) clear the cache.
//!
//! [`SessionStore::cache_stats`](crate::SessionStore::cache_stats) reads the counters; they
//! are also logged at debug level.

mod driver;
mod entries;
mod feed;
#[cfg(feature = "mysql")]
pub(crate) mod mysql;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
pub(crate) mod revoked;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;
mod store;

use std::fmt;
use std::time::Duration;

use crate::error::{Error, Result};

pub(crate) use feed::Feed;
#[cfg(feature = "postgres")]
pub use postgres::LISTENER_APPLICATION_NAME;
pub(crate) use store::StoreCache;

/// How a store caches lookups: at most `max_entries` sessions, stale by at most
/// `staleness_bound` for changes made elsewhere.
///
/// ```
/// use std::time::Duration;
/// use sqlx_sessions::cache::CacheConfig;
/// let config = CacheConfig::new(100_000).staleness_bound(Duration::from_millis(500));
/// assert_eq!(config.max_entries(), 100_000);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    max_entries: usize,
    bound: Option<Duration>,
}

impl Default for CacheConfig {
    /// 100,000 entries, the database's default bound.
    fn default() -> Self {
        CacheConfig::new(100_000)
    }
}

/// The shortest staleness bound accepted.
const MIN_BOUND: Duration = Duration::from_millis(10);
/// The longest staleness bound accepted.
const MAX_BOUND: Duration = Duration::from_secs(60);

impl CacheConfig {
    /// A cache of at most `max_entries` sessions with the database's default bound
    /// (100 ms on PostgreSQL, 1 s on SQLite, MySQL and MariaDB).
    ///
    /// The bound is kept approximately: near it the cache may already evict. Cached at
    /// exactly the size of the sessions in use, about one lookup in 200 went to the
    /// database in the benchmark. With a quarter more room than that, none did
    /// (BENCHMARKS.md, "Read cache on a quiet machine"). So size it above the working set.
    pub fn new(max_entries: usize) -> Self {
        CacheConfig {
            max_entries,
            bound: None,
        }
    }

    /// How long after its commit a change made elsewhere may still be served (between
    /// 10 ms and 60 s). The channel catches up four times per bound.
    pub fn staleness_bound(mut self, bound: Duration) -> Self {
        self.bound = Some(bound);
        self
    }

    /// The most sessions kept.
    pub fn max_entries(&self) -> usize {
        self.max_entries
    }

    /// The bound set with [`CacheConfig::staleness_bound`], if any.
    pub fn bound(&self) -> Option<Duration> {
        self.bound
    }

    fn validate(&self) -> Result<()> {
        if self.max_entries == 0 {
            return Err(Error::config("cache", "max_entries must be at least 1"));
        }
        if let Some(bound) = self.bound
            && !(MIN_BOUND..=MAX_BOUND).contains(&bound)
        {
            return Err(Error::config(
                "cache",
                "staleness_bound must be between 10 ms and 60 s",
            ));
        }
        Ok(())
    }
}

/// What a store's cache has done since the store was built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Lookups answered from memory.
    pub hits: u64,
    /// Lookups of a well-formed token that went to the database (not cached, due for a
    /// write, or the channel not confirmed within the bound).
    pub misses: u64,
    /// Of the misses, those that went to the database only because the channel had not
    /// confirmed a round within the bound (the cache was not answering).
    pub unconfirmed: u64,
    /// Entries removed because their row changed.
    pub invalidations: u64,
    /// Times the whole cache was emptied (after the channel came back, a `TRUNCATE`, a gap
    /// in the change log, or a write whose change the channel did not confirm in time).
    pub clears: u64,
    /// Sessions held now.
    pub entries: u64,
    /// Whether the cache answers now: a catch-up round started within the bound.
    pub serving: bool,
    /// The staleness bound in force.
    pub bound: Duration,
}

impl fmt::Display for CacheStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "hits={} misses={} unconfirmed={} invalidations={} clears={} entries={} serving={} bound_ms={}",
            self.hits,
            self.misses,
            self.unconfirmed,
            self.invalidations,
            self.clears,
            self.entries,
            self.serving,
            self.bound.as_millis()
        )
    }
}
