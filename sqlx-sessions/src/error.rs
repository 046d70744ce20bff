//! The one error type of the crate.

/// A `Result` whose error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `sqlx-sessions`.
///
/// `Display` includes the underlying cause (`database error: pool timed out ...`), and
/// [`source`](std::error::Error::source) still returns it; [`error_chain`] prints an error
/// with every source below it, each message once.
///
/// Lookups with a missing, malformed or unknown token are *not* errors: they return
/// `Ok(None)`. Errors are configuration mistakes, refused input and database failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting was refused when the store was built; `setting` names it.
    #[error("invalid setting `{setting}`: {reason}")]
    Config {
        /// The name of the refused setting.
        setting: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// A filter or attribute named a column that the store did not declare.
    #[error("unknown column `{0}`: not one of the store's declared extra columns")]
    UnknownColumn(String),
    /// A value did not fit the declared type of its column.
    #[error("invalid value for column `{column}`: {reason}")]
    InvalidValue {
        /// The column the value was meant for.
        column: String,
        /// Why the value was refused.
        reason: String,
    },
    /// A required extra column was not given when creating a session.
    #[error("missing value for required column `{0}`")]
    MissingColumn(String),
    /// A token was refused where one is required (for example an empty token to digest).
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    /// The operation needs an optional column that this store does not have.
    #[error("`{operation}` needs the optional column `{column}`, which this store does not have")]
    Unsupported {
        /// What was attempted.
        operation: &'static str,
        /// The column it needs.
        column: &'static str,
    },
    /// A database URL was refused: an unsupported scheme, or options that do not parse.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// The table does not fit the store's spec ([`SessionStore::check_table`](crate::SessionStore::check_table)).
    #[error("table `{table}` does not fit the store: {reason}")]
    TableMismatch {
        /// The table (`schema.table` with a schema).
        table: String,
        /// The missing or mismatched column; `None` when the table is missing.
        column: Option<String>,
        /// What does not fit.
        reason: String,
    },
    /// An operation was refused because its result would expose a secret.
    #[error("refused: {0}")]
    Refused(&'static str),
    /// A row conflicts with an existing one (a unique index refused it).
    #[error("a session with the same unique key already exists: {0}")]
    Conflict(#[source] sqlx::Error),
    /// Session data could not be encoded or decoded as JSON.
    #[error("session data is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The operating system's random source failed.
    #[error("the random source failed: {0}")]
    Random(String),
    /// Creating a session was refused: its owner already has `limit` valid sessions
    /// ([`StoreBuilder::max_sessions_per`](crate::StoreBuilder::max_sessions_per) with
    /// [`OverCap::Refuse`](crate::OverCap::Refuse)).
    #[error("this `{column}` already has {limit} valid sessions, the most the store allows")]
    TooManySessions {
        /// The owner column.
        column: String,
        /// The cap.
        limit: u32,
    },
    /// An access token was refused ([`access::Verifier::verify`](crate::access::Verifier::verify)).
    #[cfg(feature = "access-tokens")]
    #[error("access token refused: {0}")]
    AccessToken(crate::access::Refusal),
    /// A refresh token that a rotation had already replaced was presented again: its
    /// session has been revoked ([`access::Issuer::refresh`](crate::access::Issuer::refresh)).
    #[cfg(feature = "access-tokens")]
    #[error("a rotated-away refresh token was presented again: session {session_id} revoked")]
    RefreshTokenReused {
        /// The revoked session.
        session_id: uuid::Uuid,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        let unique = matches!(
            &err,
            sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation
        );
        if unique {
            Error::Conflict(err)
        } else {
            Error::Database(err)
        }
    }
}

impl Error {
    pub(crate) fn config(setting: &'static str, reason: impl Into<String>) -> Self {
        Error::Config {
            setting,
            reason: reason.into(),
        }
    }

    /// True when the error comes from the database (unreachable, failing or refusing).
    pub fn is_database(&self) -> bool {
        matches!(self, Error::Database(_) | Error::Conflict(_))
    }
}

/// `error` and every source below it on one line, `a: b: c`, leaving out a source whose
/// message its parent already shows.
///
/// ```
/// let err = sqlx_sessions::Error::from(sqlx::Error::PoolTimedOut);
/// let text = sqlx_sessions::error_chain(&err);
/// assert!(text.starts_with("database error: "), "{text}");
/// assert_eq!(text.matches("timed out").count(), 1, "{text}");
/// ```
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
