//! What every handler shares: the database, the two stores, the CSRF key, the sign-in
//! rate limit and the allowed `Host` names.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sqlx_sessions::axum::{CookieConfig, SessionAuth, TokenSource};
use sqlx_sessions::cache::CacheConfig;
use sqlx_sessions::{Clock, Pruner, SessionStore, StoreBuilder, SystemClock};

use crate::access::AccessTokens;
use crate::config::Config;
use crate::csrf_key::CsrfKey;
use crate::db::Db;
use crate::host::AllowedHosts;

/// The token prefix of the demo's API keys, so leaked ones are recognisable.
pub const API_KEY_PREFIX: &str = "demo_sk_";

/// How often the API keys' use counts are written from memory to the table (what a crash
/// can lose).
pub const KEY_USES_FLUSH: time::Duration = time::Duration::seconds(5);

/// Sessions (and, separately, API keys) kept by each store's read cache with `--cache`.
pub const CACHE_ENTRIES: usize = 100_000;

/// The state of the app. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The database of `users` (and of both stores).
    pub db: Db,
    /// Browser sessions (table `sessions`, column `user_id`, `authenticated_at` for
    /// freshness), with the cookie rules.
    pub auth: SessionAuth,
    /// Where the API reads tokens: `X-Auth-Token`, then `Authorization: Bearer` (never the
    /// cookie).
    pub api_auth: SessionAuth,
    /// API keys (table `api_keys`, column `user_id`, prefix `demo_sk_`, a display hint, the
    /// expiry chosen at creation, last use recorded).
    pub api_keys: SessionStore,
    /// Where the key API (`/api/sessions/revoke`) reads API keys: `X-Auth-Token`, then
    /// `Authorization: Bearer`.
    pub key_auth: SessionAuth,
    /// The CSRF secret.
    pub csrf: CsrfKey,
    /// Credential checks (sign-in, re-authentication) per client address.
    pub sign_in_limit: Arc<DefaultKeyedRateLimiter<String>>,
    /// The `Host` names the app answers to.
    pub hosts: AllowedHosts,
    /// Access tokens for the sessions (`POST /api/token`).
    pub tokens: AccessTokens,
}

/// Credential checks a client address may make in a burst ...
pub const SIGN_IN_BURST: u32 = 10;
/// ... and how often one more is allowed after that.
pub const SIGN_IN_REFILL: Duration = Duration::from_secs(6);

/// How long a "remember me" session lives (sliding, each session by its own TTL); others
/// get the store's default TTL.
pub const REMEMBER_ME: time::Duration = time::Duration::days(30);

/// The most signed-in devices a user has: a sign-in beyond it signs the oldest one out.
pub const MAX_DEVICES: u32 = 10;

/// How recently the user must have proved who they are (sign-in, or the secret typed
/// again) to create an API key.
pub const FRESH_AUTHENTICATION: time::Duration = time::Duration::minutes(10);

impl AppState {
    /// Connects to the configured database and runs every migration: `users`, `sessions`,
    /// `api_keys`.
    pub async fn connect(config: &Config) -> Result<AppState, sqlx_sessions::Error> {
        let db = Db::connect(&config.database_url).await?;
        let csrf = match &config.csrf_secret {
            Some(secret) => {
                CsrfKey::new(secret.as_bytes()).ok_or_else(|| sqlx_sessions::Error::Config {
                    setting: "CSRF_SECRET",
                    reason: "must be at least 16 bytes".into(),
                })?
            }
            None => CsrfKey::random(),
        };
        let state = AppState::open(db, csrf, config.secure_cookies, config.cache).await?;
        Ok(state.allow_hosts(
            std::iter::once(config.bind.ip().to_string()).chain(config.allowed_hosts.clone()),
        ))
    }

    /// The state on an open database (migrated here), without a read cache, answering to
    /// loopback names only.
    pub async fn new(
        db: Db,
        csrf: CsrfKey,
        secure_cookies: bool,
    ) -> Result<AppState, sqlx_sessions::Error> {
        AppState::open(db, csrf, secure_cookies, false).await
    }

    /// The state on an open database (migrated here); with `cache`, both stores answer
    /// lookups from a read cache (see `sqlx_sessions::cache`).
    pub async fn open(
        db: Db,
        csrf: CsrfKey,
        secure_cookies: bool,
        cache: bool,
    ) -> Result<AppState, sqlx_sessions::Error> {
        AppState::build(db, csrf, secure_cookies, cache, SystemClock).await
    }

    /// [`AppState::new`] with the stores reading the time from `clock` (for tests of
    /// freshness and expiry).
    pub async fn with_clock(
        db: Db,
        csrf: CsrfKey,
        secure_cookies: bool,
        clock: impl Clock + Clone,
    ) -> Result<AppState, sqlx_sessions::Error> {
        AppState::build(db, csrf, secure_cookies, false, clock).await
    }

    async fn build(
        db: Db,
        csrf: CsrfKey,
        secure_cookies: bool,
        cache: bool,
        clock: impl Clock + Clone,
    ) -> Result<AppState, sqlx_sessions::Error> {
        db.migrate().await?;
        let cached = |builder: StoreBuilder| {
            if cache {
                builder.cache(CacheConfig::new(CACHE_ENTRIES))
            } else {
                builder
            }
        };
        let sessions = cached(
            db.store_builder()
                .table("sessions")
                .track_authentication()
                .per_session_ttl()
                .max_sessions_per("user_id", MAX_DEVICES)
                .clock(clock.clone()),
        )
        .build()?;
        sessions.migrate().await?;
        let api_keys = cached(
            db.store_builder()
                .table("api_keys")
                .token_prefix(API_KEY_PREFIX)
                .store_token_hint()
                .track_last_used(time::Duration::minutes(1))
                // Scopes, suspension, rolls and a use counter flushed every few seconds.
                .scopes()
                .key_lifecycle(KEY_USES_FLUSH)
                // Each key gets the expiry its owner chose at creation, not the sessions' cap.
                .ttl(None)
                .max_lifetime(None)
                .clock(clock),
        )
        .build()?;
        api_keys.migrate().await?;
        // Over HTTPS the cookie is `__Host-auth_token`: no sibling subdomain can plant one.
        let auth = if secure_cookies {
            SessionAuth::new(sessions).cookie_config(CookieConfig::host_prefixed())?
        } else {
            SessionAuth::new(sessions).secure_cookies(false)?
        };
        let tokens = AccessTokens::new(auth.store())?;
        Ok(AppState {
            tokens,
            db,
            api_auth: auth
                .clone()
                .sources([TokenSource::x_auth_token(), TokenSource::Bearer]),
            auth,
            key_auth: SessionAuth::new(api_keys.clone())
                .sources([TokenSource::x_auth_token(), TokenSource::Bearer])
                .secure_cookies(secure_cookies)?,
            api_keys,
            csrf,
            sign_in_limit: Arc::new(RateLimiter::keyed(sign_in_quota())),
            hosts: AllowedHosts::loopback(),
        })
    }

    /// Also answers to the `Host` names `names` (the bound address, `--allowed-host`).
    pub fn allow_hosts(mut self, names: impl IntoIterator<Item = String>) -> AppState {
        self.hosts = self.hosts.with(names);
        self
    }

    /// Allows `burst` credential checks at once per client address, then one per `refill`
    /// (default [`SIGN_IN_BURST`] and [`SIGN_IN_REFILL`]; a load test lifts it).
    pub fn sign_in_rate(mut self, burst: NonZeroU32, refill: Duration) -> AppState {
        let quota = Quota::with_period(refill).map_or_else(sign_in_quota, |q| q.allow_burst(burst));
        self.sign_in_limit = Arc::new(RateLimiter::keyed(quota));
        self
    }

    /// Whether `client` may check one more credential now (else: 429).
    pub fn may_try_sign_in(&self, client: &str) -> bool {
        // Forget addresses whose allowance is full again, so the table stays small.
        if self.sign_in_limit.len() > 10_000 {
            self.sign_in_limit.retain_recent();
        }
        self.sign_in_limit.check_key(&client.to_owned()).is_ok()
    }

    /// The session store.
    pub fn sessions(&self) -> &SessionStore {
        self.auth.store()
    }

    /// Starts a pruner for each store (deleting expired rows every `interval`).
    pub fn spawn_pruners(&self, interval: Duration) -> Vec<Pruner> {
        vec![
            self.sessions().spawn_pruner(interval),
            self.api_keys.spawn_pruner(interval),
        ]
    }
}

fn sign_in_quota() -> Quota {
    Quota::with_period(SIGN_IN_REFILL)
        .expect("a positive period")
        .allow_burst(NonZeroU32::new(SIGN_IN_BURST).expect("a positive burst"))
}
