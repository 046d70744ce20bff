//! Access tokens: `POST /api/token` (a session token for a 5-minute access token),
//! `GET /.well-known/jwks.json`, `GET /api/claims` (an access token, or a session token,
//! without a database query for the former), and the account page's access-token section.

use askama::Template;
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::json;
use sqlx_sessions::axum::{AccessClaims, ClaimsSource};

use crate::csrf::CsrfToken;
use crate::error::{ApiError, AppError};
use crate::state::AppState;
use crate::viewer::Viewer;

/// The API's routes (no cookie, no CSRF: tokens travel in headers).
pub fn api_routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/token", post(token))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/api/claims", get(claims))
        .layer(state.tokens.auth.clone().layer())
        .layer(state.api_auth.layer())
}

/// The browser's routes (behind the CSRF check and the cookie session).
pub fn browser_routes() -> Router<AppState> {
    Router::new()
        .route("/access-token", post(mint_for_page))
        .route("/access-token/verify", post(verify_for_page))
}

/// `POST /api/token` with the session token in `X-Auth-Token` or `Authorization: Bearer`:
/// `{"access_token", "token_type": "Bearer", "expires_in"}` (the OAuth 2.0 token response),
/// or 401 `{"error": "invalid_grant"}` for a missing, unknown, expired or revoked session.
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let refreshed = match state.api_auth.token_from(&headers) {
        Some(token) => state.tokens.issuer.refresh(token).await?,
        None => None,
    };
    let no_store = [(CACHE_CONTROL, "no-store")];
    let Some(refreshed) = refreshed else {
        let body = Json(json!({ "error": "invalid_grant" }));
        return Ok((StatusCode::UNAUTHORIZED, no_store, body).into_response());
    };
    let access = refreshed.access_token;
    let body = Json(json!({
        "access_token": access.expose(),
        "token_type": "Bearer",
        "expires_in": access.expires_in(),
    }));
    Ok((no_store, body).into_response())
}

/// `GET /.well-known/jwks.json`: the public keys that verify the demo's access tokens.
pub async fn jwks(State(state): State<AppState>) -> Json<sqlx_sessions::access::JwkSet> {
    Json(state.tokens.issuer.jwks())
}

/// `GET /api/claims`: the claims of the request's access token (verified without the
/// database) or, failing that, of its session token; 401 otherwise.
pub async fn claims(claims: AccessClaims) -> Json<serde_json::Value> {
    let source = match claims.source() {
        ClaimsSource::AccessToken => "access_token",
        _ => "session",
    };
    Json(json!({ "source": source, "claims": claims.claims() }))
}

/// The access-token page: a token, its claims, and what `verify` says of it.
#[derive(Debug, Template)]
#[template(path = "access_token.html")]
pub struct AccessTokenPage {
    /// The CSRF token of the verify form.
    pub csrf_token: String,
    /// The compact JWT.
    pub token: String,
    /// Its claims, pretty-printed JSON.
    pub claims: String,
    /// What the verifier said: `None` when it accepted the token, or why it refused.
    pub refusal: Option<String>,
    /// Whether a signed-out session's tokens are refused before `exp` here.
    pub follows_revocations: bool,
    /// The access-token lifetime in seconds.
    pub ttl: i64,
}

fn page(state: &AppState, csrf_token: String, token: String) -> Result<Html<String>, AppError> {
    let tokens = &state.tokens;
    let (claims, refusal) = match tokens.verifier.verify(&token) {
        Ok(claims) => (claims, None),
        Err(e) => {
            // Show what the token says even when refused, read without trusting it.
            let claims = token
                .split('.')
                .nth(1)
                .and_then(|p| {
                    use base64::Engine as _;
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(p)
                        .ok()
                })
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
            let text = claims.map_or_else(String::new, |c| {
                serde_json::to_string_pretty(&c).unwrap_or_default()
            });
            return Ok(Html(
                AccessTokenPage {
                    csrf_token,
                    token,
                    claims: text,
                    refusal: Some(e.to_string()),
                    follows_revocations: tokens.follows_revocations(),
                    ttl: tokens.issuer.ttl().whole_seconds(),
                }
                .render()?,
            ));
        }
    };
    Ok(Html(
        AccessTokenPage {
            csrf_token,
            token,
            claims: serde_json::to_string_pretty(&claims).unwrap_or_default(),
            refusal,
            follows_revocations: tokens.follows_revocations(),
            ttl: tokens.issuer.ttl().whole_seconds(),
        }
        .render()?,
    ))
}

/// `POST /access-token`: mints an access token for this browser's session and shows it.
pub async fn mint_for_page(
    State(state): State<AppState>,
    viewer: Viewer,
    CsrfToken(csrf_token): CsrfToken,
) -> Result<Html<String>, AppError> {
    let access = state.tokens.issuer.mint(&viewer.session)?;
    page(&state, csrf_token, access.expose().to_owned())
}

/// The verify form.
#[derive(Debug, serde::Deserialize)]
pub struct VerifyForm {
    /// The access token to check.
    pub access_token: String,
}

/// `POST /access-token/verify`: checks a token again (signed in or not), so the page shows
/// what happens to it once its session is signed out.
pub async fn verify_for_page(
    State(state): State<AppState>,
    CsrfToken(csrf_token): CsrfToken,
    Form(form): Form<VerifyForm>,
) -> Result<Html<String>, AppError> {
    if form.access_token.len() > sqlx_sessions::access::MAX_ACCESS_TOKEN_BYTES {
        return Err(AppError::BadRequest("that is not an access token"));
    }
    page(&state, csrf_token, form.access_token)
}
