//! CSRF protection: every form carries `_csrf_token`, an HMAC of what the form belongs to,
//! and every post without a valid one gets 403.
//!
//! A signed-in form is bound to the session (`HMAC(secret, "session:" + session id)`), so
//! it dies with the session, and a signed-in request accepts nothing else. A signed-out form
//! (sign-up, sign-in) is bound to a `csrf_id` cookie that the server issued and signed
//! (`random.HMAC(secret, "anon-id:" + random)`; the form token is `HMAC(secret, "anon:" +
//! csrf_id)`): a `csrf_id` the client made up is replaced, never given a token, and another
//! site can neither read the cookie nor compute the token.

use axum::body::Body;
use axum::extract::{FromRequestParts, OptionalFromRequestParts, Request, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sqlx_sessions::axum::CurrentSession;

pub use crate::csrf_key::CsrfKey;
use crate::csrf_key::random_text;
use crate::error::{AppError, body_error};
use crate::state::AppState;

/// The name of the hidden form field.
pub const FIELD: &str = "_csrf_token";
/// The cookie that binds signed-out forms (over plain http).
pub const ANON_COOKIE: &str = "csrf_id";
/// Its name with `Secure` cookies: `__Host-` keeps sibling subdomains from planting it.
pub const HOST_ANON_COOKIE: &str = "__Host-csrf_id";

fn anon_cookie_name(state: &AppState) -> &'static str {
    if state.auth.cookie().is_secure() {
        HOST_ANON_COOKIE
    } else {
        ANON_COOKIE
    }
}
/// The largest form body read.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

fn session_binding(session: &CurrentSession) -> String {
    format!("session:{}", session.id)
}

fn anon_binding(id: &str) -> String {
    format!("anon:{id}")
}

/// A new `csrf_id`: random, with the server's signature.
fn new_anon_id(key: &CsrfKey) -> String {
    let random = random_text();
    let mac = key.token(&format!("anon-id:{random}"));
    format!("{random}.{mac}")
}

/// The `csrf_id` of a request (from its cookie, or the one just made for it).
#[derive(Clone, Debug)]
struct AnonId(String);

/// The request's `csrf_id` cookie when the server issued it (its signature checks out).
fn anon_id_from(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let name = anon_cookie_name(state);
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_owned())
        .filter(|v| match v.split_once('.') {
            Some((random, mac)) if random.len() == 43 => {
                state.csrf.verify(&format!("anon-id:{random}"), mac)
            }
            _ => false,
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
    let (id, new) = match anon_id_from(state, req.headers()) {
        Some(id) => (id, false),
        None => (new_anon_id(&state.csrf), true),
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
    sqlx_sessions::axum::Cookie::build((anon_cookie_name(state), id))
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
        .map_err(|e| body_error(&e))?;
    let token = form_urlencoded::parse(&bytes)
        .find(|(name, _)| name == FIELD)
        .map(|(_, value)| value.into_owned())
        .ok_or(AppError::Forbidden)?;
    let session = <CurrentSession as OptionalFromRequestParts<AppState>>::from_request_parts(
        &mut parts, state,
    )
    .await?;
    // A signed-in request accepts only its session's token: a signed-out token (which a
    // planted `csrf_id` cookie would give away) never passes for it.
    let valid = match &session {
        Some(session) => state.csrf.verify(&session_binding(session), &token),
        None => anon_id_from(state, &parts.headers).is_some_and(|id| {
            let valid = state.csrf.verify(&anon_binding(&id), &token);
            // Pages rendered in answer to this post (a form with an error) bind to it too.
            parts.extensions.insert(AnonId(id));
            valid
        }),
    };
    if !valid {
        tracing::info!(path = %parts.uri.path(), "form post refused: bad CSRF token");
        return Err(AppError::Forbidden);
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}
