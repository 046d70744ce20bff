//! What every handler shares: the database, the two stores and the CSRF key.

use std::time::Duration;

use sqlx_sessions::axum::{SessionAuth, TokenSource};
use sqlx_sessions::{Pruner, SessionStore};

use crate::config::Config;
use crate::csrf::CsrfKey;
use crate::db::Db;

/// The token prefix of the demo's API keys, so leaked ones are recognisable.
pub const API_KEY_PREFIX: &str = "demo_sk_";

/// The state of the app. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The database of `users` (and of both stores).
    pub db: Db,
    /// Browser sessions (table `sessions`, column `user_id`), with the cookie rules.
    pub auth: SessionAuth,
    /// Where the API reads tokens: `X-Auth-Token`, then `Authorization: Bearer` (never the
    /// cookie).
    pub api_auth: SessionAuth,
    /// API keys (table `api_keys`, column `user_id`, prefix `demo_sk_`, a display hint, no
    /// expiry, last use recorded).
    pub api_keys: SessionStore,
    /// The CSRF secret.
    pub csrf: CsrfKey,
}

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
        AppState::new(db, csrf, config.secure_cookies).await
    }

    /// The state on an open database (migrated here).
    pub async fn new(
        db: Db,
        csrf: CsrfKey,
        secure_cookies: bool,
    ) -> Result<AppState, sqlx_sessions::Error> {
        db.migrate().await?;
        let sessions = db.store_builder().table("sessions").build()?;
        sessions.migrate().await?;
        let api_keys = db
            .store_builder()
            .table("api_keys")
            .token_prefix(API_KEY_PREFIX)
            .store_token_hint()
            .track_last_used(time::Duration::minutes(1))
            .ttl(None)
            .build()?;
        api_keys.migrate().await?;
        let auth = SessionAuth::new(sessions).secure_cookies(secure_cookies)?;
        Ok(AppState {
            db,
            api_auth: auth
                .clone()
                .sources([TokenSource::x_auth_token(), TokenSource::Bearer]),
            auth,
            api_keys,
            csrf,
        })
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
