//! The response future of [`SessionService`](super::SessionService): refreshes the cookie
//! of a session the request extended, and keeps every response that sets the session
//! cookie out of caches.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::http::header::SET_COOKIE;
use axum::http::{HeaderValue, Response};

use super::cookie::{no_store_if_it_sets, sets_cookie};
use super::extractor::RequestSession;
use super::source::TokenSource;

pin_project_lite::pin_project! {
    /// The response future of [`SessionService`](super::SessionService).
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        request: Arc<RequestSession>,
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, request: Arc<RequestSession>) -> Self {
        ResponseFuture { inner, request }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        refresh_cookie(this.request, &mut response);
        no_store_if_it_sets(
            this.request.auth().cookie().cookie_name(),
            response.headers_mut(),
        );
        Poll::Ready(Ok(response))
    }
}

/// Re-sends the cookie with a new `Max-Age` when the request's lookup extended the session
/// (the store says so: it counted the row its `UPDATE` wrote), the token came from the
/// cookie, and the handler did not set the cookie.
fn refresh_cookie<B>(request: &RequestSession, response: &mut Response<B>) {
    let (Some(token), Some(looked_up)) = (request.token(), request.looked_up()) else {
        return;
    };
    let Some(session) = &looked_up.session else {
        return;
    };
    let from_cookie = request.source.as_ref().is_some_and(TokenSource::is_cookie);
    if !from_cookie || session.is_expired || !looked_up.extended {
        return;
    }
    let config = request.auth().cookie();
    let name = config.cookie_name();
    if response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .any(|v| sets_cookie(v.as_bytes(), name))
    {
        return;
    }
    let cookie = config.sign_in(token, session.expires_at, request.auth().store().now());
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(SET_COOKIE, value);
    }
}
