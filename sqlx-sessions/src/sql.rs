//! Statements as text plus typed parameters, shared by every backend.
//!
//! The core writes SQL that both databases understand (`$n` placeholders, quoted
//! identifiers from the validated [`TableSpec`](crate::schema::TableSpec)); each backend binds
//! the [`Param`]s to its own types (timestamps, uuids, JSON and digests differ).

use std::fmt::Write as _;
use std::sync::Arc;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::schema::ColumnType;
use crate::value::Value;

/// A parameter of a statement.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub(crate) enum Param {
    /// Text.
    Text(String),
    /// A stored digest (raw bytes, or the bytes of its hex text in hex tables).
    Digest(Vec<u8>),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A UUID.
    Uuid(Uuid),
    /// A timestamp, or a typed `NULL` timestamp.
    Time(Option<OffsetDateTime>),
    /// JSON text.
    Json(String),
    /// A `NULL` of a given column type (PostgreSQL binds typed `NULL`s; SQLite needs no type).
    Null(
        #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))] ColumnType,
    ),
}

impl From<Value> for Param {
    fn from(v: Value) -> Self {
        match v {
            Value::Text(s) => Param::Text(s),
            Value::Integer(i) => Param::Int(i),
            Value::Boolean(b) => Param::Bool(b),
            Value::Uuid(u) => Param::Uuid(u),
            Value::Timestamp(t) => Param::Time(Some(t)),
            // The caller maps nulls to typed nulls; this is the untyped fallback.
            Value::Null => Param::Null(ColumnType::Text),
        }
    }
}

/// A statement: SQL text and its parameters.
#[derive(Clone, Debug)]
pub(crate) struct Stmt {
    /// The SQL text.
    pub(crate) sql: Arc<str>,
    /// The parameters, in placeholder order (`$1`, `$2`, ...).
    pub(crate) params: Vec<Param>,
}

/// Builds a [`Stmt`] piece by piece.
///
/// A statement prepared once is written by one function twice: with SQL text when the
/// store is built, then [`params_only`](StmtBuilder::params_only) for each call, so its
/// parameters always come in the order of its placeholders.
#[derive(Debug, Default)]
pub(crate) struct StmtBuilder {
    /// `None` when only the parameters are collected.
    sql: Option<String>,
    params: Vec<Param>,
}

impl StmtBuilder {
    pub(crate) fn new(sql: &str) -> Self {
        StmtBuilder {
            sql: Some(sql.to_owned()),
            params: Vec::new(),
        }
    }

    /// A builder that collects parameters and skips the text, for a prepared statement.
    pub(crate) fn params_only() -> Self {
        StmtBuilder {
            sql: None,
            params: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, sql: &str) -> &mut Self {
        if let Some(text) = &mut self.sql {
            text.push_str(sql);
        }
        self
    }

    /// Appends the placeholder of a new parameter.
    pub(crate) fn bind(&mut self, param: Param) -> &mut Self {
        self.params.push(param);
        if let Some(text) = &mut self.sql {
            let _ = write!(text, "${}", self.params.len());
        }
        self
    }

    /// The length of the SQL written so far.
    pub(crate) fn len(&self) -> usize {
        self.sql.as_ref().map_or(0, String::len)
    }

    pub(crate) fn finish(self) -> Stmt {
        Stmt {
            sql: self.sql.unwrap_or_default().into(),
            params: self.params,
        }
    }

    /// The collected parameters with the text of the statement prepared from the same
    /// writer.
    pub(crate) fn finish_prepared(self, sql: Arc<str>) -> Stmt {
        Stmt {
            sql,
            params: self.params,
        }
    }
}

/// `"name"`: a validated identifier, quoted.
pub(crate) fn quote(name: &str) -> String {
    format!("\"{name}\"")
}
