//! This workspace's library, `sqlx_sessions::SessionStore`, with its default settings (64-char
//! tokens, SHA-256, 7-day ttl, 1-day stale time, auto-extend, one `user_id` extra column), on a
//! pool made like every other contender's.

use std::ops::Range;
use std::sync::Arc;

use anyhow::Result;
use sha2::{Digest, Sha256};
use sqlx::Database;
use sqlx::query::Query;
use sqlx_sessions::Pool;
use sqlx_sessions::cache::CacheConfig;
use sqlx_sessions::{NewSession, SessionStore, StoreBuilder};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{Bind, Db, DbKind, count_rows, insert_in_batches, insert_unnested};
use crate::tokens;

/// Rows per multi-row `INSERT` on SQLite (7 parameters each).
const SQLITE_BATCH: usize = 500;
/// The columns a bulk fill writes, in the order of its values.
const FILL_COLUMNS: &str =
    "id, auth_token_digest, data, expires_at, inserted_at, updated_at, user_id";

/// The sqlx-sessions contender on one table.
#[derive(Clone, Debug)]
pub struct SqlxSessions {
    table: Arc<str>,
    seed: u64,
    kind: DbKind,
    store: SessionStore,
    pool: Pool,
}

fn builder(b: StoreBuilder, db: &Db, table: &str) -> StoreBuilder {
    let b = b.table(table);
    match db.lib_prune_batch {
        Some(n) => b.prune_batch_size(n),
        None => b,
    }
}

/// The columns a bulk fill writes on `kind`, quoted and parenthesised.
fn fill_columns(kind: DbKind) -> String {
    let columns: Vec<String> = FILL_COLUMNS.split(", ").map(|c| kind.quote(c)).collect();
    format!("({})", columns.join(", "))
}

fn micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000) as i64
}

impl SqlxSessions {
    /// Builds the store on table `ss_<name>` and migrates it.
    pub async fn open(db: &Db, name: &str) -> Result<Self> {
        Self::open_with(db, name, None).await
    }

    /// Builds the store on table `ss_<name>`, with the read cache `cache` if given, on a pool
    /// of its own, and migrates it (with a cache: its triggers too).
    pub async fn open_with(db: &Db, name: &str, cache: Option<CacheConfig>) -> Result<Self> {
        Self::open_built(db, name, |b| match cache {
            Some(config) => b.cache(config),
            None => b,
        })
        .await
    }

    /// Builds the store on table `ss_<name>` on a pool of its own, with the settings `tune`
    /// adds to the defaults, and migrates it (with a cache: its triggers too).
    pub async fn open_built(
        db: &Db,
        name: &str,
        tune: impl FnOnce(StoreBuilder) -> StoreBuilder,
    ) -> Result<Self> {
        let table = format!("ss_{name}");
        let pool = match db.kind {
            DbKind::Sqlite => Pool::Sqlite(db.sqlite_pool(&table).await?),
            DbKind::Postgres => Pool::Postgres(db.pg_pool().await?),
            DbKind::Mysql => Pool::Mysql(db.mysql_pool().await?),
        };
        let store = tune(builder(SessionStore::builder(pool.clone()), db, &table)).build()?;
        store.migrate().await?;
        Ok(Self {
            seed: tokens::seed_for(&table),
            table: table.into(),
            kind: db.kind,
            store,
            pool,
        })
    }

    /// Whether the store answers from a read cache.
    pub fn cached(&self) -> bool {
        self.store.cache_stats().is_some()
    }

    /// The store.
    pub fn store(&self) -> &SessionStore {
        &self.store
    }

    /// The store's pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The token of row `i`.
    pub fn token(&self, i: u64) -> String {
        tokens::token(self.seed, i)
    }

    fn digest(&self, i: u64) -> Vec<u8> {
        Sha256::digest(self.token(i).as_bytes()).to_vec()
    }

    /// Inserts rows `range` in the library's table layout (binary SHA-256 digest; SQLite
    /// timestamps as integer microseconds), in large transactions.
    pub async fn fill(&self, range: Range<u64>, expires_at: OffsetDateTime) -> Result<()> {
        let now = OffsetDateTime::now_utc();
        let table = self.kind.quote(&self.table);
        let cols = fill_columns(self.kind);
        let sql = |n| {
            let mut sql = format!("INSERT INTO {table} {cols} VALUES ");
            sql.push_str(&vec!["(?, ?, ?, ?, ?, ?, ?)"; n].join(", "));
            sql
        };
        match &self.pool {
            // The same multi-row inserts, but for the id (text on SQLite) and the timestamps.
            Pool::Sqlite(pool) => {
                insert_in_batches(pool, range, SQLITE_BATCH, sql, |q, i| {
                    let id = Uuid::new_v4().hyphenated().to_string();
                    let stamps = [super::row_expiry(expires_at, i), now, now];
                    self.bind_bulk_row(q, i, id, stamps.map(micros))
                })
                .await
            }
            Pool::Mysql(pool) => {
                insert_in_batches(pool, range, SQLITE_BATCH, sql, |q, i| {
                    let stamps = [super::row_expiry(expires_at, i), now, now];
                    self.bind_bulk_row(q, i, Uuid::new_v4(), stamps)
                })
                .await
            }
            Pool::Postgres(pool) => {
                let sql = format!(
                    "INSERT INTO {} {} SELECT gen_random_uuid(), d, \
                     jsonb_build_object('user_id', 'u' || ($2 + o - 1)), \
                     $3 - make_interval(secs => (($2 + o - 1) % {})::float8), now(), now(), \
                     'u' || ($2 + o - 1) FROM UNNEST($1::bytea[]) WITH ORDINALITY AS u(d, o)",
                    table,
                    cols,
                    super::EXPIRY_SPREAD_SECS
                );
                let digest = |i| self.digest(i);
                insert_unnested(pool, sql.into(), range, expires_at, digest).await
            }
            other => anyhow::bail!("no SQL for {}", other.kind()),
        }
    }

    /// `q` with bulk row `i` bound after its `id`, with its timestamps (expiry, insertion,
    /// update) as the database stores them.
    fn bind_bulk_row<'q, DB, T>(
        &self,
        q: Query<'q, DB, DB::Arguments>,
        i: u64,
        id: impl Bind<DB>,
        [expires_at, inserted_at, updated_at]: [T; 3],
    ) -> Query<'q, DB, DB::Arguments>
    where
        DB: Database,
        T: Bind<DB>,
        String: Bind<DB>,
        Vec<u8>: Bind<DB>,
    {
        q.bind(id)
            .bind(self.digest(i))
            .bind(format!("{{\"user_id\":\"u{i}\"}}"))
            .bind(expires_at)
            .bind(inserted_at)
            .bind(updated_at)
            .bind(format!("u{i}"))
    }

    /// `SessionStore::lookup`: true when it returned a session.
    pub async fn lookup(&self, token: &str) -> Result<bool> {
        let s = self.store.lookup(token).await?;
        Ok(std::hint::black_box(s).is_some())
    }

    /// `SessionStore::create` with the `user_id` column and the same data as the others.
    pub async fn create(&self, n: u64) -> Result<String> {
        let user = format!("c{n}");
        let created = self
            .store
            .create(
                NewSession::new()
                    .extra("user_id", user.as_str())
                    .data(serde_json::json!({ "user_id": user })),
            )
            .await?;
        Ok(created.token.into_string())
    }

    /// Creates a session expiring at `expires_at` (e.g. one already due for extension);
    /// returns its token.
    pub async fn create_expiring(&self, expires_at: OffsetDateTime) -> Result<String> {
        let created = self
            .store
            .create(
                NewSession::new()
                    .extra("user_id", "due")
                    .expires_at(Some(expires_at)),
            )
            .await?;
        Ok(created.token.into_string())
    }

    /// `SessionStore::delete_expired` (bounded batches).
    pub async fn delete_expired(&self) -> Result<u64> {
        Ok(self.store.delete_expired().await?)
    }

    /// Rows in the table.
    pub async fn count(&self) -> Result<u64> {
        count_rows(&self.pool, &self.kind.quote(&self.table)).await
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_columns_are_quoted_as_each_database_quotes() {
        let double = "(\"id\", \"auth_token_digest\", \"data\", \"expires_at\", \"inserted_at\", \"updated_at\", \"user_id\")";
        assert_eq!(fill_columns(DbKind::Sqlite), double);
        assert_eq!(fill_columns(DbKind::Postgres), double);
        assert_eq!(fill_columns(DbKind::Mysql), double.replace('"', "`"));
    }
}
