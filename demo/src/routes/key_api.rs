//! The API that needs a key's scopes: `POST /api/sessions/revoke` (`sessions:write`)
//! signs the key owner's browsers out; `GET /api/me` asks keys for `me:read`. A valid key
//! without the scope gets 403, a missing or refused one 401.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde_json::{Value, json};
use sqlx_sessions::Filter;
use sqlx_sessions::axum::Scoped;
use uuid::Uuid;

use crate::error::{ApiError, AppError};
use crate::state::AppState;

/// Reads the key owner's profile (`GET /api/me`).
pub const ME_READ: &str = "me:read";
/// Signs the key owner's browser sessions out (`POST /api/sessions/revoke`).
pub const SESSIONS_WRITE: &str = "sessions:write";
/// The scopes a demo key may have, with what each allows, as the account page offers them.
pub const SCOPES: [(&str, &str); 2] = [
    (ME_READ, "read your profile: GET /api/me"),
    (
        SESSIONS_WRITE,
        "sign your browsers out: POST /api/sessions/revoke",
    ),
];

sqlx_sessions::required_scope!(
    /// The scope of `POST /api/sessions/revoke`.
    pub SessionsWrite = "sessions:write"
);

/// What `POST /api/sessions/revoke` takes: one session's id, or nothing for all of them.
#[derive(Debug, Default, serde::Deserialize)]
pub struct RevokeSessions {
    /// The browser session to sign out (its id on the account page); all when absent.
    pub session_id: Option<Uuid>,
}

/// `POST /api/sessions/revoke` with a key granting `sessions:write` in `X-Auth-Token` (or
/// `Authorization: Bearer`): expires the key owner's browser session `session_id`, or all
/// of them with an empty body, and answers `{"revoked": n}`.
pub async fn revoke_sessions(
    State(state): State<AppState>,
    key: Scoped<SessionsWrite>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request: RevokeSessions = if body.iter().all(u8::is_ascii_whitespace) {
        RevokeSessions::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|_| AppError::BadRequest("Send {\"session_id\": \"...\"} or nothing."))?
    };
    let Some(user) = key.extra_str("user_id") else {
        return Err(AppError::BadRequest("This key has no owner.").into());
    };
    let mut filter = Filter::new().eq("user_id", user);
    if let Some(id) = request.session_id {
        filter = filter.id(id);
    }
    let revoked = state.sessions().expire_all(&filter).await?;
    tracing::info!(user_id = %user, key_id = %key.id, revoked = revoked.len(), "sessions revoked by an API key");
    Ok(Json(json!({ "revoked": revoked.len() })))
}
