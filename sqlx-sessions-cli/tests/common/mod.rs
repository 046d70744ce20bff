//! What the command line tests share: a fresh database per test (a SQLite file, or a
//! PostgreSQL database created on the server of `PG_TEST_URL`), the binary with a clean
//! environment, seeding through the library, and the macro that runs one suite on both
//! databases.
//!
//! Without `PG_TEST_URL`, PostgreSQL tests are skipped with a note, unless `CI=true` or
//! `SQLX_SESSIONS_REQUIRE_PG=1`, which make them fail.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

use assert_cmd::Command;
use sqlx::Connection as _;
use sqlx::postgres::PgConnection;
use sqlx_sessions::{NewSession, SessionStore};
use time::{Duration, OffsetDateTime};

/// Runs each listed test function (`fn name(db: &TestDb)`) once on SQLite and once on
/// PostgreSQL, as `sqlite::name` and `postgres::name`.
macro_rules! db_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(&crate::common::TestDb::sqlite());
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(db) = crate::common::TestDb::postgres() {
                        super::$name(&db);
                    }
                }
            )*
        }
    };
}

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// A fresh, empty database for one test, removed afterwards (kept when the test fails).
#[derive(Debug)]
pub struct TestDb {
    pub kind: Kind,
    url: String,
    dir: Option<tempfile::TempDir>,
    /// For PostgreSQL: the server's admin URL and the database name, to drop it.
    pg: Option<(String, String)>,
}

impl TestDb {
    /// A new SQLite file (not yet created: `migrate` creates it).
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite:{}", dir.path().join("sessions.db").display());
        TestDb {
            kind: Kind::Sqlite,
            url,
            dir: Some(dir),
            pg: None,
        }
    }

    /// A new database on the PostgreSQL server of `PG_TEST_URL`, or `None` (skip) when the
    /// variable is unset and PostgreSQL is not required.
    pub fn postgres() -> Option<Self> {
        let Some(admin) = std::env::var("PG_TEST_URL").ok().filter(|u| !u.is_empty()) else {
            let required = std::env::var("CI").is_ok_and(|v| v == "true")
                || std::env::var("SQLX_SESSIONS_REQUIRE_PG").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "PG_TEST_URL is not set, but PostgreSQL tests are required \
                 (CI=true or SQLX_SESSIONS_REQUIRE_PG=1); run scripts/test.sh"
            );
            eprintln!("note: PG_TEST_URL is not set; skipping this PostgreSQL test");
            return None;
        };
        let name = format!("cli_test_{}", uuid::Uuid::new_v4().simple());
        block_on(async {
            let mut conn = PgConnection::connect(&admin)
                .await
                .expect("connect to PG_TEST_URL");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                .execute(&mut conn)
                .await
                .expect("create a test database");
        });
        Some(TestDb {
            kind: Kind::Postgres,
            url: with_database(&admin, &name),
            dir: None,
            pg: Some((admin, name)),
        })
    }

    /// The database URL (passed to the binary as `DATABASE_URL`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A directory of this test for scratch files.
    pub fn scratch(&self) -> PathBuf {
        match &self.dir {
            Some(dir) => dir.path().to_owned(),
            None => std::env::temp_dir(),
        }
    }

    /// The binary, with `DATABASE_URL` set to this database and no other configuration
    /// inherited from the environment.
    pub fn cmd(&self) -> Command {
        let mut cmd = bin();
        cmd.env("DATABASE_URL", &self.url);
        cmd
    }

    /// Runs `migrate` and returns the database.
    pub fn migrated(&self) -> &Self {
        self.cmd().arg("migrate").assert().success();
        self
    }

    /// Creates a session of `user` with the binary and returns its token.
    pub fn create(&self, user: &str) -> String {
        let out = self
            .cmd()
            .args(["create", "--user", user])
            .output()
            .expect("run");
        assert!(out.status.success(), "create failed: {out:?}");
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    }

    /// The library store on this database's default table, for seeding and checks.
    pub fn with_store<T>(&self, f: impl AsyncFnOnce(SessionStore) -> T) -> T {
        block_on(async {
            let store = match self.kind {
                Kind::Sqlite => {
                    let path = self.url.trim_start_matches("sqlite:");
                    let options =
                        sqlx_sessions::backend::sqlite::connect_options(path).expect("options");
                    let pool = sqlx::SqlitePool::connect_with(options).await.expect("pool");
                    SessionStore::builder(pool).build().expect("store")
                }
                Kind::Postgres => {
                    let pool = sqlx::PgPool::connect(&self.url).await.expect("pool");
                    SessionStore::builder(pool).build().expect("store")
                }
            };
            f(store).await
        })
    }

    /// Inserts `n` sessions of `user` that expired an hour ago, through the library.
    pub fn seed_expired(&self, user: &str, n: usize) {
        self.with_store(async |store| {
            let past = OffsetDateTime::now_utc() - Duration::hours(1);
            for _ in 0..n {
                store
                    .create(
                        NewSession::new()
                            .extra("user_id", user)
                            .expires_at(Some(past)),
                    )
                    .await
                    .expect("seed an expired session");
            }
        });
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Keep the evidence of a failed test.
            if let Some(dir) = self.dir.take() {
                eprintln!("test database kept at {}", dir.keep().display());
            }
            if let Some((_, name)) = &self.pg {
                eprintln!("test database kept: {name}");
            }
            return;
        }
        if let Some((admin, name)) = self.pg.take() {
            block_on(async {
                if let Ok(mut conn) = PgConnection::connect(&admin).await {
                    let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
                        .execute(&mut conn)
                        .await;
                }
            });
        }
    }
}

/// The binary with a clean environment: no database, salt or token settings inherited,
/// and backtraces requested so a test notices if one is ever printed.
pub fn bin() -> Command {
    let mut cmd = Command::cargo_bin("sqlx-sessions").expect("the binary is built");
    for var in [
        "DATABASE_URL",
        "SESSIONS_SECRET_SALT",
        "SESSIONS_HASHING",
        "SESSIONS_TOKEN_PREFIX",
        "SESSIONS_TOKEN_LENGTH",
        "SESSIONS_MAX_LIFETIME",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("RUST_BACKTRACE", "1");
    cmd
}

/// `admin` with its database name replaced by `name`.
fn with_database(admin: &str, name: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut url = format!("{}/{name}", &base[..path_start]);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

/// Runs a future on a fresh single-threaded runtime.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

/// Standard output of a finished command, as text.
pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8 stdout")
}

/// Standard error of a finished command, as text.
pub fn stderr(output: &std::process::Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("utf-8 stderr")
}

/// Asserts a failure with `code` and exactly one line on standard error, which contains
/// `needle` and no trace of a panic.
pub fn assert_error(output: &std::process::Output, code: i32, needle: &str) {
    let err = stderr(output);
    assert_eq!(
        output.status.code(),
        Some(code),
        "exit code; stderr: {err}; stdout: {}",
        stdout(output)
    );
    assert_eq!(err.lines().count(), 1, "one line on stderr, got: {err}");
    assert!(
        err.contains(needle),
        "stderr should mention `{needle}`: {err}"
    );
    assert_no_panic(&err);
}

/// Asserts that no panic or backtrace was printed.
pub fn assert_no_panic(stderr: &str) {
    for sign in ["panicked", "backtrace", "RUST_BACKTRACE"] {
        assert!(!stderr.contains(sign), "looks like a panic: {stderr}");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_the_database_name() {
        use super::with_database;
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "t2"),
            "postgres://u:p@h/t2?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "t3"), "postgres://u@h/t3");
    }
}
