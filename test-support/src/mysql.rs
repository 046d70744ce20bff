//! Creating and dropping the per-test databases on the server of `MYSQL_TEST_URL`.

use sqlx::Connection as _;
use sqlx::mysql::MySqlConnection;

/// The server URL of `MYSQL_TEST_URL`, or `None` (the test is skipped with a note) when it
/// is unset or empty and MySQL is not required.
///
/// # Panics
/// When the variable is missing but MySQL tests are required (see [`crate::mysql_required`]).
pub(crate) fn admin_url() -> Option<String> {
    if let Some(url) = std::env::var("MYSQL_TEST_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    {
        return Some(url);
    }
    assert!(
        !crate::mysql_required(),
        "MYSQL_TEST_URL is not set, but MySQL tests are required (CI=true, CI=1 or \
         SQLX_SESSIONS_REQUIRE_MYSQL=1); run scripts/test.sh"
    );
    eprintln!("note: MYSQL_TEST_URL is not set; skipping this MySQL test");
    None
}

/// Creates the database `name` on the server of `admin`.
///
/// # Panics
/// When the server cannot be reached or refuses: a MySQL test fails then.
pub(crate) async fn create(admin: &str, name: &str) {
    let mut conn = MySqlConnection::connect(admin)
        .await
        .unwrap_or_else(|e| panic!("MySQL at MYSQL_TEST_URL unreachable: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE `{name}` CHARACTER SET utf8mb4"
    )))
    .execute(&mut conn)
    .await
    .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
    let _ = conn.close().await;
}

/// Drops the database `name` and the test's schemas (databases named `<name>_...`, see
/// [`TestDb::schema_name`](crate::TestDb::schema_name)), from any thread.
pub(crate) fn drop_blocking(admin: &str, name: &str) {
    let result = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                crate::run::current_thread_runtime().block_on(async {
                    let mut conn = MySqlConnection::connect(admin).await?;
                    let like = format!("{name}\\_%");
                    let mut names: Vec<String> =
                        sqlx::query_scalar("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE ?")
                            .bind(like)
                            .fetch_all(&mut conn)
                            .await?;
                    names.push(name.to_owned());
                    for db in names {
                        let sql = format!("DROP DATABASE IF EXISTS `{db}`");
                        sqlx::query(sqlx::AssertSqlSafe(sql))
                            .execute(&mut conn)
                            .await?;
                    }
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
