//! The use counter of API keys: counted in memory on every lookup, added to the row's
//! `use_count` by a background flush every few seconds, so a request costs no write.
//!
//! What a crash loses: the uses counted since the last flush that completed, at most one
//! flush interval of them (plus those of a flush in progress when the process dies). A
//! flush that fails (the database is down) puts its counts back for the next one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use uuid::Uuid;

use super::{Inner, SessionStore};
use crate::error::Result;
use crate::sql::{Param, StmtBuilder};

/// Uses counted and not yet flushed, by key.
#[derive(Debug)]
pub(crate) struct Usage {
    pending: Mutex<HashMap<Uuid, u64>>,
    interval: std::time::Duration,
    flusher_started: AtomicBool,
    /// Held by a flush from taking the counts to writing them, and by a read of the
    /// count, so a read never misses uses that are between the two.
    flushing: tokio::sync::Mutex<()>,
}

impl Usage {
    pub(crate) fn new(interval: time::Duration) -> Self {
        Usage {
            pending: Mutex::new(HashMap::new()),
            interval: interval.try_into().unwrap_or(std::time::Duration::MAX),
            flusher_started: AtomicBool::new(false),
            flushing: tokio::sync::Mutex::new(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, u64>> {
        // A panic elsewhere while holding the lock leaves the counts usable.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self, counts: impl IntoIterator<Item = (Uuid, u64)>) {
        let mut pending = self.lock();
        for (id, n) in counts {
            *pending.entry(id).or_insert(0) += n;
        }
    }
}

impl SessionStore {
    /// Counts one use of the key `id` (stores with the key lifecycle columns), starting the
    /// background flush on the first one.
    pub(super) fn count_use(&self, id: Uuid) {
        let Some(usage) = &self.inner.usage else {
            return;
        };
        usage.add([(id, 1)]);
        if !usage.flusher_started.swap(true, Ordering::AcqRel) {
            spawn_flusher(Arc::downgrade(&self.inner), usage.interval);
        }
    }

    /// Writes the uses counted in memory to the rows' `use_count` now (the background
    /// flush does it every interval; call this at shutdown so none are lost). Returns how
    /// many uses it wrote. Counts whose statement fails are kept for the next flush.
    pub async fn flush_uses(&self) -> Result<u64> {
        let Some(usage) = &self.inner.usage else {
            return Ok(0);
        };
        let _flushing = usage.flushing.lock().await;
        let taken: Vec<(Uuid, u64)> = std::mem::take(&mut *usage.lock()).into_iter().collect();
        let mut written = 0;
        let mut rest = taken.into_iter();
        while let Some((id, n)) = rest.next() {
            let mut b = StmtBuilder::new(&format!(
                "UPDATE {} SET \"use_count\" = COALESCE(\"use_count\", 0) + ",
                self.inner.spec.qualified()
            ));
            b.bind(Param::Int(i64::try_from(n).unwrap_or(i64::MAX)))
                .push(" WHERE \"id\" = ")
                .bind(Param::Uuid(id));
            if let Err(e) = self.inner.backend.execute(None, b.finish()).await {
                usage.add(std::iter::once((id, n)).chain(rest));
                return Err(e);
            }
            written += n;
        }
        Ok(written)
    }

    /// The uses of the key `id`: those flushed to its row and those still counted in
    /// memory on this instance. `None` when there is no such row.
    pub async fn uses(&self, id: Uuid) -> Result<Option<u64>> {
        let filter = crate::Filter::new().id(id).status(crate::Status::All);
        let _flushing = match &self.inner.usage {
            Some(usage) => Some(usage.flushing.lock().await),
            None => None,
        };
        let Some(session) = self.list(&filter).await?.into_iter().next() else {
            return Ok(None);
        };
        Ok(Some(session.uses + self.pending_uses(id)))
    }

    /// The uses of the key `id` counted on this instance and not yet flushed.
    pub fn pending_uses(&self, id: Uuid) -> u64 {
        self.inner
            .usage
            .as_ref()
            .and_then(|u| u.lock().get(&id).copied())
            .unwrap_or(0)
    }
}

/// Flushes every `interval` while the store is alive.
fn spawn_flusher(store: Weak<Inner>, interval: std::time::Duration) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            let Some(inner) = store.upgrade() else { return };
            let store = SessionStore { inner };
            if let Err(error) = store.flush_uses().await {
                tracing::warn!(error = %crate::error_chain(&error), "flushing key uses failed; kept for the next flush");
            }
        }
    });
}
