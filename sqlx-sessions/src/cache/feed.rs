//! What each database provides the cache: the DDL of its triggers and a way to catch up.

use std::fmt;
use std::time::Duration;

use crate::migrate::Migration;

/// One change reported by the database.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// The row stored under this digest changed or went away.
    Key(Vec<u8>),
    /// The session with this id was revoked: deleted, or written with an expiry that is
    /// not after its `updated_at` or not after the database's clock. Reported beside its
    /// [`Change::Key`].
    Revoked(uuid::Uuid),
    /// Anything may have changed (a `TRUNCATE`, a reconnection, a gap in the change log,
    /// triggers made again).
    All,
}

/// Why a catch-up round failed; logged, never returned to callers.
#[derive(Debug)]
pub(crate) struct FeedError(pub(crate) String);

impl fmt::Display for FeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<sqlx::Error> for FeedError {
    fn from(e: sqlx::Error) -> Self {
        FeedError(crate::error::error_chain(&e))
    }
}

/// A database's invalidation channel for one table.
#[async_trait::async_trait]
pub(crate) trait Feed: Send + fmt::Debug + 'static {
    /// The statements appended to the store's migration: `up` after the table's, `down`
    /// after the table is dropped.
    fn migration(&self) -> Migration;

    /// The staleness bound when the configuration sets none.
    fn default_bound(&self) -> Duration;

    /// Appends to `changes` every change committed before the call started (and possibly
    /// later ones). An error means the round proved nothing; the next call starts over
    /// (reconnecting where needed) and reports [`Change::All`] if it may have missed any.
    async fn catch_up(&mut self, changes: &mut Vec<Change>) -> Result<(), FeedError>;

    /// Forgets the connection after a round failed or was abandoned half-way (the driver
    /// calls it; the next round reconnects).
    fn reset(&mut self);
}

/// The prefix of a revocation in the change feed, followed by the session id's text. No
/// digest column holds it: a hex digest has no `:`, and a change-log row of this length
/// is no digest length (see [`revocation`]).
pub(crate) const REVOKED_PREFIX: &str = "revoked:";

/// The session id of a feed entry naming a revocation (`revoked:<uuid>`), if it is one.
pub(crate) fn revocation(entry: &[u8]) -> Option<uuid::Uuid> {
    let id = entry.strip_prefix(REVOKED_PREFIX.as_bytes())?;
    uuid::Uuid::try_parse_ascii(id).ok()
}

/// `<table>_<suffix>`, fitted to 63 bytes as the index names are.
pub(crate) fn derived_name(table: &str, suffix: &str) -> String {
    crate::backend::fitted_name(format!("{table}_{suffix}"))
}
