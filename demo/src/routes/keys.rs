//! API keys: created with a name and an expiry after a fresh sign-in (the key is shown
//! once), listed by their hint, revoked.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use sqlx_sessions::{Filter, NewSession, Status};
use uuid::Uuid;

use crate::csrf::CsrfToken;
use crate::error::AppError;
use crate::routes::account::rate_limit;
use crate::routes::pages::AccountView;
use crate::state::{AppState, FRESH_AUTHENTICATION};
use crate::viewer::{ClientInfo, Viewer};
use crate::views::NewKey;

/// The longest key name.
pub const MAX_NAME_CHARS: usize = 80;

/// The form that creates a key.
#[derive(Debug, serde::Deserialize)]
pub struct CreateKeyForm {
    /// What the key is for.
    pub name: String,
    /// When it expires: `30d`, `90d` or `never` (no default: the owner chooses).
    #[serde(default)]
    pub expires: String,
    /// The sign-in secret, typed again when the session's sign-in is not fresh.
    #[serde(default)]
    pub secret: Option<String>,
}

/// The expiry a key gets for the form's choice, from `now`.
fn key_expiry(
    choice: &str,
    now: time::OffsetDateTime,
) -> Result<Option<time::OffsetDateTime>, AppError> {
    match choice.trim() {
        "30d" => Ok(Some(now + time::Duration::days(30))),
        "90d" => Ok(Some(now + time::Duration::days(90))),
        "never" => Ok(None),
        _ => Err(AppError::BadRequest(
            "Choose when the key expires: in 30 days, in 90 days, or never.",
        )),
    }
}

/// `POST /api-keys`: creates a key and shows the account page with it, once. Needs a fresh
/// sign-in ([`FRESH_AUTHENTICATION`]) or the sign-in secret typed again: a stolen cookie alone
/// mints no key.
pub async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    client: ClientInfo,
    CsrfToken(csrf_token): CsrfToken,
    headers: HeaderMap,
    Form(form): Form<CreateKeyForm>,
) -> Result<Response, AppError> {
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::BadRequest("A key name has 1 to 80 characters."));
    }
    let expires_at = key_expiry(&form.expires, state.api_keys.now())?;
    let mut viewer = viewer;
    if !state
        .sessions()
        .is_fresh(&viewer.session, FRESH_AUTHENTICATION)
    {
        let secret = form.secret.as_deref().unwrap_or("");
        let proved = if secret.trim().is_empty() {
            false
        } else {
            rate_limit(&state, &client)?;
            state
                .db
                .authenticate(&viewer.user.id.to_string(), secret)
                .await?
                .is_some_and(|user| user.id == viewer.user.id)
        };
        let refreshed = match proved {
            true => {
                state
                    .sessions()
                    .mark_authenticated(viewer.session.id)
                    .await?
            }
            false => None,
        };
        let Some(session) = refreshed else {
            let page = AccountView::new(&viewer, csrf_token)
                .notice(REAUTHENTICATE)
                .render(&state, &headers)
                .await?;
            return Ok((StatusCode::FORBIDDEN, page).into_response());
        };
        viewer.session = session;
    }
    let created = state
        .api_keys
        .create(
            NewSession::new()
                .extra("user_id", viewer.user.id.to_string())
                .data(serde_json::json!({ "name": name }))
                .expires_at(expires_at),
        )
        .await?;
    tracing::info!(user_id = %viewer.user.id, key_id = %created.session.id, "API key created");
    let new_key = NewKey {
        name: name.to_owned(),
        token: created.token.into_string(),
    };
    Ok(AccountView::new(&viewer, csrf_token)
        .new_key(new_key)
        .render(&state, &headers)
        .await?
        .into_response())
}

/// What the account page says when a key needs the secret typed again.
pub const REAUTHENTICATE: &str = "To create an API key, confirm it is you: type your sign-in secret (your last sign-in was more than 10 minutes ago).";

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
