//! Creating, evolving and dropping a store's table (see the [`evolve`](crate::evolve)
//! module for what evolution adds and refuses).

use super::SessionStore;
use crate::error::Result;
use crate::evolve::{self, Snapshot};
use crate::migrate::Migration;

impl SessionStore {
    /// The DDL of this store's table from nothing, for teams that run their own migration
    /// tool: the table with its indexes and foreign keys, the store's support tables (on
    /// MySQL with a cap per owner, the owners' lock rows), with a cache its triggers (and
    /// on SQLite and MySQL its change log; on MySQL also a trigger on each table an owner
    /// column references), and the record of migrations `<table>_migrations`.
    /// `down` drops all of it. For a table that exists, [`SessionStore::pending_migration`]
    /// gives the statements that bring it up to date.
    pub fn migration(&self) -> Migration {
        let backend = &*self.inner.backend;
        let mut m = backend.migration();
        let mut add = |other: Migration| {
            m.up.extend(other.up);
            m.down.extend(other.down);
        };
        add(backend.support_ddl());
        add(self.cache_migration());
        add(evolve::record_table(&self.inner.spec, backend));
        m
    }

    /// The DDL of the cache's triggers, if the store has a cache.
    fn cache_migration(&self) -> Migration {
        #[cfg(feature = "cache")]
        if let Some(cache) = self.cache() {
            return cache.migration().clone();
        }
        Migration::default()
    }

    /// Creates the table, or brings an existing one up to the store's spec; idempotent.
    ///
    /// A new table gets everything [`SessionStore::migration`] creates. An existing one gets
    /// what it lacks of the spec: each missing column of the catalogue (the optional ones
    /// this store turns on, such as `last_used_at`, `token_hint`, `salt_id` or
    /// `ttl_seconds`, and the extra columns), each missing index and foreign key; the
    /// cache's triggers are re-created. What cannot be done safely is refused before
    /// anything changes, with [`Error::TableMismatch`](crate::Error::TableMismatch)
    /// naming the column: a column of the wrong type (a type change is a data conversion,
    /// the application's to make), a new `NOT NULL` column without a default on a table
    /// that has rows (or on SQLite at all: make it optional), a missing primary key, and on
    /// SQLite a foreign key on an existing column.
    ///
    /// Concurrent migrations of one table wait for each other (SQLite: the write lock;
    /// PostgreSQL: an advisory lock; MySQL: a named lock). On SQLite and PostgreSQL a
    /// migration is one transaction: it applies all of its steps or none. MySQL and MariaDB
    /// commit each DDL statement at once, so there a migration that fails part way keeps
    /// the steps before the failure (recorded), and the next one continues from there.
    ///
    /// Each step applied is recorded in `<table>_migrations`: `id`, `applied_at` (the
    /// store's clock), `position` (its order within the migration), `description`
    /// (`create`, `add column ttl_seconds`, `add index sessions_user_id_index`, `add
    /// foreign key user_id`) and `sql_text`, the statement itself.
    pub async fn migrate(&self) -> Result<()> {
        let backend = &*self.inner.backend;
        let after = self.cache_migration().up;
        let now = self.now();
        let steps = backend
            .evolve(&|snapshot: &Snapshot| evolve::plan(backend, snapshot, &after, now))
            .await?;
        for step in &steps {
            tracing::info!(table = %self.inner.spec.table, step = %step.description, "migration step applied");
        }
        Ok(())
    }

    /// The statements [`SessionStore::migrate`] would run now on this table (all of
    /// [`SessionStore::migration`]'s table statements when it does not exist; only the
    /// changes when it does; nothing when it is up to date), without running them: for
    /// review, or for another migration tool. Refused as `migrate` would refuse.
    pub async fn pending_migration(&self) -> Result<Vec<String>> {
        let backend = &*self.inner.backend;
        let snapshot = backend.snapshot().await?;
        Ok(evolve::steps(backend, &snapshot)?
            .into_iter()
            .map(|step| step.sql)
            .collect())
    }

    /// Drops the table and everything [`SessionStore::migration`] creates with it,
    /// including the record of migrations. Idempotent.
    pub async fn migrate_down(&self) -> Result<()> {
        let m = self.migration();
        self.inner.backend.run_ddl(&m.down).await
    }
}
