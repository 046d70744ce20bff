//! The demo's access tokens: an Ed25519 key made at start-up (tokens die with the process),
//! 5-minute tokens for browser sessions, and the verifier the API checks them with.

use sqlx_sessions::SessionStore;
use sqlx_sessions::access::{Issuer, SigningKey, Verifier};
use sqlx_sessions::axum::AccessAuth;

/// The `iss` and `aud` of the demo's tokens.
pub const ISSUER: &str = "sqlx-sessions-demo";

/// The issuer, its verifier and the extractor's settings. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AccessTokens {
    /// Mints tokens for the sessions store and refreshes them from session tokens.
    pub issuer: Issuer,
    /// Checks tokens without the database; with the read cache it follows the sessions
    /// table's invalidation feed, so a signed-out session's tokens are refused within the
    /// cache's bound instead of at `exp`.
    pub verifier: Verifier,
    /// What `AccessClaims` reads: access tokens, or else a session token.
    pub auth: AccessAuth,
}

impl AccessTokens {
    /// Tokens for `sessions`' sessions, signed by a new key.
    pub fn new(sessions: &SessionStore) -> Result<AccessTokens, sqlx_sessions::Error> {
        let kid = format!("demo-{:08x}", rand::random::<u32>());
        let issuer = Issuer::builder(sessions.clone(), SigningKey::generate_ed25519(kid)?)
            .issuer(ISSUER)
            .audience(ISSUER)
            .build()?;
        let mut verifier = issuer.verifier();
        if sessions.cache_stats().is_some() {
            verifier = verifier.follow_revocations(sessions)?;
        }
        let auth = AccessAuth::new(verifier.clone()).session_fallback(issuer.clone());
        Ok(AccessTokens {
            issuer,
            verifier,
            auth,
        })
    }

    /// Whether revocations reach the verifier before `exp` (the read cache is on).
    pub fn follows_revocations(&self) -> bool {
        self.issuer.store().cache_stats().is_some()
    }
}
