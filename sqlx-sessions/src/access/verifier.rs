//! Verifying access tokens without the database.

use std::sync::Arc;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Validation, decode, decode_header};
use time::{Duration, OffsetDateTime};

use super::claims::Claims;
use super::keys::{VerifyingKey, jwks};
use super::ring::KeyRing;
use super::{Refusal, crypto_provider};
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};

/// The longest access token accepted, in bytes; longer ones are refused unread.
pub const MAX_ACCESS_TOKEN_BYTES: usize = 8 * 1024;

/// The default clock leeway of `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY: Duration = Duration::seconds(5);

#[derive(Clone, Debug)]
enum Keys {
    /// An issuer's keys, rotating with it.
    Ring(KeyRing),
    /// A fixed set (from a JWKS document).
    Fixed(Vec<VerifyingKey>),
}

/// Where a verifier hears of revoked sessions: a store's invalidation feed.
#[cfg(feature = "cache")]
#[derive(Clone, Debug)]
struct Follow {
    store: crate::SessionStore,
    revoked: crate::cache::revoked::RevokedSessions,
}

/// Checks access tokens with public keys alone: signature, algorithm, `kid`, `exp`, `nbf`,
/// `iat`, `iss` and `aud`, with a small clock leeway. Cheap to clone.
///
/// A verifier that [follows](Verifier::follow_revocations) a store with a read cache also
/// refuses the tokens of sessions revoked since they were issued, within the cache's
/// staleness bound.
#[derive(Clone, Debug)]
pub struct Verifier {
    inner: Arc<Inner>,
}

#[derive(Clone, Debug)]
struct Inner {
    keys: Keys,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: Duration,
    clock: Arc<dyn Clock>,
    /// The longest lifetime of the tokens it accepts, what revocations are kept for.
    lifetime: Duration,
    #[cfg(feature = "cache")]
    follow: Option<Follow>,
}

impl Verifier {
    /// A verifier of tokens signed by `keys` (for example [`VerifyingKey::from_jwks`] of an
    /// issuer's JWKS document), on the system clock, checking no issuer or audience.
    pub fn new(keys: impl IntoIterator<Item = VerifyingKey>) -> Result<Verifier> {
        crypto_provider()?;
        Ok(Verifier {
            inner: Arc::new(Inner {
                keys: Keys::Fixed(keys.into_iter().collect()),
                issuer: None,
                audience: None,
                leeway: DEFAULT_LEEWAY,
                clock: Arc::new(SystemClock),
                lifetime: super::DEFAULT_TTL,
                #[cfg(feature = "cache")]
                follow: None,
            }),
        })
    }

    /// A verifier of the EdDSA keys of a JWKS document.
    pub fn from_jwks(set: &JwkSet) -> Result<Verifier> {
        Verifier::new(VerifyingKey::from_jwks(set))
    }

    pub(crate) fn for_issuer(
        ring: KeyRing,
        issuer: Option<String>,
        audience: Option<String>,
        leeway: Duration,
        clock: Arc<dyn Clock>,
        lifetime: Duration,
    ) -> Verifier {
        Verifier {
            inner: Arc::new(Inner {
                keys: Keys::Ring(ring),
                issuer,
                audience,
                leeway,
                clock,
                lifetime,
                #[cfg(feature = "cache")]
                follow: None,
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Inner)) -> Self {
        f(Arc::make_mut(&mut self.inner));
        self
    }

    /// Accepts only tokens whose `iss` is `issuer`.
    pub fn issuer(self, issuer: impl Into<String>) -> Self {
        let issuer = issuer.into();
        self.edit(|i| i.issuer = Some(issuer))
    }

    /// Accepts only tokens whose `aud` is `audience`.
    pub fn audience(self, audience: impl Into<String>) -> Self {
        let audience = audience.into();
        self.edit(|i| i.audience = Some(audience))
    }

    /// The clock leeway of `exp`, `nbf` and `iat` (default 5 s, at most 5 min).
    pub fn leeway(self, leeway: std::time::Duration) -> Result<Self> {
        let leeway = Duration::try_from(leeway)
            .ok()
            .filter(|l| *l <= Duration::minutes(5))
            .ok_or_else(|| Error::config("leeway", "the leeway is at most 5 minutes"))?;
        Ok(self.edit(|i| i.leeway = leeway))
    }

    /// The longest lifetime of the tokens it sees (default 5 min): how long a revoked
    /// session is remembered when following revocations.
    pub fn max_token_lifetime(self, lifetime: std::time::Duration) -> Self {
        let lifetime = Duration::try_from(lifetime).unwrap_or(Duration::DAY);
        self.edit(|i| i.lifetime = lifetime)
    }

    /// The clock `exp`, `nbf` and `iat` are checked against (a [`ManualClock`](crate::ManualClock) in tests).
    pub fn clock(self, clock: impl Clock) -> Self {
        self.edit(|i| i.clock = Arc::new(clock))
    }

    /// Refuses the tokens of sessions revoked after they were issued, as `store`'s
    /// invalidation feed reports them (the store needs a read cache,
    /// [`StoreBuilder::cache`](crate::StoreBuilder::cache), on any database).
    /// A deleted session, or one expired or revoked through the store, the CLI or plain SQL,
    /// is refused once the feed has reported it: within the cache's staleness bound after
    /// its commit, and before the revoking call returns on the instance that revoked it.
    ///
    /// It fails closed: while the feed is not confirmed within its bound every token is
    /// refused ([`Refusal::RevocationUnknown`]), and after a gap in the feed (its first
    /// round, a reconnection, a gap in the change log) the tokens issued up to that
    /// second are refused for one token lifetime, since their sessions may have been
    /// revoked unheard; their holders refresh them.
    #[cfg(feature = "cache")]
    pub fn follow_revocations(self, store: &crate::SessionStore) -> Result<Self> {
        let cache = store.cache().ok_or_else(|| {
            Error::config(
                "follow_revocations",
                "the store has no read cache, so no invalidation feed to follow",
            )
        })?;
        let revoked = cache.revoked().clone();
        revoked.keep_for(self.inner.lifetime + self.inner.leeway);
        let follow = Follow {
            store: store.clone(),
            revoked,
        };
        Ok(self.edit(|i| i.follow = Some(follow)))
    }

    /// The public keys that verify now, as a JWKS document.
    pub fn jwks(&self) -> JwkSet {
        jwks(&self.keys_now())
    }

    fn keys_now(&self) -> Vec<VerifyingKey> {
        match &self.inner.keys {
            Keys::Ring(ring) => ring.verifying(self.inner.clock.now()),
            Keys::Fixed(keys) => keys.clone(),
        }
    }

    fn find(&self, kid: &str, now: OffsetDateTime) -> Option<VerifyingKey> {
        match &self.inner.keys {
            Keys::Ring(ring) => ring.find(kid, now),
            Keys::Fixed(keys) => keys.iter().find(|k| k.kid() == kid).cloned(),
        }
    }

    /// The claims of a valid access token, or why it is refused
    /// ([`Error::AccessToken`] with a [`Refusal`]). Never touches the database.
    pub fn verify(&self, token: &str) -> Result<Claims> {
        self.check(token).map_err(Error::AccessToken)
    }

    fn check(&self, token: &str) -> Result<Claims, Refusal> {
        let inner = &self.inner;
        if token.len() > MAX_ACCESS_TOKEN_BYTES {
            return Err(Refusal::Malformed);
        }
        // `alg: none` and unknown algorithms do not parse.
        let header = decode_header(token).map_err(|_| Refusal::Malformed)?;
        let now = inner.clock.now();
        let kid = header.kid.as_deref().ok_or(Refusal::UnknownKey)?;
        let key = self.find(kid, now).ok_or(Refusal::UnknownKey)?;
        // The key decides the algorithm, never the token.
        let alg = key.algorithm().jwt();
        if header.alg != alg {
            return Err(Refusal::Algorithm);
        }
        let mut validation = Validation::new(alg);
        validation.algorithms = vec![alg];
        // Time is checked below, on the verifier's clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        match &inner.issuer {
            Some(iss) => validation.set_issuer(&[iss]),
            None => validation.iss = None,
        }
        match &inner.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        let claims = decode::<Claims>(token, key.decoding(), &validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => Refusal::Signature,
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => Refusal::Algorithm,
                ErrorKind::InvalidIssuer => Refusal::Issuer,
                ErrorKind::InvalidAudience => Refusal::Audience,
                ErrorKind::MissingRequiredClaim(c) if c == "iss" => Refusal::Issuer,
                ErrorKind::MissingRequiredClaim(c) if c == "aud" => Refusal::Audience,
                _ => Refusal::Malformed,
            })?
            .claims;
        if inner.issuer.is_some() && claims.iss != inner.issuer {
            return Err(Refusal::Issuer);
        }
        if inner.audience.is_some() && claims.aud != inner.audience {
            return Err(Refusal::Audience);
        }
        let now_s = now.unix_timestamp();
        let leeway = inner.leeway.whole_seconds();
        if now_s >= claims.exp.saturating_add(leeway) {
            return Err(Refusal::Expired);
        }
        let not_before = claims.nbf.unwrap_or(claims.iat).max(claims.iat);
        if now_s.saturating_add(leeway) < not_before {
            return Err(Refusal::NotYetValid);
        }
        #[cfg(feature = "cache")]
        if let Some(follow) = &inner.follow {
            let serving = follow.store.cache().is_some_and(|c| c.serving());
            if !serving {
                return Err(Refusal::RevocationUnknown);
            }
            if follow.revoked.refuses(claims.sid, claims.iat) {
                return Err(Refusal::Revoked);
            }
        }
        Ok(claims)
    }
}
