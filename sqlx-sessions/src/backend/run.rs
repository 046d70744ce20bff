//! Running a store's statement and decoding what it returns, the same on every database
//! once the database's own parts ([`Driver`]) bind the parameters and read the columns.

use std::sync::Arc;

use sqlx::{AssertSqlSafe, ColumnIndex, Database, Decode, Executor, IntoArguments, Row as _, Type};
use time::OffsetDateTime;
use uuid::Uuid;

use super::row::{decode_session, not_null};
use super::{Columns, Conn, Fetched, Held, On, Reader};
use crate::error::{Error, Result};
use crate::evolve::{Plan, Snapshot, Step};
use crate::schema::TableSpec;
use crate::session::Session;
use crate::sql::Stmt;

/// A database the backends run on.
pub(crate) trait Native: Database {
    /// The database's name in messages.
    const LABEL: &'static str;

    /// The connection `conn` holds, when it is one of this database's.
    fn of<'a>(conn: &'a mut Conn<'_>) -> Option<&'a mut Self::Connection>;

    /// The number of rows a statement changed (sqlx has no trait for it).
    fn rows_affected(done: &Self::QueryResult) -> u64;

    /// Column `i` of `row` as text, as sqlx decodes a `String`.
    fn string(row: &Self::Row, i: usize) -> Result<Option<String>>;

    /// Column `i` of `row` as an integer.
    fn integer(row: &Self::Row, i: usize) -> Result<Option<i64>>;

    /// Column `i` of `row` as a boolean.
    fn boolean(row: &Self::Row, i: usize) -> Result<Option<bool>>;

    /// Column `i` of `row` as bytes, never `NULL`.
    fn bytes(row: &Self::Row, i: usize) -> Result<Vec<u8>>;

    /// Whether `table` (quoted and qualified as this database quotes) holds a row, read on
    /// `conn`.
    fn has_rows<'a>(
        conn: &'a mut Self::Connection,
        table: &'a str,
    ) -> impl Future<Output = sqlx::Result<bool>> + Send + 'a;
}

/// `From<&mut Connection>` for the variant of a [`Conn`], and its database's [`Native`].
macro_rules! native {
    ($feature:literal, $variant:ident, $db:ty, $conn:ty, $label:literal) => {
        #[cfg(feature = $feature)]
        impl<'c> From<&'c mut $conn> for Conn<'c> {
            fn from(conn: &'c mut $conn) -> Self {
                Conn::$variant(conn)
            }
        }

        #[cfg(feature = $feature)]
        impl Native for $db {
            const LABEL: &'static str = $label;

            fn of<'a>(conn: &'a mut Conn<'_>) -> Option<&'a mut $conn> {
                match conn {
                    Conn::$variant(c) => Some(&mut **c),
                    #[allow(unreachable_patterns)]
                    _ => None,
                }
            }

            fn rows_affected(done: &Self::QueryResult) -> u64 {
                done.rows_affected()
            }

            fn string(row: &Self::Row, i: usize) -> Result<Option<String>> {
                Ok(row.try_get(i)?)
            }

            fn integer(row: &Self::Row, i: usize) -> Result<Option<i64>> {
                Ok(row.try_get(i)?)
            }

            fn boolean(row: &Self::Row, i: usize) -> Result<Option<bool>> {
                Ok(row.try_get(i)?)
            }

            fn bytes(row: &Self::Row, i: usize) -> Result<Vec<u8>> {
                Ok(row.try_get(i)?)
            }

            async fn has_rows(conn: &mut $conn, table: &str) -> sqlx::Result<bool> {
                let sql = format!("SELECT COUNT(*) FROM (SELECT 1 FROM {table} LIMIT 1) t");
                let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(conn)
                    .await?;
                Ok(rows > 0)
            }
        }
    };
}

native!(
    "sqlite",
    Sqlite,
    sqlx::Sqlite,
    sqlx::SqliteConnection,
    "SQLite"
);
native!(
    "postgres",
    Postgres,
    sqlx::Postgres,
    sqlx::PgConnection,
    "PostgreSQL"
);
native!("mysql", Mysql, sqlx::MySql, sqlx::MySqlConnection, "MySQL");

/// What a table has: `columns`, `indexes` and `foreign_keys` as the catalog reported them,
/// and whether it holds a row, read on `conn` (`table` quoted as `DB` quotes). The empty
/// snapshot when the catalog reported no columns: the table does not exist.
pub(crate) async fn snapshot<DB: Native>(
    conn: &mut DB::Connection,
    table: &str,
    (columns, indexes, foreign_keys): (Vec<(String, String)>, Vec<String>, Vec<String>),
) -> sqlx::Result<Snapshot> {
    // No columns: the table does not exist (and cannot be asked whether it has rows).
    if columns.is_empty() {
        return Ok(Snapshot::default());
    }
    Ok(Snapshot {
        has_rows: DB::has_rows(conn, table).await?,
        columns,
        indexes,
        foreign_keys,
    })
}

/// The caller's connection of `on`, if any, refusing another database's than `DB`.
fn given<'a, DB: Native>(on: On<'a, '_>) -> Result<Option<&'a mut DB::Connection>> {
    match on {
        None => Ok(None),
        Some(conn) => DB::of(conn).map(Some).ok_or_else(|| {
            Error::config(
                "connection",
                format!(
                    "this store is on {}; the connection given is to another database",
                    DB::LABEL
                ),
            )
        }),
    }
}

/// A statement of the store bound for `DB`.
pub(crate) type Query<DB> = sqlx::query::Query<'static, DB, <DB as Database>::Arguments>;

/// A database's running of the store's statements: binding their parameters, and
/// whether a statement that failed may run again.
pub(crate) trait Driver: Columns {
    /// Runs on a pooled connection that lost a deadlock before one more runs (1: none).
    const POOLED_ATTEMPTS: u32 = 1;

    /// `stmt` in this database's dialect, its parameters bound as `spec`'s table stores
    /// them.
    fn query(spec: &TableSpec, stmt: Stmt) -> Query<Self>;

    /// Whether `err` is a lost deadlock, which the server rolled back and which can run
    /// again (see [`Driver::POOLED_ATTEMPTS`]).
    fn lost_deadlock(_err: &Error) -> bool {
        false
    }
}

/// A store's table on one database: the pool and the table's spec. Every database's
/// backend is one, a [`Run`] through its [`Driver`].
#[derive(Debug)]
pub(crate) struct Table<DB: Database> {
    /// The pool.
    pub(crate) pool: sqlx::Pool<DB>,
    /// The table.
    pub(crate) spec: Arc<TableSpec>,
}

impl<DB: Driver> Table<DB> {
    /// `stmt` in this database's dialect, its parameters bound.
    pub(crate) fn query(&self, stmt: Stmt) -> Query<DB> {
        DB::query(&self.spec, stmt)
    }

    /// A reader of `row`.
    pub(crate) fn reader<'r>(&'r self, row: &'r DB::Row) -> Reader<'r, DB> {
        Reader {
            row,
            spec: &self.spec,
        }
    }

    /// The caller's connection of `on`, if any, refusing another database's.
    pub(crate) fn given<'a>(&self, on: On<'a, '_>) -> Result<Option<&'a mut DB::Connection>> {
        given::<DB>(on)
    }

    /// Decodes a row selected with [`select_list`](crate::query::select_list).
    pub(crate) fn decode(&self, row: &DB::Row, with_digest: bool) -> Result<Fetched> {
        decode_session(&self.reader(row), with_digest)
    }
}

impl<DB> Table<DB>
where
    DB: Driver,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
{
    /// Runs `sql` (the store's own DDL) on `conn`, as text: DDL is run once, and MySQL's
    /// `CREATE TRIGGER` has no prepared form.
    pub(crate) async fn run_one(conn: &mut DB::Connection, sql: &str) -> sqlx::Result<()> {
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(conn)
            .await
            .map(drop)
    }

    /// Runs `statements` (the store's own DDL) one after another on `conn`.
    pub(crate) async fn run_all(
        conn: &mut DB::Connection,
        statements: &[String],
    ) -> sqlx::Result<()> {
        for sql in statements {
            Self::run_one(&mut *conn, sql).await?;
        }
        Ok(())
    }

    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    /// Applies `plan` in `tx` (on a database whose DDL is transactional): its steps, the
    /// statements every migration runs and the record of the steps; then commits.
    pub(crate) async fn apply(
        &self,
        mut tx: sqlx::Transaction<'_, DB>,
        plan: Plan,
    ) -> Result<Vec<Step>> {
        for sql in plan.ddl() {
            Self::run_one(&mut tx, sql).await?;
        }
        for stmt in plan.record {
            self.query(stmt).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(plan.steps)
    }
}

/// The statements every backend runs alike.
#[async_trait::async_trait]
pub(crate) trait Run {
    /// Runs a query returning at most one session row.
    async fn fetch_optional(
        &self,
        on: On<'_, '_>,
        stmt: Stmt,
        with_digest: bool,
    ) -> Result<Option<Fetched>>;

    /// Runs a query returning session rows.
    async fn fetch_all(&self, on: On<'_, '_>, stmt: Stmt) -> Result<Vec<Session>>;

    /// Runs a query returning one integer.
    async fn fetch_count(&self, on: On<'_, '_>, stmt: Stmt) -> Result<i64>;

    /// Runs a query returning one row of timestamps (or `NULL`s), such as `MIN` and `MAX`.
    async fn fetch_times(&self, on: On<'_, '_>, stmt: Stmt) -> Result<Vec<Option<OffsetDateTime>>>;

    /// Runs a statement and returns the number of rows it affected. One on the pool that
    /// lost a deadlock was rolled back whole by the server and runs again (up to
    /// [`Driver::POOLED_ATTEMPTS`] times); on the caller's connection the deadlock rolled
    /// back the caller's whole transaction, theirs to retry.
    async fn execute(&self, on: On<'_, '_>, stmt: Stmt) -> Result<u64>;

    /// Runs a query returning `(id, stored digest)` rows, on the pool.
    async fn fetch_digests(&self, stmt: Stmt) -> Result<Vec<(Uuid, Vec<u8>)>>;
}

#[async_trait::async_trait]
impl<DB> Run for Table<DB>
where
    DB: Driver,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    i64: for<'r> Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    async fn fetch_optional(
        &self,
        on: On<'_, '_>,
        stmt: Stmt,
        with_digest: bool,
    ) -> Result<Option<Fetched>> {
        let mut conn = Held::acquire(&self.pool, self.given(on)?).await?;
        match self.query(stmt).fetch_optional(&mut *conn).await? {
            Some(row) => self.decode(&row, with_digest).map(Some),
            None => Ok(None),
        }
    }

    async fn fetch_all(&self, on: On<'_, '_>, stmt: Stmt) -> Result<Vec<Session>> {
        let mut conn = Held::acquire(&self.pool, self.given(on)?).await?;
        let rows = self.query(stmt).fetch_all(&mut *conn).await?;
        rows.iter()
            .map(|row| self.decode(row, false).map(|f| f.session))
            .collect()
    }

    async fn fetch_count(&self, on: On<'_, '_>, stmt: Stmt) -> Result<i64> {
        let mut conn = Held::acquire(&self.pool, self.given(on)?).await?;
        Ok(self.query(stmt).fetch_one(&mut *conn).await?.try_get(0)?)
    }

    async fn fetch_times(&self, on: On<'_, '_>, stmt: Stmt) -> Result<Vec<Option<OffsetDateTime>>> {
        let mut conn = Held::acquire(&self.pool, self.given(on)?).await?;
        let row = self.query(stmt).fetch_one(&mut *conn).await?;
        let reader = self.reader(&row);
        (0..row.len()).map(|i| reader.time(i)).collect()
    }

    async fn execute(&self, on: On<'_, '_>, stmt: Stmt) -> Result<u64> {
        let affected = |done| DB::rows_affected(&done);
        if let Some(conn) = self.given(on)? {
            return Ok(self.query(stmt).execute(conn).await.map(affected)?);
        }
        for _ in 1..DB::POOLED_ATTEMPTS {
            match self.query(stmt.clone()).execute(&self.pool).await {
                Err(e) => {
                    let e = Error::from(e);
                    if !DB::lost_deadlock(&e) {
                        return Err(e);
                    }
                }
                Ok(done) => return Ok(affected(done)),
            }
        }
        Ok(self.query(stmt).execute(&self.pool).await.map(affected)?)
    }

    async fn fetch_digests(&self, stmt: Stmt) -> Result<Vec<(Uuid, Vec<u8>)>> {
        let rows = self.query(stmt).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let reader = self.reader(row);
                Ok((not_null(reader.uuid(0)?, "id")?, reader.digest(1)?))
            })
            .collect()
    }
}
