//! Which sessions an operation applies to.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::value::Value;

/// A timestamp column a filter can bound ([`Filter::inserted_before`] and friends).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(clippy::enum_variant_names)] // named after the columns
pub(crate) enum TimeColumn {
    InsertedAt,
    ExpiresAt,
    LastUsedAt,
}

impl TimeColumn {
    pub(crate) fn name(self) -> &'static str {
        match self {
            TimeColumn::InsertedAt => "inserted_at",
            TimeColumn::ExpiresAt => "expires_at",
            TimeColumn::LastUsedAt => "last_used_at",
        }
    }
}

/// One side of a time range: strictly before an instant, or at or after it, so
/// `before(t)` and `after(t)` split the sessions in two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeBound {
    Before(OffsetDateTime),
    AtOrAfter(OffsetDateTime),
}

/// Sessions by expiry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Status {
    /// Not expired (the default for lookups, lists, counts and expiring).
    #[default]
    Valid,
    /// Expired.
    Expired,
    /// Both.
    All,
}

impl std::str::FromStr for Status {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "valid" => Ok(Status::Valid),
            "expired" => Ok(Status::Expired),
            "all" => Ok(Status::All),
            _ => Err(crate::Error::InvalidValue {
                column: "status".into(),
                reason: format!("`{s}` is not one of valid, expired, all"),
            }),
        }
    }
}

/// Conditions on sessions, combined with AND.
///
/// Column names are matched against the store's declared extra columns: an undeclared
/// name is an error ([`Error::UnknownColumn`](crate::Error::UnknownColumn)), and no SQL is
/// ever built from the caller's strings.
///
/// ```
/// use sqlx_sessions::{Filter, Status};
/// let filter = Filter::new().eq("user_id", "42").status(Status::All).limit(10);
/// ```
#[derive(Clone, Default)]
pub struct Filter {
    pub(crate) status: Option<Status>,
    pub(crate) token: Option<String>,
    pub(crate) id: Option<Uuid>,
    pub(crate) except_id: Option<Uuid>,
    pub(crate) columns: Vec<(String, Value)>,
    pub(crate) ids: Option<Vec<Uuid>>,
    pub(crate) any_of: Vec<(String, Vec<Value>)>,
    pub(crate) times: Vec<(TimeColumn, TimeBound)>,
    pub(crate) scopes: Vec<String>,
    pub(crate) limit: Option<u32>,
    pub(crate) offset: Option<u32>,
}

impl Filter {
    /// No conditions but the operation's default status.
    pub fn new() -> Self {
        Self::default()
    }

    /// The token of a filter that asks for the valid session of a token and nothing
    /// else: what a lookup answers.
    pub(crate) fn only_token(&self) -> Option<&str> {
        let Filter {
            status,
            token,
            id,
            except_id,
            columns,
            ids,
            any_of,
            times,
            scopes,
            limit: _,
            offset,
        } = self;
        let plain = matches!(status, None | Some(Status::Valid))
            && id.is_none()
            && except_id.is_none()
            && columns.is_empty()
            && ids.is_none()
            && any_of.is_empty()
            && times.is_empty()
            && scopes.is_empty()
            && offset.is_none_or(|o| o == 0);
        token.as_deref().filter(|_| plain)
    }

    /// Sessions by status. Without it, lookups, lists, counts and expiring see valid
    /// sessions only, and deleting sees all.
    pub fn status(mut self, status: Status) -> Self {
        self.status = Some(status);
        self
    }

    /// The session of this plaintext token. A missing, malformed or unknown token matches
    /// nothing, and a malformed one costs no query.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The session with this id.
    pub fn id(mut self, id: Uuid) -> Self {
        self.id = Some(id);
        self
    }

    /// Every session but this one (for "sign out other devices").
    pub fn except_id(mut self, id: Uuid) -> Self {
        self.except_id = Some(id);
        self
    }

    /// Sessions whose extra column `column` equals `value` (`NULL` matches `IS NULL`).
    pub fn eq(mut self, column: impl Into<String>, value: impl Into<Value>) -> Self {
        self.columns.push((column.into(), value.into()));
        self
    }

    /// Sessions whose id is one of `ids` (an empty list matches nothing).
    pub fn ids(mut self, ids: impl IntoIterator<Item = Uuid>) -> Self {
        self.ids = Some(ids.into_iter().collect());
        self
    }

    /// Sessions whose extra column `column` is one of `values` (`IN (...)`; an empty list
    /// matches nothing; `NULL` in the list matches nothing, as in SQL).
    pub fn is_in<V: Into<Value>>(
        mut self,
        column: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        self.any_of
            .push((column.into(), values.into_iter().map(Into::into).collect()));
        self
    }

    /// Sessions created strictly before `at`.
    pub fn inserted_before(self, at: OffsetDateTime) -> Self {
        self.time(TimeColumn::InsertedAt, TimeBound::Before(at))
    }

    /// Sessions created at or after `at`.
    pub fn inserted_after(self, at: OffsetDateTime) -> Self {
        self.time(TimeColumn::InsertedAt, TimeBound::AtOrAfter(at))
    }

    /// Sessions whose expiry is strictly before `at` (sessions that never expire are not).
    pub fn expires_before(self, at: OffsetDateTime) -> Self {
        self.time(TimeColumn::ExpiresAt, TimeBound::Before(at))
    }

    /// Sessions whose expiry is at or after `at`, and sessions that never expire.
    pub fn expires_after(self, at: OffsetDateTime) -> Self {
        self.time(TimeColumn::ExpiresAt, TimeBound::AtOrAfter(at))
    }

    /// Sessions last used strictly before `at` (a session never used since its creation
    /// counts as used at its creation). Needs the `last_used_at` column
    /// ([`StoreBuilder::track_last_used`](crate::StoreBuilder::track_last_used)).
    pub fn last_used_before(self, at: OffsetDateTime) -> Self {
        self.time(TimeColumn::LastUsedAt, TimeBound::Before(at))
    }

    /// Sessions last used at or after `at` (creation counting as a use). Needs the
    /// `last_used_at` column.
    pub fn last_used_after(self, at: OffsetDateTime) -> Self {
        self.time(TimeColumn::LastUsedAt, TimeBound::AtOrAfter(at))
    }

    fn time(mut self, column: TimeColumn, bound: TimeBound) -> Self {
        self.times.push((column, bound));
        self
    }

    /// Sessions whose scopes grant `scope` (by the same [rule](crate::scope) as
    /// [`Session::has_scope`](crate::Session::has_scope): `orders:*` and `*` grant
    /// `orders:read`). Needs the `scopes` column
    /// ([`StoreBuilder::scopes`](crate::StoreBuilder::scopes)). A malformed scope matches
    /// nothing.
    pub fn has_scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// At most `n` sessions (lists only).
    pub fn limit(mut self, n: u32) -> Self {
        self.limit = Some(n);
        self
    }

    /// Skip the first `n` sessions (lists only).
    pub fn offset(mut self, n: u32) -> Self {
        self.offset = Some(n);
        self
    }
}

/// Redacts the token: a filter is a natural thing to log, and its token is a credential.
impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter")
            .field("status", &self.status)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("id", &self.id)
            .field("except_id", &self.except_id)
            .field("columns", &self.columns)
            .field("ids", &self.ids)
            .field("any_of", &self.any_of)
            .field("times", &self.times)
            .field("scopes", &self.scopes)
            .field("limit", &self.limit)
            .field("offset", &self.offset)
            .finish()
    }
}
