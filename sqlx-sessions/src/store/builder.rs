//! Building a store: table, columns, settings and clock, validated together.

use std::sync::Arc;

use time::Duration;

use crate::backend::Backend;
use crate::clock::{Clock, SystemClock};
use crate::digest::{Hashing, Secret};
use crate::error::{Error, Result};
use crate::pool::Pool;
use crate::schema::{
    DigestFormat, ExtraColumn, OptionalColumns, TableSpec, TimeFormat, check_identifier,
};
use crate::settings::Settings;
use crate::store::cap::Cap;
use crate::store::{Inner, OverCap, SessionStore};

type Connect = Box<dyn FnOnce(Arc<TableSpec>) -> Result<Arc<dyn Backend>> + Send>;

/// Configures a [`SessionStore`]; [`StoreBuilder::build`] validates everything at once and
/// names the setting it refuses.
pub struct StoreBuilder {
    connect: Connect,
    table: String,
    schema: Option<String>,
    extras: Option<Vec<ExtraColumn>>,
    optional: OptionalColumns,
    ecto_compat: bool,
    settings: Settings,
    clock: Arc<dyn Clock>,
    cap: Option<(String, u32, OverCap)>,
    usage_flush: Duration,
    #[cfg(feature = "cache")]
    cache: Option<crate::cache::CacheConfig>,
}

impl std::fmt::Debug for StoreBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreBuilder")
            .field("table", &self.table)
            .field("schema", &self.schema)
            .field("extras", &self.extras)
            .field("optional", &self.optional)
            .field("ecto_compat", &self.ecto_compat)
            .field("settings", &self.settings)
            .field("cap", &self.cap)
            .finish_non_exhaustive()
    }
}

impl StoreBuilder {
    pub(crate) fn new(pool: Pool) -> Self {
        StoreBuilder {
            connect: Box::new(move |spec| pool.into_backend(spec)),
            table: "sessions".into(),
            schema: None,
            extras: None,
            optional: OptionalColumns::default(),
            ecto_compat: false,
            settings: Settings::default(),
            clock: Arc::new(SystemClock),
            cap: None,
            usage_flush: Duration::ZERO,
            #[cfg(feature = "cache")]
            cache: None,
        }
    }

    /// The table name (default `sessions`).
    pub fn table(mut self, name: impl Into<String>) -> Self {
        self.table = name.into();
        self
    }

    /// A PostgreSQL schema for the table (created by `migrate` when missing).
    pub fn schema(mut self, name: impl Into<String>) -> Self {
        self.schema = Some(name.into());
        self
    }

    /// Declares an extra column. The first call replaces the default `user_id` column.
    pub fn extra_column(mut self, column: ExtraColumn) -> Self {
        self.extras.get_or_insert_with(Vec::new).push(column);
        self
    }

    /// No extra columns at all (not even `user_id`).
    pub fn no_extra_columns(mut self) -> Self {
        self.extras = Some(Vec::new());
        self
    }

    /// Replaces all settings.
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// Reads the settings from `SQLX_SESSIONS_*` environment variables (see
    /// [`Settings::from_env`]), replacing the current ones.
    pub fn settings_from_env(mut self) -> Result<Self> {
        self.settings = Settings::from_env()?;
        Ok(self)
    }

    /// Characters of random token (default 64, at least 22).
    pub fn token_length(mut self, n: usize) -> Self {
        self.settings.token_length = n;
        self
    }

    /// Issues API-key tokens `prefix + random + checksum` (ASCII letters, digits, `_`).
    pub fn token_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.settings.token_prefix = Some(prefix.into());
        self
    }

    /// The digest algorithm (default SHA-256).
    pub fn hashing(mut self, hashing: Hashing) -> Self {
        self.settings.hashing = hashing;
        self
    }

    /// The secret salt (pepper), or the HMAC key with [`Hashing::HmacSha256`]: at least
    /// [`Settings::MIN_SECRET_BYTES`] bytes, such as 32 random
    /// bytes or a 43-character base64 string of them.
    pub fn secret_salt(mut self, salt: impl Into<Secret>) -> Self {
        self.settings.secret_salt = Some(salt.into());
        self
    }

    /// Earlier salts still accepted at lookup, newest first.
    pub fn previous_salts<S: Into<Secret>>(mut self, salts: impl IntoIterator<Item = S>) -> Self {
        self.settings.previous_salts = salts.into_iter().map(Into::into).collect();
        self
    }

    /// Lifetime at creation and extension (default 7 days; `None`: never expires).
    pub fn ttl(mut self, ttl: Option<Duration>) -> Self {
        self.settings.ttl = ttl;
        self
    }

    /// The stale window of the extension rule (default 1 day; `None`: never extend).
    pub fn extend_stale_time(mut self, stale: Option<Duration>) -> Self {
        self.settings.extend_stale_time = stale;
        self
    }

    /// Whether lookups extend sessions (default true).
    pub fn auto_extend(mut self, on: bool) -> Self {
        self.settings.auto_extend = on;
        self
    }

    /// The absolute lifetime since creation that no extension passes (default 30 days:
    /// [`Settings::DEFAULT_MAX_LIFETIME`]). `None` lifts it,
    /// for stores of API keys that live until revoked, say.
    pub fn max_lifetime(mut self, max: Option<Duration>) -> Self {
        self.settings.max_lifetime = max;
        self
    }

    /// Rows per statement when deleting expired sessions (default 5,000).
    pub fn prune_batch_size(mut self, n: u32) -> Self {
        self.settings.prune_batch_size = n;
        self
    }

    /// Adds a `last_used_at` column, written by lookups at most once per `interval`, in the
    /// same statement as an extension.
    pub fn track_last_used(mut self, interval: Duration) -> Self {
        self.optional.last_used_at = true;
        self.settings.touch_interval = interval;
        self
    }

    /// Adds an `authenticated_at` column for freshness checks
    /// ([`SessionStore::mark_authenticated`]).
    pub fn track_authentication(mut self) -> Self {
        self.optional.authenticated_at = true;
        self
    }

    /// Adds a `token_hint` column keeping the prefix and first four random characters of
    /// each new API key, for display. Needs a token prefix.
    pub fn store_token_hint(mut self) -> Self {
        self.optional.token_hint = true;
        self
    }

    /// At most `limit` valid sessions per value of the extra column `column` (such as
    /// `"user_id"`), enforced at creation under a lock on that owner (SQLite: `BEGIN
    /// IMMEDIATE`; PostgreSQL: an advisory transaction lock on table and owner; MySQL and
    /// MariaDB: `SELECT ... FOR UPDATE` on the owner's row of `<table>_owner_locks`, a
    /// table the migration creates), so
    /// concurrent sign-ins never leave `limit + 1`. Over the cap, the owner's oldest valid
    /// sessions are deleted ([`OverCap::EvictOldest`], the default) or the creation is
    /// refused ([`StoreBuilder::over_cap`]). Sessions with a `NULL` owner are not capped.
    pub fn max_sessions_per(mut self, column: impl Into<String>, limit: u32) -> Self {
        let over = self.cap.take().map_or(OverCap::default(), |c| c.2);
        self.cap = Some((column.into(), limit, over));
        self
    }

    /// What creation does over the cap of [`StoreBuilder::max_sessions_per`].
    pub fn over_cap(mut self, over: OverCap) -> Self {
        if let Some(cap) = &mut self.cap {
            cap.2 = over;
        } else {
            self.cap = Some((String::new(), 0, over));
        }
        self
    }

    /// Adds a `ttl_seconds` column keeping each session's own TTL
    /// ([`NewSession::ttl`](crate::NewSession::ttl), "remember me"): extension slides a
    /// session by its own TTL (`NULL`: the store's), with the stale window scaled alike.
    /// An explicit expiry at creation then also keeps its span as the session's TTL.
    pub fn per_session_ttl(mut self) -> Self {
        self.optional.session_ttl = true;
        self
    }

    /// Adds a `previous_digest` column (indexed) keeping the digest of the token that the
    /// last [`SessionStore::rotate`] replaced, written in the same statement as the new
    /// one, so a token presented again after it was rotated away is recognised: what
    /// refresh-token reuse detection needs (the `access` module's `Issuer`).
    pub fn detect_token_reuse(mut self) -> Self {
        self.optional.previous_digest = true;
        self
    }

    /// Adds a `scopes` column: each session (or API key) carries a set of scopes chosen at
    /// creation ([`NewSession::scopes`](crate::NewSession::scopes)), changed by
    /// [`SessionUpdate::scopes`](crate::SessionUpdate::scopes), checked with
    /// [`Session::has_scope`](crate::Session::has_scope) and matched by
    /// [`Filter::has_scope`](crate::Filter::has_scope). See the
    /// [scope rules](crate::scope).
    pub fn scopes(mut self) -> Self {
        self.optional.scopes = true;
        self
    }

    /// Adds the columns of an API key's lifecycle: `suspended_at`
    /// ([`SessionStore::suspend`], [`SessionStore::resume`]), `replaced_by`
    /// ([`SessionStore::roll`]) and `use_count` (uses counted in memory and flushed every
    /// `flush_interval`, see [`SessionStore::uses`]). The flush runs as a background task
    /// started by the first counted use (a positive interval of a few seconds is the usual
    /// choice: it bounds how many uses a crash loses).
    pub fn key_lifecycle(mut self, flush_interval: Duration) -> Self {
        self.optional.key_lifecycle = true;
        self.usage_flush = flush_interval;
        self
    }

    /// Adds a `salt_id` column recording which salt digested each row, so rows still on a
    /// previous salt can be counted ([`SessionStore::count_on_previous_salts`]).
    pub fn track_salt(mut self) -> Self {
        self.optional.salt_id = true;
        self
    }

    /// Opens an existing ecto_sessions table, as each Ecto adapter lays it out: hex digests
    /// (`varchar(255)`; `TEXT` on SQLite), naive timestamps holding UTC (PostgreSQL's
    /// `timestamp without time zone`, MySQL's `datetime(6)`, `ecto_sqlite3`'s ISO-8601
    /// `TEXT`), no added columns.
    pub fn ecto_compat(mut self) -> Self {
        self.ecto_compat = true;
        self
    }

    /// The clock the store reads the time from (default: the system clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Caches lookups in memory with cross-instance invalidation (see the
    /// [`cache`](crate::cache) module for what is never served). The store's migration then
    /// also creates the triggers the cache listens to, and the store must be built inside a
    /// tokio runtime.
    #[cfg(feature = "cache")]
    pub fn cache(mut self, config: crate::cache::CacheConfig) -> Self {
        self.cache = Some(config);
        self
    }

    /// Validates everything and builds the store. Nothing touches the database here; call
    /// [`SessionStore::migrate`] to create the table.
    pub fn build(self) -> Result<SessionStore> {
        let s = &self.settings;
        // The settings' own rules live in one place; what follows is about the table.
        let format = s.validate()?;
        check_identifier("table", &self.table)?;
        if let Some(schema) = &self.schema {
            check_identifier("schema", schema)?;
        }
        let extras = self
            .extras
            .unwrap_or_else(|| vec![ExtraColumn::text("user_id").indexed()]);
        for (i, col) in extras.iter().enumerate() {
            check_identifier("extra_column", col.name())?;
            if crate::columns::is_builtin(col.name()) {
                return Err(Error::config(
                    "extra_column",
                    format!("`{}` is a column the store owns", col.name()),
                ));
            }
            if let Some(fk) = col.foreign_key() {
                check_identifier("references", fk.table())?;
                check_identifier("references", fk.column())?;
            }
            if extras[..i].iter().any(|c| c.name() == col.name()) {
                return Err(Error::config(
                    "extra_column",
                    format!("`{}` is declared twice", col.name()),
                ));
            }
        }
        if self.optional.token_hint && s.token_prefix.is_none() {
            return Err(Error::config(
                "token_hint",
                "a token hint needs a token prefix (plain tokens have no displayable part)",
            ));
        }
        if self.optional.salt_id && s.secret_salt.is_none() {
            return Err(Error::config(
                "salt_id",
                "tracking salts needs a secret_salt",
            ));
        }
        if self.optional.key_lifecycle && !self.usage_flush.is_positive() {
            return Err(Error::config(
                "key_lifecycle",
                "the flush interval of the use counter must be positive",
            ));
        }
        if self.ecto_compat && self.optional != OptionalColumns::default() {
            return Err(Error::config(
                "ecto_compat",
                "an adopted ecto_sessions table gets no new columns: last_used_at, authenticated_at, token_hint, salt_id, ttl_seconds, previous_digest, scopes and the key lifecycle columns are unavailable",
            ));
        }
        let (digest_format, time_format) = if self.ecto_compat {
            (DigestFormat::Hex, TimeFormat::NaiveUtc)
        } else {
            (DigestFormat::Binary, TimeFormat::WithZone)
        };
        let spec = Arc::new(TableSpec {
            schema: self.schema,
            table: self.table,
            extras: extras.into(),
            optional: self.optional,
            digest_format,
            time_format,
            owner_cap: self.cap.is_some(),
        });
        let cap = match self.cap {
            None => None,
            Some((column, limit, over)) => {
                if column.is_empty() {
                    return Err(Error::config(
                        "over_cap",
                        "over_cap needs max_sessions_per to say which column and how many",
                    ));
                }
                if limit == 0 {
                    return Err(Error::config("max_sessions_per", "the cap is at least 1"));
                }
                let column = spec.extra_index(&column).map_err(|_| {
                    Error::config(
                        "max_sessions_per",
                        format!("`{column}` is not one of the store's extra columns"),
                    )
                })?;
                Some(Cap {
                    column,
                    limit,
                    over,
                })
            }
        };
        let backend = (self.connect)(spec.clone())?;
        #[cfg(feature = "cache")]
        let cache = match &self.cache {
            Some(config) => Some(crate::cache::StoreCache::start(
                config,
                backend.cache_feed(),
                self.settings.hashing,
                self.clock.clone(),
            )?),
            None => None,
        };
        let usage = spec
            .optional
            .key_lifecycle
            .then(|| crate::store::usage::Usage::new(self.usage_flush));
        let inner = Inner::new(backend, spec, self.settings, format, self.clock, cap, usage);
        #[cfg(feature = "cache")]
        let inner = Inner { cache, ..inner };
        Ok(SessionStore {
            inner: Arc::new(inner),
        })
    }
}
