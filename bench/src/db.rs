//! The databases under test and the connection pools of every contender.
//!
//! Every contender gets its own pool, configured alike: the same maximum size (SQLite 8,
//! PostgreSQL 16 by default), the same `test_before_acquire` setting, no idle timeout and no
//! maximum lifetime. sqlx-sessions and the raw contender use sqlx 0.9; tower-sessions-sqlx-store
//! brings its own sqlx 0.8, so its pools are made with that version, with the same options.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};
use tower_sessions_sqlx_store::sqlx as sqlx08;

/// Which database engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DbKind {
    /// A SQLite file in WAL mode.
    Sqlite,
    /// A PostgreSQL database created for the run.
    Postgres,
}

impl DbKind {
    /// Lowercase name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            DbKind::Sqlite => "sqlite",
            DbKind::Postgres => "postgres",
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
    pg: Option<PgTarget>,
}

/// Where the run's PostgreSQL database is: the server URL and the database name.
#[derive(Clone, Debug)]
struct PgTarget {
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
            pg: None,
        }
    }

    /// A PostgreSQL target: the run's database.
    pub fn postgres(run: &PgRun, pools: PoolSettings) -> Self {
        Self {
            kind: DbKind::Postgres,
            pools,
            lib_prune_batch: None,
            sqlite_dir: PathBuf::new(),
            pg: Some(PgTarget {
                url: run.url.clone(),
                database: run.name.clone(),
            }),
        }
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
            .busy_timeout(Duration::from_secs(60))
    }

    /// Connection options of the run's PostgreSQL database.
    pub fn pg_options(&self) -> Result<PgConnectOptions> {
        let pg = self.pg.as_ref().context("not a PostgreSQL target")?;
        Ok(PgConnectOptions::from_str(&pg.url)?.database(&pg.database))
    }

    /// A sqlx 0.9 SQLite pool on the file of store `name`.
    pub async fn sqlite_pool(&self, name: &str) -> Result<SqlitePool> {
        let pool = SqlitePoolOptions::new()
            .max_connections(self.pools.sqlite_max)
            .test_before_acquire(self.pools.test_before_acquire)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(120))
            .connect_with(self.sqlite_options(name))
            .await?;
        Ok(pool)
    }

    /// A sqlx 0.9 PostgreSQL pool on the run's database.
    pub async fn pg_pool(&self) -> Result<PgPool> {
        let pool = PgPoolOptions::new()
            .max_connections(self.pools.pg_max)
            .test_before_acquire(self.pools.test_before_acquire)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(120))
            .connect_with(self.pg_options()?)
            .await?;
        Ok(pool)
    }

    /// A sqlx 0.8 SQLite pool (for tower-sessions) on the file of store `name`.
    pub async fn sqlite_pool_08(&self, name: &str) -> Result<sqlx08::SqlitePool> {
        use sqlx08::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
        let options = SqliteConnectOptions::new()
            .filename(self.sqlite_file(name))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(60));
        let pool = sqlx08::sqlite::SqlitePoolOptions::new()
            .max_connections(self.pools.sqlite_max)
            .test_before_acquire(self.pools.test_before_acquire)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(120))
            .connect_with(options)
            .await?;
        Ok(pool)
    }

    /// A sqlx 0.8 PostgreSQL pool (for tower-sessions) on the run's database.
    pub async fn pg_pool_08(&self) -> Result<sqlx08::PgPool> {
        let pg = self.pg.as_ref().context("not a PostgreSQL target")?;
        let options = sqlx08::postgres::PgConnectOptions::from_str(&pg.url)?.database(&pg.database);
        let pool = sqlx08::postgres::PgPoolOptions::new()
            .max_connections(self.pools.pg_max)
            .test_before_acquire(self.pools.test_before_acquire)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(120))
            .connect_with(options)
            .await?;
        Ok(pool)
    }

    /// One plain sqlx 0.9 PostgreSQL connection to the run's database (for statistics).
    pub async fn pg_connection(&self) -> Result<sqlx::PgConnection> {
        Ok(self.pg_options()?.connect().await?)
    }
}

/// A fresh PostgreSQL database made for one run, dropped at the end.
#[derive(Debug)]
pub struct PgRun {
    url: String,
    name: String,
}

impl PgRun {
    /// Creates database `bench_<pid>` through the server at `url` (any existing database there
    /// serves as the maintenance connection).
    pub async fn create(url: &str) -> Result<Self> {
        let admin = PgConnectOptions::from_str(url).context("parsing the PostgreSQL URL")?;
        let name = format!("bench_{}", std::process::id());
        let mut conn = admin.connect().await.context("connecting to PostgreSQL")?;
        sqlx::query(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await?;
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(Self {
            url: url.to_string(),
            name,
        })
    }

    /// The run's database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the run's database (terminating any connection still open).
    pub async fn drop_database(&self) -> Result<()> {
        let mut conn = PgConnectOptions::from_str(&self.url)?.connect().await?;
        sqlx::query(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut conn)
        .await?;
        conn.close().await?;
        Ok(())
    }
}
