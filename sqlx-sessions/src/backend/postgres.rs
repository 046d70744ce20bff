//! PostgreSQL: `uuid` ids, `bytea` digests, `jsonb` data, `timestamptz` timestamps; or, for
//! an adopted ecto_sessions table, hex digests in `varchar(255)` and `timestamp without
//! time zone` holding UTC.

use std::sync::Arc;

use serde_json::value::RawValue;
use sqlx::postgres::{PgPool, PgRow};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, Connection as _, Postgres, Row as _};
use time::{OffsetDateTime, PrimitiveDateTime};
use uuid::Uuid;

use super::json::Object;
use super::run::{Driver, Query};
use super::{Backend, Locked, On};
use crate::columns::Storage;
use crate::error::Result;
use crate::evolve::{Planner, Snapshot, Step};
use crate::migrate::Migration;
use crate::schema::{ColumnType, DigestFormat, TableSpec, TimeFormat};
use crate::sql::{Param, Stmt, StmtBuilder, quote};

/// A store's table on PostgreSQL.
pub(crate) type PgBackend = super::run::Table<Postgres>;

/// Binds `pool` to the table `spec`.
pub(crate) fn backend(pool: PgPool, spec: Arc<TableSpec>) -> Result<Arc<dyn Backend>> {
    Ok(Arc::new(PgBackend { pool, spec }))
}

fn naive(t: OffsetDateTime) -> PrimitiveDateTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    PrimitiveDateTime::new(t.date(), t.time())
}

impl PgBackend {
    /// Serializes concurrent migrations of the same table (several app servers starting),
    /// until the transaction ends.
    async fn migration_lock(conn: &mut sqlx::PgConnection, spec: &TableSpec) -> Result<()> {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(spec.qualified())
            .execute(conn)
            .await?;
        Ok(())
    }

    /// What the table has, read on `conn`.
    async fn snapshot_on(&self, conn: &mut sqlx::PgConnection) -> Result<Snapshot> {
        let schema = self.spec.schema.as_deref();
        let table = &self.spec.table;
        let columns: Vec<(String, String)> = sqlx::query_as(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) \
             FROM pg_catalog.pg_attribute a \
             JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = COALESCE($1, current_schema()) AND c.relname = $2 \
             AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
        )
        .bind(schema)
        .bind(table)
        .fetch_all(&mut *conn)
        .await?;
        let indexes = sqlx::query_scalar(
            "SELECT indexname::text FROM pg_catalog.pg_indexes \
             WHERE schemaname = COALESCE($1, current_schema()) AND tablename = $2",
        )
        .bind(schema)
        .bind(table)
        .fetch_all(&mut *conn)
        .await?;
        let foreign_keys = sqlx::query_scalar(
            "SELECT a.attname::text FROM pg_catalog.pg_constraint k \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1] \
             WHERE k.contype = 'f' AND k.conrelid = to_regclass($1)",
        )
        .bind(self.spec.qualified())
        .fetch_all(&mut *conn)
        .await?;
        let catalog = (columns, indexes, foreign_keys);
        Ok(super::run::snapshot::<Postgres>(conn, &self.spec.qualified(), catalog).await?)
    }

    fn ecto(&self) -> bool {
        self.spec.digest_format == DigestFormat::Hex
    }

    fn time_type(&self) -> &'static str {
        match self.spec.time_format {
            TimeFormat::WithZone => "timestamp with time zone",
            TimeFormat::NaiveUtc => "timestamp without time zone",
        }
    }
}

impl Driver for Postgres {
    fn query(spec: &TableSpec, stmt: Stmt) -> Query<Postgres> {
        let naive_time = spec.time_format == TimeFormat::NaiveUtc;
        let hex_digest = spec.digest_format == DigestFormat::Hex;
        let mut q = sqlx::query(AssertSqlSafe(stmt.sql));
        for p in stmt.params {
            q = match p {
                Param::Text(s) => q.bind(s),
                Param::Digest(d) if hex_digest => q.bind(String::from_utf8_lossy(&d).into_owned()),
                Param::Digest(d) => q.bind(d),
                Param::Int(i) => q.bind(i),
                Param::Bool(b) => q.bind(b),
                Param::Uuid(u) => q.bind(u),
                Param::Time(t) if naive_time => q.bind(t.map(naive)),
                Param::Time(t) => q.bind(t),
                Param::Json(s) => match RawValue::from_string(s) {
                    Ok(raw) => q.bind(Json(raw)),
                    // Only valid JSON reaches here (the store serialized it); stay total.
                    Err(_) => q.bind(Json(serde_json::json!({}))),
                },
                Param::Null(ty) => match ty {
                    ColumnType::Text => q.bind(None::<String>),
                    ColumnType::Integer => q.bind(None::<i64>),
                    ColumnType::Boolean => q.bind(None::<bool>),
                    ColumnType::Uuid => q.bind(None::<Uuid>),
                    ColumnType::Timestamp if naive_time => q.bind(None::<PrimitiveDateTime>),
                    ColumnType::Timestamp => q.bind(None::<OffsetDateTime>),
                },
            };
        }
        q
    }
}

/// An adopted table's times are `timestamp without time zone`, holding UTC.
impl super::Columns for Postgres {
    fn uuid(row: &PgRow, i: usize) -> Result<Option<Uuid>> {
        Ok(row.try_get(i)?)
    }

    fn time(row: &PgRow, i: usize, spec: &TableSpec) -> Result<Option<OffsetDateTime>> {
        Ok(if spec.time_format == TimeFormat::NaiveUtc {
            row.try_get::<Option<PrimitiveDateTime>, _>(i)?
                .map(PrimitiveDateTime::assume_utc)
        } else {
            row.try_get(i)?
        })
    }

    fn json(row: &PgRow, i: usize) -> Result<String> {
        super::json::raw_json(row.try_get(i)?)
    }
}

#[async_trait::async_trait]
impl Backend for PgBackend {
    fn migration(&self) -> Migration {
        let spec = &self.spec;
        let mut up = Vec::new();
        if let Some(schema) = &spec.schema {
            up.push(format!("CREATE SCHEMA IF NOT EXISTS {}", quote(schema)));
        }
        up.push(super::create_table(spec, self));
        up.extend(super::index_statements(self));
        Migration {
            up,
            down: vec![format!("DROP TABLE IF EXISTS {}", spec.qualified())],
        }
    }

    fn sql_type(&self, storage: Storage) -> &'static str {
        match storage {
            Storage::Digest if self.ecto() => "character varying(255)",
            Storage::Digest => "bytea",
            Storage::Json => "jsonb",
            Storage::Value(ColumnType::Text) if self.ecto() => "character varying(255)",
            Storage::Value(ColumnType::Text) => "text",
            Storage::Value(ColumnType::Integer) => "bigint",
            Storage::Value(ColumnType::Boolean) => "boolean",
            Storage::Value(ColumnType::Uuid) => "uuid",
            Storage::Value(ColumnType::Timestamp) => self.time_type(),
        }
    }

    fn empty_json(&self) -> &'static str {
        "'{}'::jsonb"
    }

    /// Text of any length fits a text column: adopted tables use `varchar(255)`.
    fn type_fits(&self, storage: Storage, actual: &str) -> bool {
        let text = |t: &str| t == "text" || t.starts_with("character varying");
        let expected = self.sql_type(storage);
        actual == expected || (text(expected) && text(actual))
    }

    fn spec(&self) -> &TableSpec {
        &self.spec
    }

    async fn snapshot(&self) -> Result<Snapshot> {
        let mut conn = self.pool.acquire().await?;
        self.snapshot_on(&mut conn).await
    }

    async fn evolve(&self, plan: &Planner<'_>) -> Result<Vec<Step>> {
        let mut tx = self.pool.begin().await?;
        Self::migration_lock(&mut tx, &self.spec).await?;
        let plan = plan(&self.snapshot_on(&mut tx).await?)?;
        self.apply(tx, plan).await
    }

    fn bounded_delete(&self, table: &str, tail: &str) -> String {
        // Tuple ids: a TID scan, no join back through the primary key.
        format!("DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table}{tail}))")
    }

    fn push_data_merge(&self, b: &mut StmtBuilder, set: &Object, remove: &[String]) {
        b.push("((CASE WHEN jsonb_typeof(\"data\") = 'object' THEN \"data\" ELSE '{}'::jsonb END)");
        for key in remove {
            b.push(" - ").bind(Param::Text(key.clone())).push("::text");
        }
        b.push(")");
        if !set.is_empty() {
            b.push(" || ").bind(Param::Json(
                serde_json::Value::Object(set.clone()).to_string(),
            ));
        }
    }

    #[cfg(feature = "cache")]
    fn cache_feed(&self) -> Option<Box<dyn crate::cache::Feed>> {
        Some(Box::new(crate::cache::postgres::PgFeed::new(
            &self.pool, &self.spec,
        )))
    }

    async fn run_ddl(&self, statements: &[String]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        Self::migration_lock(&mut tx, &self.spec).await?;
        Self::run_all(&mut tx, statements).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn begin_locked<'a>(&'a self, on: On<'a, '_>, key: &str) -> Result<Locked<'a>> {
        let mut tx = match self.given(on)? {
            None => self.pool.begin().await?,
            Some(conn) => conn.begin().await?,
        };
        // Held until the outermost transaction ends; keyed by table and key, so creations
        // for other owners or tables do not wait.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("{}:{key}", self.spec.qualified()))
            .execute(&mut *tx)
            .await?;
        Ok(Locked::Postgres(tx))
    }
}
