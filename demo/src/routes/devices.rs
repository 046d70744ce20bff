//! Changing a device in place: renaming it (`SessionStore::update`) and re-authenticating
//! on it, which gives the session a new token (`SessionAuth::rotate`).

use axum::Form;
use axum::extract::State;
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use sqlx_sessions::SessionUpdate;

use crate::error::AppError;
use crate::flash::Flash;
use crate::routes::account::{SessionForm, own, rate_limit, session_id};
use crate::state::AppState;
use crate::viewer::{ClientInfo, Viewer};

/// The longest device name.
pub const MAX_DEVICE_NAME_CHARS: usize = 40;

/// The form that renames a device.
#[derive(Debug, serde::Deserialize)]
pub struct RenameForm {
    /// The session; none means this one.
    #[serde(flatten)]
    pub session: SessionForm,
    /// The new name (empty: back to the name the user agent gives).
    #[serde(default)]
    pub name: String,
}

/// `POST /rename-session`: names one of the user's valid sessions (kept in its data, merged
/// in one statement, so nothing else in the data is lost).
pub async fn rename(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<RenameForm>,
) -> Result<Response, AppError> {
    let id = session_id(&form.session, &viewer)?;
    let name = form.name.trim();
    if name.chars().count() > MAX_DEVICE_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AppError::BadRequest(
            "A device name has at most 40 characters.",
        ));
    }
    if state.sessions().count(&own(&viewer, id)).await? == 0 {
        return Err(AppError::BadRequest(
            "That device is not one of your signed-in devices.",
        ));
    }
    let change = if name.is_empty() {
        SessionUpdate::new().remove("name")
    } else {
        SessionUpdate::new().set("name", name)
    };
    state.sessions().update(id, change).await?;
    Ok(flashed(Flash::Renamed, None))
}

/// The form of "confirm it is you".
#[derive(Debug, serde::Deserialize)]
pub struct ReauthenticateForm {
    /// The sign-in secret.
    #[serde(default)]
    pub secret: String,
}

/// `POST /reauthenticate`: the sign-in secret typed again. The session is marked freshly
/// authenticated and gets a new token (its cookie replaced; the old token stops working),
/// as OWASP asks on a privilege change. Rate-limited like sign-in.
pub async fn reauthenticate(
    State(state): State<AppState>,
    viewer: Viewer,
    client: ClientInfo,
    Form(form): Form<ReauthenticateForm>,
) -> Result<Response, AppError> {
    rate_limit(&state, &client)?;
    let proved = state
        .db
        .authenticate(&viewer.user.id.to_string(), &form.secret)
        .await?
        .is_some_and(|user| user.id == viewer.user.id);
    if !proved {
        return Ok(flashed(Flash::WrongSecret, None));
    }
    let Some(session) = state
        .sessions()
        .mark_authenticated(viewer.session.id)
        .await?
    else {
        return Err(AppError::SignInRequired);
    };
    let Some(cookie) = state.auth.rotate(&session).await? else {
        return Err(AppError::SignInRequired);
    };
    tracing::info!(user_id = %viewer.user.id, session_id = %session.id, "re-authenticated, token rotated");
    Ok(flashed(Flash::Reauthenticated, Some(cookie)))
}

/// Back to `/account` with `flash`, and the new session cookie when there is one.
fn flashed(flash: Flash, cookie: Option<sqlx_sessions::axum::SetSessionCookie>) -> Response {
    let redirect = (AppendHeaders([flash.set()]), Redirect::to("/account"));
    match cookie {
        Some(cookie) => (cookie, redirect).into_response(),
        None => redirect.into_response(),
    }
}
