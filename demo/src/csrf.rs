//! CSRF protection: every form carries `_csrf_token`, an HMAC of what the form belongs to,
//! and every post without a valid one gets 403.
//!
//! A signed-in form is bound to the session (`HMAC(secret, "session:" + session id)`), so
//! it dies with the session. A signed-out form (sign-up, sign-in) is bound to a random
//! `csrf_id` cookie that the pages set (`HMAC(secret, "anon:" + csrf_id)`): another site
//! can neither read that cookie nor compute the token.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequestParts, OptionalFromRequestParts, Request, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use rand::TryRngCore as _;
use sha2::Sha256;
use sqlx_sessions::axum::CurrentSession;
use subtle::ConstantTimeEq as _;

use crate::error::AppError;
use crate::state::AppState;

/// The name of the hidden form field.
pub const FIELD: &str = "_csrf_token";
/// The cookie that binds signed-out forms.
pub const ANON_COOKIE: &str = "csrf_id";
/// The largest form body read.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// The server secret that CSRF tokens are made with.
#[derive(Clone)]
pub struct CsrfKey(Arc<[u8]>);

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey(<redacted>)")
    }
}

impl CsrfKey {
    /// A key from the given secret bytes (at least 16).
    pub fn new(secret: &[u8]) -> Option<CsrfKey> {
        (secret.len() >= 16).then(|| CsrfKey(secret.into()))
    }

    /// A fresh random key: forms from before a restart stop working, sessions do not.
    pub fn random() -> CsrfKey {
        CsrfKey(random_bytes::<32>().to_vec().into())
    }

    /// The token of the forms bound to `binding`.
    fn token(&self, binding: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"sqlx-sessions-demo csrf v1\0");
        mac.update(binding.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    fn verify(&self, binding: &str, token: &str) -> bool {
        bool::from(self.token(binding).as_bytes().ct_eq(token.as_bytes()))
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's random source failed");
    bytes
}

fn session_binding(session: &CurrentSession) -> String {
    format!("session:{}", session.id)
}

fn anon_binding(id: &str) -> String {
    format!("anon:{id}")
}

/// The `csrf_id` of a request (from its cookie, or the one just made for it).
#[derive(Clone, Debug)]
struct AnonId(String);

fn anon_id_from(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == ANON_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| {
            v.len() == 43
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The token for the forms of the current page; render it in each form's hidden
/// `_csrf_token` field.
#[derive(Clone, Debug)]
pub struct CsrfToken(pub String);

impl FromRequestParts<AppState> for CsrfToken {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let session = <CurrentSession as OptionalFromRequestParts<AppState>>::from_request_parts(
            parts, state,
        )
        .await?;
        let binding = match session {
            Some(session) => session_binding(&session),
            None => {
                // Set by the middleware; a post from a browser without the cookie could
                // not have passed it.
                let id = parts
                    .extensions
                    .get::<AnonId>()
                    .ok_or(AppError::Forbidden)?;
                anon_binding(&id.0)
            }
        };
        Ok(CsrfToken(state.csrf.token(&binding)))
    }
}

/// The middleware: gives each page request a `csrf_id` (setting the cookie when new) and
/// refuses posts (and other unsafe methods) without a valid token with 403.
pub async fn protect(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if safe {
        return with_anon_id(&state, req, next).await;
    }
    match check(&state, req).await {
        Ok(req) => next.run(req).await,
        Err(error) => error.into_response(),
    }
}

async fn with_anon_id(state: &AppState, mut req: Request, next: Next) -> Response {
    let (id, new) = match anon_id_from(req.headers()) {
        Some(id) => (id, false),
        None => (URL_SAFE_NO_PAD.encode(random_bytes::<32>()), true),
    };
    req.extensions_mut().insert(AnonId(id.clone()));
    let mut response = next.run(req).await;
    if new {
        let cookie = anon_cookie(state, id);
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    response
}

/// The `csrf_id` cookie: the session cookie's attributes, no `Max-Age` (it lasts as long
/// as the browser runs).
fn anon_cookie(state: &AppState, id: String) -> String {
    sqlx_sessions::axum::Cookie::build((ANON_COOKIE, id))
        .http_only(true)
        .same_site(sqlx_sessions::axum::SameSite::Lax)
        .path("/")
        .secure(state.auth.cookie().is_secure())
        .build()
        .to_string()
}

/// Reads the form body (at most [`MAX_FORM_BYTES`]), checks its token, and gives the request
/// back with the same body.
async fn check(state: &AppState, req: Request) -> Result<Request, AppError> {
    let (mut parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| AppError::PayloadTooLarge)?;
    let token = form_urlencoded::parse(&bytes)
        .find(|(name, _)| name == FIELD)
        .map(|(_, value)| value.into_owned())
        .ok_or(AppError::Forbidden)?;
    let session = <CurrentSession as OptionalFromRequestParts<AppState>>::from_request_parts(
        &mut parts, state,
    )
    .await?;
    let mut valid = false;
    if let Some(session) = &session {
        valid |= state.csrf.verify(&session_binding(session), &token);
    }
    if let Some(id) = anon_id_from(&parts.headers) {
        valid |= state.csrf.verify(&anon_binding(&id), &token);
        // Pages rendered in answer to this post (a form with an error) bind to it too.
        parts.extensions.insert(AnonId(id));
    }
    if !valid {
        tracing::info!(path = %parts.uri.path(), "form post refused: bad CSRF token");
        return Err(AppError::Forbidden);
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}
