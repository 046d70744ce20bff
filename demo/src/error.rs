//! Every failure of a request becomes a response here, and only here: the client sees a
//! status and a short message, the log sees the error with its sources.

use askama::Template as _;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use sqlx_sessions::axum::SessionRejection;

use crate::views::ErrorPage;

/// What can go wrong while serving a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The page needs a signed-in user: sent back to `/`.
    #[error("sign-in required")]
    SignInRequired,
    /// A form post without a valid CSRF token.
    #[error("missing or invalid CSRF token")]
    Forbidden,
    /// No such thing (of this user's).
    #[error("not found")]
    NotFound,
    /// Input that cannot be used; the message is shown to the user.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// A `Host` the app does not answer to (DNS rebinding, or a missing allow-list entry).
    #[error("host not allowed")]
    MisdirectedHost,
    /// Too many sign-in attempts from this address: 429.
    #[error("too many sign-in attempts")]
    TooManyRequests,
    /// A form body that did not arrive in time (the server's body read timeout): 408.
    #[error("request body timed out")]
    RequestTimeout,
    /// A form body over the limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// The sessions library refused or failed (a database outage is 503).
    #[error("session store error")]
    Sessions(#[from] sqlx_sessions::Error),
    /// The demo's own tables failed (the database is down, say): 503.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// A mistake in the app itself (such as a missing layer).
    #[error("internal error: {0}")]
    Internal(String),
    /// A template failed to render.
    #[error("template error")]
    Template(#[from] askama::Error),
}

impl From<SessionRejection> for AppError {
    fn from(rejection: SessionRejection) -> Self {
        match rejection {
            SessionRejection::Unauthenticated(_) => AppError::SignInRequired,
            SessionRejection::StoreUnavailable(e) => AppError::Sessions(e.into_error()),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl AppError {
    /// The status and the short, safe message of this error.
    pub fn status_and_message(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::SignInRequired => (StatusCode::UNAUTHORIZED, "Please sign in."),
            AppError::Forbidden => (
                StatusCode::FORBIDDEN,
                "This form has expired or was not sent by this site. Go back, reload the page and try again.",
            ),
            AppError::NotFound => (StatusCode::NOT_FOUND, "Not found."),
            AppError::BadRequest(message) => (StatusCode::BAD_REQUEST, message),
            AppError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "Request too large."),
            AppError::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "The request took too long."),
            AppError::MisdirectedHost => (
                StatusCode::MISDIRECTED_REQUEST,
                "This server does not answer to that host name (see --allowed-host).",
            ),
            AppError::TooManyRequests => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many sign-in attempts. Wait a minute and try again.",
            ),
            AppError::Sessions(e) if !e.is_database() => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side.",
            ),
            AppError::Sessions(_) | AppError::Database(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "The database is unavailable right now. Please try again in a moment.",
            ),
            AppError::Template(_) | AppError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side.",
            ),
        }
    }

    fn log(&self) {
        let (status, _) = self.status_and_message();
        if status.is_server_error() {
            tracing::error!(error = %error_chain(self), status = status.as_u16(), "request failed");
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::SignInRequired = self {
            return Redirect::to("/").into_response();
        }
        self.log();
        let (status, message) = self.status_and_message();
        let page = ErrorPage {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("Error"),
            message,
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, message).into_response(),
        }
    }
}

/// An [`AppError`] answered as JSON, for the API.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(error: E) -> Self {
        ApiError(error.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.log();
        let (status, message) = self.0.status_and_message();
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}

/// The error of a request body that could not be read: 408 when the body read timed out,
/// otherwise 413 (over the limit).
pub fn body_error(error: &axum::Error) -> AppError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return AppError::RequestTimeout;
        }
        source = e.source();
    }
    AppError::PayloadTooLarge
}

/// An error with its sources, `a: b: c` (the library's helper, for every error here).
pub use sqlx_sessions::error_chain;
