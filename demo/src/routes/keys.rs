//! API keys: created with a name (the key is shown once), listed by their hint, revoked.

use axum::Form;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};
use sqlx_sessions::{Filter, NewSession, Status};
use uuid::Uuid;

use crate::csrf::CsrfToken;
use crate::error::AppError;
use crate::routes::pages::render_account;
use crate::state::AppState;
use crate::viewer::Viewer;
use crate::views::NewKey;

/// The longest key name.
pub const MAX_NAME_CHARS: usize = 80;

/// The form that creates a key.
#[derive(Debug, serde::Deserialize)]
pub struct CreateKeyForm {
    /// What the key is for.
    pub name: String,
}

/// `POST /api-keys`: creates a key and shows the account page with it, once.
pub async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    CsrfToken(csrf_token): CsrfToken,
    headers: HeaderMap,
    Form(form): Form<CreateKeyForm>,
) -> Result<Html<String>, AppError> {
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::BadRequest("A key name has 1 to 80 characters."));
    }
    let created = state
        .api_keys
        .create(
            NewSession::new()
                .extra("user_id", viewer.user.id.to_string())
                .data(serde_json::json!({ "name": name })),
        )
        .await?;
    tracing::info!(user_id = viewer.user.id, key_id = %created.session.id, "API key created");
    let new_key = NewKey {
        name: name.to_owned(),
        token: created.token.into_string(),
    };
    render_account(&state, &viewer, csrf_token, &headers, Some(new_key)).await
}

/// The form that revokes a key.
#[derive(Debug, serde::Deserialize)]
pub struct RevokeKeyForm {
    /// The key's id.
    pub key_id: String,
}

/// `POST /api-keys/revoke`: deletes one of the user's keys.
pub async fn revoke(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<RevokeKeyForm>,
) -> Result<Response, AppError> {
    let id =
        Uuid::parse_str(form.key_id.trim()).map_err(|_| AppError::BadRequest("Not a key id."))?;
    let filter = Filter::new()
        .id(id)
        .eq("user_id", viewer.user.id.to_string())
        .status(Status::All);
    state.api_keys.delete_all(&filter).await?;
    Ok(Redirect::to("/account").into_response())
}
