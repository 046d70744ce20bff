//! Why a request got no session: one type per failure, each with its own status.

use axum::http::StatusCode;
use axum::http::header::WWW_AUTHENTICATE;
use axum::response::{IntoResponse, Response};

use crate::Error;
use crate::error::error_chain;

/// No valid session: 401 with a short body that does not say why (missing, malformed,
/// unknown, expired and revoked tokens all look the same).
#[derive(Clone, Copy, Debug, Default, thiserror::Error)]
#[error("unauthorized")]
#[non_exhaustive]
pub struct Unauthenticated;

impl IntoResponse for Unauthenticated {
    fn into_response(self) -> Response {
        (
            StatusCode::UNAUTHORIZED,
            [(WWW_AUTHENTICATE, "Bearer")],
            "unauthorized\n",
        )
            .into_response()
    }
}

/// The store failed while looking the session up (the database is down, say): 503. The
/// error is logged with its sources when the response is made; the client sees none of it.
#[derive(Debug, thiserror::Error)]
#[error("the session store is unavailable")]
pub struct StoreUnavailable(#[source] pub(crate) Error);

impl StoreUnavailable {
    /// The store's error.
    pub fn error(&self) -> &Error {
        &self.0
    }

    /// The store's error, owned.
    pub fn into_error(self) -> Error {
        self.0
    }
}

impl IntoResponse for StoreUnavailable {
    fn into_response(self) -> Response {
        tracing::error!(error = %error_chain(&self.0), "session lookup failed");
        (StatusCode::SERVICE_UNAVAILABLE, "service unavailable\n").into_response()
    }
}

/// A session extractor ran on a route without [`SessionLayer`](super::SessionLayer): a
/// mistake in the application's router, answered with 500.
#[derive(Clone, Copy, Debug, Default, thiserror::Error)]
#[error("the session extractor needs `SessionLayer` on the router")]
#[non_exhaustive]
pub struct MissingSessionLayer;

impl IntoResponse for MissingSessionLayer {
    fn into_response(self) -> Response {
        tracing::error!("{self}");
        (StatusCode::INTERNAL_SERVER_ERROR, "internal server error\n").into_response()
    }
}

/// The rejection of [`CurrentSession`](super::CurrentSession) and of
/// `Option<CurrentSession>` (which never rejects with [`Unauthenticated`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionRejection {
    /// No valid session (401).
    #[error(transparent)]
    Unauthenticated(#[from] Unauthenticated),
    /// The store failed (503).
    #[error(transparent)]
    StoreUnavailable(#[from] StoreUnavailable),
    /// The router lacks the layer (500).
    #[error(transparent)]
    MissingSessionLayer(#[from] MissingSessionLayer),
    /// A valid session without the scope the route needs (403).
    #[error(transparent)]
    MissingScope(#[from] super::MissingScope),
}

impl SessionRejection {
    /// The status of the response this rejection becomes.
    pub fn status(&self) -> StatusCode {
        match self {
            SessionRejection::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            SessionRejection::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            SessionRejection::MissingSessionLayer(_) => StatusCode::INTERNAL_SERVER_ERROR,
            SessionRejection::MissingScope(_) => StatusCode::FORBIDDEN,
        }
    }
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        match self {
            SessionRejection::Unauthenticated(r) => r.into_response(),
            SessionRejection::StoreUnavailable(r) => r.into_response(),
            SessionRejection::MissingSessionLayer(r) => r.into_response(),
            SessionRejection::MissingScope(r) => r.into_response(),
        }
    }
}
