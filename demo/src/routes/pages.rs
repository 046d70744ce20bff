//! `GET /`, `GET /account`, `GET /stats` and the stylesheet.

use askama::Template as _;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use sqlx_sessions::{Filter, SessionStore, Status};

use crate::csrf::CsrfToken;
use crate::error::AppError;
use crate::state::AppState;
use crate::viewer::Viewer;
use crate::views::{
    AccountPage, CacheCard, Counts, DeviceRow, IndexPage, KeyRow, NewKey, StatsPage, when,
};

/// `GET /`: sign up, or sign in by user id.
pub async fn index(
    viewer: Option<Viewer>,
    CsrfToken(csrf_token): CsrfToken,
) -> Result<Html<String>, AppError> {
    render_index(viewer.map(|v| v.user.id), csrf_token, None)
}

/// The home page with an optional error message.
pub fn render_index(
    user_id: Option<i64>,
    csrf_token: String,
    error: Option<String>,
) -> Result<Html<String>, AppError> {
    Ok(Html(
        IndexPage {
            csrf_token,
            user_id,
            error,
        }
        .render()?,
    ))
}

/// `GET /account`: devices and API keys.
pub async fn account(
    State(state): State<AppState>,
    viewer: Viewer,
    CsrfToken(csrf_token): CsrfToken,
    headers: HeaderMap,
) -> Result<Html<String>, AppError> {
    render_account(&state, &viewer, csrf_token, &headers, None).await
}

/// The account page, with a key just created when there is one.
pub async fn render_account(
    state: &AppState,
    viewer: &Viewer,
    csrf_token: String,
    headers: &HeaderMap,
    new_key: Option<NewKey>,
) -> Result<Html<String>, AppError> {
    let mine = Filter::new()
        .eq("user_id", viewer.user.id.to_string())
        .status(Status::All);
    let devices = state.sessions().list(&mine).await?;
    let keys = state.api_keys.list(&mine).await?;
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:4000");
    let scheme = if state.auth.cookie().is_secure() {
        "https"
    } else {
        "http"
    };
    let page = AccountPage {
        csrf_token,
        user_id: viewer.user.id,
        member_since: when(viewer.user.created_at),
        devices: devices
            .iter()
            .map(|s| DeviceRow::new(s, viewer.session.id))
            .collect(),
        keys: keys.iter().map(KeyRow::new).collect(),
        new_key,
        base_url: format!("{scheme}://{host}"),
    };
    Ok(Html(page.render()?))
}

/// `GET /stats`: users, and total, active and expired sessions and API keys.
pub async fn stats(
    State(state): State<AppState>,
    viewer: Option<Viewer>,
) -> Result<Html<String>, AppError> {
    let page = StatsPage {
        user_id: viewer.map(|v| v.user.id),
        users: state.db.count_users().await?,
        sessions: counts(state.sessions()).await?,
        api_keys: counts(&state.api_keys).await?,
        caches: [
            ("Sessions", "cache-sessions", state.sessions()),
            ("API keys", "cache-keys", &state.api_keys),
        ]
        .into_iter()
        .filter_map(|(name, id, store)| {
            store
                .cache_stats()
                .map(|stats| CacheCard { name, id, stats })
        })
        .collect(),
    };
    Ok(Html(page.render()?))
}

async fn counts(store: &SessionStore) -> Result<Counts, AppError> {
    Ok(Counts {
        total: store.count(&Filter::new().status(Status::All)).await?,
        active: store.count(&Filter::new().status(Status::Valid)).await?,
        expired: store.count(&Filter::new().status(Status::Expired)).await?,
    })
}

/// `GET /static/app.css`.
pub async fn stylesheet() -> Response {
    (
        StatusCode::OK,
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/app.css"),
    )
        .into_response()
}

/// Any other path.
pub async fn not_found() -> AppError {
    AppError::NotFound
}
