//! A fresh database per test, dropped after a passing test, kept after a failing one.

use std::path::Path;

use sqlx_sessions::{Pool, PoolOptions, SessionStore, StoreBuilder};

/// The databases a test can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temp dir of its own.
    Sqlite,
    /// A database of its own on the PostgreSQL server of `PG_TEST_URL`.
    Postgres,
    /// A database of its own on the MySQL or MariaDB server of `MYSQL_TEST_URL`.
    Mysql,
}

impl Backend {
    /// Every backend, in the order the tests run on them.
    pub const ALL: [Backend; 3] = [Backend::Sqlite, Backend::Postgres, Backend::Mysql];

    /// `sqlite`, `postgres` or `mysql`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::Mysql => "mysql",
        }
    }
}

/// A fresh, empty database for one test.
///
/// Dropped when the value is dropped after a passing test (the SQLite temp dir removed, the
/// PostgreSQL database dropped with its connections); kept after a failing one (the value
/// dropped while the test panics), with its location printed on standard error.
///
/// The pool ([`TestDb::pool`]) connects at its first statement: a SQLite file exists only
/// once something used it.
#[derive(Debug)]
pub struct TestDb {
    backend: Backend,
    url: String,
    name: String,
    dir: Option<tempfile::TempDir>,
    /// The server URL of a PostgreSQL or MySQL database, to drop it.
    admin: Option<String>,
    pool: Option<Pool>,
}

/// Connections per test pool: enough for the concurrency tests, few enough for many tests
/// on one server at once.
const MAX_CONNECTIONS: u32 = 8;

impl TestDb {
    /// A fresh database on `backend` with its (lazy) pool, or `None` when the backend is not
    /// available (PostgreSQL without `PG_TEST_URL`, outside CI). Call from inside a tokio
    /// runtime, the one the test uses the pool on.
    ///
    /// # Panics
    /// When PostgreSQL is required but not configured, or cannot be reached.
    pub async fn new(backend: Backend) -> Option<TestDb> {
        let mut db = Self::unconnected(backend).await?;
        let options = PoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .lazy(true);
        let pool = Pool::connect_with(&db.url, &options)
            .await
            .unwrap_or_else(|e| panic!("cannot open a pool on {}: {e}", db.name));
        db.pool = Some(pool);
        Some(db)
    }

    /// A fresh SQLite database.
    pub async fn sqlite() -> TestDb {
        Self::new(Backend::Sqlite)
            .await
            .expect("SQLite is always available")
    }

    /// A fresh PostgreSQL database, or `None` (skip, with a note) without `PG_TEST_URL`
    /// outside CI.
    pub async fn postgres() -> Option<TestDb> {
        Self::new(Backend::Postgres).await
    }

    /// A fresh MySQL or MariaDB database, or `None` (skip, with a note) without
    /// `MYSQL_TEST_URL` outside CI.
    pub async fn mysql() -> Option<TestDb> {
        Self::new(Backend::Mysql).await
    }

    /// A fresh database on `backend` without a pool, for tests that do not run in a runtime
    /// (those that drive a binary): connect with [`Pool::connect`] on [`TestDb::url`].
    pub fn blocking(backend: Backend) -> Option<TestDb> {
        crate::run::current_thread_runtime().block_on(Self::unconnected(backend))
    }

    async fn unconnected(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::Builder::new()
                    .prefix("sqlx-sessions-test-")
                    .tempdir()
                    .expect("a temp dir");
                let path = dir.path().join("sessions.db");
                Some(TestDb {
                    backend,
                    url: format!("sqlite:{}", path.display()),
                    name: path.display().to_string(),
                    dir: Some(dir),
                    admin: None,
                    pool: None,
                })
            }
            Backend::Postgres => {
                let admin = crate::admin::admin_url(crate::postgres::SERVER)?;
                let name = format!("test_{}", uuid::Uuid::new_v4().simple());
                crate::postgres::create(&admin, &name).await;
                Some(TestDb {
                    backend,
                    url: crate::admin::with_database(&admin, &name),
                    name,
                    dir: None,
                    admin: Some(admin),
                    pool: None,
                })
            }
            Backend::Mysql => {
                let admin = crate::admin::admin_url(crate::mysql::SERVER)?;
                let name = format!("test_{}", uuid::Uuid::new_v4().simple());
                crate::mysql::create(&admin, &name).await;
                Some(TestDb {
                    backend,
                    url: crate::admin::with_database(&admin, &name),
                    name,
                    dir: None,
                    admin: Some(admin),
                    pool: None,
                })
            }
        }
    }

    /// The backend of this database.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether this is a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        self.backend == Backend::Postgres
    }

    /// Whether this is a MySQL or MariaDB database.
    pub fn is_mysql(&self) -> bool {
        self.backend == Backend::Mysql
    }

    /// A SQL literal of the session id `id` (a uuid's text) as the `id` column stores it:
    /// text on SQLite and PostgreSQL, `BINARY(16)` on MySQL.
    pub fn id_sql(&self, id: impl std::fmt::Display) -> String {
        if self.is_mysql() {
            format!("UNHEX(REPLACE('{id}', '-', ''))")
        } else {
            format!("'{id}'")
        }
    }

    /// A schema name of this test's own: `name` on PostgreSQL (schemas live in the test's
    /// database); `<test database>_<name>` on MySQL, where a schema is a database of the
    /// server (dropped with the test's database).
    pub fn schema_name(&self, name: &str) -> String {
        if self.is_mysql() {
            format!("{}_{name}", self.name)
        } else {
            name.to_owned()
        }
    }

    /// The database's URL (`sqlite:/tmp/.../sessions.db`, `postgres://.../test_...` or
    /// `mysql://.../test_...`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The SQLite file's path or the PostgreSQL or MySQL database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The temp dir of a SQLite database (the file is `sessions.db` in it), for scratch files
    /// of the test; `None` on PostgreSQL.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(tempfile::TempDir::path)
    }

    /// The test's pool.
    ///
    /// # Panics
    /// On a database made by [`TestDb::blocking`], which has none.
    pub fn pool(&self) -> &Pool {
        self.pool
            .as_ref()
            .expect("a TestDb made by `blocking` has no pool: connect to `url()`")
    }

    /// A store builder on this database's pool.
    pub fn builder(&self) -> StoreBuilder {
        SessionStore::builder(self.pool().clone())
    }

    /// Closes the pool (the database itself stays until the value is dropped).
    pub async fn close(&self) {
        self.pool().close().await;
    }

    /// Runs statements directly (set-up and inspection only).
    ///
    /// # Panics
    /// When the database refuses them.
    pub async fn exec(&self, sql: &str) {
        let sql = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()));
        match self.pool() {
            Pool::Sqlite(pool) => sql.execute(pool).await.map(drop),
            Pool::Postgres(pool) => sql.execute(pool).await.map(drop),
            Pool::Mysql(pool) => sql.execute(pool).await.map(drop),
            other => panic!("no raw SQL helper for {other:?}"),
        }
        .expect("exec");
    }

    /// One integer from a query (inspection only).
    pub async fn scalar(&self, sql: &str) -> i64 {
        self.scalar_of(sql).await
    }

    /// One text value from a query (inspection only).
    pub async fn scalar_text(&self, sql: &str) -> String {
        self.scalar_of(sql).await
    }

    async fn scalar_of<T>(&self, sql: &str) -> T
    where
        T: Send + Unpin,
        T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
        T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
        T: for<'r> sqlx::Decode<'r, sqlx::MySql> + sqlx::Type<sqlx::MySql>,
    {
        let sql_safe = || sqlx::AssertSqlSafe(sql.to_owned());
        match self.pool() {
            Pool::Sqlite(pool) => sqlx::query_scalar(sql_safe()).fetch_one(pool).await,
            Pool::Postgres(pool) => sqlx::query_scalar(sql_safe()).fetch_one(pool).await,
            Pool::Mysql(pool) => sqlx::query_scalar(sql_safe()).fetch_one(pool).await,
            other => panic!("no raw SQL helper for {other:?}"),
        }
        .unwrap_or_else(|e| panic!("scalar `{sql}`: {e}"))
    }

    /// The text values of a one-column query, one per row (inspection only).
    pub async fn texts(&self, sql: &str) -> Vec<String> {
        let sql_safe = || sqlx::AssertSqlSafe(sql.to_owned());
        match self.pool() {
            Pool::Sqlite(pool) => sqlx::query_scalar(sql_safe()).fetch_all(pool).await,
            Pool::Postgres(pool) => sqlx::query_scalar(sql_safe()).fetch_all(pool).await,
            Pool::Mysql(pool) => sqlx::query_scalar(sql_safe()).fetch_all(pool).await,
            other => panic!("no raw SQL helper for {other:?}"),
        }
        .unwrap_or_else(|e| panic!("texts `{sql}`: {e}"))
    }

    /// Every byte the database holds for `tables`, as text, for scans for secrets: on SQLite
    /// the database file with its WAL and journal files (after a checkpoint), whatever
    /// `tables` says; on PostgreSQL every row of each table as text; on MySQL every value of
    /// every row of each table, binary ones as their raw bytes.
    pub async fn dump(&self, tables: &[&str]) -> String {
        match self.pool() {
            Pool::Sqlite(pool) => {
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(pool)
                    .await
                    .expect("checkpoint");
                let file = self.url.trim_start_matches("sqlite:");
                let mut bytes = Vec::new();
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    if let Ok(b) = std::fs::read(format!("{file}{suffix}")) {
                        bytes.extend(b);
                    }
                }
                String::from_utf8_lossy(&bytes).into_owned()
            }
            Pool::Postgres(pool) => {
                let mut out = Vec::new();
                for table in tables {
                    let sql = format!("SELECT t::text FROM {table} t");
                    let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                        .fetch_all(pool)
                        .await
                        .unwrap_or_else(|e| panic!("dump {table}: {e}"));
                    out.extend(rows);
                }
                out.join("\n")
            }
            Pool::Mysql(pool) => {
                let mut out = Vec::new();
                for table in tables {
                    let sql = format!("SELECT * FROM {table}");
                    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .fetch_all(pool)
                        .await
                        .unwrap_or_else(|e| panic!("dump {table}: {e}"));
                    out.extend(rows.iter().map(mysql_row_text));
                }
                out.join("\n")
            }
            other => panic!("no raw SQL helper for {other:?}"),
        }
    }
}

/// Every value of a MySQL row as text: strings and binary strings as their bytes (lossy),
/// numbers and times as written by Rust.
fn mysql_row_text(row: &sqlx::mysql::MySqlRow) -> String {
    use sqlx::Row as _;
    (0..row.len())
        .map(|i| {
            if let Ok(bytes) = row.try_get::<Option<Vec<u8>>, _>(i) {
                return String::from_utf8_lossy(&bytes.unwrap_or_default()).into_owned();
            }
            if let Ok(n) = row.try_get::<Option<i64>, _>(i) {
                return format!("{n:?}");
            }
            row.try_get::<Option<sqlx::types::time::PrimitiveDateTime>, _>(i)
                .map(|t| format!("{t:?}"))
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(",")
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Keep the evidence of a failed test.
            if let Some(dir) = self.dir.take() {
                eprintln!(
                    "test database kept: {}",
                    dir.keep().join("sessions.db").display()
                );
            }
            if self.admin.is_some() {
                eprintln!(
                    "test database kept: {} ({})",
                    self.name,
                    self.backend.name()
                );
            }
            return;
        }
        if let Some(admin) = self.admin.take() {
            match self.backend {
                Backend::Mysql => crate::mysql::drop_blocking(&admin, &self.name),
                _ => crate::postgres::drop_blocking(&admin, &self.name),
            }
        }
    }
}
