//! The store: one table of sessions and every operation on it.

mod builder;
mod lookup;
pub use lookup::{GetOptions, Lookup};
mod aggregate;
pub(crate) mod cap;
mod change;
mod evolution;
#[cfg(any(feature = "tower-sessions-014", feature = "tower-sessions-015"))]
mod foreign;
#[cfg(any(feature = "tower-sessions-014", feature = "tower-sessions-015"))]
pub(crate) use foreign::{ForeignState, Saved};
mod inspect;
mod keys;
mod ops;
mod reuse;
pub(crate) mod usage;
mod write;

use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::backend::{Backend, On};
use crate::clock::Clock;
use crate::columns::{Column, Field, name_list};
use crate::digest::Secret;
use crate::error::{Error, Result};
use crate::extend::initial_expiry;
use crate::filter::{Filter, Status};
use crate::pool::Pool;
use crate::query::{Expiry, push_digest_match, push_where, refuse_paging, select_list};
use crate::schema::{ColumnType, DigestFormat, TableSpec};
use crate::session::{CreatedSession, Extras, NewSession, Session, SessionData};
use crate::settings::Settings;
use crate::sql::{Param, StmtBuilder};
use crate::token::TokenFormat;
use crate::value::Value;

pub use builder::StoreBuilder;
pub use cap::OverCap;

/// A store of sessions in one table. Cheap to clone: clones share the pool and settings.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sqlx_sessions::{NewSession, SessionStore};
/// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
/// let store = SessionStore::builder(pool).build()?;
/// store.migrate().await?;
/// let created = store.create(NewSession::new().extra("user_id", "42")).await?;
/// let found = store.lookup(created.token.expose()).await?.expect("valid session");
/// assert_eq!(found.extra_str("user_id"), Some("42"));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct SessionStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    backend: Arc<dyn Backend>,
    spec: Arc<TableSpec>,
    settings: Settings,
    format: TokenFormat,
    clock: Arc<dyn Clock>,
    /// The current salt (if any) followed by the previous ones.
    salts: Vec<Option<Secret>>,
    current_salt_id: Option<String>,
    /// `SELECT <columns> FROM <table>`, computed once.
    select: String,
    /// The per-request lookup by digest, computed once (see [`write_lookup`]).
    lookup: Arc<str>,
    /// `INSERT INTO ...` with every column, computed once (see [`write_insert`]).
    insert: Arc<str>,
    /// The cap on sessions per owner, if any.
    cap: Option<cap::Cap>,
    /// Uses counted in memory, with the key lifecycle columns.
    usage: Option<usage::Usage>,
    #[cfg(feature = "cache")]
    cache: Option<crate::cache::StoreCache>,
}

impl Inner {
    fn new(
        backend: Arc<dyn Backend>,
        spec: Arc<TableSpec>,
        settings: Settings,
        format: TokenFormat,
        clock: Arc<dyn Clock>,
        cap: Option<cap::Cap>,
        usage: Option<usage::Usage>,
    ) -> Self {
        let mut salts = vec![settings.secret_salt.clone()];
        salts.extend(settings.previous_salts.iter().cloned().map(Some));
        let current_salt_id = settings.secret_salt.as_ref().map(Secret::id);
        let select = format!(
            "SELECT {} FROM {}",
            select_list(&spec, salts.len() > 1),
            spec.qualified()
        );
        let mut insert = StmtBuilder::new("");
        write_insert(&mut insert, &spec, |_| Param::Null(ColumnType::Text));
        let insert = backend.adapt_sql(insert.finish().sql.to_string()).into();
        let mut lookup = StmtBuilder::new(&select);
        let any_time = OffsetDateTime::UNIX_EPOCH;
        let expiry = Expiry {
            now: any_time,
            lifetime_cutoff: settings.max_lifetime.map(|_| any_time),
        };
        write_lookup(&mut lookup, &spec, vec![Vec::new(); salts.len()], &expiry);
        let lookup = backend.adapt_sql(lookup.finish().sql.to_string()).into();
        Inner {
            backend,
            spec,
            settings,
            format,
            clock,
            salts,
            current_salt_id,
            select,
            lookup,
            insert,
            cap,
            usage,
            #[cfg(feature = "cache")]
            cache: None,
        }
    }
}

/// Writes the per-request lookup after `SELECT ... FROM table`: ` WHERE digest IN (...)`
/// under each salt, then the validity condition at `expiry`. Written once with text when the
/// store is built and once per lookup for its parameters only.
fn write_lookup(b: &mut StmtBuilder, spec: &TableSpec, digests: Vec<Vec<u8>>, expiry: &Expiry) {
    b.push(" WHERE 1 = 1");
    push_digest_match(b, digests);
    crate::query::push_not_suspended(b, spec);
    expiry.push_status(b, Status::Valid);
}

/// Writes `INSERT INTO table (every column) VALUES (...)`, each value given by `value`.
/// Written once with text when the store is built and once per insert for its parameters.
fn write_insert(
    b: &mut StmtBuilder,
    spec: &TableSpec,
    mut value: impl FnMut(&Column<'_>) -> Param,
) {
    let columns: Vec<_> = spec
        .columns()
        .into_iter()
        .filter(|c| c.inserted())
        .collect();
    b.push("INSERT INTO ")
        .push(&spec.qualified())
        .push(" (")
        .push(&name_list(&columns))
        .push(") VALUES (");
    for (i, col) in columns.iter().enumerate() {
        if i > 0 {
            b.push(", ");
        }
        b.bind(value(col));
    }
    b.push(")");
}

/// Whether a JSON value holds a NUL character in any string or key.
fn has_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(has_nul),
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

impl SessionStore {
    /// Starts building a store on a [`Pool`] (or a `SqlitePool` or `PgPool`, converted).
    pub fn builder(pool: impl Into<Pool>) -> StoreBuilder {
        StoreBuilder::new(pool.into())
    }

    /// The store's settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The store's table.
    pub fn spec(&self) -> &TableSpec {
        &self.inner.spec
    }

    /// The format of the tokens this store issues and accepts.
    pub fn token_format(&self) -> &TokenFormat {
        &self.inner.format
    }

    /// The current time on the store's clock.
    pub fn now(&self) -> OffsetDateTime {
        self.inner.clock.now()
    }

    /// The store's cache, if it has one.
    #[cfg(feature = "cache")]
    pub(crate) fn cache(&self) -> Option<&crate::cache::StoreCache> {
        self.inner.cache.as_ref()
    }

    /// Every write path calls this once its statement has run, whether it succeeded or
    /// not: when it returns, no lookup on this instance is answered with a row as it was
    /// before the write (see the [`cache`](crate::cache) module). Without a cache it does
    /// nothing.
    pub(crate) async fn invalidate_after_write(&self) {
        #[cfg(feature = "cache")]
        if let Some(cache) = self.cache() {
            cache.sync().await;
        }
    }

    /// The digest of `token` as this store keeps it (lowercase hex), under the current salt.
    /// Shown to people; never a credential. Refused under hashing `none`, where it would be
    /// the token itself.
    pub fn digest_hex(&self, token: &str) -> Result<String> {
        self.refuse_plaintext_digest()?;
        let s = &self.inner.settings;
        s.hashing
            .digest_text(s.secret_salt.as_ref().map(Secret::expose), token)
    }

    pub(super) async fn create_on(
        &self,
        on: On<'_, '_>,
        new: NewSession,
    ) -> Result<CreatedSession> {
        let token = self.inner.format.generate()?;
        self.create_under_on(on, new, token).await
    }

    /// Creates a session under `token`: a new one ([`SessionStore::create`]) or one the
    /// caller chose (a tower-sessions id). A token already in use is refused with
    /// [`Error::Conflict`] by the unique digest index.
    pub(crate) async fn create_under_on(
        &self,
        mut on: On<'_, '_>,
        new: NewSession,
        token: crate::token::Token,
    ) -> Result<CreatedSession> {
        let inner = &self.inner;
        let (created, insert) = self.prepare_insert(new, token)?;
        let session = &created.session;
        match &inner.cap {
            None => drop(inner.backend.execute(on.as_deref_mut(), insert).await?),
            Some(cap) => {
                let owner = &session.extras.values[cap.column];
                self.insert_capped(on, cap, owner, insert).await?;
            }
        }
        tracing::debug!(session_id = %session.id, table = %inner.spec.table, "session created");
        Ok(created)
    }

    /// The session `new` describes, with its token, and the `INSERT` that stores it.
    fn prepare_insert(
        &self,
        new: NewSession,
        token: crate::token::Token,
    ) -> Result<(CreatedSession, crate::sql::Stmt)> {
        let inner = &self.inner;
        let spec = &inner.spec;
        let mut values = vec![Value::Null; spec.extras.len()];
        let mut given = vec![false; spec.extras.len()];
        for (name, value) in new.extras {
            let i = spec.extra_index(&name)?;
            let col = &spec.extras[i];
            values[i] = value.coerce(col.name(), col.column_type())?;
            given[i] = true;
        }
        for (i, col) in spec.extras.iter().enumerate() {
            if col.is_required() && (!given[i] || values[i].is_null()) {
                return Err(Error::MissingColumn(col.name().to_owned()));
            }
        }
        let data = new.data.unwrap_or_else(|| serde_json::json!({}));
        change::refuse_nul(&data)?;
        let data = serde_json::to_string(&data)?;
        let own_ttl = self.own_ttl(new.ttl)?;
        let scopes = match new.scopes {
            Some(scopes) => self.checked_scopes("NewSession::scopes", scopes)?,
            None => Vec::new(),
        };
        let digest = self.stored_digest(inner.salts[0].as_ref(), token.expose())?;
        let now = inner.clock.now();
        let asked = match new.expires_in {
            Some(span) => Some(Some(now.checked_add(span).ok_or_else(|| {
                Error::InvalidValue {
                    column: "expires_at".into(),
                    reason: format!("{span} from now is past the last representable time"),
                }
            })?)),
            None => new.expires_at,
        };
        let expires_at = initial_expiry(&inner.settings, asked, own_ttl, now);
        // An explicit expiry without a TTL of its own: its span is the session's TTL.
        let own_ttl = match (own_ttl, asked) {
            (None, Some(Some(at))) if spec.optional.session_ttl && at - now >= Duration::SECOND => {
                Some(Duration::seconds((at - now).whole_seconds()))
            }
            (ttl, _) => ttl,
        };
        let id = Uuid::new_v4();
        let hint = if spec.optional.token_hint {
            inner.format.hint(&token)
        } else {
            None
        };
        let opt = spec.optional;
        let session = Session {
            id,
            data: SessionData(data),
            expires_at,
            inserted_at: now,
            updated_at: now,
            last_used_at: None,
            authenticated_at_column: opt.authenticated_at.then_some(now),
            token_hint: hint,
            ttl: own_ttl,
            scopes,
            suspended_at: None,
            replaced_by: None,
            uses: 0,
            extras: Extras {
                columns: spec.extras.clone(),
                values,
            },
            is_expired: expires_at.is_some_and(|e| e <= now),
        };
        let mut b = StmtBuilder::params_only();
        write_insert(&mut b, spec, |col| {
            let text = |t: Option<String>| t.map_or(Param::Null(ColumnType::Text), Param::Text);
            match col.field {
                Field::Id => Param::Uuid(id),
                Field::Digest => Param::Digest(digest.clone()),
                Field::Data => Param::Json(session.data.0.clone()),
                Field::ExpiresAt => Param::Time(session.expires_at),
                Field::InsertedAt => Param::Time(Some(session.inserted_at)),
                Field::UpdatedAt => Param::Time(Some(session.updated_at)),
                Field::LastUsedAt => Param::Time(session.last_used_at),
                Field::AuthenticatedAt => Param::Time(session.authenticated_at_column),
                Field::TokenHint => text(session.token_hint.clone()),
                Field::SaltId => text(inner.current_salt_id.clone()),
                Field::Ttl => session.ttl.map_or(Param::Null(ColumnType::Integer), |t| {
                    Param::Int(t.whole_seconds())
                }),
                // Not in the insert's columns (see `Column::inserted`).
                Field::PreviousDigest => Param::Null(ColumnType::Text),
                Field::Scopes => change::scopes_param(&session.scopes),
                Field::SuspendedAt => Param::Time(None),
                Field::ReplacedBy => Param::Null(ColumnType::Uuid),
                Field::UseCount => Param::Int(0),
                Field::Extra(k) => match &session.extras.values[k] {
                    Value::Null => Param::Null(spec.extras[k].column_type()),
                    v => v.clone().into(),
                },
            }
        });
        let insert = b.finish_prepared(inner.insert.clone());
        Ok((CreatedSession { session, token }, insert))
    }

    pub(super) async fn list_on(&self, on: On<'_, '_>, filter: &Filter) -> Result<Vec<Session>> {
        let expiry = self.expiry(self.now());
        let b = StmtBuilder::new(&self.inner.select);
        let Some(mut b) = self.with_where(b, filter, Status::Valid, &expiry)? else {
            return Ok(Vec::new());
        };
        b.push(" ORDER BY \"inserted_at\" DESC, \"id\"");
        if let Some(limit) = filter.limit {
            b.push(" LIMIT ").bind(Param::Int(limit.into()));
        }
        if let Some(offset) = filter.offset {
            if filter.limit.is_none() {
                b.push(" LIMIT ").bind(Param::Int(i64::MAX));
            }
            b.push(" OFFSET ").bind(Param::Int(offset.into()));
        }
        let mut sessions = self.inner.backend.fetch_all(on, b.finish()).await?;
        for s in &mut sessions {
            s.is_expired = expiry.is_expired(s);
        }
        Ok(sessions)
    }

    pub(super) async fn count_on(&self, on: On<'_, '_>, filter: &Filter) -> Result<u64> {
        refuse_paging(filter, "count")?;
        let expiry = self.expiry(self.now());
        let b = StmtBuilder::new(&format!(
            "SELECT COUNT(*) FROM {}",
            self.inner.spec.qualified()
        ));
        let Some(b) = self.with_where(b, filter, Status::Valid, &expiry)? else {
            return Ok(0);
        };
        let n = self.inner.backend.fetch_count(on, b.finish()).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Whether `session`'s user authenticated within `max_age` (on the store's clock).
    pub fn is_fresh(&self, session: &Session, max_age: Duration) -> bool {
        session.is_fresh_at(max_age, self.now())
    }

    /// Checks a TTL given at creation: whole seconds, at least one, in a store that keeps it.
    fn own_ttl(&self, ttl: Option<Duration>) -> Result<Option<Duration>> {
        let Some(ttl) = ttl else { return Ok(None) };
        if !self.inner.spec.optional.session_ttl {
            return Err(Error::Unsupported {
                operation: "NewSession::ttl",
                column: "ttl_seconds",
            });
        }
        if ttl < Duration::SECOND || ttl.subsec_nanoseconds() != 0 {
            return Err(Error::InvalidValue {
                column: "ttl_seconds".into(),
                reason: format!("a session TTL is whole seconds, at least one; got {ttl}"),
            });
        }
        Ok(Some(ttl))
    }

    fn expiry(&self, now: OffsetDateTime) -> Expiry {
        Expiry {
            now,
            lifetime_cutoff: self.inner.settings.max_lifetime.map(|max| now - max),
        }
    }

    /// The stored form of `token`'s digest under `salt`.
    fn stored_digest(&self, salt: Option<&Secret>, token: &str) -> Result<Vec<u8>> {
        let hashing = self.inner.settings.hashing;
        let bytes = hashing.digest(salt.map(Secret::expose), token)?;
        Ok(match self.inner.spec.digest_format {
            DigestFormat::Binary => bytes,
            DigestFormat::Hex => hashing.bytes_to_text(bytes).into_bytes(),
        })
    }

    /// The stored digests of `token` under every accepted salt, current first; `None` when
    /// the token is malformed (so it can match nothing and costs no query).
    fn token_digests(&self, token: &str) -> Option<Vec<Vec<u8>>> {
        if !self.inner.format.accepts(token) {
            return None;
        }
        self.inner
            .salts
            .iter()
            .map(|salt| self.stored_digest(salt.as_ref(), token).ok())
            .collect()
    }

    /// `b` followed by ` WHERE ...` for `filter` (`default` status unless it names one);
    /// `None` when the filter's token is malformed, so it can match nothing and costs no
    /// query.
    fn with_where(
        &self,
        mut b: StmtBuilder,
        filter: &Filter,
        default: Status,
        expiry: &Expiry,
    ) -> Result<Option<StmtBuilder>> {
        let Some(digests) = self.filter_digests(filter)? else {
            return Ok(None);
        };
        push_where(&mut b, &self.inner.spec, filter, default, expiry, digests)?;
        Ok(Some(b))
    }

    /// The digests a filter's token needs: `Some(empty)` without a token, `None` when the
    /// token cannot match.
    fn filter_digests(&self, filter: &Filter) -> Result<Option<Vec<Vec<u8>>>> {
        Ok(match &filter.token {
            None => Some(Vec::new()),
            Some(token) => self.token_digests(token),
        })
    }
}
