//! MySQL 8 and MariaDB 10.6+: `BINARY(16)` ids, `VARBINARY` digests, `JSON` data (on
//! MariaDB a `LONGTEXT` checked by `JSON_VALID`), `DATETIME(6)` timestamps holding UTC;
//! or, for an adopted ecto_sessions table made by Ecto's MySQL adapter, hex digests in
//! `varchar(255)`.
//!
//! - **Ids** are `BINARY(16)`, as Ecto's MySQL adapter stores `binary_id`: 16 bytes in the
//!   primary key and in every secondary index entry instead of 36 characters, and sqlx's
//!   native MySQL encoding of a `Uuid`.
//! - **Text** (extra text columns, the token hint, the salt id) is stored as binary strings,
//!   compared byte for byte as on PostgreSQL and SQLite: MySQL's character collations would
//!   ignore case and trailing spaces, so a filter on `user_id = 'bob '` would match `bob`.
//! - **Time**: sqlx sets the session time zone to UTC on connect; `DATETIME(6)` keeps
//!   microseconds and is independent of the server's time zone.
//! - **SQL**: the store's `"quoted"` identifiers become backticks and its `$n` placeholders
//!   `?` (parameters reordered when needed); MySQL has no `RETURNING`, so a change that
//!   reports its rows locks them with `SELECT ... FOR UPDATE`, changes them by id and reads
//!   them back in one transaction.

use std::sync::Arc;

use sqlx::mysql::{MySql, MySqlDatabaseError, MySqlPool, MySqlRow};
use sqlx::{AssertSqlSafe, Connection as _, Executor as _, Row as _};
use time::OffsetDateTime;
use uuid::Uuid;

use super::json::Object;
use super::run::{Driver, Query};
use super::{Backend, Change, Held, Index, Locked, On};
use crate::columns::Storage;
use crate::error::Result;
use crate::evolve::{Planner, Snapshot, Step};
use crate::migrate::Migration;
use crate::schema::{ColumnType, DigestFormat, TableSpec};
use crate::session::Session;
use crate::sql::{Param, Stmt, StmtBuilder, quote};
use crate::token::MAX_TOKEN_LENGTH;

/// The digest column: long enough for the longest stored digest, which with hashing
/// `none` is the token itself (a 64-byte prefix, the random part and a 6-character
/// checksum); every hash is at most 64 bytes.
const DIGEST_TYPE: &str = "varbinary(1094)";
const _: () = assert!(64 + MAX_TOKEN_LENGTH + 6 == 1094);

/// The prefix of an indexed text column that its index covers (MySQL indexes no whole
/// `BLOB`); equality is still decided on the whole value.
const TEXT_INDEX_PREFIX: usize = 255;

/// Ids per statement when a change reports its rows (far below the 65,535 placeholders a
/// prepared statement may have).
const IDS_PER_STATEMENT: usize = 1_000;

/// Attempts of a reporting change that lost a deadlock to a concurrent one.
const DEADLOCK_ATTEMPTS: u32 = 5;

/// `JSON_SET` and `JSON_REMOVE` replace top-level members by path (`JSON_MERGE_PATCH`
/// would merge nested objects and drop keys set to `null`); `JSON_EXTRACT(?, '$')` makes
/// the bound text a JSON value on MySQL and MariaDB alike.
const DATA_MERGE: super::json::PathMerge = super::json::PathMerge {
    object: "CASE WHEN JSON_TYPE(\"data\") = 'OBJECT' THEN \"data\" ELSE JSON_OBJECT() END",
    value: ("JSON_EXTRACT(", ", '$')"),
};

/// A store's table on MySQL or MariaDB.
pub(crate) type MySqlBackend = super::run::Table<MySql>;

/// Binds `pool` to the table `spec`; a text column with a foreign key is refused (a
/// `BLOB` there, which InnoDB cannot reference).
pub(crate) fn backend(pool: MySqlPool, spec: Arc<TableSpec>) -> Result<Arc<dyn Backend>> {
    let blob_key = spec
        .extras
        .iter()
        .find(|c| c.foreign_key().is_some() && c.column_type() == ColumnType::Text && !ecto(&spec));
    if let Some(col) = blob_key {
        return Err(crate::Error::config(
            "references",
            format!(
                "`{}` is a text column, stored as a BLOB on MySQL and MariaDB, which a foreign key cannot use; make it an integer or a uuid column",
                col.name()
            ),
        ));
    }
    Ok(Arc::new(MySqlBackend { pool, spec }))
}

fn ecto(spec: &TableSpec) -> bool {
    spec.digest_format == DigestFormat::Hex
}

/// The table of the owners' lock rows of a cap: `<table>_owner_locks`.
fn lock_table(spec: &TableSpec) -> String {
    spec.qualify(&super::fitted_name(format!("{}_owner_locks", spec.table)))
}

/// The name of the lock on migrations of `spec`'s table.
fn migration_lock_name(spec: &TableSpec) -> String {
    format!("sqlx_sessions:{}", spec.qualified())
}

/// The store's SQL in MySQL's dialect: backticks for `"identifiers"` and `?` for `$n`,
/// with the parameter number of each `?` in the order they appear.
fn rewrite(sql: &str) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(sql.len());
    let mut order = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push('`'),
            '$' if chars.peek().is_some_and(char::is_ascii_digit) => {
                let mut n = 0usize;
                while let Some(v) = chars.peek().and_then(|d| d.to_digit(10)) {
                    n = n.saturating_mul(10).saturating_add(v as usize);
                    chars.next();
                }
                out.push('?');
                order.push(n);
            }
            c => out.push(c),
        }
    }
    (out, order)
}

/// Whether `order` numbers the parameters 1, 2, 3, ... each once.
fn sequential(order: &[usize]) -> bool {
    order.iter().enumerate().all(|(i, n)| *n == i + 1)
}

/// [`rewrite`] with the parameters in the order their placeholders appear (one used twice
/// is bound twice, one not used is dropped).
fn dialect(sql: &str, params: Vec<Param>) -> (String, Vec<Param>) {
    let (sql, order) = rewrite(sql);
    if order.len() == params.len() && sequential(&order) {
        return (sql, params);
    }
    let params = order
        .into_iter()
        .filter_map(|n| n.checked_sub(1).and_then(|i| params.get(i)).cloned())
        .collect();
    (sql, params)
}

impl Driver for MySql {
    const POOLED_ATTEMPTS: u32 = DEADLOCK_ATTEMPTS;

    fn lost_deadlock(err: &crate::Error) -> bool {
        lost_deadlock(err)
    }

    fn query(spec: &TableSpec, stmt: Stmt) -> Query<MySql> {
        let (sql, params) = if stmt.sql.contains(['"', '$']) {
            let (sql, params) = dialect(&stmt.sql, stmt.params);
            (sql.into(), params)
        } else {
            (stmt.sql, stmt.params)
        };
        let hex_digest = ecto(spec);
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for p in params {
            q = match p {
                Param::Text(s) | Param::Json(s) => q.bind(s),
                Param::Digest(d) if hex_digest => q.bind(String::from_utf8_lossy(&d).into_owned()),
                Param::Digest(d) => q.bind(d),
                Param::Int(i) => q.bind(i),
                Param::Bool(b) => q.bind(b),
                Param::Uuid(u) => q.bind(u),
                // As a DATETIME: an `OffsetDateTime` goes as a TIMESTAMP, which MariaDB
                // cannot hold past 2038 (a key expiring in 2099 would lose its expiry).
                Param::Time(t) => q.bind(t.map(|t| {
                    let utc = t.to_offset(time::UtcOffset::UTC);
                    time::PrimitiveDateTime::new(utc.date(), utc.time())
                })),
                Param::Null(ty) => match ty {
                    ColumnType::Text => q.bind(None::<String>),
                    ColumnType::Integer => q.bind(None::<i64>),
                    ColumnType::Boolean => q.bind(None::<bool>),
                    ColumnType::Uuid => q.bind(None::<Uuid>),
                    ColumnType::Timestamp => q.bind(None::<OffsetDateTime>),
                },
            };
        }
        q
    }
}

impl MySqlBackend {
    fn ecto(&self) -> bool {
        ecto(&self.spec)
    }

    /// What the table has, read on `conn`.
    async fn snapshot_on(&self, conn: &mut sqlx::MySqlConnection) -> Result<Snapshot> {
        let schema = self.spec.schema.as_deref();
        let table = &self.spec.table;
        let names = |sql: &'static str| {
            sqlx::query_scalar::<_, String>(sql)
                .bind(schema)
                .bind(table)
        };
        let columns: Vec<(String, String)> = sqlx::query_as(
            "SELECT CAST(column_name AS CHAR), CAST(column_type AS CHAR) \
             FROM information_schema.columns \
             WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ? \
             ORDER BY ordinal_position",
        )
        .bind(schema)
        .bind(table)
        .fetch_all(&mut *conn)
        .await?;
        let indexes = names(
            "SELECT DISTINCT CAST(index_name AS CHAR) FROM information_schema.statistics \
             WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ?",
        )
        .fetch_all(&mut *conn)
        .await?;
        let foreign_keys = names(
            "SELECT CAST(column_name AS CHAR) FROM information_schema.key_column_usage \
             WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ? \
             AND referenced_table_name IS NOT NULL AND ordinal_position = 1",
        )
        .fetch_all(&mut *conn)
        .await?;
        let catalog = (columns, indexes, foreign_keys);
        Ok(
            super::run::snapshot::<MySql>(conn, &self.spec.qualified().replace('"', "`"), catalog)
                .await?,
        )
    }

    /// Runs `work` on a connection holding the named lock on migrations of this table
    /// (DDL commits at once on MySQL, so there is no transaction to serialize them). The
    /// connection is closed afterwards, which releases the lock whatever happened.
    async fn under_migration_lock<T>(
        &self,
        work: impl AsyncFnOnce(&mut sqlx::MySqlConnection) -> Result<T>,
    ) -> Result<T> {
        let mut conn = self.pool.acquire().await?;
        conn.close_on_drop();
        let name = migration_lock_name(&self.spec);
        sqlx::query("SELECT GET_LOCK(LEFT(SHA2(?, 256), 64), 60)")
            .bind(&name)
            .execute(&mut *conn)
            .await?;
        let out = work(&mut conn).await?;
        sqlx::query("SELECT RELEASE_LOCK(LEFT(SHA2(?, 256), 64))")
            .bind(&name)
            .execute(&mut *conn)
            .await?;
        Ok(out)
    }

    /// An index on `col`: a prefix of a `BLOB`, the whole of anything else.
    fn index_key(&self, col: &str, storage: Storage) -> String {
        if self.sql_type(storage) == "longblob" {
            format!("{}({TEXT_INDEX_PREFIX})", quote(col))
        } else {
            quote(col)
        }
    }

    /// Runs `change` in one transaction (a savepoint in the caller's): lock the rows,
    /// change them by id, read them back.
    async fn change_once(
        &self,
        given: Option<&mut sqlx::MySqlConnection>,
        change: &Change,
    ) -> Result<Vec<Session>> {
        let mut conn = Held::acquire(&self.pool, given).await?;
        if matches!(conn, Held::Pooled(_)) {
            // Only the rows the filter matches are locked, not the gaps between them (which
            // would block concurrent creations for as long as the transaction runs). A
            // caller's transaction keeps the level it was begun with.
            conn.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                .await?;
        }
        let mut tx = conn.begin().await?;
        let table = &change.table;
        let n = change.params.len();
        let sessions = match &change.set {
            None => {
                let select = format!(
                    "SELECT {} FROM {table}{} FOR UPDATE",
                    change.returning, change.filter
                );
                let stmt = Stmt {
                    sql: select.into(),
                    params: change.params.clone(),
                };
                let rows = self.query(stmt).fetch_all(&mut *tx).await?;
                let sessions = rows
                    .iter()
                    .map(|row| self.decode(row, false).map(|f| f.session))
                    .collect::<Result<Vec<_>>>()?;
                for chunk in sessions.chunks(IDS_PER_STATEMENT) {
                    let ids = id_list(chunk.iter().map(|s| s.id), n);
                    let stmt = with_ids(
                        format!("DELETE FROM {table} WHERE \"id\" IN ({})", ids.0),
                        &change.params,
                        ids.1,
                    );
                    self.query(stmt).execute(&mut *tx).await?;
                }
                sessions
            }
            Some(set) => {
                let select = format!("SELECT \"id\" FROM {table}{} FOR UPDATE", change.filter);
                let stmt = Stmt {
                    sql: select.into(),
                    params: change.params.clone(),
                };
                let ids = self
                    .query(stmt)
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|row| Ok(row.try_get::<Uuid, _>(0)?))
                    .collect::<Result<Vec<Uuid>>>()?;
                let mut sessions = Vec::with_capacity(ids.len());
                for chunk in ids.chunks(IDS_PER_STATEMENT) {
                    let (list, ids) = id_list(chunk.iter().copied(), n);
                    let update = with_ids(
                        format!("UPDATE {table} SET {set} WHERE \"id\" IN ({list})"),
                        &change.params,
                        ids.clone(),
                    );
                    self.query(update).execute(&mut *tx).await?;
                    let read = with_ids(
                        format!(
                            "SELECT {} FROM {table} WHERE \"id\" IN ({list})",
                            change.returning
                        ),
                        &change.params,
                        ids,
                    );
                    for row in self.query(read).fetch_all(&mut *tx).await? {
                        sessions.push(self.decode(&row, false)?.session);
                    }
                }
                sessions
            }
        };
        tx.commit().await?;
        Ok(sessions)
    }
}

/// `$n+1, $n+2, ...` for `ids`, and the ids as parameters.
fn id_list(ids: impl Iterator<Item = Uuid>, n: usize) -> (String, Vec<Param>) {
    let params: Vec<Param> = ids.map(Param::Uuid).collect();
    let list = (n + 1..=n + params.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    (list, params)
}

/// A statement whose placeholders number `params` first, then `ids`.
fn with_ids(sql: String, params: &[Param], ids: Vec<Param>) -> Stmt {
    let mut all = params.to_vec();
    all.extend(ids);
    Stmt {
        sql: sql.into(),
        params: all,
    }
}

/// Whether `err` is a transaction that lost a deadlock (or waited too long for a lock),
/// which the server rolled back and which can simply run again.
fn lost_deadlock(err: &crate::Error) -> bool {
    let crate::Error::Database(sqlx::Error::Database(db)) = err else {
        return false;
    };
    db.try_downcast_ref::<MySqlDatabaseError>()
        .is_some_and(|e| matches!(e.number(), 1213 | 1205))
}

fn utf8(bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| sqlx::Error::Decode(Box::new(e)).into())
}

/// Times are `DATETIME(6)` holding UTC (the session time zone), text is binary strings.
impl super::Columns for MySql {
    fn uuid(row: &MySqlRow, i: usize) -> Result<Option<Uuid>> {
        Ok(row.try_get(i)?)
    }

    fn time(row: &MySqlRow, i: usize, _: &TableSpec) -> Result<Option<OffsetDateTime>> {
        Ok(row.try_get(i)?)
    }

    fn json(row: &MySqlRow, i: usize) -> Result<String> {
        super::json::raw_json(row.try_get(i)?)
    }

    fn text(row: &MySqlRow, i: usize) -> Result<Option<String>> {
        row.try_get::<Option<Vec<u8>>, _>(i)?.map(utf8).transpose()
    }
}

#[async_trait::async_trait]
impl Backend for MySqlBackend {
    fn migration(&self) -> Migration {
        let spec = &self.spec;
        // Indexes inside CREATE TABLE: MySQL 8 has no CREATE INDEX IF NOT EXISTS.
        let keys: Vec<String> = super::indexes(spec)
            .iter()
            .map(|index| {
                let unique = if index.unique { "UNIQUE " } else { "" };
                format!(
                    "{unique}KEY {} ({})",
                    quote(&index.name),
                    self.index_key(index.column.name, index.column.storage)
                )
            })
            .collect();
        let mut up = Vec::new();
        if let Some(schema) = &spec.schema {
            up.push(format!(
                "CREATE DATABASE IF NOT EXISTS {} CHARACTER SET utf8mb4",
                quote(schema)
            ));
        }
        up.push(format!(
            "{} ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
            super::create_table_with(spec, self, &keys)
        ));
        let ticks = |s: &String| s.replace('"', "`");
        Migration {
            up: up.iter().map(ticks).collect(),
            down: vec![ticks(&format!("DROP TABLE IF EXISTS {}", spec.qualified()))],
        }
    }

    /// Lowercase, as `information_schema.columns.column_type` shows them.
    fn sql_type(&self, storage: Storage) -> &'static str {
        match storage {
            Storage::Digest if self.ecto() => "varchar(255)",
            Storage::Digest => DIGEST_TYPE,
            Storage::Json => "json",
            Storage::Value(ColumnType::Text) if self.ecto() => "varchar(255)",
            Storage::Value(ColumnType::Text) => "longblob",
            Storage::Value(ColumnType::Integer) => "bigint",
            Storage::Value(ColumnType::Boolean) => "boolean",
            Storage::Value(ColumnType::Uuid) => "binary(16)",
            Storage::Value(ColumnType::Timestamp) => "datetime(6)",
        }
    }

    fn long_text_type(&self) -> &'static str {
        "longtext"
    }

    /// An expression default: MySQL 8 takes no literal default on a JSON column.
    fn empty_json(&self) -> &'static str {
        "('{}')"
    }

    /// As reported back: MariaDB's `JSON` is a `longtext`, integers carry a display width
    /// (`bigint(20)`), `BOOLEAN` is `tinyint(1)`; text of any kind holds text.
    fn type_fits(&self, storage: Storage, actual: &str) -> bool {
        let actual = actual.trim().to_ascii_lowercase();
        let base = actual.split('(').next().unwrap_or_default().trim();
        let texty = |t: &str| {
            t.ends_with("text") || t.ends_with("blob") || t.ends_with("char") || t == "varbinary"
        };
        match storage {
            Storage::Digest => texty(base) || base == "binary",
            Storage::Json => base == "json" || base == "longtext",
            Storage::Value(ColumnType::Text) => texty(base),
            Storage::Value(ColumnType::Integer) => base == "bigint",
            Storage::Value(ColumnType::Boolean) => actual == "tinyint(1)" || base == "boolean",
            Storage::Value(ColumnType::Uuid) => actual == "binary(16)",
            Storage::Value(ColumnType::Timestamp) => base == "datetime",
        }
    }

    fn adapt_sql(&self, sql: String) -> String {
        let (adapted, order) = rewrite(&sql);
        // Reordered placeholders are resolved per statement, where the parameters are.
        if sequential(&order) { adapted } else { sql }
    }

    fn bounded_delete(&self, table: &str, tail: &str) -> String {
        if tail.contains(" OFFSET ") {
            // A DELETE takes no OFFSET, and no LIMIT in an IN subquery: the rows to delete go
            // through a derived table, which MySQL materializes first.
            return format!(
                "DELETE FROM {table} WHERE \"id\" IN (SELECT \"id\" FROM (SELECT \"id\" FROM {table}{tail}) AS doomed)"
            );
        }
        // Native: a range scan of the expiry index, at most `LIMIT` rows, no subquery.
        format!("DELETE FROM {table}{tail}")
    }

    #[cfg(feature = "cache")]
    fn cache_feed(&self) -> Option<Box<dyn crate::cache::Feed>> {
        Some(Box::new(crate::cache::mysql::MySqlFeed::new(
            &self.pool, &self.spec,
        )))
    }

    async fn run_ddl(&self, statements: &[String]) -> Result<()> {
        self.under_migration_lock(async |conn| Ok(Self::run_all(conn, statements).await?))
            .await
    }

    fn spec(&self) -> &TableSpec {
        &self.spec
    }

    fn create_index(&self, index: &Index<'_>) -> String {
        let unique = if index.unique { "UNIQUE " } else { "" };
        format!(
            "CREATE {unique}INDEX {} ON {} ({})",
            quote(&index.name),
            self.spec.qualified(),
            self.index_key(index.column.name, index.column.storage)
        )
        .replace('"', "`")
    }

    fn support_ddl(&self) -> Migration {
        if !self.spec.owner_cap {
            return Migration::default();
        }
        let table = lock_table(&self.spec).replace('"', "`");
        Migration {
            up: vec![format!(
                "CREATE TABLE IF NOT EXISTS {table} (`owner` BINARY(32) PRIMARY KEY) ENGINE=InnoDB"
            )],
            down: vec![format!("DROP TABLE IF EXISTS {table}")],
        }
    }

    async fn snapshot(&self) -> Result<Snapshot> {
        let mut conn = self.pool.acquire().await?;
        self.snapshot_on(&mut conn).await
    }

    /// Not in a transaction: MySQL commits each DDL statement at once. Each step is recorded
    /// as soon as it has run, so the record never claims a step that did not happen; a
    /// migration that fails part way leaves the steps before it applied and recorded, and
    /// the next one plans from there.
    async fn evolve(&self, plan: &Planner<'_>) -> Result<Vec<Step>> {
        self.under_migration_lock(async |conn| {
            let plan = plan(&self.snapshot_on(&mut *conn).await?)?;
            // The record table first, so each step is recorded right after it runs; a new
            // table's schema (a database on MySQL) is created by the first step.
            let (schema, rest) = match plan.steps.first() {
                Some(s) if s.sql.starts_with("CREATE DATABASE") => (Some(&s.sql), 1),
                _ => (None, 0),
            };
            for sql in schema.into_iter().chain(&plan.always) {
                Self::run_one(conn, sql).await?;
            }
            for (i, (step, record)) in plan.steps.iter().zip(plan.record).enumerate() {
                if i >= rest {
                    Self::run_one(conn, &step.sql).await?;
                }
                self.query(record).execute(&mut *conn).await?;
            }
            // The cache's log and triggers need the table.
            Self::run_all(conn, &plan.after).await?;
            Ok(plan.steps)
        })
        .await
    }

    fn push_data_merge(&self, b: &mut StmtBuilder, set: &Object, remove: &[String]) {
        super::json::push_path_merge(b, set, remove, &DATA_MERGE);
    }

    /// A row lock (`SELECT ... FOR UPDATE`) on the owner's row of `<table>_owner_locks`,
    /// held until the outermost transaction ends, as PostgreSQL's advisory lock is. The row
    /// is inserted first, on its own (autocommit, so a caller's transaction does not hold
    /// its insert); a pooled transaction reads committed rows, so the count after the lock
    /// sees every session committed before it.
    fn locks_per_key(&self) -> bool {
        self.spec.owner_cap
    }

    async fn begin_locked<'a>(&'a self, on: On<'a, '_>, key: &str) -> Result<Locked<'a>> {
        use sha2::Digest as _;
        let owner = sha2::Sha256::digest(format!("{}:{key}", self.spec.qualified()).as_bytes());
        let table = lock_table(&self.spec).replace('"', "`");
        sqlx::query(AssertSqlSafe(format!(
            "INSERT IGNORE INTO {table} (`owner`) VALUES (?)"
        )))
        .bind(owner.as_slice())
        .execute(&self.pool)
        .await?;
        let mut tx = match self.given(on)? {
            Some(conn) => conn.begin().await?,
            None => {
                let mut conn = self.pool.acquire().await?;
                conn.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    .await?;
                sqlx::Transaction::begin(conn, None).await?
            }
        };
        sqlx::query(AssertSqlSafe(format!(
            "SELECT 1 FROM {table} WHERE `owner` = ? FOR UPDATE"
        )))
        .bind(owner.as_slice())
        .execute(&mut *tx)
        .await?;
        Ok(Locked::Mysql(tx))
    }

    async fn change_returning(&self, on: On<'_, '_>, change: Change) -> Result<Vec<Session>> {
        if let Some(conn) = self.given(on)? {
            // A lost deadlock rolled back the caller's whole transaction: theirs to retry.
            return self.change_once(Some(conn), &change).await;
        }
        let mut attempt = 1;
        loop {
            match self.change_once(None, &change).await {
                Err(e) if attempt < DEADLOCK_ATTEMPTS && lost_deadlock(&e) => attempt += 1,
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_quotes_and_placeholders() {
        let (sql, params) = dialect(
            "SELECT \"id\" FROM \"t\" WHERE \"a\" = $1 AND \"b\" IN ($2, $3)",
            vec![Param::Int(1), Param::Int(2), Param::Int(3)],
        );
        assert_eq!(sql, "SELECT `id` FROM `t` WHERE `a` = ? AND `b` IN (?, ?)");
        assert!(matches!(
            params.as_slice(),
            [Param::Int(1), Param::Int(2), Param::Int(3)]
        ));
    }

    #[test]
    fn dialect_reorders_skips_and_repeats() {
        let (sql, params) = dialect(
            "UPDATE t SET a = $2 WHERE id IN ($4, $4) AND b = $10",
            (1..=10).map(Param::Int).collect(),
        );
        assert_eq!(sql, "UPDATE t SET a = ? WHERE id IN (?, ?) AND b = ?");
        let got: Vec<i64> = params
            .iter()
            .map(|p| match p {
                Param::Int(i) => *i,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(got, [2, 4, 4, 10]);
        // Out of range numbers bind nothing rather than panic.
        let (_, params) = dialect("a = $0 OR b = $99", vec![Param::Int(1)]);
        assert!(params.is_empty());
    }
}
