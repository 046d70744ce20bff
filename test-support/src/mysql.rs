//! Creating and dropping the per-test databases on the server of `MYSQL_TEST_URL`.

use sqlx::Connection as _;

use crate::admin::ServerVar;
use sqlx::mysql::MySqlConnection;

/// The server of `MYSQL_TEST_URL`.
pub(crate) const SERVER: ServerVar = ServerVar {
    variable: "MYSQL_TEST_URL",
    label: "MySQL",
    require: "SQLX_SESSIONS_REQUIRE_MYSQL",
    required: crate::mysql_required,
};

/// Creates the database `name` on the server of `admin`.
///
/// # Panics
/// When the server cannot be reached or refuses: the test fails then.
pub(crate) async fn create(admin: &str, name: &str) {
    let sql = format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4");
    crate::admin::create::<MySqlConnection>(SERVER, admin, name, sql).await;
}

/// Drops the database `name` and the test's schemas (databases named `<name>_...`, see
/// [`TestDb::schema_name`](crate::TestDb::schema_name)), from any thread.
pub(crate) fn drop_blocking(admin: &str, name: &str) {
    crate::admin::drop_blocking(name, || async {
        let mut conn = MySqlConnection::connect(admin).await?;
        let like = format!("{name}\\_%");
        let mut names: Vec<String> = sqlx::query_scalar(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE ?",
        )
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
    });
}
