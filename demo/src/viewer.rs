//! Who is asking: the signed-in user and their session, and what their browser says.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, OptionalFromRequestParts};
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;
use sqlx_sessions::Session;
use sqlx_sessions::axum::CurrentSession;

use crate::db::User;
use crate::error::AppError;
use crate::state::AppState;

/// A signed-in user and the session of this request. Without one, pages send the browser
/// back to `/` ([`AppError::SignInRequired`]); `Option<Viewer>` is for pages that work
/// either way.
#[derive(Clone, Debug)]
pub struct Viewer {
    /// This request's session.
    pub session: Session,
    /// Its user.
    pub user: User,
}

async fn viewer(parts: &mut Parts, state: &AppState) -> Result<Option<Viewer>, AppError> {
    let session =
        <CurrentSession as OptionalFromRequestParts<AppState>>::from_request_parts(parts, state)
            .await?;
    let Some(session) = session.map(CurrentSession::into_inner) else {
        return Ok(None);
    };
    let Some(user_id) = session
        .extra_str("user_id")
        .and_then(|id| uuid::Uuid::parse_str(id).ok())
    else {
        return Ok(None);
    };
    Ok(state
        .db
        .find_user(user_id)
        .await?
        .map(|user| Viewer { session, user }))
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        viewer(parts, state).await?.ok_or(AppError::SignInRequired)
    }
}

impl OptionalFromRequestParts<AppState> for Viewer {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, AppError> {
        viewer(parts, state).await
    }
}

/// The browser's user agent and address, kept in the session's data at sign-in.
#[derive(Clone, Debug)]
pub struct ClientInfo {
    /// The `User-Agent` header (at most 300 characters), or `unknown`.
    pub user_agent: String,
    /// The peer address, or `unknown` (no proxy headers are trusted).
    pub ip: String,
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(300).collect())
            .unwrap_or_else(|| "unknown".to_owned());
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string());
        Ok(ClientInfo { user_agent, ip })
    }
}
