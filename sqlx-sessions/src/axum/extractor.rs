//! The session of the current request: looked up at most once, on first use.

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use time::OffsetDateTime;
use tokio::sync::OnceCell;

use super::SessionAuth;
use super::rejection::{MissingSessionLayer, SessionRejection, StoreUnavailable, Unauthenticated};
use crate::Session;
use crate::error::Result;

/// The valid session of the request, or a rejection: 401 without one
/// ([`Unauthenticated`]), 503 when the store fails. Use `Option<CurrentSession>` for pages
/// that work signed in or out: it yields `None` instead of the 401.
///
/// Needs [`SessionLayer`](super::SessionLayer) on the router. However many of these
/// extractors a request meets (a handler and a middleware, say), the store is asked once.
#[derive(Clone, Debug)]
pub struct CurrentSession(pub Session);

impl CurrentSession {
    /// The session.
    pub fn into_inner(self) -> Session {
        self.0
    }
}

impl Deref for CurrentSession {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentSession {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, SessionRejection> {
        match resolve(parts).await? {
            Some(session) => Ok(CurrentSession(session)),
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
        Ok(resolve(parts).await?.map(CurrentSession))
    }
}

async fn resolve(parts: &Parts) -> Result<Option<Session>, SessionRejection> {
    let request = parts
        .extensions
        .get::<RequestSessionHandle>()
        .ok_or(MissingSessionLayer)?
        .0
        .clone();
    request
        .session()
        .await
        .map_err(|e| StoreUnavailable(e).into())
}

/// What the layer leaves in the request's extensions.
#[derive(Clone, Debug)]
pub(crate) struct RequestSessionHandle(pub(crate) Arc<RequestSession>);

/// One request's token and, once asked for, its session.
pub(crate) struct RequestSession {
    auth: SessionAuth,
    token: Option<String>,
    pub(crate) from_cookie: bool,
    looked_up: OnceCell<LookedUp>,
}

/// The result of the one lookup.
pub(crate) struct LookedUp {
    pub(crate) session: Option<Session>,
    /// The store's time just before the lookup: a session written since was extended (or
    /// touched) by it.
    pub(crate) started: OffsetDateTime,
}

impl std::fmt::Debug for RequestSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestSession")
            .field("has_token", &self.token.is_some())
            .field("from_cookie", &self.from_cookie)
            .field("looked_up", &self.looked_up.initialized())
            .finish_non_exhaustive()
    }
}

impl RequestSession {
    pub(crate) fn new(auth: SessionAuth, token: Option<String>, from_cookie: bool) -> Self {
        RequestSession {
            auth,
            token,
            from_cookie,
            looked_up: OnceCell::new(),
        }
    }

    /// The session, looked up on the first call only. A failed lookup is not kept, so a
    /// later call asks again.
    pub(crate) async fn session(&self) -> Result<Option<Session>> {
        let looked_up = self
            .looked_up
            .get_or_try_init(|| async {
                let started = self.auth.store().now();
                let session = match &self.token {
                    None => None,
                    Some(token) => self.auth.store().lookup(token).await?,
                };
                Ok::<_, crate::Error>(LookedUp { session, started })
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
