//! `GET /api/me`: who a token belongs to, for session tokens and API keys (with `me:read`)
//! alike.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sqlx_sessions::axum::MissingScope;
use time::format_description::well_known::Rfc3339;

use crate::error::ApiError;
use crate::routes::key_api::ME_READ;
use crate::state::{API_KEY_PREFIX, AppState};

/// `GET /api/me` with `X-Auth-Token` (or `Authorization: Bearer`): `{"is_logged_in": true,
/// "user": {...}, "session": {...}}`, or `{"is_logged_in": false}` for a missing, malformed,
/// unknown, expired or revoked token. API keys are told apart by their prefix.
pub async fn me(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let anonymous = Json(json!({ "is_logged_in": false })).into_response();
    let Some(token) = state.api_auth.token_from(&headers) else {
        return Ok(anonymous);
    };
    let (kind, store) = if token.starts_with(API_KEY_PREFIX) {
        ("api_key", &state.api_keys)
    } else {
        ("session", state.sessions())
    };
    let Some(session) = store.lookup(token).await? else {
        return Ok(anonymous);
    };
    // A valid key that lacks `me:read`: 403 (browser sessions carry no scopes).
    if kind == "api_key" && !session.has_scope(ME_READ) {
        return Ok(MissingScope::new(ME_READ).into_response());
    }
    let Some(user) = session.extra_str("user_id").and_then(|id| id.parse().ok()) else {
        return Ok(anonymous);
    };
    let Some(user) = state.db.find_user(user).await? else {
        return Ok(anonymous);
    };
    let time = |t: Option<time::OffsetDateTime>| t.and_then(|t| t.format(&Rfc3339).ok());
    let mut about = json!({
        "id": session.id,
        "kind": kind,
        "inserted_at": time(Some(session.inserted_at)),
        "expires_at": time(session.expires_at),
    });
    if kind == "api_key" {
        about["name"] = json!(session.data.get_str("name"));
        about["token_hint"] = json!(session.token_hint);
        about["scopes"] = json!(session.scopes);
    } else {
        let data = session.data.value();
        about["user_agent"] = json!(data.get("user_agent").and_then(Value::as_str));
        about["ip"] = json!(data.get("ip").and_then(Value::as_str));
    }
    Ok(Json(json!({ "is_logged_in": true, "user": user, "session": about })).into_response())
}
