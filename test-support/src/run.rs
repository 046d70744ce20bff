//! Running one test body on each backend.

use std::future::Future;

use crate::TestDb;

/// What a test function takes: a [`TestDb`], or a crate's own fixture built on one (the
/// demo's app state, for example).
pub trait Fixture: Sized {
    /// Builds the fixture on a fresh database.
    fn setup(db: TestDb) -> impl Future<Output = Self>;
}

impl Fixture for TestDb {
    async fn setup(db: TestDb) -> Self {
        db
    }
}

/// Runs `test` on a fixture built on `db`: what [`backend_tests!`](crate::backend_tests)
/// calls for each backend.
pub async fn run<T, F>(db: TestDb, test: impl FnOnce(T) -> F)
where
    T: Fixture,
    F: Future<Output = ()>,
{
    test(T::setup(db).await).await;
}

/// Runs a future to completion on a fresh single-threaded runtime, for tests that are not
/// async themselves.
pub fn block_on<F: Future>(future: F) -> F::Output {
    current_thread_runtime().block_on(future)
}

pub(crate) fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Generates, for each listed test function, one test per backend: `sqlite::name`,
/// `postgres::name` and `mysql::name` (skipped with a note without `PG_TEST_URL` or
/// `MYSQL_TEST_URL` outside CI).
///
/// - `backend_tests!(a, b)`: `async fn a(x: T)` where `T` is a [`Fixture`] (a
///   [`TestDb`] or a crate's own), each run as a
///   `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]`.
/// - `backend_tests!(blocking: a, b)`: `fn a(db: &TestDb)`, each run as a plain `#[test]`
///   on a [`TestDb::blocking`] database (no pool, no runtime).
///
/// - `backend_tests!(sqlite_postgres: a, b)` and `backend_tests!(sqlite_postgres blocking: a)`:
///   the same on SQLite and PostgreSQL only, for a feature the MySQL backend does not have
///   (the suite then asserts MySQL's refusal in a test of its own).
///
/// The calling crate depends on `tokio` (with `macros` and `rt-multi-thread`).
#[macro_export]
macro_rules! backend_tests {
    (sqlite_postgres blocking: $($name:ident),* $(,)?) => {
        $crate::backend_tests!(@blocking sqlite, Sqlite, $($name),*);
        $crate::backend_tests!(@blocking postgres, Postgres, $($name),*);
    };
    (sqlite_postgres: $($name:ident),* $(,)?) => {
        $crate::backend_tests!(@async sqlite, Sqlite, $($name),*);
        $crate::backend_tests!(@async postgres, Postgres, $($name),*);
    };
    (blocking: $($name:ident),* $(,)?) => {
        $crate::backend_tests!(@blocking sqlite, Sqlite, $($name),*);
        $crate::backend_tests!(@blocking postgres, Postgres, $($name),*);
        $crate::backend_tests!(@blocking mysql, Mysql, $($name),*);
    };
    (@blocking $module:ident, $backend:ident, $($name:ident),*) => {
        mod $module {
            $(
                #[test]
                fn $name() {
                    if let Some(db) = $crate::TestDb::blocking($crate::Backend::$backend) {
                        super::$name(&db);
                    }
                }
            )*
        }
    };
    (@async $module:ident, $backend:ident, $($name:ident),*) => {
        mod $module {
            $(
                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = $crate::TestDb::new($crate::Backend::$backend).await {
                        $crate::run(db, super::$name).await;
                    }
                }
            )*
        }
    };
    ($($name:ident),* $(,)?) => {
        $crate::backend_tests!(@async sqlite, Sqlite, $($name),*);
        $crate::backend_tests!(@async postgres, Postgres, $($name),*);
        $crate::backend_tests!(@async mysql, Mysql, $($name),*);
    };
}
