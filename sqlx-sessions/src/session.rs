//! A session as read from its table, and the attributes of a new one.

use std::fmt;
use std::sync::Arc;

use serde::ser::{SerializeMap as _, Serializer};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::error::Result;
use crate::schema::ExtraColumn;
use crate::token::Token;
use crate::value::Value;

/// One session (or API key) as stored. It never holds the token or its digest.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct Session {
    /// The primary key: an internal reference, never a credential.
    pub id: Uuid,
    /// Arbitrary per-session JSON data.
    pub data: SessionData,
    /// When the session expires; `None` means never.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// When the session was created.
    #[serde(with = "time::serde::rfc3339")]
    pub inserted_at: OffsetDateTime,
    /// When the row was last written.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// When the session was last used (stores with a `last_used_at` column).
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// When its user last proved who they are (stores with an `authenticated_at` column;
    /// see [`Session::authenticated_at`] for the value with its default).
    #[serde(skip)]
    pub(crate) authenticated_at_column: Option<OffsetDateTime>,
    /// The displayable start of an API key (`myapp_sk_ab12`), where the store keeps it.
    pub token_hint: Option<String>,
    /// This session's own TTL, which extension slides it by (stores with per-session TTLs;
    /// `None`: the store's).
    #[serde(skip)]
    pub ttl: Option<Duration>,
    /// The session's scopes, sorted (stores with a `scopes` column; see
    /// [`Session::has_scope`]).
    pub scopes: Vec<String>,
    /// When the key was suspended (stores with the key lifecycle columns): a suspended key
    /// is refused by every lookup until [`SessionStore::resume`](crate::SessionStore::resume).
    #[serde(with = "time::serde::rfc3339::option")]
    pub suspended_at: Option<OffsetDateTime>,
    /// The key that replaced this one in a [`SessionStore::roll`](crate::SessionStore::roll):
    /// this one then works until its expiry (the end of the grace period), never extended.
    pub replaced_by: Option<Uuid>,
    /// The uses flushed to the row when it was read (stores with the key lifecycle
    /// columns; [`SessionStore::uses`](crate::SessionStore::uses) adds the ones still
    /// counted in memory).
    pub uses: u64,
    /// The application's extra columns (such as `user_id`).
    pub extras: Extras,
    /// Whether the session was expired when it was read.
    pub is_expired: bool,
}

impl Session {
    /// The value of an extra column, if declared.
    pub fn extra(&self, name: &str) -> Option<&Value> {
        self.extras.get(name)
    }

    /// The value of a text extra column such as `user_id`.
    pub fn extra_str(&self, name: &str) -> Option<&str> {
        self.extras.get(name).and_then(Value::as_str)
    }

    /// Whether the session's scopes grant `scope`: it holds `scope` itself, or a wildcard
    /// covering it (`orders:*` grants `orders:read`; `*` grants everything). See the
    /// [scope rules](crate::scope). A malformed `scope` is granted by nothing.
    pub fn has_scope(&self, scope: &str) -> bool {
        crate::scope::grants(&self.scopes, scope)
    }

    /// Whether the key is suspended.
    pub fn is_suspended(&self) -> bool {
        self.suspended_at.is_some()
    }

    /// When the user last proved who they are: the `authenticated_at` column where the store
    /// has one and it is set, otherwise `inserted_at`.
    pub fn authenticated_at(&self) -> OffsetDateTime {
        self.authenticated_at_column.unwrap_or(self.inserted_at)
    }

    /// Whether the user authenticated within `max_age` of `now` (use the store's clock:
    /// [`SessionStore::is_fresh`](crate::SessionStore::is_fresh)).
    pub fn is_fresh_at(&self, max_age: Duration, now: OffsetDateTime) -> bool {
        now - self.authenticated_at() <= max_age
    }
}

/// The JSON data of a session, kept as the text the database returned; parsed only when
/// asked for, so a lookup that does not read it pays nothing for it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionData(pub(crate) String);

impl SessionData {
    /// The JSON text.
    pub fn as_json(&self) -> &str {
        &self.0
    }

    /// The data as a `serde_json::Value` (`{}` when empty).
    pub fn value(&self) -> serde_json::Value {
        serde_json::from_str(&self.0).unwrap_or_else(|_| serde_json::json!({}))
    }

    /// The data deserialized into `T`.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        Ok(serde_json::from_str(&self.0)?)
    }

    /// One top-level string field, such as `user_agent`.
    pub fn get_str(&self, key: &str) -> Option<String> {
        match self.value().get(key)? {
            serde_json::Value::String(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl fmt::Debug for SessionData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionData({})", self.0)
    }
}

impl serde::Serialize for SessionData {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match serde_json::from_str::<&serde_json::value::RawValue>(&self.0) {
            Ok(raw) => raw.serialize(s),
            Err(_) => s.serialize_none(),
        }
    }
}

/// The extra columns of a session, in declaration order.
#[derive(Clone, PartialEq)]
pub struct Extras {
    pub(crate) columns: Arc<[ExtraColumn]>,
    pub(crate) values: Vec<Value>,
}

impl Extras {
    /// The value of the column `name`, if declared.
    pub fn get(&self, name: &str) -> Option<&Value> {
        let i = self.columns.iter().position(|c| c.name() == name)?;
        self.values.get(i)
    }

    /// `(name, value)` pairs in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.columns.iter().map(ExtraColumn::name).zip(&self.values)
    }
}

impl fmt::Debug for Extras {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl serde::Serialize for Extras {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.values.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// The attributes of a session to create.
///
/// ```
/// use sqlx_sessions::NewSession;
/// let new = NewSession::new()
///     .extra("user_id", "42")
///     .data(serde_json::json!({"user_agent": "curl/8"}));
/// ```
#[derive(Clone, Debug, Default)]
pub struct NewSession {
    pub(crate) extras: Vec<(String, Value)>,
    pub(crate) data: Option<serde_json::Value>,
    pub(crate) expires_at: Option<Option<OffsetDateTime>>,
    pub(crate) expires_in: Option<Duration>,
    pub(crate) ttl: Option<Duration>,
    pub(crate) scopes: Option<Vec<String>>,
}

impl NewSession {
    /// No attributes yet: empty data, the store's ttl.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets an extra column (it must be declared by the store).
    pub fn extra(mut self, column: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extras.push((column.into(), value.into()));
        self
    }

    /// Sets the session data (a JSON object, or any JSON value).
    pub fn data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(data);
        self
    }

    /// Sets an explicit expiry instead of `now + ttl` (`None`: never expires). The store's
    /// `max_lifetime` still caps it.
    ///
    /// In a store with per-session TTLs
    /// ([`StoreBuilder::per_session_ttl`](crate::StoreBuilder::per_session_ttl)) and without
    /// [`NewSession::ttl`], the span from now to this expiry becomes the session's TTL, so
    /// extension slides it by that span (created for one day, it stays a one-day session).
    /// Elsewhere the first extension due moves it to `now + ttl` of the store.
    pub fn expires_at(mut self, at: Option<OffsetDateTime>) -> Self {
        self.expires_at = Some(at);
        self.expires_in = None;
        self
    }

    /// Expires `span` after creation on the store's clock (a key "for 30 days"), like
    /// [`NewSession::expires_at`] with that moment.
    pub fn expires_in(mut self, span: Duration) -> Self {
        self.expires_in = Some(span);
        self.expires_at = None;
        self
    }

    /// The expiry chosen for a key: in a span, at a date, or never (see [`KeyExpiry`]).
    pub fn expiry(self, choice: KeyExpiry) -> Self {
        match choice {
            KeyExpiry::In(span) => self.expires_in(span),
            KeyExpiry::At(at) => self.expires_at(Some(at)),
            KeyExpiry::Never => self.expires_at(None),
        }
    }

    /// The session's scopes (a store with a `scopes` column:
    /// [`StoreBuilder::scopes`](crate::StoreBuilder::scopes)). Each is checked against the
    /// [scope rules](crate::scope); duplicates are dropped.
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// This session's own TTL ("remember me for 30 days"), kept on its row: it expires
    /// `ttl` after creation (unless [`NewSession::expires_at`] says otherwise) and each
    /// extension slides it by `ttl` instead of the store's. Needs a store with per-session
    /// TTLs ([`StoreBuilder::per_session_ttl`](crate::StoreBuilder::per_session_ttl)); whole
    /// seconds, at least one.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }
}

/// A session just created, with its plaintext token: the only time the token is seen.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CreatedSession {
    /// The stored session.
    pub session: Session,
    /// The plaintext token; give it to its owner, it cannot be recovered later.
    pub token: Token,
}

/// When a new key expires, as its owner chooses it: in a span (30 days, 90 days), at a
/// date, or never as an explicit choice. Parsed from `30d`, `90d`, `12h`, ... (any
/// [`parse_duration`](crate::parse_duration) span), an RFC 3339 time or a `YYYY-MM-DD`
/// date (midnight UTC), or `never`.
///
/// "Never" holds in a store without an absolute lifetime
/// ([`StoreBuilder::max_lifetime`](crate::StoreBuilder::max_lifetime)`(None)`); elsewhere
/// `max_lifetime` caps every expiry, this one too.
///
/// ```
/// use sqlx_sessions::KeyExpiry;
/// assert_eq!("90d".parse::<KeyExpiry>()?, KeyExpiry::In(time::Duration::days(90)));
/// assert_eq!("never".parse::<KeyExpiry>()?, KeyExpiry::Never);
/// assert!(matches!("2030-01-31".parse::<KeyExpiry>()?, KeyExpiry::At(_)));
/// # Ok::<(), sqlx_sessions::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyExpiry {
    /// This long after creation.
    In(Duration),
    /// At this moment.
    At(OffsetDateTime),
    /// Never (within the store's `max_lifetime`, if it has one).
    Never,
}

impl std::str::FromStr for KeyExpiry {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self> {
        use time::format_description::well_known::Rfc3339;
        let s = s.trim();
        if s.eq_ignore_ascii_case("never") {
            return Ok(KeyExpiry::Never);
        }
        if let Ok(at) = OffsetDateTime::parse(s, &Rfc3339) {
            return Ok(KeyExpiry::At(at));
        }
        let date = time::macros::format_description!("[year]-[month]-[day]");
        if let Ok(day) = time::Date::parse(s, &date) {
            return Ok(KeyExpiry::At(day.midnight().assume_utc()));
        }
        match crate::settings::parse_duration("expires", s) {
            Ok(span) if span.is_positive() => Ok(KeyExpiry::In(span)),
            _ => Err(crate::Error::InvalidValue {
                column: "expires_at".into(),
                reason: format!(
                    "`{s}` is not an expiry: a span such as 30d or 90d, a date (YYYY-MM-DD or RFC 3339), or never"
                ),
            }),
        }
    }
}
