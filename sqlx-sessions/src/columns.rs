//! The one list of a store's columns, in table order. Insert, select, decode, both
//! databases' DDL and the table check all walk it, so a new column is added here once.

use crate::schema::{ColumnType, TableSpec};
use crate::sql::quote;

/// What a column holds in a [`Session`](crate::Session) row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    Id,
    Digest,
    Data,
    ExpiresAt,
    InsertedAt,
    UpdatedAt,
    LastUsedAt,
    AuthenticatedAt,
    TokenHint,
    SaltId,
    /// The session's own TTL in whole seconds (`NULL`: the store's).
    Ttl,
    /// The digest of the token the last rotation replaced (`NULL` before one), so a
    /// refresh token presented again after it was rotated away is recognised.
    PreviousDigest,
    /// The extra column at this position of the spec.
    Extra(usize),
}

/// How a column is stored; each database maps this to its SQL type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Storage {
    /// The token's digest (raw bytes, or hex text in adopted ecto_sessions tables).
    Digest,
    /// The session data as a JSON object.
    Json,
    /// A value of one of the extra-column types.
    Value(ColumnType),
}

/// One column of a store's table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Column<'s> {
    pub(crate) name: &'s str,
    pub(crate) field: Field,
    pub(crate) storage: Storage,
    pub(crate) not_null: bool,
}

impl Column<'_> {
    /// Whether the column is selected into a [`Session`](crate::Session): all but the
    /// digest (selected only when asked), `salt_id` and `previous_digest` (never).
    pub(crate) fn in_session(&self) -> bool {
        !matches!(
            self.field,
            Field::Digest | Field::SaltId | Field::PreviousDigest
        )
    }

    /// Whether an insert writes the column: all but `previous_digest`, `NULL` until the
    /// first rotation.
    pub(crate) fn inserted(&self) -> bool {
        self.field != Field::PreviousDigest
    }
}

const fn builtin(
    name: &'static str,
    field: Field,
    storage: Storage,
    not_null: bool,
) -> Column<'static> {
    Column {
        name,
        field,
        storage,
        not_null,
    }
}

const TIME: Storage = Storage::Value(ColumnType::Timestamp);
const TEXT: Storage = Storage::Value(ColumnType::Text);

/// The columns the store owns, in table order (the optional ones only when enabled).
const BUILTIN: [Column<'static>; 12] = [
    builtin("id", Field::Id, Storage::Value(ColumnType::Uuid), true),
    builtin("auth_token_digest", Field::Digest, Storage::Digest, true),
    builtin("data", Field::Data, Storage::Json, true),
    builtin("expires_at", Field::ExpiresAt, TIME, false),
    builtin("inserted_at", Field::InsertedAt, TIME, true),
    builtin("updated_at", Field::UpdatedAt, TIME, true),
    builtin("last_used_at", Field::LastUsedAt, TIME, false),
    builtin("authenticated_at", Field::AuthenticatedAt, TIME, false),
    builtin("token_hint", Field::TokenHint, TEXT, false),
    builtin("salt_id", Field::SaltId, TEXT, false),
    builtin(
        "ttl_seconds",
        Field::Ttl,
        Storage::Value(ColumnType::Integer),
        false,
    ),
    builtin(
        "previous_digest",
        Field::PreviousDigest,
        Storage::Digest,
        false,
    ),
];

/// Whether `name` is a column the store owns (extra columns cannot take it).
pub(crate) fn is_builtin(name: &str) -> bool {
    BUILTIN.iter().any(|c| c.name == name)
}

impl TableSpec {
    /// Every column of the table, in table order: the built-in ones this spec has, then the
    /// extra columns.
    pub(crate) fn columns(&self) -> Vec<Column<'_>> {
        let opt = self.optional;
        let present = |field: Field| match field {
            Field::LastUsedAt => opt.last_used_at,
            Field::AuthenticatedAt => opt.authenticated_at,
            Field::TokenHint => opt.token_hint,
            Field::SaltId => opt.salt_id,
            Field::Ttl => opt.session_ttl,
            Field::PreviousDigest => opt.previous_digest,
            _ => true,
        };
        let mut out: Vec<Column<'_>> = BUILTIN.into_iter().filter(|c| present(c.field)).collect();
        out.extend(self.extras.iter().enumerate().map(|(i, col)| Column {
            name: col.name(),
            field: Field::Extra(i),
            storage: Storage::Value(col.column_type()),
            not_null: col.is_required(),
        }));
        out
    }

    /// The columns a session query selects, in the order rows are decoded: the session's
    /// columns, then the digest when `with_digest`.
    pub(crate) fn selected_columns(&self, with_digest: bool) -> Vec<Column<'_>> {
        let all = self.columns();
        let digest = all.iter().find(|c| c.field == Field::Digest).copied();
        let mut out: Vec<Column<'_>> = all.into_iter().filter(Column::in_session).collect();
        out.extend(digest.filter(|_| with_digest));
        out
    }
}

/// `"a", "b", ...` for `columns`.
pub(crate) fn name_list(columns: &[Column<'_>]) -> String {
    columns
        .iter()
        .map(|c| quote(c.name))
        .collect::<Vec<_>>()
        .join(", ")
}
