//! Fresh databases for the shared suite: a new SQLite file per test, or a new PostgreSQL
//! database per test on the server named by `PG_TEST_URL` (read at run time).
#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex, OnceLock};

use sqlx_sessions::{SessionStore, StoreBuilder};

/// Every log line of this test binary at TRACE, captured by one global subscriber installed
/// on first use.
pub fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Capture(writer.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        buf
    })
    .clone()
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A fresh database of one kind, kept alive for the test.
pub enum TestDb {
    Sqlite {
        pool: sqlx::SqlitePool,
        path: std::path::PathBuf,
        _dir: tempfile::TempDir,
    },
    #[cfg(feature = "postgres")]
    Postgres { pool: sqlx::PgPool, url: String },
    #[cfg(feature = "mysql")]
    Mysql { pool: sqlx::MySqlPool, name: String },
}

/// Whether PostgreSQL tests must run (CI): then a missing server fails them.
pub fn pg_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
        || std::env::var("SQLX_SESSIONS_REQUIRE_PG").is_ok_and(|v| v == "1")
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("sessions.db");
        let options = sqlx_sessions::backend::sqlite::connect_options(path.to_str().unwrap())
            .expect("sqlite options");
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .expect("open sqlite file");
        TestDb::Sqlite {
            pool,
            path,
            _dir: dir,
        }
    }

    /// A fresh PostgreSQL database, or `None` (skip) when no server is configured outside CI.
    #[cfg(feature = "postgres")]
    pub async fn postgres() -> Option<TestDb> {
        let Ok(admin_url) = std::env::var("PG_TEST_URL") else {
            if pg_required() {
                panic!("PG_TEST_URL is not set but PostgreSQL tests are required (CI)");
            }
            eprintln!("note: PG_TEST_URL not set; skipping a PostgreSQL test");
            return None;
        };
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::PgPool::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at PG_TEST_URL unreachable: {e}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("create test database");
        admin.close().await;
        let url = with_database(&admin_url, &name);
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(16)
            .connect(&url)
            .await
            .expect("connect test database");
        Some(TestDb::Postgres { pool, url })
    }

    /// A fresh MySQL/MariaDB database, or `None` (skip) when no server is configured.
    #[cfg(feature = "mysql")]
    pub async fn mysql() -> Option<TestDb> {
        let Ok(admin_url) = std::env::var("MYSQL_TEST_URL") else {
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
                || std::env::var("SQLX_SESSIONS_REQUIRE_MYSQL").is_ok_and(|v| v == "1")
            {
                panic!("MYSQL_TEST_URL is not set but MySQL tests are required (CI)");
            }
            eprintln!("note: MYSQL_TEST_URL not set; skipping a MySQL test");
            return None;
        };
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::MySqlPool::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("MySQL at MYSQL_TEST_URL unreachable: {e}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("create test database");
        admin.close().await;
        let url = with_database(&admin_url, &name);
        let pool = sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(16)
            .connect(&url)
            .await
            .expect("connect test database");
        Some(TestDb::Mysql { pool, name })
    }

    /// A schema name of this test's own: `name` on PostgreSQL (schemas live in the test's
    /// database), `<test database>_name` on MySQL (where a schema is a database).
    pub fn schema_name(&self, name: &str) -> String {
        #[cfg(feature = "mysql")]
        if let TestDb::Mysql { name: db, .. } = self {
            return format!("{db}_{name}");
        }
        name.to_owned()
    }

    pub fn is_mysql(&self) -> bool {
        #[cfg(feature = "mysql")]
        if let TestDb::Mysql { .. } = self {
            return true;
        }
        false
    }

    /// Closes the pool: every later query fails.
    pub async fn close(&self) {
        match self {
            TestDb::Sqlite { pool, .. } => pool.close().await,
            #[cfg(feature = "postgres")]
            TestDb::Postgres { pool, .. } => pool.close().await,
            #[cfg(feature = "mysql")]
            TestDb::Mysql { pool, .. } => pool.close().await,
        }
    }

    pub fn builder(&self) -> StoreBuilder {
        match self {
            TestDb::Sqlite { pool, .. } => SessionStore::builder(pool.clone()),
            #[cfg(feature = "postgres")]
            TestDb::Postgres { pool, .. } => SessionStore::builder(pool.clone()),
            #[cfg(feature = "mysql")]
            TestDb::Mysql { pool, .. } => SessionStore::builder(pool.clone()),
        }
    }

    pub fn is_postgres(&self) -> bool {
        !matches!(self, TestDb::Sqlite { .. }) && !self.is_mysql()
    }

    /// Runs a statement directly (test set-up and inspection only).
    pub async fn exec(&self, sql: &str) {
        match self {
            TestDb::Sqlite { pool, .. } => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(pool)
                    .await
                    .expect("exec");
            }
            #[cfg(feature = "postgres")]
            TestDb::Postgres { pool, .. } => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(pool)
                    .await
                    .expect("exec");
            }
            #[cfg(feature = "mysql")]
            TestDb::Mysql { pool, .. } => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(pool)
                    .await
                    .expect("exec");
            }
        }
    }

    /// One integer from a query (test inspection only).
    pub async fn scalar(&self, sql: &str) -> i64 {
        match self {
            TestDb::Sqlite { pool, .. } => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
                .fetch_one(pool)
                .await
                .expect("scalar"),
            #[cfg(feature = "postgres")]
            TestDb::Postgres { pool, .. } => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
                    .fetch_one(pool)
                    .await
                    .expect("scalar")
            }
            #[cfg(feature = "mysql")]
            TestDb::Mysql { pool, .. } => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
                .fetch_one(pool)
                .await
                .expect("scalar"),
        }
    }

    /// The text values of a one-column query (test inspection only; MySQL only for now).
    pub async fn texts(&self, sql: &str) -> Vec<String> {
        match self {
            #[cfg(feature = "mysql")]
            TestDb::Mysql { pool, .. } => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
                .fetch_all(pool)
                .await
                .expect("texts"),
            _ => unimplemented!("texts on MySQL only"),
        }
    }

    /// One text value from a query (test inspection only).
    pub async fn scalar_text(&self, sql: &str) -> String {
        match self {
            TestDb::Sqlite { pool, .. } => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
                .fetch_one(pool)
                .await
                .expect("scalar"),
            #[cfg(feature = "postgres")]
            TestDb::Postgres { pool, .. } => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
                    .fetch_one(pool)
                    .await
                    .expect("scalar")
            }
            #[cfg(feature = "mysql")]
            TestDb::Mysql { pool, .. } => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
                .fetch_one(pool)
                .await
                .expect("scalar"),
        }
    }

    /// Every byte the database holds for `table`, as text, for secret scans.
    pub async fn dump(&self, #[allow(unused)] table: &str) -> String {
        match self {
            TestDb::Sqlite { pool, path, .. } => {
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(pool)
                    .await
                    .expect("checkpoint");
                let bytes = std::fs::read(path).expect("read db file");
                String::from_utf8_lossy(&bytes).into_owned()
            }
            #[cfg(feature = "postgres")]
            TestDb::Postgres { pool, .. } => {
                let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT t::text FROM {table} t"
                )))
                .fetch_all(pool)
                .await
                .expect("dump");
                rows.join("\n")
            }
            #[cfg(feature = "mysql")]
            TestDb::Mysql { pool, .. } => {
                use sqlx::Row as _;
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {table}")))
                    .fetch_all(pool)
                    .await
                    .expect("dump");
                let mut out = String::new();
                for row in rows {
                    for i in 0..row.len() {
                        let text = match row.try_get::<Option<Vec<u8>>, _>(i) {
                            Ok(v) => String::from_utf8_lossy(&v.unwrap_or_default()).into_owned(),
                            Err(_) => row
                                .try_get::<Option<i64>, _>(i)
                                .map(|v| format!("{v:?}"))
                                .or_else(|_| {
                                    row.try_get::<Option<time::OffsetDateTime>, _>(i)
                                        .map(|v| format!("{v:?}"))
                                })
                                .unwrap_or_default(),
                        };
                        out.push_str(&text);
                        out.push(',');
                    }
                    out.push('\n');
                }
                out
            }
        }
    }
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// Generates one `#[tokio::test]` per backend for each listed `async fn(TestDb)`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::TestDb::sqlite().await).await;
                }
            )*
        }
        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = $crate::common::TestDb::postgres().await {
                        super::$name(db).await;
                    }
                }
            )*
        }
        #[cfg(feature = "mysql")]
        mod mysql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = $crate::common::TestDb::mysql().await {
                        super::$name(db).await;
                    }
                }
            )*
        }
    };
}
