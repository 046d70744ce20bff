//! Minting access tokens for sessions, and exchanging a session token for a new one.

use std::sync::Arc;

use jsonwebtoken::{Header, encode};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::claims::{AccessToken, Claims};
use super::keys::{SigningKey, jwks};
use super::ring::KeyRing;
use super::verifier::{DEFAULT_LEEWAY, Verifier};
use super::{DEFAULT_TTL, crypto_provider};
use crate::error::{Error, Result};
use crate::session::Session;
use crate::store::SessionStore;
use crate::token::Token;
use crate::value::Value;

/// What a refresh returns: a new access token and, with rotation, the session's new token
/// (the next refresh token; the one presented no longer works).
#[derive(Debug)]
#[non_exhaustive]
pub struct Refreshed {
    /// The new access token.
    pub access_token: AccessToken,
    /// The session's new token when refresh tokens rotate; `None` otherwise.
    pub refresh_token: Option<Token>,
}

/// Mints short-lived access tokens for a store's sessions and exchanges session tokens
/// (refresh tokens) for new ones. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Issuer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: SessionStore,
    ring: KeyRing,
    ttl: Duration,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: Duration,
    subject: String,
    scope_key: Option<String>,
    rotate: bool,
}

/// Builds an [`Issuer`] ([`Issuer::builder`]).
#[derive(Debug)]
#[must_use]
pub struct IssuerBuilder {
    store: SessionStore,
    key: SigningKey,
    ttl: std::time::Duration,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: std::time::Duration,
    subject: String,
    scope_key: Option<String>,
    rotate: bool,
}

impl IssuerBuilder {
    /// How long an access token lives (default 5 minutes; between 1 s and 1 day). It also
    /// never outlives its session.
    pub fn ttl(mut self, ttl: std::time::Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The `iss` claim, which the issuer's verifiers then require.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The `aud` claim, which the issuer's verifiers then require.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The clock leeway of the issuer's verifiers (default 5 s, at most 5 min).
    pub fn leeway(mut self, leeway: std::time::Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The extra column whose value is the `sub` claim (default `user_id`).
    pub fn subject_column(mut self, column: impl Into<String>) -> Self {
        self.subject = column.into();
        self
    }

    /// Takes the `scope` claim from this key of the session data: a string of
    /// space-separated scopes, or an array of strings. A session with scopes in the store's
    /// `scopes` column ([`StoreBuilder::scopes`](crate::StoreBuilder::scopes)) carries
    /// those instead. Without either, tokens carry no `scope`.
    pub fn scope_from_data(mut self, key: impl Into<String>) -> Self {
        self.scope_key = Some(key.into());
        self
    }

    /// Rotates the session token at every refresh (default off), with reuse detection: a
    /// refresh token presented after it was rotated away revokes its whole session
    /// ([`Error::RefreshTokenReused`]). Needs a store built with
    /// [`StoreBuilder::detect_token_reuse`](crate::StoreBuilder::detect_token_reuse).
    pub fn rotate_refresh_tokens(mut self, on: bool) -> Self {
        self.rotate = on;
        self
    }

    /// Validates everything and builds the issuer.
    pub fn build(self) -> Result<Issuer> {
        crypto_provider()?;
        let ttl = Duration::try_from(self.ttl)
            .ok()
            .filter(|t| {
                (Duration::SECOND..=Duration::DAY).contains(t) && t.subsec_nanoseconds() == 0
            })
            .ok_or_else(|| {
                Error::config("ttl", "an access token lives whole seconds, 1 s to 1 day")
            })?;
        let leeway = Duration::try_from(self.leeway)
            .ok()
            .filter(|l| *l <= Duration::minutes(5))
            .ok_or_else(|| Error::config("leeway", "the leeway is at most 5 minutes"))?;
        self.store.spec().extra_index(&self.subject).map_err(|_| {
            Error::config(
                "subject_column",
                format!("`{}` is not one of the store's extra columns", self.subject),
            )
        })?;
        if self.rotate && !self.store.spec().optional.previous_digest {
            return Err(Error::config(
                "rotate_refresh_tokens",
                "rotation with reuse detection needs a store built with detect_token_reuse()",
            ));
        }
        Ok(Issuer {
            inner: Arc::new(Inner {
                store: self.store,
                ring: KeyRing::new(self.key),
                ttl,
                issuer: self.issuer,
                audience: self.audience,
                leeway,
                subject: self.subject,
                scope_key: self.scope_key,
                rotate: self.rotate,
            }),
        })
    }
}

impl Issuer {
    /// An issuer for `store`'s sessions signing with `key`: 5-minute tokens, `sub` from
    /// `user_id`, no `iss`, `aud` or `scope`, no rotation.
    pub fn builder(store: SessionStore, key: SigningKey) -> IssuerBuilder {
        IssuerBuilder {
            store,
            key,
            ttl: DEFAULT_TTL.unsigned_abs(),
            issuer: None,
            audience: None,
            leeway: DEFAULT_LEEWAY.unsigned_abs(),
            subject: "user_id".into(),
            scope_key: None,
            rotate: false,
        }
    }

    /// The store whose sessions it serves.
    pub fn store(&self) -> &SessionStore {
        &self.inner.store
    }

    /// How long its access tokens live (at most).
    pub fn ttl(&self) -> Duration {
        self.inner.ttl
    }

    /// A verifier of its tokens, on the store's clock, with its keys (rotating with it),
    /// issuer, audience and leeway.
    pub fn verifier(&self) -> Verifier {
        let i = &self.inner;
        Verifier::for_issuer(
            i.ring.clone(),
            i.issuer.clone(),
            i.audience.clone(),
            i.leeway,
            Arc::new(StoreClock(i.store.clone())),
            i.ttl,
        )
    }

    /// The public keys that verify its tokens now, as a JWKS document (served at
    /// `/.well-known/jwks.json`). HS256 keys are never in it.
    pub fn jwks(&self) -> jsonwebtoken::jwk::JwkSet {
        jwks(&self.inner.ring.verifying(self.inner.store.now()))
    }

    /// Signs with `next` from now on. The current key keeps verifying until the last token
    /// it signed has expired (one token lifetime plus the leeway), then leaves the JWKS.
    pub fn rotate_key(&self, next: SigningKey) {
        let now = self.inner.store.now();
        let retire_at = now + self.inner.ttl + self.inner.leeway;
        self.inner.ring.rotate(next, now, retire_at);
    }

    /// The claims an access token for `session` would carry now (what the axum extractor
    /// yields for a request authenticated by a session token).
    pub fn claims_for(&self, session: &Session) -> Result<Claims> {
        let i = &self.inner;
        let now = i.store.now();
        let sub = match session.extra(&i.subject) {
            None | Some(Value::Null) => {
                return Err(Error::Refused("the session has no owner for `sub`"));
            }
            Some(Value::Text(s)) => s.clone(),
            Some(v) => v.to_string(),
        };
        let mut exp = now + i.ttl;
        if let Some(at) = session.expires_at {
            exp = exp.min(at);
        }
        if let Some(max) = i.store.settings().max_lifetime {
            exp = exp.min(session.inserted_at + max);
        }
        if session.is_expired || exp <= now {
            return Err(Error::Refused(
                "an access token is issued only for a valid session",
            ));
        }
        Ok(Claims {
            sub,
            sid: session.id,
            iat: now.unix_timestamp(),
            exp: exp.unix_timestamp(),
            nbf: None,
            jti: Uuid::new_v4().to_string(),
            iss: i.issuer.clone(),
            aud: i.audience.clone(),
            // The store's scopes column first (API keys), else the configured data key.
            scope: if session.scopes.is_empty() {
                i.scope_key.as_deref().and_then(|k| scope_of(session, k))
            } else {
                Some(session.scopes.join(" "))
            },
        })
    }

    /// A signed access token for the valid `session` (for example the one a sign-in just
    /// created, or a lookup returned). No database access.
    pub fn mint(&self, session: &Session) -> Result<AccessToken> {
        let claims = self.claims_for(session)?;
        let key = self.inner.ring.current();
        let mut header = Header::new(key.verifying_key().algorithm().jwt());
        header.kid = Some(key.kid().to_owned());
        let token = encode(&header, &claims, key.encoding())
            .map_err(|e| Error::config("signing_key", e.to_string()))?;
        Ok(AccessToken { token, claims })
    }

    /// Exchanges a session token (the refresh token) for a new access token: looks the
    /// session up (extending it by the store's rule) and mints; `None` when the session is
    /// gone, expired or revoked. With rotation the session token is rotated too (one
    /// compare-and-set on its digest, so of two exchanges of one token at most one
    /// succeeds), and a token that was already rotated away revokes the session:
    /// [`Error::RefreshTokenReused`].
    pub async fn refresh(&self, refresh_token: &str) -> Result<Option<Refreshed>> {
        let store = &self.inner.store;
        let Some(session) = store.lookup(refresh_token).await? else {
            return self.reused(refresh_token).await;
        };
        if !self.inner.rotate {
            return Ok(Some(Refreshed {
                access_token: self.mint(&session)?,
                refresh_token: None,
            }));
        }
        match store.rotate_token(refresh_token).await? {
            Some(rotated) => Ok(Some(Refreshed {
                access_token: self.mint(&rotated.session)?,
                refresh_token: Some(rotated.token),
            })),
            // Rotated away (or revoked) since the lookup.
            None => self.reused(refresh_token).await,
        }
    }

    /// With rotation, revokes the session whose previous token is `token`.
    async fn reused(&self, token: &str) -> Result<Option<Refreshed>> {
        if !self.inner.rotate {
            return Ok(None);
        }
        match self.inner.store.revoke_rotated_away(token).await? {
            Some(session_id) => Err(Error::RefreshTokenReused { session_id }),
            None => Ok(None),
        }
    }
}

/// The scopes kept under `key` in the session data, space-separated.
fn scope_of(session: &Session, key: &str) -> Option<String> {
    match session.data.value().get(key)? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Array(items) => {
            let scopes: Vec<&str> = items.iter().filter_map(|v| v.as_str()).collect();
            (!scopes.is_empty()).then(|| scopes.join(" "))
        }
        _ => None,
    }
}

/// The store's clock, for the issuer's verifiers.
#[derive(Debug)]
struct StoreClock(SessionStore);

impl crate::clock::Clock for StoreClock {
    fn now(&self) -> OffsetDateTime {
        self.0.now()
    }
}
