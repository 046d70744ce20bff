//! The session of the current request: looked up at most once, on first use.

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use tokio::sync::OnceCell;

use super::SessionAuth;
use super::rejection::{MissingSessionLayer, SessionRejection, StoreUnavailable, Unauthenticated};
use super::source::TokenSource;
use crate::error::Result;
use crate::{GetOptions, Session};

/// The valid session of the request, or a rejection: 401 without one
/// ([`Unauthenticated`]), 503 when the store fails. Use `Option<CurrentSession>` for pages
/// that work signed in or out: it yields `None` instead of the 401.
///
/// Needs [`SessionLayer`](super::SessionLayer) on the router. However many of these
/// extractors a request meets (a handler and a middleware, say), the store is asked once.
///
/// [`CurrentSession::source`] says where the token came from: apply CSRF checks to
/// requests authenticated by the cookie (which a browser attaches on its own), not to
/// those that carried their token in a header.
#[derive(Clone, Debug)]
pub struct CurrentSession {
    session: Session,
    source: TokenSource,
}

impl CurrentSession {
    /// The session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The session, owned.
    pub fn into_inner(self) -> Session {
        self.session
    }

    /// Where the request carried its token: [`TokenSource::Cookie`], a
    /// [`TokenSource::Header`] or [`TokenSource::Bearer`].
    pub fn source(&self) -> &TokenSource {
        &self.source
    }

    /// Whether the token came from the cookie, so the request needs CSRF protection.
    pub fn is_from_cookie(&self) -> bool {
        self.source.is_cookie()
    }
}

impl Deref for CurrentSession {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.session
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentSession {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, SessionRejection> {
        match resolve(parts).await? {
            Some(current) => Ok(current),
            None => Err(Unauthenticated.into()),
        }
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for CurrentSession {
    type Rejection = SessionRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, SessionRejection> {
        resolve(parts).await
    }
}

async fn resolve(parts: &Parts) -> Result<Option<CurrentSession>, SessionRejection> {
    let request = parts
        .extensions
        .get::<RequestSessionHandle>()
        .ok_or(MissingSessionLayer)?
        .0
        .clone();
    let session = request
        .session()
        .await
        .map_err(|e| SessionRejection::from(StoreUnavailable(e)))?;
    // A session exists only for a token, and a token only with its source.
    Ok(session
        .zip(request.source.clone())
        .map(|(session, source)| CurrentSession { session, source }))
}

/// What the layer leaves in the request's extensions.
#[derive(Clone, Debug)]
pub(crate) struct RequestSessionHandle(pub(crate) Arc<RequestSession>);

/// One request's token and, once asked for, its session.
pub(crate) struct RequestSession {
    auth: SessionAuth,
    token: Option<String>,
    /// Where the token came from (`None` without a token).
    pub(crate) source: Option<TokenSource>,
    looked_up: OnceCell<LookedUp>,
}

/// The result of the one lookup.
pub(crate) struct LookedUp {
    pub(crate) session: Option<Session>,
    /// Whether the lookup wrote a new expiry (the store counted the row it updated).
    pub(crate) extended: bool,
}

impl std::fmt::Debug for RequestSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestSession")
            .field("has_token", &self.token.is_some())
            .field("source", &self.source)
            .field("looked_up", &self.looked_up.initialized())
            .finish_non_exhaustive()
    }
}

impl RequestSession {
    pub(crate) fn new(
        auth: SessionAuth,
        token: Option<String>,
        source: Option<TokenSource>,
    ) -> Self {
        RequestSession {
            auth,
            token,
            source,
            looked_up: OnceCell::new(),
        }
    }

    /// The session, looked up on the first call only. A failed lookup is not kept, so a
    /// later call asks again.
    pub(crate) async fn session(&self) -> Result<Option<Session>> {
        let looked_up = self
            .looked_up
            .get_or_try_init(|| async {
                let found = match &self.token {
                    None => None,
                    Some(token) => {
                        let store = self.auth.store();
                        store.lookup_outcome(token, GetOptions::default()).await?
                    }
                };
                Ok::<_, crate::Error>(LookedUp {
                    extended: found.as_ref().is_some_and(|f| f.extended),
                    session: found.map(|f| f.session),
                })
            })
            .await?;
        Ok(looked_up.session.clone())
    }

    /// The lookup's result, if there was one.
    pub(crate) fn looked_up(&self) -> Option<&LookedUp> {
        self.looked_up.get()
    }

    pub(crate) fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub(crate) fn auth(&self) -> &SessionAuth {
        &self.auth
    }
}
