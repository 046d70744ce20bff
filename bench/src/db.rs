//! The databases under test and the connection pools of every contender.
//!
//! Every contender gets its own pool, configured alike: the same maximum size (SQLite 8,
//! PostgreSQL and MySQL 16 by default), the same `test_before_acquire` setting, no idle timeout
//! and no maximum lifetime. sqlx-sessions and the raw contender use sqlx 0.9; tower-sessions-sqlx-store
//! brings its own sqlx 0.8, so its pools are made with that version, with the same options.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool};
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteSynchronous};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Database};
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
