//! The claims of a request authenticated by an access token (no database), or, where
//! configured, by a session token: the same view either way.

use std::ops::Deref;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::extractor::CurrentSession;
use super::rejection::{SessionRejection, StoreUnavailable, Unauthenticated};
use crate::access::{Claims, Issuer, MAX_ACCESS_TOKEN_BYTES, Verifier};

/// How [`AccessClaims`] authenticates a request: a [`Verifier`] for access tokens and,
/// optionally, an [`Issuer`] whose claims stand in for a request that carries a session
/// token instead (looked up through [`SessionLayer`](super::SessionLayer)). Add it to the
/// router with [`AccessAuth::layer`].
#[derive(Clone, Debug)]
pub struct AccessAuth {
    verifier: Verifier,
    fallback: Option<Issuer>,
}

impl AccessAuth {
    /// Accepts access tokens (`Authorization: Bearer <jwt>`) checked by `verifier` only.
    pub fn new(verifier: Verifier) -> Self {
        AccessAuth {
            verifier,
            fallback: None,
        }
    }

    /// Also accepts a request without an access token whose session token (read by the
    /// router's [`SessionLayer`](super::SessionLayer)) finds a valid session: its claims are
    /// [`Issuer::claims_for`] that session.
    pub fn session_fallback(mut self, issuer: Issuer) -> Self {
        self.fallback = Some(issuer);
        self
    }

    /// The layer that makes it available to [`AccessClaims`].
    pub fn layer(self) -> axum::Extension<AccessAuth> {
        axum::Extension(self)
    }
}

/// How a request's [`AccessClaims`] were established.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimsSource {
    /// A verified access token.
    AccessToken,
    /// A session token, looked up in the store.
    Session,
}

/// The claims of the request: from a verified access token, or (with
/// [`AccessAuth::session_fallback`]) from the session of its session token. 401 without
/// either ([`Unauthenticated`]: a refused access token says no more than a missing one);
/// 500 without [`AccessAuth::layer`] on the router.
#[derive(Clone, Debug)]
pub struct AccessClaims {
    claims: Claims,
    source: ClaimsSource,
}

impl AccessClaims {
    /// The claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// Where they came from.
    pub fn source(&self) -> ClaimsSource {
        self.source
    }
}

impl Deref for AccessClaims {
    type Target = Claims;

    fn deref(&self) -> &Claims {
        &self.claims
    }
}

/// `AccessClaims` ran on a route without [`AccessAuth::layer`]: 500, as
/// [`MissingSessionLayer`](super::MissingSessionLayer) is.
fn missing_layer() -> SessionRejection {
    tracing::error!("the access-token extractor needs `AccessAuth::layer()` on the router");
    super::rejection::MissingSessionLayer.into()
}

/// The access token of `Authorization: Bearer <jwt>`, if the request carries one (a bearer
/// value with a `.` is a JWT; session tokens have none).
fn bearer_jwt(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let token = rest.trim();
    (scheme.eq_ignore_ascii_case("bearer")
        && token.contains('.')
        && token.len() <= MAX_ACCESS_TOKEN_BYTES)
        .then_some(token)
}

async fn resolve(parts: &mut Parts) -> Result<Option<AccessClaims>, SessionRejection> {
    let auth = parts
        .extensions
        .get::<AccessAuth>()
        .cloned()
        .ok_or_else(missing_layer)?;
    if let Some(jwt) = bearer_jwt(parts) {
        return Ok(auth.verifier.verify(jwt).ok().map(|claims| AccessClaims {
            claims,
            source: ClaimsSource::AccessToken,
        }));
    }
    let Some(issuer) = &auth.fallback else {
        return Ok(None);
    };
    let session =
        <CurrentSession as OptionalFromRequestParts<()>>::from_request_parts(parts, &()).await?;
    let Some(session) = session else {
        return Ok(None);
    };
    match issuer.claims_for(&session) {
        Ok(claims) => Ok(Some(AccessClaims {
            claims,
            source: ClaimsSource::Session,
        })),
        // A session without an owner has no `sub`: no claims.
        Err(crate::Error::Refused(_)) => Ok(None),
        Err(e) => Err(StoreUnavailable(e).into()),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AccessClaims {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, SessionRejection> {
        resolve(parts).await?.ok_or_else(|| Unauthenticated.into())
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for AccessClaims {
    type Rejection = SessionRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, SessionRejection> {
        resolve(parts).await
    }
}
