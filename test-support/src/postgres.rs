//! Creating and dropping the per-test databases on the server of `PG_TEST_URL`.

use sqlx::Connection as _;

use crate::admin::ServerVar;
use sqlx::postgres::PgConnection;

/// The server of `PG_TEST_URL`.
pub(crate) const SERVER: ServerVar = ServerVar {
    variable: "PG_TEST_URL",
    label: "PostgreSQL",
    require: "SQLX_SESSIONS_REQUIRE_PG",
    required: crate::pg_required,
};

/// Creates the database `name` on the server of `admin`.
///
/// # Panics
/// When the server cannot be reached or refuses: the test fails then.
pub(crate) async fn create(admin: &str, name: &str) {
    let sql = format!("CREATE DATABASE \"{name}\"");
    crate::admin::create::<PgConnection>(SERVER, admin, name, sql).await;
}

/// Drops the database `name` (closing its open connections), from any thread: also from
/// inside a runtime, where a blocking wait for a future is not allowed.
pub(crate) fn drop_blocking(admin: &str, name: &str) {
    crate::admin::drop_blocking(name, || async {
        let mut conn = PgConnection::connect(admin).await?;
        let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await?;
        conn.close().await
    });
}
