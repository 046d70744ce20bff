//! tower-sessions with its moka cache: `CachingSessionStore<MokaStore, _>` (tower-sessions-core
//! 0.14, `tower-sessions-moka-store` 0.15) in front of the tower-sessions-sqlx-store table of a
//! [`Tower`] contender. A hit is answered from memory until the session's own expiry; a change
//! made by another instance, another process or plain SQL is never heard of.

use std::str::FromStr;
use std::sync::Arc;

use anyhow::{Result, anyhow};
use tower_sessions_core::SessionStore;
use tower_sessions_core::session::Id;
use tower_sessions_moka_store::MokaStore;

use super::tower::Tower;
use crate::db::Db;

/// tower-sessions + moka on one table.
#[derive(Clone, Debug)]
pub struct TowerMoka {
    tower: Tower,
    store: Arc<dyn SessionStore>,
}

impl TowerMoka {
    /// Opens the tower-sessions table `name` on `db` (its own pool) with a moka cache of at
    /// most `capacity` sessions in front of it.
    pub async fn open(db: &Db, name: &str, capacity: u64) -> Result<Self> {
        let tower = Tower::open(db, name).await?;
        let store = tower.caching(MokaStore::new(Some(capacity)));
        Ok(Self { tower, store })
    }

    /// The uncached tower-sessions contender on the same table (its bulk fill, its pool).
    pub fn tower(&self) -> &Tower {
        &self.tower
    }

    /// `CachingSessionStore::load`: the cache, else the table (which then fills the cache).
    pub async fn lookup(&self, token: &str) -> Result<bool> {
        let id = Id::from_str(token)?;
        let record = self
            .store
            .load(&id)
            .await
            .map_err(|e| anyhow!("tower-sessions store: {e}"))?;
        Ok(std::hint::black_box(record).is_some())
    }
}
