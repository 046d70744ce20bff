//! The layer that gives every request of a router its (lazily looked-up) session.

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::SessionAuth;
use super::extractor::{RequestSession, RequestSessionHandle};
use super::future::ResponseFuture;
use super::source::find_token;

/// A tower layer that reads each request's token (without a query) and leaves it in the
/// request's extensions for [`CurrentSession`](super::CurrentSession).
///
/// The lookup happens at most once per request, when the first extractor asks, so routes
/// that never ask (static files, health checks) cost no query. When a session that came
/// from the cookie is extended by that lookup, the response refreshes the cookie's
/// `Max-Age`, unless the handler set the cookie itself (at sign-in or sign-out). Every
/// response that sets the session cookie, the layer's or the handler's, gets
/// `Cache-Control: no-store`, so no cache keeps a token.
#[derive(Clone, Debug)]
pub struct SessionLayer {
    auth: SessionAuth,
}

impl SessionLayer {
    /// A layer for `auth`'s store and settings.
    pub fn new(auth: SessionAuth) -> Self {
        SessionLayer { auth }
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> SessionService<S> {
        SessionService {
            inner,
            auth: self.auth.clone(),
        }
    }
}

/// The service of [`SessionLayer`].
#[derive(Clone, Debug)]
pub struct SessionService<S> {
    inner: S,
    auth: SessionAuth,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let found = find_token(
            self.auth.token_sources(),
            self.auth.cookie().cookie_name(),
            req.headers(),
        );
        let (token, source) = match found {
            Some(f) => (Some(f.token.to_owned()), Some(f.source.clone())),
            None => (None, None),
        };
        let request = Arc::new(RequestSession::new(self.auth.clone(), token, source));
        req.extensions_mut()
            .insert(RequestSessionHandle(request.clone()));
        ResponseFuture::new(self.inner.call(req), request)
    }
}
