//! Which sessions an operation applies to.

use uuid::Uuid;

use crate::value::Value;

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
            limit: _,
            offset,
        } = self;
        let plain = matches!(status, None | Some(Status::Valid))
            && id.is_none()
            && except_id.is_none()
            && columns.is_empty()
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
            .field("limit", &self.limit)
            .field("offset", &self.offset)
            .finish()
    }
}
