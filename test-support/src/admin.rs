//! What the PostgreSQL and MySQL test servers share: the admin URL from the environment,
//! the per-test database URL, and dropping a database from any thread.

use std::future::Future;

/// A test server named by an environment variable.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ServerVar {
    /// The variable holding the admin URL (`PG_TEST_URL`, `MYSQL_TEST_URL`).
    pub(crate) variable: &'static str,
    /// The database's name in messages.
    pub(crate) label: &'static str,
    /// The variable that requires the tests outside CI.
    pub(crate) require: &'static str,
    /// Whether the tests must run (CI or the require variable).
    pub(crate) required: fn() -> bool,
}

/// The server URL of the variable, or `None` (the test is skipped with a note) when it is
/// unset or empty and the tests are not required.
///
/// # Panics
/// When the variable is missing but the tests are required.
pub(crate) fn admin_url(server: ServerVar) -> Option<String> {
    let ServerVar {
        variable,
        label,
        require,
        required,
    } = server;
    if let Some(url) = std::env::var(variable)
        .ok()
        .filter(|u| !u.trim().is_empty())
    {
        return Some(url);
    }
    assert!(
        !required(),
        "{variable} is not set, but {label} tests are required (CI=true, CI=1 or \
         {require}=1); run scripts/test.sh"
    );
    eprintln!("note: {variable} is not set; skipping this {label} test");
    None
}

/// Creates the database `name` with `sql` (`CREATE DATABASE ...`) on `server`, whose
/// admin URL is `admin`.
///
/// # Panics
/// When the server cannot be reached or refuses: the test fails then.
pub(crate) async fn create<C>(server: ServerVar, admin: &str, name: &str, sql: String)
where
    C: sqlx::Connection,
    for<'c> &'c mut C: sqlx::Executor<'c, Database = C::Database>,
{
    let ServerVar {
        variable, label, ..
    } = server;
    let mut conn = C::connect(admin)
        .await
        .unwrap_or_else(|e| panic!("{label} at {variable} unreachable: {e}"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
    let _ = conn.close().await;
}

/// Runs `drop` to completion on a thread of its own (also from inside a runtime, where a
/// blocking wait for a future is not allowed), warning instead of failing.
pub(crate) fn drop_blocking<F>(name: &str, drop: impl FnOnce() -> F + Send)
where
    F: Future<Output = Result<(), sqlx::Error>>,
{
    let result = std::thread::scope(|scope| {
        scope
            .spawn(|| crate::run::current_thread_runtime().block_on(drop()))
            .join()
    });
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("warning: could not drop the test database {name}: {e}"),
        Err(_) => eprintln!("warning: dropping the test database {name} panicked"),
    }
}

/// `admin` with its database name replaced by `name` (query parameters kept).
pub(crate) fn with_database(admin: &str, name: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "t2"),
            "postgres://u:p@h/t2?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "t3"), "postgres://u@h/t3");
        assert_eq!(
            with_database("postgres://u@h?x=1", "t4"),
            "postgres://u@h/t4?x=1"
        );
    }
}
