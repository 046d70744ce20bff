//! What the test suites of sqlx-sessions (the library, the demo and the CLI) share.
//!
//! - [`TestDb`]: a fresh, empty database for one test on each [`Backend`]: a new SQLite file
//!   in a temp dir, or a new database on the PostgreSQL server named by `PG_TEST_URL` or on
//!   the MySQL/MariaDB server named by `MYSQL_TEST_URL` (read at run time). It is dropped after a passing test and kept, with its name printed, after
//!   a failing one.
//! - [`backend_tests!`]: one `#[tokio::test]` per backend for each listed test function, so
//!   a failure names its backend (`sqlite::name`, `postgres::name`, `mysql::name`).
//! - [`pg_required`]: without `PG_TEST_URL` a PostgreSQL test is skipped with a note, unless
//!   `CI` is `true` or `1` (or `SQLX_SESSIONS_REQUIRE_PG=1`): then it fails.
//! - [`mysql_required`]: the same for MySQL, with `MYSQL_TEST_URL` and
//!   `SQLX_SESSIONS_REQUIRE_MYSQL=1`.
//! - [`capture_logs`]: the log lines of one test, not of every test of the binary.
//! - [`server::Server`]: a throw-away PostgreSQL or MariaDB server a fault test can stop and
//!   start again.
//!
//! ```no_run
//! use sqlx_sessions_test_support::{TestDb, backend_tests};
//!
//! backend_tests!(counts_nothing_at_first);
//!
//! async fn counts_nothing_at_first(db: TestDb) {
//!     let store = db.builder().build().unwrap();
//!     store.migrate().await.unwrap();
//!     assert_eq!(db.scalar("SELECT COUNT(*) FROM sessions").await, 0);
//! }
//! # fn main() {}
//! ```

mod admin;
mod db;
mod logs;
mod mysql;
mod postgres;
mod run;
pub mod server;

pub use db::{Backend, TestDb};
pub use logs::{Logs, capture_logs};
pub use run::{Fixture, block_on, run};

/// Whether PostgreSQL tests must run: `CI` is `true` or `1`, or `SQLX_SESSIONS_REQUIRE_PG`
/// is `1`. Then a test without a PostgreSQL server fails instead of skipping.
pub fn pg_required() -> bool {
    required("SQLX_SESSIONS_REQUIRE_PG")
}

/// Whether MySQL tests must run: `CI` is `true` or `1`, or `SQLX_SESSIONS_REQUIRE_MYSQL` is
/// `1`. Then a test without a MySQL server fails instead of skipping.
pub fn mysql_required() -> bool {
    required("SQLX_SESSIONS_REQUIRE_MYSQL")
}

fn required(variable: &str) -> bool {
    let set = |name: &str, values: &[&str]| {
        std::env::var(name).is_ok_and(|v| values.iter().any(|ok| v.trim().eq_ignore_ascii_case(ok)))
    };
    set("CI", &["true", "1"]) || set(variable, &["1"])
}
