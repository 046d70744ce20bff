//! API keys: created with a name, scopes and an expiry after a fresh sign-in (the key is
//! shown once), listed by their hint, revoked. Suspending, resuming and rolling them are in
//! [`key_life`](super::key_life).

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use sqlx_sessions::{Filter, KeyExpiry, NewSession, Status};
use uuid::Uuid;

use crate::csrf::CsrfToken;
use crate::error::AppError;
use crate::routes::account::rate_limit;
use crate::routes::key_api::{ME_READ, SESSIONS_WRITE};
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
    /// When it expires: `30d`, `90d`, `date` (then [`CreateKeyForm::expires_on`]) or
    /// `never` (no default: the owner chooses).
    #[serde(default)]
    pub expires: String,
    /// The day it expires, `YYYY-MM-DD`, with `expires=date`.
    #[serde(default)]
    pub expires_on: String,
    /// Grants `me:read` (`GET /api/me`) when present.
    #[serde(default)]
    pub scope_me_read: Option<String>,
    /// Grants `sessions:write` (`POST /api/sessions/revoke`) when present.
    #[serde(default)]
    pub scope_sessions_write: Option<String>,
    /// The sign-in secret, typed again when the session's sign-in is not fresh.
    #[serde(default)]
    pub secret: Option<String>,
}

/// The expiry a key gets for the form's choice; a date must lie ahead of `now`.
fn key_expiry(form: &CreateKeyForm, now: time::OffsetDateTime) -> Result<KeyExpiry, AppError> {
    let refused = AppError::BadRequest(
        "Choose when the key expires: in 30 days, in 90 days, on a date to come, or never.",
    );
    match form.expires.trim() {
        "30d" | "90d" | "never" => form.expires.trim().parse().map_err(|_| refused),
        "date" => match form.expires_on.trim().parse() {
            Ok(KeyExpiry::At(at)) if at > now => Ok(KeyExpiry::At(at)),
            _ => Err(refused),
        },
        _ => Err(refused),
    }
}

/// The scopes the form grants: at least one.
fn key_scopes(form: &CreateKeyForm) -> Result<Vec<&'static str>, AppError> {
    let mut scopes = Vec::new();
    if form.scope_me_read.is_some() {
        scopes.push(ME_READ);
    }
    if form.scope_sessions_write.is_some() {
        scopes.push(SESSIONS_WRITE);
    }
    if scopes.is_empty() {
        return Err(AppError::BadRequest(
            "Choose what the key may do: at least one scope.",
        ));
    }
    Ok(scopes)
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
    let expiry = key_expiry(&form, state.api_keys.now())?;
    let scopes = key_scopes(&form)?;
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
                .scopes(scopes)
                .expiry(expiry),
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
