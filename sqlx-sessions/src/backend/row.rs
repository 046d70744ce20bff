//! Reading the store's rows: [`Columns`], what each database reads its own way, and
//! [`Reader`], the rest, alike on every database.

use sqlx::Database;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Fetched, Native};
use crate::columns::Field;
use crate::error::Result;
use crate::schema::{ColumnType, DigestFormat, TableSpec};
use crate::session::{Extras, Session, SessionData};
use crate::value::Value;

/// A database's reading of the columns it stores its own way.
pub(crate) trait Columns: Native {
    /// Column `i` as an id.
    fn uuid(row: &Self::Row, i: usize) -> Result<Option<Uuid>>;

    /// Column `i`, a timestamp as `spec`'s table stores them.
    fn time(row: &Self::Row, i: usize, spec: &TableSpec) -> Result<Option<OffsetDateTime>>;

    /// Column `i`, the text of a JSON value.
    fn json(row: &Self::Row, i: usize) -> Result<String>;

    /// Column `i` as text (default: as sqlx decodes a `String`).
    fn text(row: &Self::Row, i: usize) -> Result<Option<String>> {
        Self::string(row, i)
    }
}

/// One row of `spec`'s table, read by position.
pub(crate) struct Reader<'r, DB: Database> {
    /// The row.
    pub(crate) row: &'r DB::Row,
    /// Its table.
    pub(crate) spec: &'r TableSpec,
}

impl<DB: Columns> Reader<'_, DB> {
    pub(crate) fn uuid(&self, i: usize) -> Result<Option<Uuid>> {
        DB::uuid(self.row, i)
    }

    pub(crate) fn time(&self, i: usize) -> Result<Option<OffsetDateTime>> {
        DB::time(self.row, i, self.spec)
    }

    pub(crate) fn json(&self, i: usize) -> Result<String> {
        DB::json(self.row, i)
    }

    pub(crate) fn text(&self, i: usize) -> Result<Option<String>> {
        DB::text(self.row, i)
    }

    pub(crate) fn integer(&self, i: usize) -> Result<Option<i64>> {
        DB::integer(self.row, i)
    }

    /// The raw bytes of a digest, or the bytes of its hex text (an adopted table's).
    pub(crate) fn digest(&self, i: usize) -> Result<Vec<u8>> {
        if self.spec.digest_format == DigestFormat::Hex {
            Ok(not_null(self.text(i)?, "digest")?.into_bytes())
        } else {
            DB::bytes(self.row, i)
        }
    }

    /// An extra column's value.
    pub(crate) fn value(&self, i: usize, ty: ColumnType) -> Result<Value> {
        Ok(match ty {
            ColumnType::Text => self.text(i)?.into(),
            ColumnType::Integer => self.integer(i)?.into(),
            ColumnType::Boolean => DB::boolean(self.row, i)?.into(),
            ColumnType::Uuid => self.uuid(i)?.into(),
            ColumnType::Timestamp => self.time(i)?.into(),
        })
    }
}

/// `value`, or a decode error for the `NULL` a `what` column of the table never holds.
pub(crate) fn not_null<T>(value: Option<T>, what: &str) -> Result<T> {
    value.ok_or_else(|| sqlx::Error::Decode(format!("unexpected NULL {what}").into()).into())
}

/// Decodes a row selected with [`select_list`](crate::query::select_list), walking the
/// same column list.
pub(crate) fn decode_session<DB: Columns>(
    row: &Reader<'_, DB>,
    with_digest: bool,
) -> Result<Fetched> {
    let spec = row.spec;
    let required = |i: usize| not_null(row.time(i)?, "timestamp");
    let mut session = Session {
        id: Uuid::nil(),
        data: SessionData(String::new()),
        expires_at: None,
        inserted_at: OffsetDateTime::UNIX_EPOCH,
        updated_at: OffsetDateTime::UNIX_EPOCH,
        last_used_at: None,
        authenticated_at_column: None,
        token_hint: None,
        ttl: None,
        scopes: Vec::new(),
        suspended_at: None,
        replaced_by: None,
        uses: 0,
        extras: Extras {
            columns: spec.extras.clone(),
            values: vec![Value::Null; spec.extras.len()],
        },
        is_expired: false,
    };
    let mut digest = None;
    for (i, col) in spec.selected_columns(with_digest).iter().enumerate() {
        let s = &mut session;
        match col.field {
            Field::Id => s.id = not_null(row.uuid(i)?, "id")?,
            Field::Digest => digest = Some(row.digest(i)?),
            Field::Data => s.data = SessionData(row.json(i)?),
            Field::ExpiresAt => s.expires_at = row.time(i)?,
            Field::InsertedAt => s.inserted_at = required(i)?,
            Field::UpdatedAt => s.updated_at = required(i)?,
            Field::LastUsedAt => s.last_used_at = row.time(i)?,
            Field::AuthenticatedAt => s.authenticated_at_column = row.time(i)?,
            Field::TokenHint => s.token_hint = row.text(i)?,
            Field::SaltId | Field::PreviousDigest => {}
            Field::Ttl => s.ttl = row.integer(i)?.map(time::Duration::seconds),
            Field::Scopes => s.scopes = crate::scope::decode(row.text(i)?.as_deref()),
            Field::SuspendedAt => s.suspended_at = row.time(i)?,
            Field::ReplacedBy => s.replaced_by = row.uuid(i)?,
            Field::UseCount => {
                s.uses = row
                    .integer(i)?
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0);
            }
            Field::Extra(k) => {
                s.extras.values[k] = row.value(i, spec.extras[k].column_type())?;
            }
        }
    }
    Ok(Fetched { session, digest })
}
