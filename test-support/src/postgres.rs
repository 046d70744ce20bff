//! Creating and dropping the per-test databases on the server of `PG_TEST_URL`.

use sqlx::Connection as _;
use sqlx::postgres::PgConnection;

/// The server URL of `PG_TEST_URL`, or `None` (the test is skipped with a note) when it is
/// unset or empty and PostgreSQL is not required.
///
/// # Panics
/// When the variable is missing but PostgreSQL tests are required (see [`crate::pg_required`]).
pub(crate) fn admin_url() -> Option<String> {
    if let Some(url) = std::env::var("PG_TEST_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    {
        return Some(url);
    }
    assert!(
        !crate::pg_required(),
        "PG_TEST_URL is not set, but PostgreSQL tests are required (CI=true, CI=1 or \
         SQLX_SESSIONS_REQUIRE_PG=1); run scripts/test.sh"
    );
    eprintln!("note: PG_TEST_URL is not set; skipping this PostgreSQL test");
    None
}

/// Creates the database `name` on the server of `admin`.
///
/// # Panics
/// When the server cannot be reached or refuses: a PostgreSQL test fails then.
pub(crate) async fn create(admin: &str, name: &str) {
    let mut conn = PgConnection::connect(admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at PG_TEST_URL unreachable: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
    let _ = conn.close().await;
}

/// Drops the database `name` (closing its open connections), from any thread: also from
/// inside a runtime, where a blocking wait for a future is not allowed.
pub(crate) fn drop_blocking(admin: &str, name: &str) {
    let result = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                crate::run::current_thread_runtime().block_on(async {
                    let mut conn = PgConnection::connect(admin).await?;
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await?;
                    conn.close().await
                })
            })
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
