//! Short-lived signed access tokens refreshed from database sessions (feature
//! `access-tokens`).
//!
//! The database session stays the source of truth; the access token is a copy of a few
//! of its facts that other services can check without reaching the database:
//!
//! - [`Issuer::mint`] signs a JWT (RFC 7519) for a valid session, with Ed25519 (EdDSA) by
//!   default or HS256 ([`SigningKey`]). Claims ([`Claims`]): `sub` (the owner column,
//!   `user_id` by default), `sid` (the session id, never its token or digest), `iat`,
//!   `exp` (5 minutes by default, and never past the session's own expiry), `jti`,
//!   `iss`/`aud` when configured, and `scope`: the store's scopes column when it has one, or
//!   else the session-data key [`IssuerBuilder::scope_from_data`] names (absent otherwise).
//! - **Refresh**: the session token is the refresh token. [`Issuer::refresh`] looks the
//!   session up (extending it by the store's rule) and mints a new access token, or
//!   returns `None` when the session is gone. With
//!   [`IssuerBuilder::rotate_refresh_tokens`] each exchange also rotates the session token
//!   (the store keeps the digest it replaced in `previous_digest`,
//!   [`StoreBuilder::detect_token_reuse`](crate::StoreBuilder::detect_token_reuse)), and a
//!   token presented after it was rotated away revokes the whole session
//!   ([`Error::RefreshTokenReused`]), the OAuth 2.0
//!   security BCP's answer to a stolen refresh token. Two exchanges racing with one token
//!   count as reuse: the rotation is a compare-and-set on the digest, so at most one of
//!   them gets a new token, and the other revokes the session. Only the token replaced
//!   by the last rotation is recognised; an older one is refused as unknown.
//! - [`Verifier::verify`] needs no database: signature, the key's algorithm (the header
//!   cannot choose it: `alg: none` and algorithm confusion are refused), `kid`, `exp`,
//!   `nbf`, `iat`, `iss`, `aud`, with a small leeway (5 s). [`Issuer::jwks`] is the JWKS
//!   document of the public keys; [`Issuer::rotate_key`] signs with a new key while the
//!   previous one still verifies until its last token has expired.
//! - **Revocation faster than `exp`**: a verifier that
//!   [follows](Verifier::follow_revocations) a store with a read cache (feature `cache`)
//!   hears every deleted, expired or revoked session through the cache's invalidation feed
//!   (PostgreSQL: `LISTEN/NOTIFY`; SQLite, MySQL and MariaDB: the polled change log) and
//!   refuses its tokens within the cache's staleness bound, keeping the revoked ids for one
//!   token lifetime.
//!
//! # When to use it
//!
//! | you need | use |
//! | --- | --- |
//! | a request served by the application that owns the sessions | a plain [`SessionStore::lookup`](crate::SessionStore::lookup): one indexed query, revocation seen at once |
//! | the same at memory speed | the read cache ([`StoreBuilder::cache`](crate::StoreBuilder::cache)): revocation within its bound |
//! | services that cannot reach the sessions database (other teams, a gateway, edge functions) | access tokens, verified with the JWKS: revocation at `exp`, or within the feed's bound where they can follow it |
//!
//! Access tokens trade revocation delay for independence: until `exp`, a verifier that
//! does not follow a feed accepts a token whose session was signed out. Keep the lifetime
//! short, and never use an access token where the session itself is changed (sign-out,
//! device lists, account settings): look the session up there.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use sqlx_sessions::access::{Issuer, SigningKey, Verifier, VerifyingKey};
//! use sqlx_sessions::{NewSession, SessionStore};
//!
//! let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
//! let store = SessionStore::builder(pool).build()?;
//! store.migrate().await?;
//! let issuer = Issuer::builder(store.clone(), SigningKey::generate_ed25519("k1")?).build()?;
//!
//! let created = store.create(NewSession::new().extra("user_id", "42")).await?;
//! let refreshed = issuer.refresh(created.token.expose()).await?.expect("a valid session");
//!
//! // Another service, with the JWKS document only:
//! let verifier = Verifier::from_jwks(&issuer.jwks())?;
//! let claims = verifier.verify(refreshed.access_token.expose())?;
//! assert_eq!(claims.sub, "42");
//! assert_eq!(claims.sid, created.session.id);
//! # let _ = VerifyingKey::from_jwks(&issuer.jwks());
//! # Ok(()) }
//! ```

mod claims;
mod issuer;
mod keys;
mod ring;
mod verifier;

pub use claims::{AccessToken, Claims};
pub use issuer::{Issuer, IssuerBuilder, Refreshed};
pub use jsonwebtoken::jwk::{Jwk, JwkSet};
pub use keys::{KeyAlgorithm, MIN_HMAC_SECRET_BYTES, SigningKey, VerifyingKey};
pub use verifier::{DEFAULT_LEEWAY, MAX_ACCESS_TOKEN_BYTES, Verifier};

use crate::error::{Error, Result};

/// The default lifetime of an access token.
pub const DEFAULT_TTL: time::Duration = time::Duration::minutes(5);

/// Why an access token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// Not a JWT this crate accepts (including `alg: none` and unknown algorithms).
    #[error("malformed token")]
    Malformed,
    /// No `kid`, or one that no key in force has.
    #[error("unknown signing key")]
    UnknownKey,
    /// The header names another algorithm than its key's.
    #[error("wrong algorithm for its key")]
    Algorithm,
    /// The signature does not verify.
    #[error("bad signature")]
    Signature,
    /// Past `exp` (and the leeway).
    #[error("expired")]
    Expired,
    /// Before `nbf` or `iat` (and the leeway).
    #[error("not yet valid")]
    NotYetValid,
    /// Not the expected `iss`.
    #[error("wrong issuer")]
    Issuer,
    /// Not the expected `aud`.
    #[error("wrong audience")]
    Audience,
    /// Its session was revoked (heard through the invalidation feed).
    #[error("session revoked")]
    Revoked,
    /// The invalidation feed is not confirmed within its bound, so a revocation may be
    /// unheard.
    #[error("revocations unknown: the invalidation feed is down")]
    RevocationUnknown,
}

/// Refuses to go on without exactly one JWT crypto backend (`jsonwebtoken` would panic).
fn crypto_provider() -> Result<()> {
    match jsonwebtoken::crypto::CryptoProvider::try_get_default() {
        Some(_) => Ok(()),
        None => Err(Error::config(
            "access-tokens",
            "jsonwebtoken has no default crypto provider (both or neither of its backends are enabled)",
        )),
    }
}
