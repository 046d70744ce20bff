//! `GET /`, `GET /account`, `GET /stats` and the stylesheet.

use askama::Template as _;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use sqlx_sessions::{Filter, SessionStore, Status};
use uuid::Uuid;

use axum::response::AppendHeaders;

use crate::csrf::CsrfToken;
use crate::error::AppError;
use crate::flash::{Flash, last_user};
use crate::state::{AppState, FRESH_AUTHENTICATION};
use crate::viewer::Viewer;
use crate::views::{
    AccountPage, CacheCard, Counts, DeviceRow, IndexPage, KeyRow, NewKey, StatsPage, when,
};

/// `GET /`: sign up, or sign in with the user id and sign-in secret (the id pre-filled with
/// the last one signed in here), and the message of the last action, once.
pub async fn index(
    viewer: Option<Viewer>,
    CsrfToken(csrf_token): CsrfToken,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let flash = Flash::read(&headers);
    let page = render_index(
        viewer.map(|v| v.user.id),
        csrf_token,
        None,
        flash,
        last_user(&headers),
    )?;
    Ok(with_flash_cleared(flash, page))
}

/// The home page with an optional error message, the message of the last action and the
/// user id to pre-fill.
pub fn render_index(
    user_id: Option<Uuid>,
    csrf_token: String,
    error: Option<String>,
    flash: Option<Flash>,
    last_user_id: Option<Uuid>,
) -> Result<Html<String>, AppError> {
    Ok(Html(
        IndexPage {
            csrf_token,
            user_id,
            error,
            flash,
            last_user_id,
        }
        .render()?,
    ))
}

/// `page`, clearing the message cookie when it showed one.
fn with_flash_cleared(flash: Option<Flash>, page: Html<String>) -> Response {
    match flash {
        Some(_) => (AppendHeaders([Flash::clear()]), page).into_response(),
        None => page.into_response(),
    }
}

/// `GET /account`: devices and API keys.
pub async fn account(
    State(state): State<AppState>,
    viewer: Viewer,
    CsrfToken(csrf_token): CsrfToken,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let page = AccountView::new(&viewer, csrf_token)
        .render(&state, &headers)
        .await?;
    Ok(with_flash_cleared(Flash::read(&headers), page))
}

/// The account page of one request, with what it shows besides the devices and keys.
#[derive(Debug)]
pub struct AccountView<'a> {
    viewer: &'a Viewer,
    csrf_token: String,
    new_key: Option<NewKey>,
    notice: Option<&'static str>,
}

impl<'a> AccountView<'a> {
    /// The page of `viewer`, its forms carrying `csrf_token`.
    pub fn new(viewer: &'a Viewer, csrf_token: String) -> Self {
        AccountView {
            viewer,
            csrf_token,
            new_key: None,
            notice: None,
        }
    }

    /// Shows a key just created, once.
    pub fn new_key(mut self, key: NewKey) -> Self {
        self.new_key = Some(key);
        self
    }

    /// Shows a message about the last form.
    pub fn notice(mut self, message: &'static str) -> Self {
        self.notice = Some(message);
        self
    }

    /// Renders the page.
    pub async fn render(
        self,
        state: &AppState,
        headers: &HeaderMap,
    ) -> Result<Html<String>, AppError> {
        let viewer = self.viewer;
        let mine = Filter::new()
            .eq("user_id", viewer.user.id.to_string())
            .status(Status::All);
        let devices = state.sessions().list(&mine).await?;
        let keys = state.api_keys.list(&mine).await?;
        // The `Host` was checked against the allow-list before the request got here.
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
            csrf_token: self.csrf_token,
            user_id: viewer.user.id,
            member_since: when(viewer.user.created_at),
            devices: devices
                .iter()
                .map(|s| DeviceRow::new(s, viewer.session.id))
                .collect(),
            keys: keys
                .iter()
                .map(|k| KeyRow::new(k, state.api_keys.pending_uses(k.id)))
                .collect(),
            new_key: self.new_key,
            notice: self.notice,
            needs_secret: !state
                .sessions()
                .is_fresh(&viewer.session, FRESH_AUTHENTICATION),
            base_url: format!("{scheme}://{host}"),
            flash: Flash::read(headers),
        };
        Ok(Html(page.render()?))
    }
}

/// `GET /stats`: users, and total, active and expired sessions and API keys. For signed-in
/// users only: the counts show when people sign up and sign in, which an anonymous visitor
/// has no need to watch.
pub async fn stats(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Html<String>, AppError> {
    let page = StatsPage {
        user_id: viewer.user.id,
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

/// `GET /static/app.css`: public and cacheable, so outside the session and CSRF layers (no
/// cookie is set or refreshed on it).
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
