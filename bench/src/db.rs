//! The databases under test and the connection pools of every contender.
//!
//! Every contender gets its own pool, configured alike: the same maximum size (SQLite 8,
//! PostgreSQL and MySQL 16 by default), the same `test_before_acquire` setting, no idle timeout
//! and no maximum lifetime. sqlx-sessions and the raw contender use sqlx 0.9; tower-sessions-sqlx-store
//! brings its own sqlx 0.8, so its pools are made with that version, with the same options.
//!
//! What the sqlx 0.9 contenders run alike on every database lives here too: `on_pool!`
//! (one body for whichever pool it is), [`count_rows`], and the bulk fills' loops
//! ([`insert_in_batches`] for SQLite and MySQL, [`insert_unnested`] for PostgreSQL).

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool};
use sqlx::postgres::{PgConnectOptions, PgPool, Postgres};
use sqlx::query::Query;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteSynchronous};
use sqlx::{
    AssertSqlSafe, ConnectOptions, Connection, Database, Encode, Executor, IntoArguments, Type,
};
use sqlx_sessions::Pool;
use time::OffsetDateTime;
use tower_sessions_sqlx_store::sqlx as sqlx08;

/// How long a statement of any contender waits for a free connection of its pool.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a SQLite statement waits for the database's write lock.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Which database engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DbKind {
    /// A SQLite file in WAL mode.
    Sqlite,
    /// A PostgreSQL database created for the run.
    Postgres,
    /// A MySQL or MariaDB database created for the run.
    Mysql,
}

impl DbKind {
    /// Lowercase name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            DbKind::Sqlite => "sqlite",
            DbKind::Postgres => "postgres",
            DbKind::Mysql => "mysql",
        }
    }

    /// Parameter `i` (from 1) as this database's SQL writes it: `?1`, `$1` or `?`.
    pub fn param(self, i: usize) -> String {
        match self {
            DbKind::Sqlite => format!("?{i}"),
            DbKind::Postgres => format!("${i}"),
            DbKind::Mysql => "?".to_string(),
        }
    }

    /// `name` quoted as an identifier: `"name"`, or `` `name` `` on MySQL.
    pub fn quote(self, name: &str) -> String {
        match self {
            DbKind::Sqlite | DbKind::Postgres => format!("\"{name}\""),
            DbKind::Mysql => format!("`{name}`"),
        }
    }
}

/// Pool settings shared by all contenders.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct PoolSettings {
    /// Maximum connections of each SQLite pool.
    pub sqlite_max: u32,
    /// Maximum connections of each PostgreSQL pool.
    pub pg_max: u32,
    /// Maximum connections of each MySQL pool.
    pub mysql_max: u32,
    /// Whether pools check a connection before lending it.
    pub test_before_acquire: bool,
}

/// One database to run the measurements on.
#[derive(Clone, Debug)]
pub struct Db {
    /// The engine.
    pub kind: DbKind,
    /// Pool settings for every contender.
    pub pools: PoolSettings,
    /// `prune_batch_size` for sqlx-sessions stores (`None`: the library's default).
    pub lib_prune_batch: Option<u32>,
    sqlite_dir: PathBuf,
    server: Option<ServerTarget>,
}

/// Where the run's PostgreSQL or MySQL database is: the server URL and the database name.
#[derive(Clone, Debug)]
struct ServerTarget {
    url: String,
    database: String,
}

impl Db {
    /// A SQLite target whose files live in `dir` (one file per contender and measurement).
    pub fn sqlite(dir: &Path, pools: PoolSettings) -> Self {
        Self {
            kind: DbKind::Sqlite,
            pools,
            lib_prune_batch: None,
            sqlite_dir: dir.to_path_buf(),
            server: None,
        }
    }

    /// A PostgreSQL or MySQL target: the run's database.
    pub fn server(run: &ServerRun, pools: PoolSettings) -> Self {
        Self {
            kind: run.kind,
            pools,
            lib_prune_batch: None,
            sqlite_dir: PathBuf::new(),
            server: Some(ServerTarget {
                url: run.url.clone(),
                database: run.name.clone(),
            }),
        }
    }

    fn target(&self) -> Result<&ServerTarget> {
        self.server.as_ref().context("not a server target")
    }

    /// The run's database on a server (MySQL: where every contender's table lives).
    pub fn database(&self) -> Result<&str> {
        Ok(&self.target()?.database)
    }

    /// The SQLite file of the store named `name`.
    pub fn sqlite_file(&self, name: &str) -> PathBuf {
        self.sqlite_dir.join(format!("{name}.db"))
    }

    fn sqlite_options(&self, name: &str) -> SqliteConnectOptions {
        SqliteConnectOptions::new()
            .filename(self.sqlite_file(name))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
    }

    /// Connection options of the run's PostgreSQL database.
    pub fn pg_options(&self) -> Result<PgConnectOptions> {
        let pg = self.target()?;
        Ok(PgConnectOptions::from_str(&pg.url)?.database(&pg.database))
    }

    /// Connection options of the run's MySQL database.
    pub fn mysql_options(&self) -> Result<MySqlConnectOptions> {
        let my = self.target()?;
        Ok(MySqlConnectOptions::from_str(&my.url)?.database(&my.database))
    }

    /// The options of every sqlx 0.9 pool, with at most `max` connections.
    fn pool_options<DB: Database>(&self, max: u32) -> sqlx::pool::PoolOptions<DB> {
        sqlx::pool::PoolOptions::new()
            .max_connections(max)
            .test_before_acquire(self.pools.test_before_acquire)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(ACQUIRE_TIMEOUT)
    }

    /// The same options for a sqlx 0.8 pool (tower-sessions').
    fn pool_options_08<DB: sqlx08::Database>(&self, max: u32) -> sqlx08::pool::PoolOptions<DB> {
        sqlx08::pool::PoolOptions::new()
            .max_connections(max)
            .test_before_acquire(self.pools.test_before_acquire)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(ACQUIRE_TIMEOUT)
    }

    /// A sqlx 0.9 SQLite pool on the file of store `name`.
    pub async fn sqlite_pool(&self, name: &str) -> Result<SqlitePool> {
        let options = self.sqlite_options(name);
        let pool = self.pool_options(self.pools.sqlite_max);
        Ok(pool.connect_with(options).await?)
    }

    /// A sqlx 0.9 PostgreSQL pool on the run's database.
    pub async fn pg_pool(&self) -> Result<PgPool> {
        let options = self.pg_options()?;
        let pool = self.pool_options(self.pools.pg_max);
        Ok(pool.connect_with(options).await?)
    }

    /// A sqlx 0.9 MySQL pool on the run's database.
    pub async fn mysql_pool(&self) -> Result<MySqlPool> {
        let options = self.mysql_options()?;
        let pool = self.pool_options(self.pools.mysql_max);
        Ok(pool.connect_with(options).await?)
    }

    /// A sqlx 0.8 SQLite pool (for tower-sessions) on the file of store `name`.
    pub async fn sqlite_pool_08(&self, name: &str) -> Result<sqlx08::SqlitePool> {
        use sqlx08::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
        let options = SqliteConnectOptions::new()
            .filename(self.sqlite_file(name))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(SQLITE_BUSY_TIMEOUT);
        let pool = self.pool_options_08(self.pools.sqlite_max);
        Ok(pool.connect_with(options).await?)
    }

    /// A sqlx 0.8 PostgreSQL pool (for tower-sessions) on the run's database.
    pub async fn pg_pool_08(&self) -> Result<sqlx08::PgPool> {
        let pg = self.target()?;
        let options = sqlx08::postgres::PgConnectOptions::from_str(&pg.url)?.database(&pg.database);
        let pool = self.pool_options_08(self.pools.pg_max);
        Ok(pool.connect_with(options).await?)
    }

    /// A sqlx 0.8 MySQL pool (for tower-sessions) on the run's database.
    pub async fn mysql_pool_08(&self) -> Result<sqlx08::MySqlPool> {
        let my = self.target()?;
        let options = sqlx08::mysql::MySqlConnectOptions::from_str(&my.url)?.database(&my.database);
        let pool = self.pool_options_08(self.pools.mysql_max);
        Ok(pool.connect_with(options).await?)
    }

    /// One plain sqlx 0.9 MySQL connection to the run's database.
    pub async fn mysql_connection(&self) -> Result<sqlx::MySqlConnection> {
        Ok(self.mysql_options()?.connect().await?)
    }

    /// One plain sqlx 0.9 PostgreSQL connection to the run's database (for statistics).
    pub async fn pg_connection(&self) -> Result<sqlx::PgConnection> {
        Ok(self.pg_options()?.connect().await?)
    }
}

/// Runs `$body` with `$p` bound to the sqlx pool in `$pool` (a `&sqlx_sessions::Pool`), on
/// whichever database it is: the body is written once and compiled for each. Fails on a
/// database the bench has no SQL for.
macro_rules! on_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            ::sqlx_sessions::Pool::Sqlite($p) => $body,
            ::sqlx_sessions::Pool::Postgres($p) => $body,
            ::sqlx_sessions::Pool::Mysql($p) => $body,
            other => ::anyhow::bail!("no SQL for {}", other.kind()),
        }
    };
}
pub(crate) use on_pool;

/// A value sqlx 0.9 binds as a statement parameter on `DB`.
pub trait Bind<DB: Database>: for<'e> Encode<'e, DB> + Type<DB> {}

impl<DB: Database, T: for<'e> Encode<'e, DB> + Type<DB>> Bind<DB> for T {}

/// Rows in `table` (named as its contender names it in SQL: quoted or not).
pub async fn count_rows(pool: &Pool, table: &str) -> Result<u64> {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    let n: i64 = on_pool!(pool, p => sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(p).await?);
    Ok(n as u64)
}

/// Rows a bulk fill writes in one transaction.
const FILL_TX_ROWS: u64 = 100_000;

/// Inserts rows `rows` on `pool` with multi-row `INSERT`s of at most `batch` rows each, in
/// transactions of `FILL_TX_ROWS` (100 000) rows: `sql(n)` is the statement for `n` rows,
/// `bind(q, i)` binds the values of row `i` to it.
pub async fn insert_in_batches<DB>(
    pool: &sqlx::Pool<DB>,
    rows: Range<u64>,
    batch: usize,
    sql: impl Fn(usize) -> String,
    bind: impl Fn(Query<'static, DB, DB::Arguments>, u64) -> Query<'static, DB, DB::Arguments>,
) -> Result<()>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
{
    let mut start = rows.start;
    while start < rows.end {
        let tx_end = (start + FILL_TX_ROWS).min(rows.end);
        let mut tx = pool.begin().await?;
        while start < tx_end {
            let n = ((tx_end - start) as usize).min(batch);
            let mut q = sqlx::query(AssertSqlSafe(sql(n)));
            for i in start..start + n as u64 {
                q = bind(q, i);
            }
            q.execute(&mut *tx).await?;
            start += n as u64;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// Rows per `UNNEST` insert of a bulk fill on PostgreSQL.
const PG_BATCH: u64 = 10_000;

/// Inserts rows `rows` on PostgreSQL with `sql`, an `INSERT ... SELECT ... FROM UNNEST($1)` of
/// at most `PG_BATCH` (10 000) rows a statement: `$1` binds the rows' `digest`s, `$2` the
/// number of the first row and `$3` `expires_at`.
pub async fn insert_unnested<D>(
    pool: &PgPool,
    sql: Arc<str>,
    rows: Range<u64>,
    expires_at: OffsetDateTime,
    digest: impl Fn(u64) -> D,
) -> Result<()>
where
    Vec<D>: Bind<Postgres>,
{
    let mut start = rows.start;
    while start < rows.end {
        let end = (start + PG_BATCH).min(rows.end);
        let digests: Vec<D> = (start..end).map(&digest).collect();
        sqlx::query(AssertSqlSafe(sql.clone()))
            .bind(digests)
            .bind(start as i64)
            .bind(expires_at)
            .execute(pool)
            .await?;
        start = end;
    }
    Ok(())
}

/// A fresh PostgreSQL or MySQL database made for one run, dropped at the end.
#[derive(Debug)]
pub struct ServerRun {
    kind: DbKind,
    url: String,
    name: String,
}

impl ServerRun {
    /// Creates database `bench_<pid>` through the server at `url` (any existing database there
    /// serves as the maintenance connection).
    pub async fn create(kind: DbKind, url: &str) -> Result<Self> {
        let run = Self {
            kind,
            url: url.to_string(),
            name: format!("bench_{}", std::process::id()),
        };
        run.drop_database().await?;
        run.admin(&format!("CREATE DATABASE {}", run.name)).await?;
        Ok(run)
    }

    /// The run's database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the run's database (on PostgreSQL terminating any connection still open).
    pub async fn drop_database(&self) -> Result<()> {
        let force = if self.kind == DbKind::Postgres {
            " WITH (FORCE)"
        } else {
            ""
        };
        self.admin(&format!("DROP DATABASE IF EXISTS {}{force}", self.name))
            .await
    }

    async fn admin(&self, sql: &str) -> Result<()> {
        let sql = AssertSqlSafe(sql.to_string());
        match self.kind {
            DbKind::Postgres => {
                let options =
                    PgConnectOptions::from_str(&self.url).context("parsing the PostgreSQL URL")?;
                let mut conn = options
                    .connect()
                    .await
                    .context("connecting to PostgreSQL")?;
                sqlx::query(sql).execute(&mut conn).await?;
                conn.close().await?;
            }
            DbKind::Mysql => {
                let options =
                    MySqlConnectOptions::from_str(&self.url).context("parsing the MySQL URL")?;
                let mut conn = options.connect().await.context("connecting to MySQL")?;
                sqlx::query(sql).execute(&mut conn).await?;
                conn.close().await?;
            }
            DbKind::Sqlite => anyhow::bail!("SQLite needs no server database"),
        }
        Ok(())
    }
}
