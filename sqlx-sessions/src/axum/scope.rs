//! Routes that need a scope: 401 without a valid session or key, 403 with one that lacks
//! the scope.

use std::marker::PhantomData;
use std::ops::Deref;

use axum::extract::FromRequestParts;
use axum::http::header::WWW_AUTHENTICATE;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::extractor::CurrentSession;
use super::rejection::SessionRejection;

/// A scope a route needs, as a type for [`Scoped`]. Declare one with
/// [`required_scope!`](crate::required_scope).
pub trait RequiredScope: Send + Sync + 'static {
    /// The scope (checked with [`Session::has_scope`](crate::Session::has_scope), so
    /// wildcards grant it).
    const SCOPE: &'static str;
}

/// Declares a [`RequiredScope`] type: `required_scope!(pub OrdersRead = "orders:read");`.
#[macro_export]
macro_rules! required_scope {
    ($(#[$meta:meta])* $vis:vis $name:ident = $scope:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default)]
        $vis struct $name;

        impl $crate::axum::RequiredScope for $name {
            const SCOPE: &'static str = $scope;
        }
    };
}

/// The valid session of the request when its scopes grant `S::SCOPE`; otherwise 401 (no
/// valid session, as [`CurrentSession`]) or 403 ([`MissingScope`]: a valid key without
/// the scope).
///
/// ```
/// use sqlx_sessions::axum::Scoped;
/// sqlx_sessions::required_scope!(OrdersRead = "orders:read");
///
/// async fn orders(key: Scoped<OrdersRead>) -> String {
///     format!("orders of {}", key.extra_str("user_id").unwrap_or("?"))
/// }
/// ```
pub struct Scoped<S: RequiredScope> {
    current: CurrentSession,
    scope: PhantomData<fn() -> S>,
}

impl<S: RequiredScope> Scoped<S> {
    /// The request's session, with where its token came from.
    pub fn current(&self) -> &CurrentSession {
        &self.current
    }

    /// The request's session, owned.
    pub fn into_inner(self) -> CurrentSession {
        self.current
    }
}

impl<S: RequiredScope> std::fmt::Debug for Scoped<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scoped")
            .field("scope", &S::SCOPE)
            .field("current", &self.current)
            .finish()
    }
}

impl<S: RequiredScope> Deref for Scoped<S> {
    type Target = crate::Session;

    fn deref(&self) -> &crate::Session {
        self.current.session()
    }
}

impl<S: RequiredScope, St: Send + Sync> FromRequestParts<St> for Scoped<S> {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, SessionRejection> {
        let current = CurrentSession::from_request_parts(parts, state).await?;
        current.require_scope(S::SCOPE)?;
        Ok(Scoped {
            current,
            scope: PhantomData,
        })
    }
}

impl CurrentSession {
    /// `Ok` when the session's scopes grant `scope`, otherwise the 403 to answer with.
    pub fn require_scope(&self, scope: &str) -> Result<(), MissingScope> {
        if self.session().has_scope(scope) {
            Ok(())
        } else {
            Err(MissingScope::new(scope))
        }
    }
}

/// A valid session or key whose scopes do not grant what the route needs: 403 with
/// `WWW-Authenticate: Bearer error="insufficient_scope"` naming the scope (RFC 6750), as
/// the caller is known and may ask for a key that has it.
#[derive(Clone, Debug, thiserror::Error)]
#[error("missing scope `{scope}`")]
pub struct MissingScope {
    scope: String,
}

impl MissingScope {
    /// The 403 of a route that needs `scope` (for checks outside the extractors).
    pub fn new(scope: impl Into<String>) -> Self {
        MissingScope {
            scope: scope.into(),
        }
    }

    /// The scope the route needs.
    pub fn scope(&self) -> &str {
        &self.scope
    }
}

impl IntoResponse for MissingScope {
    fn into_response(self) -> Response {
        // Scopes are letters, digits and `:._-/*`: always a valid header value.
        let challenge = HeaderValue::from_str(&format!(
            "Bearer error=\"insufficient_scope\", scope=\"{}\"",
            self.scope
        ))
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer error=\"insufficient_scope\""));
        (
            StatusCode::FORBIDDEN,
            [(WWW_AUTHENTICATE, challenge)],
            format!("forbidden: this key lacks the scope {}\n", self.scope),
        )
            .into_response()
    }
}
