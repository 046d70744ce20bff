//! An API key's lifecycle on the account page: suspend, resume, and roll to a new key
//! (shown once) while the old one works for a grace period. Only the owner's own keys.

use axum::Form;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use sqlx_sessions::Filter;
use uuid::Uuid;

use crate::csrf::CsrfToken;
use crate::error::AppError;
use crate::routes::pages::AccountView;
use crate::state::AppState;
use crate::viewer::Viewer;
use crate::views::NewKey;

/// The form of the key buttons.
#[derive(Debug, serde::Deserialize)]
pub struct KeyForm {
    /// The key's id.
    pub key_id: String,
    /// How long the old key of a roll keeps working: `0`, `1h` or `24h` (default `1h`).
    #[serde(default)]
    pub grace: Option<String>,
}

/// The id of one of the viewer's keys, or 404-like refusal for anyone else's.
async fn own_key(state: &AppState, viewer: &Viewer, form: &KeyForm) -> Result<Uuid, AppError> {
    let id =
        Uuid::parse_str(form.key_id.trim()).map_err(|_| AppError::BadRequest("Not a key id."))?;
    let mine = Filter::new()
        .id(id)
        .eq("user_id", viewer.user.id.to_string());
    if state.api_keys.count(&mine).await? == 0 {
        return Err(AppError::BadRequest("No such key."));
    }
    Ok(id)
}

/// `POST /api-keys/suspend`: the key is refused until resumed.
pub async fn suspend(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<KeyForm>,
) -> Result<Response, AppError> {
    set_suspended(&state, &viewer, &form, true).await
}

/// `POST /api-keys/resume`: the key works again, with everything it had.
pub async fn resume(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<KeyForm>,
) -> Result<Response, AppError> {
    set_suspended(&state, &viewer, &form, false).await
}

async fn set_suspended(
    state: &AppState,
    viewer: &Viewer,
    form: &KeyForm,
    suspend: bool,
) -> Result<Response, AppError> {
    let id = own_key(state, viewer, form).await?;
    if suspend {
        state.api_keys.suspend(id).await?;
    } else {
        state.api_keys.resume(id).await?;
    }
    tracing::info!(user_id = %viewer.user.id, key_id = %id, suspend, "API key suspension set");
    Ok(Redirect::to("/account").into_response())
}

/// `POST /api-keys/roll`: a new key with the same name and scopes, shown once; the old one
/// works for the chosen grace period.
pub async fn roll(
    State(state): State<AppState>,
    viewer: Viewer,
    CsrfToken(csrf_token): CsrfToken,
    headers: HeaderMap,
    Form(form): Form<KeyForm>,
) -> Result<Response, AppError> {
    let grace = match form.grace.as_deref().map(str::trim) {
        Some("0") => time::Duration::ZERO,
        None | Some("1h") => time::Duration::hours(1),
        Some("24h") => time::Duration::hours(24),
        Some(_) => return Err(AppError::BadRequest("Choose a grace period: 0, 1h or 24h.")),
    };
    let id = own_key(&state, &viewer, &form).await?;
    let Some(rolled) = state.api_keys.roll(id, grace).await? else {
        return Err(AppError::BadRequest(
            "Only an active key that was not rolled already can be rolled.",
        ));
    };
    tracing::info!(user_id = %viewer.user.id, old = %id, new = %rolled.session.id, "API key rolled");
    let new_key = NewKey {
        name: rolled
            .session
            .data
            .get_str("name")
            .unwrap_or_else(|| "unnamed".into()),
        token: rolled.token.into_string(),
    };
    Ok(AccountView::new(&viewer, csrf_token)
        .new_key(new_key)
        .render(&state, &headers)
        .await?
        .into_response())
}
