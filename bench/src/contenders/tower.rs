//! tower-sessions 0.14 with `tower-sessions-sqlx-store` 0.15 (`SqliteStore`, `PostgresStore`),
//! on its own sqlx 0.8 pools. Its `load` is the lookup, its `create` the creation, its
//! `delete_expired` the pruning; a request is simulated the way its middleware runs one.

use std::collections::HashMap;
use std::ops::Range;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::{Result, anyhow};
use time::OffsetDateTime;
use tower_sessions_core::session::{Id, Record};
use tower_sessions_core::session_store::CachingSessionStore;
use tower_sessions_core::{ExpiredDeletion, Expiry, Session, SessionStore};
use tower_sessions_moka_store::MokaStore;
use tower_sessions_sqlx_store::sqlx as sqlx08;
use tower_sessions_sqlx_store::{MySqlStore, PostgresStore, SqliteStore};

use crate::db::{Db, DbKind};
use crate::tokens;

/// Rows per multi-row `INSERT` on SQLite (3 parameters each).
const SQLITE_BATCH: usize = 1_000;
/// Rows per `UNNEST` insert on PostgreSQL.
const PG_BATCH: usize = 10_000;
/// The schema tower-sessions uses on PostgreSQL.
pub const PG_SCHEMA: &str = "tower_sessions";

/// Something built on a tower-sessions store, whatever its type: see [`Tower::with_store`].
pub trait StoreVisitor {
    /// What is built.
    type Output;
    /// Builds it on `store`.
    fn visit<S: SessionStore + Clone>(self, store: S) -> Self::Output;
}

/// The tower-sessions contender on one table.
#[derive(Clone, Debug)]
pub struct Tower {
    table: Arc<str>,
    seed: u64,
    store: Store,
}

#[derive(Clone, Debug)]
enum Store {
    Sqlite(Arc<SqliteStore>, sqlx08::SqlitePool),
    Postgres(Arc<PostgresStore>, sqlx08::PgPool),
    Mysql(Arc<MySqlStore>, sqlx08::MySqlPool),
}

fn store_err(e: tower_sessions_core::session_store::Error) -> anyhow::Error {
    anyhow!("tower-sessions store: {e}")
}

impl Tower {
    /// Opens (and migrates) the tower-sessions table `name` on `db`.
    pub async fn open(db: &Db, name: &str) -> Result<Self> {
        let table = format!("tower_{name}");
        let store = match db.kind {
            DbKind::Sqlite => {
                let pool = db.sqlite_pool_08(&table).await?;
                let store = SqliteStore::new(pool.clone())
                    .with_table_name(&table)
                    .map_err(|e| anyhow!(e))?;
                store.migrate().await?;
                Store::Sqlite(Arc::new(store), pool)
            }
            DbKind::Postgres => {
                let pool = db.pg_pool_08().await?;
                let store = PostgresStore::new(pool.clone())
                    .with_table_name(&table)
                    .map_err(|e| anyhow!(e))?;
                store.migrate().await?;
                Store::Postgres(Arc::new(store), pool)
            }
            DbKind::Mysql => {
                // Its schema is a database on MySQL: the run's own, not `tower_sessions`.
                let pool = db.mysql_pool_08().await?;
                let store = MySqlStore::new(pool.clone())
                    .with_schema_name(db.database()?)
                    .and_then(|s| s.with_table_name(&table))
                    .map_err(|e| anyhow!(e))?;
                store.migrate().await?;
                Store::Mysql(Arc::new(store), pool)
            }
        };
        Ok(Self {
            seed: tokens::seed_for(&table),
            table: table.into(),
            store,
        })
    }

    /// The table name (in schema [`PG_SCHEMA`] on PostgreSQL, in the run's database on
    /// MySQL).
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The session id (cookie value) of row `i`.
    pub fn token(&self, i: u64) -> String {
        Id(tokens::tower_id(self.seed, i)).to_string()
    }

    fn record(&self, id: Id, user: String, expiry_date: OffsetDateTime) -> Record {
        let mut data = HashMap::new();
        data.insert("user_id".to_string(), serde_json::Value::String(user));
        Record {
            id,
            data,
            expiry_date,
        }
    }

    /// Inserts rows `range` (MessagePack records, as the store writes them) with the given
    /// expiry, in large transactions.
    pub async fn fill(&self, range: Range<u64>, expiry: OffsetDateTime) -> Result<()> {
        macro_rules! batched_inserts {
            ($pool:expr) => {{
                let mut start = range.start;
                while start < range.end {
                    let tx_end = (start + 100_000).min(range.end);
                    let mut tx = $pool.begin().await?;
                    while start < tx_end {
                        let n = ((tx_end - start) as usize).min(SQLITE_BATCH);
                        let sql = self.multi_row_insert(n);
                        let mut q = sqlx08::query(&sql);
                        for (id, blob, expiry) in self.rows(start..start + n as u64, expiry)? {
                            q = q.bind(id).bind(blob).bind(expiry);
                        }
                        q.execute(&mut *tx).await?;
                        start += n as u64;
                    }
                    tx.commit().await?;
                }
            }};
        }
        match &self.store {
            // The same multi-row inserts on SQLite and MySQL, on their own pool types.
            Store::Sqlite(_, pool) => batched_inserts!(pool),
            Store::Mysql(_, pool) => batched_inserts!(pool),
            Store::Postgres(_, pool) => {
                let sql = format!(
                    "INSERT INTO \"{PG_SCHEMA}\".\"{}\" (id, data, expiry_date) \
                     SELECT i, d, e FROM UNNEST($1::text[], $2::bytea[], $3::timestamptz[]) \
                     AS u(i, d, e)",
                    self.table
                );
                let mut start = range.start;
                while start < range.end {
                    let end = (start + PG_BATCH as u64).min(range.end);
                    let mut ids = Vec::with_capacity(PG_BATCH);
                    let mut blobs = Vec::with_capacity(PG_BATCH);
                    let mut expiries = Vec::with_capacity(PG_BATCH);
                    for (id, blob, expiry) in self.rows(start..end, expiry)? {
                        ids.push(id);
                        blobs.push(blob);
                        expiries.push(expiry);
                    }
                    sqlx08::query(&sql)
                        .bind(ids)
                        .bind(blobs)
                        .bind(expiries)
                        .execute(pool)
                        .await?;
                    start = end;
                }
            }
        }
        Ok(())
    }

    /// The `(id, MessagePack record, expiry)` of rows `range`, as the store writes them.
    fn rows(
        &self,
        range: Range<u64>,
        expiry: OffsetDateTime,
    ) -> Result<Vec<(String, Vec<u8>, OffsetDateTime)>> {
        range
            .map(|i| {
                let id = Id(tokens::tower_id(self.seed, i));
                let expiry = super::row_expiry(expiry, i);
                let record = self.record(id, format!("u{i}"), expiry);
                Ok((id.to_string(), rmp_serde::to_vec(&record)?, expiry))
            })
            .collect()
    }

    /// A multi-row `INSERT` of `n` records (`?` placeholders: SQLite and MySQL).
    fn multi_row_insert(&self, n: usize) -> String {
        let mut sql = format!("INSERT INTO {} (id, data, expiry_date) VALUES ", self.table);
        sql.push_str(&vec!["(?, ?, ?)"; n].join(", "));
        sql
    }

    /// tower-sessions' `CachingSessionStore` with `cache` in front of this table's store (see
    /// [`super::moka`]).
    pub fn caching(&self, cache: MokaStore) -> Arc<dyn SessionStore> {
        match &self.store {
            Store::Sqlite(store, _) => {
                Arc::new(CachingSessionStore::new(cache, SqliteStore::clone(store)))
            }
            Store::Postgres(store, _) => {
                Arc::new(CachingSessionStore::new(cache, PostgresStore::clone(store)))
            }
            Store::Mysql(store, _) => {
                Arc::new(CachingSessionStore::new(cache, MySqlStore::clone(store)))
            }
        }
    }

    /// What `visit` builds on this table's store itself (`SqliteStore`, `PostgresStore` or
    /// `MySqlStore`, a type per database), such as an app with the store in its session layer.
    pub fn with_store<V: StoreVisitor>(&self, visit: V) -> V::Output {
        match &self.store {
            Store::Sqlite(store, _) => visit.visit(SqliteStore::clone(store)),
            Store::Postgres(store, _) => visit.visit(PostgresStore::clone(store)),
            Store::Mysql(store, _) => visit.visit(MySqlStore::clone(store)),
        }
    }

    /// Looks a session id up: parse the cookie value, then the store's `load`.
    pub async fn lookup(&self, token: &str) -> Result<bool> {
        let id = Id::from_str(token)?;
        let record = match &self.store {
            Store::Sqlite(store, _) => store.load(&id).await,
            Store::Postgres(store, _) => store.load(&id).await,
            Store::Mysql(store, _) => store.load(&id).await,
        }
        .map_err(store_err)?;
        Ok(std::hint::black_box(record).is_some())
    }

    /// One request as tower-sessions' middleware runs it for a handler that reads the session:
    /// a lazy [`Session`] with a 7-day inactivity expiry, a read of `user_id` (the `load`), then
    /// a `save` when the session was modified or `always_save` is on and it is not empty.
    pub async fn request(&self, token: &str, always_save: bool) -> Result<bool> {
        let id = Id::from_str(token)?;
        let expiry = Some(Expiry::OnInactivity(time::Duration::days(7)));
        let session = match &self.store {
            Store::Sqlite(store, _) => Session::new(Some(id), store.clone(), expiry),
            Store::Postgres(store, _) => Session::new(Some(id), store.clone(), expiry),
            Store::Mysql(store, _) => Session::new(Some(id), store.clone(), expiry),
        };
        let user: Option<String> = session.get("user_id").await?;
        let modified = session.is_modified();
        let empty = session.is_empty().await;
        if (modified || always_save) && !empty {
            session.save().await?;
        }
        Ok(user.is_some())
    }

    /// Creates one session through the store's `create` (its transaction and id check);
    /// returns the session id.
    pub async fn create(&self, n: u64) -> Result<String> {
        let expiry = OffsetDateTime::now_utc() + time::Duration::days(7);
        let mut record = self.record(Id::default(), format!("c{n}"), expiry);
        match &self.store {
            Store::Sqlite(store, _) => store.create(&mut record).await,
            Store::Postgres(store, _) => store.create(&mut record).await,
            Store::Mysql(store, _) => store.create(&mut record).await,
        }
        .map_err(store_err)?;
        Ok(record.id.to_string())
    }

    /// The store's `delete` of the session whose id is `token` (what signing out does).
    pub async fn delete(&self, token: &str) -> Result<()> {
        let id = Id::from_str(token)?;
        match &self.store {
            Store::Sqlite(store, _) => store.delete(&id).await,
            Store::Postgres(store, _) => store.delete(&id).await,
            Store::Mysql(store, _) => store.delete(&id).await,
        }
        .map_err(store_err)
    }

    /// A plain SQL `DELETE` of the session whose id is `token`, on the store's pool but not
    /// through the store (as another process would).
    pub async fn delete_by_sql(&self, token: &str) -> Result<()> {
        match &self.store {
            Store::Sqlite(_, pool) => {
                let sql = format!("DELETE FROM {} WHERE id = ?", self.table);
                sqlx08::query(&sql).bind(token).execute(pool).await?;
            }
            Store::Postgres(_, pool) => {
                let sql = format!(
                    "DELETE FROM \"{PG_SCHEMA}\".\"{}\" WHERE id = $1",
                    self.table
                );
                sqlx08::query(&sql).bind(token).execute(pool).await?;
            }
            Store::Mysql(_, pool) => {
                let sql = format!("DELETE FROM `{}` WHERE id = ?", self.table);
                sqlx08::query(&sql).bind(token).execute(pool).await?;
            }
        }
        Ok(())
    }

    /// The store's `delete_expired` (one unbounded `DELETE`).
    pub async fn delete_expired(&self) -> Result<()> {
        match &self.store {
            Store::Sqlite(store, _) => store.delete_expired().await,
            Store::Postgres(store, _) => store.delete_expired().await,
            Store::Mysql(store, _) => store.delete_expired().await,
        }
        .map_err(store_err)
    }

    /// Rows in the table.
    pub async fn count(&self) -> Result<u64> {
        let n: i64 = match &self.store {
            Store::Sqlite(_, pool) => {
                let sql = format!("SELECT COUNT(*) FROM {}", self.table);
                sqlx08::query_scalar(&sql).fetch_one(pool).await?
            }
            Store::Postgres(_, pool) => {
                let sql = format!("SELECT COUNT(*) FROM \"{PG_SCHEMA}\".\"{}\"", self.table);
                sqlx08::query_scalar(&sql).fetch_one(pool).await?
            }
            Store::Mysql(_, pool) => {
                let sql = format!("SELECT COUNT(*) FROM `{}`", self.table);
                sqlx08::query_scalar(&sql).fetch_one(pool).await?
            }
        };
        Ok(n as u64)
    }

    /// Closes the pool.
    pub async fn close(&self) {
        match &self.store {
            Store::Sqlite(_, pool) => pool.close().await,
            Store::Postgres(_, pool) => pool.close().await,
            Store::Mysql(_, pool) => pool.close().await,
        }
    }
}
