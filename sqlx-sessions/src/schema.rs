//! The shape of a store's table: its name, schema, extra columns and optional columns.

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};

/// The type of an extra column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ColumnType {
    /// Text (`text` / `TEXT`).
    Text,
    /// A 64-bit integer (`bigint` / `INTEGER`).
    Integer,
    /// A boolean (`boolean` / `INTEGER` 0 or 1).
    Boolean,
    /// A UUID (`uuid` / hyphenated `TEXT`).
    Uuid,
    /// A UTC timestamp (`timestamptz` / `INTEGER` microseconds since the Unix epoch).
    Timestamp,
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ColumnType::Text => "text",
            ColumnType::Integer => "integer",
            ColumnType::Boolean => "boolean",
            ColumnType::Uuid => "uuid",
            ColumnType::Timestamp => "timestamp",
        })
    }
}

impl std::str::FromStr for ColumnType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "text" | "string" => ColumnType::Text,
            "integer" | "int" | "bigint" => ColumnType::Integer,
            "boolean" | "bool" => ColumnType::Boolean,
            "uuid" => ColumnType::Uuid,
            "timestamp" | "timestamptz" => ColumnType::Timestamp,
            _ => {
                return Err(Error::config(
                    "extra_column",
                    format!(
                        "unknown column type `{s}`; expected text, integer, boolean, uuid or timestamp"
                    ),
                ));
            }
        })
    }
}

/// An extra column declared by the application, such as `user_id`.
///
/// ```
/// use sqlx_sessions::ExtraColumn;
/// let col = ExtraColumn::text("user_id").indexed();
/// assert_eq!(col.name(), "user_id");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtraColumn {
    name: String,
    ty: ColumnType,
    required: bool,
    indexed: bool,
    references: Option<ForeignKey>,
}

/// The row an extra column points to: `REFERENCES table (column) ON DELETE CASCADE`, so
/// deleting that row (a user) deletes the sessions that name it
/// ([`ExtraColumn::references`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForeignKey {
    pub(crate) table: String,
    pub(crate) column: String,
}

impl ForeignKey {
    /// The referenced table, unqualified: the database resolves it as any unqualified name
    /// (PostgreSQL: the `search_path`; MySQL: the connection's database).
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The referenced column, usually the table's primary key.
    pub fn column(&self) -> &str {
        &self.column
    }
}

impl ExtraColumn {
    /// A required, unindexed column of type `ty`.
    pub fn new(name: impl Into<String>, ty: ColumnType) -> Self {
        ExtraColumn {
            name: name.into(),
            ty,
            required: true,
            indexed: false,
            references: None,
        }
    }

    /// A required text column.
    pub fn text(name: impl Into<String>) -> Self {
        Self::new(name, ColumnType::Text)
    }

    /// Allows `NULL` (the column is optional at creation).
    pub fn optional(mut self) -> Self {
        self.required = false;
        self
    }

    /// Creates an index on the column (for filters such as "all sessions of this user").
    pub fn indexed(mut self) -> Self {
        self.indexed = true;
        self
    }

    /// Makes the column a foreign key to `table (column)` with `ON DELETE CASCADE`: deleting
    /// the referenced row (a user) deletes every session naming it, in the same statement.
    /// Both names are checked like the store's own (lowercase letters, digits, `_`) when the
    /// store is built, and quoted in SQL. The column's type must be the referenced column's
    /// (an `integer` column for a `bigint` key); on MySQL and MariaDB a text column cannot
    /// be a foreign key (it is a `BLOB` there), so use an integer or a uuid. On SQLite the
    /// pool's connections need `PRAGMA foreign_keys = ON`, which sqlx sets by default and
    /// [`Pool::connect`](crate::Pool::connect) sets explicitly.
    ///
    /// ```
    /// use sqlx_sessions::{ColumnType, ExtraColumn};
    /// let col = ExtraColumn::new("user_id", ColumnType::Integer).indexed().references("users", "id");
    /// assert_eq!(col.foreign_key().map(|fk| (fk.table(), fk.column())), Some(("users", "id")));
    /// ```
    pub fn references(mut self, table: impl Into<String>, column: impl Into<String>) -> Self {
        self.references = Some(ForeignKey {
            table: table.into(),
            column: column.into(),
        });
        self
    }

    /// The row the column points to, if it is a foreign key.
    pub fn foreign_key(&self) -> Option<&ForeignKey> {
        self.references.as_ref()
    }

    /// The column name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The column type.
    pub fn column_type(&self) -> ColumnType {
        self.ty
    }

    /// Whether a value is required at creation.
    pub fn is_required(&self) -> bool {
        self.required
    }

    /// Whether the column is indexed.
    pub fn is_indexed(&self) -> bool {
        self.indexed
    }
}

/// How the digest column is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DigestFormat {
    /// Raw bytes (`bytea` / `BLOB`): tables this crate creates.
    Binary,
    /// Lowercase hex text (`varchar`): adopted ecto_sessions tables.
    Hex,
}

/// How timestamps are stored on PostgreSQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeFormat {
    /// `timestamptz`.
    WithZone,
    /// `timestamp without time zone` holding UTC (ecto_sessions).
    NaiveUtc,
}

/// Optional columns a store may add to its table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct OptionalColumns {
    pub(crate) last_used_at: bool,
    pub(crate) authenticated_at: bool,
    pub(crate) token_hint: bool,
    pub(crate) salt_id: bool,
    pub(crate) session_ttl: bool,
    pub(crate) previous_digest: bool,
    /// `scopes` ([`StoreBuilder::scopes`](crate::StoreBuilder::scopes)).
    pub(crate) scopes: bool,
    /// `suspended_at`, `replaced_by` and `use_count`
    /// ([`StoreBuilder::key_lifecycle`](crate::StoreBuilder::key_lifecycle)).
    pub(crate) key_lifecycle: bool,
}

/// The validated shape of one store's table.
#[derive(Clone, Debug)]
pub struct TableSpec {
    pub(crate) schema: Option<String>,
    pub(crate) table: String,
    pub(crate) extras: Arc<[ExtraColumn]>,
    pub(crate) optional: OptionalColumns,
    pub(crate) digest_format: DigestFormat,
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) time_format: TimeFormat,
    /// Whether the store caps sessions per owner (MySQL keeps a lock row per owner then).
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    pub(crate) owner_cap: bool,
}

impl TableSpec {
    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The PostgreSQL schema, if any.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// The declared extra columns.
    pub fn extras(&self) -> &[ExtraColumn] {
        &self.extras
    }

    /// `schema.table`, or the table name without a schema, for messages.
    pub fn display_name(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{schema}.{}", self.table),
            None => self.table.clone(),
        }
    }

    /// The quoted, schema-qualified table name for SQL.
    pub(crate) fn qualified(&self) -> String {
        self.qualify(&self.table)
    }

    /// `name` quoted and in the table's schema: a table that belongs to this store.
    pub(crate) fn qualify(&self, name: &str) -> String {
        match &self.schema {
            Some(schema) => format!("\"{schema}\".\"{name}\""),
            None => format!("\"{name}\""),
        }
    }

    /// The position of a declared extra column.
    pub(crate) fn extra_index(&self, name: &str) -> Result<usize> {
        self.extras
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| Error::UnknownColumn(name.to_owned()))
    }
}

/// Checks a table, schema or column name: lowercase ASCII letters, digits and `_`, not
/// starting with a digit, at most 63 bytes. Names are quoted in SQL as well.
pub(crate) fn check_identifier(setting: &'static str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(Error::config(
            setting,
            format!(
                "`{name}` is not a valid name: use 1 to 63 lowercase letters, digits and `_`, not starting with a digit"
            ),
        ))
    }
}
