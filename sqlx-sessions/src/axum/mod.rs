//! axum integration: find the token in a request, look its session up once, and build the
//! session cookie.
//!
//! - [`SessionAuth`] holds a store and says where tokens are read from ([`TokenSource`]:
//!   by default `X-Auth-Token`, then `Authorization: Bearer`, then the `auth_token`
//!   cookie, so a token the client sends itself wins over a cookie someone may have
//!   planted; the order is yours to change) and how the cookie is built ([`CookieConfig`];
//!   [`CookieConfig::host_prefixed`], `__Host-auth_token`, is recommended over HTTPS).
//! - [`SessionLayer`] (from [`SessionAuth::layer`]) reads the token of each request, and
//!   [`CurrentSession`] yields its session, looked up at most once per request however many
//!   extractors ask; `Option<CurrentSession>` is for pages that work signed in or out.
//!   [`CurrentSession::source`] says where the token came from: apply CSRF checks to
//!   cookie requests ([`CurrentSession::is_from_cookie`]), which a browser sends on its own.
//! - Missing, malformed, oversized, unknown, expired and revoked tokens all give the same
//!   401 ([`Unauthenticated`]), and the first three never reach the database; so do two
//!   session cookies in one request, which are refused rather than picked by order. A
//!   failing store gives 503 ([`StoreUnavailable`]).
//! - [`Scoped<S>`](Scoped) needs a scope ([`RequiredScope`], declared with
//!   [`required_scope!`](crate::required_scope)): a request without a valid session or key
//!   gets the 401, a valid one whose scopes do not grant it gets 403 ([`MissingScope`]);
//!   [`CurrentSession::require_scope`] checks a scope chosen at run time.
//! - [`SessionAuth::sign_in_headers`] and [`SessionAuth::sign_out_headers`] set the
//!   cookie on a response with `Cache-Control: no-store`: `HttpOnly`, `SameSite=Lax`,
//!   `Path=/`, `Secure` unless turned off for plain-http development, `Max-Age` from the
//!   session's expiry. Create a new session at every sign-in (never reuse one from before
//!   it), so a planted token gains nothing. The layer also marks `no-store` every response
//!   that sets the session cookie (its own refresh included), so no cache keeps a token.
//! - With feature `access-tokens`, [`AccessClaims`] accepts an access token
//!   (`Authorization: Bearer <jwt>`, verified without the database) and, where
//!   [`AccessAuth::session_fallback`] says so, a session token; both yield the same claims.
//!
//! ```
//! use axum::{Router, response::{IntoResponse, Redirect}, routing::{get, post}};
//! use sqlx_sessions::axum::{CurrentSession, SessionAuth};
//! use sqlx_sessions::{NewSession, SessionStore};
//!
//! async fn me(session: CurrentSession) -> String {
//!     format!("signed in as {}", session.extra_str("user_id").unwrap_or("?"))
//! }
//!
//! async fn home(session: Option<CurrentSession>) -> &'static str {
//!     if session.is_some() { "welcome back" } else { "hello, stranger" }
//! }
//!
//! async fn sign_in(
//!     axum::extract::State(auth): axum::extract::State<SessionAuth>,
//! ) -> Result<impl IntoResponse, axum::http::StatusCode> {
//!     // ...check the user's credentials first...
//!     let created = auth
//!         .store()
//!         .create(NewSession::new().extra("user_id", "42"))
//!         .await
//!         .map_err(|_| axum::http::StatusCode::SERVICE_UNAVAILABLE)?;
//!     Ok((auth.sign_in_headers(&created), Redirect::to("/me")))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
//! let store = SessionStore::builder(pool).build()?;
//! store.migrate().await?;
//! let auth = SessionAuth::new(store).secure_cookies(false)?; // plain http in development
//!
//! let app: Router = Router::new()
//!     .route("/", get(home))
//!     .route("/me", get(me))
//!     .route("/sign-in", post(sign_in))
//!     .layer(auth.layer())
//!     .with_state(auth);
//! # use tower::ServiceExt as _;
//! # let response = app
//! #     .oneshot(axum::http::Request::get("/me").body(axum::body::Body::empty())?)
//! #     .await?;
//! # assert_eq!(response.status(), 401);
//! # Ok(()) }
//! ```

#[cfg(feature = "access-tokens")]
mod access;
mod cookie;
mod extractor;
mod future;
mod layer;
mod rejection;
mod scope;
mod source;

use std::sync::Arc;

use axum::http::HeaderMap;

#[cfg(feature = "access-tokens")]
pub use self::access::{AccessAuth, AccessClaims, ClaimsSource};
pub use self::cookie::{
    CookieConfig, HOST_PREFIX, MAX_COOKIE_AGE, NO_STORE, SECURE_PREFIX, SetSessionCookie,
};
pub use self::extractor::CurrentSession;
pub use self::future::ResponseFuture;
pub use self::layer::{SessionLayer, SessionService};
pub use self::rejection::{
    MissingSessionLayer, SessionRejection, StoreUnavailable, Unauthenticated,
};
pub use self::scope::{MissingScope, RequiredScope, Scoped};
pub use self::source::{MAX_COOKIE_HEADER_BYTES, MAX_TOKEN_BYTES, TokenSource};
/// The cookie type the helpers return (from the `cookie` crate, as `axum-extra` uses).
pub use ::cookie::{Cookie, SameSite};

use crate::error::Result;
use crate::{CreatedSession, Session, SessionStore};

/// A store with the rules for finding its tokens in requests and for its cookie. Cheap to
/// clone; use it as (part of) the router's state and make its [`SessionLayer`].
#[derive(Clone, Debug)]
pub struct SessionAuth {
    inner: Arc<AuthConfig>,
}

#[derive(Clone, Debug)]
struct AuthConfig {
    store: SessionStore,
    sources: Vec<TokenSource>,
    cookie: CookieConfig,
}

impl SessionAuth {
    /// Tokens from `X-Auth-Token`, `Authorization: Bearer`, then the `auth_token` cookie
    /// ([`TokenSource::defaults`]); the default [`CookieConfig`].
    pub fn new(store: SessionStore) -> Self {
        SessionAuth {
            inner: Arc::new(AuthConfig {
                store,
                sources: TokenSource::defaults(),
                cookie: CookieConfig::default(),
            }),
        }
    }

    /// Where tokens are read from, in order (see [`TokenSource`]). An empty list accepts
    /// no request.
    pub fn sources(mut self, sources: impl IntoIterator<Item = TokenSource>) -> Self {
        Arc::make_mut(&mut self.inner).sources = sources.into_iter().collect();
        self
    }

    /// The cookie's settings, refused when [`CookieConfig::validate`] refuses them.
    pub fn cookie_config(mut self, cookie: CookieConfig) -> Result<Self> {
        cookie.validate()?;
        Arc::make_mut(&mut self.inner).cookie = cookie;
        Ok(self)
    }

    /// The cookie name (default `auth_token`), read by [`TokenSource::Cookie`]; a
    /// `__Host-` name needs the attributes its prefix asks for (see
    /// [`CookieConfig::validate`]).
    pub fn cookie_name(self, name: impl Into<std::borrow::Cow<'static, str>>) -> Result<Self> {
        let cookie = self.inner.cookie.clone().name(name);
        self.cookie_config(cookie)
    }

    /// Whether cookies are `Secure` (default true). Turn it off only for plain-http
    /// development (refused with a `__Host-` or `__Secure-` name).
    pub fn secure_cookies(self, secure: bool) -> Result<Self> {
        let cookie = self.inner.cookie.clone().secure(secure);
        self.cookie_config(cookie)
    }

    /// The store.
    pub fn store(&self) -> &SessionStore {
        &self.inner.store
    }

    /// The token sources, in order.
    pub fn token_sources(&self) -> &[TokenSource] {
        &self.inner.sources
    }

    /// The cookie's settings.
    pub fn cookie(&self) -> &CookieConfig {
        &self.inner.cookie
    }

    /// The layer that makes [`CurrentSession`] work on a router.
    pub fn layer(&self) -> SessionLayer {
        SessionLayer::new(self.clone())
    }

    /// The token of a request per the sources, unchecked against the store, or `None` when
    /// absent or malformed. For handlers that decide themselves which store to ask (a
    /// session or an API key, say). Never log it.
    pub fn token_from<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        source::find_token(
            &self.inner.sources,
            self.inner.cookie.cookie_name(),
            headers,
        )
        .map(|found| found.token)
    }

    /// Looks up the session of a request's headers directly, without the layer's
    /// once-per-request cache; `Ok(None)` without a valid one, and no query when the token
    /// is absent or malformed.
    pub async fn lookup(&self, headers: &HeaderMap) -> Result<Option<Session>> {
        match self.token_from(headers) {
            None => Ok(None),
            Some(token) => self.inner.store.lookup(token).await,
        }
    }

    /// The sign-in cookie of a session just created (see [`CookieConfig::sign_in`]). Send
    /// it with `Cache-Control: no-store` ([`NO_STORE`]), or use
    /// [`SessionAuth::sign_in_headers`], which does.
    pub fn sign_in_cookie(&self, created: &CreatedSession) -> Cookie<'static> {
        self.inner.cookie.sign_in(
            created.token.expose(),
            created.session.expires_at,
            self.inner.store.now(),
        )
    }

    /// The sign-out cookie that makes the browser drop the session cookie. Delete the
    /// session too: the cookie alone does not end it.
    pub fn sign_out_cookie(&self) -> Cookie<'static> {
        self.inner.cookie.sign_out()
    }

    /// The response parts of a sign-in: the session cookie of `created` and
    /// `Cache-Control: no-store`, so no cache keeps the token.
    pub fn sign_in_headers(&self, created: &CreatedSession) -> SetSessionCookie {
        SetSessionCookie(self.sign_in_cookie(created))
    }

    /// Rotates the token of `session` ([`SessionStore::rotate`]: same session, data and
    /// `inserted_at`; the old token refused from the moment this returns) and returns the
    /// response parts that give the browser the new token: its cookie, with
    /// `Cache-Control: no-store`. Use it on a privilege change (a re-authentication, a new
    /// role), as OWASP asks. The layer does not refresh the old cookie on a response that
    /// sets this one. `None` when the session is no longer valid (the response should then
    /// sign out).
    ///
    /// ```
    /// use axum::response::IntoResponse;
    /// use sqlx_sessions::axum::{CurrentSession, SessionAuth};
    ///
    /// async fn reauthenticated(
    ///     axum::extract::State(auth): axum::extract::State<SessionAuth>,
    ///     session: CurrentSession,
    /// ) -> axum::response::Response {
    ///     match auth.rotate(&session).await {
    ///         Ok(Some(cookie)) => (cookie, "new token set").into_response(),
    ///         Ok(None) => (auth.sign_out_headers(), "signed out").into_response(),
    ///         Err(_) => axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response(),
    ///     }
    /// }
    /// ```
    pub async fn rotate(&self, session: &Session) -> Result<Option<SetSessionCookie>> {
        let rotated = self.inner.store.rotate(session.id).await?;
        Ok(rotated.map(|created| self.sign_in_headers(&created)))
    }

    /// The response parts of a sign-out: the clearing cookie and `Cache-Control: no-store`.
    pub fn sign_out_headers(&self) -> SetSessionCookie {
        SetSessionCookie(self.sign_out_cookie())
    }
}
