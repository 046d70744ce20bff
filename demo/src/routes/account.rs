//! Signing up, in and out, and managing the sessions (devices) of the account.

use askama::Template as _;
use axum::Form;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{AppendHeaders, Html, IntoResponse, Redirect, Response};
use sqlx_sessions::{Filter, NewSession, Status};
use uuid::Uuid;

use crate::csrf::CsrfToken;
use crate::db::User;
use crate::error::AppError;
use crate::flash::{Flash, last_user, remember_user};
use crate::routes::pages::render_index;
use crate::state::{AppState, REMEMBER_ME};
use crate::viewer::{ClientInfo, Viewer};
use crate::views::SignedUpPage;

/// Creates a session for `user` (a new token at every sign-in; with `remember`, its own TTL
/// of [`REMEMBER_ME`]) and gives its cookie, and the cookie that pre-fills the user id at
/// the next sign-in.
async fn new_session(
    state: &AppState,
    user: &User,
    client: ClientInfo,
    remember: bool,
) -> Result<AppendHeaders<[(HeaderName, String); 2]>, AppError> {
    let mut new = NewSession::new()
        .extra("user_id", user.id.to_string())
        .data(serde_json::json!({"user_agent": client.user_agent, "ip": client.ip}));
    if remember {
        new = new.ttl(REMEMBER_ME);
    }
    let created = state.sessions().create(new).await?;
    tracing::info!(user_id = %user.id, session_id = %created.session.id, remember, "signed in");
    Ok(AppendHeaders([
        (SET_COOKIE, state.auth.sign_in_cookie(&created).to_string()),
        remember_user(user.id),
    ]))
}

/// Ends this browser's session: the cookie goes, and the browser goes back to `/`, where
/// `flash` says what happened.
fn signed_out(state: &AppState, flash: Flash) -> Response {
    let cookie = state.auth.sign_out_cookie();
    (
        AppendHeaders([(SET_COOKIE, cookie.to_string()), flash.set()]),
        Redirect::to("/"),
    )
        .into_response()
}

/// Back to `/account`, where `flash` says what happened.
fn back_to_account(flash: Flash) -> Response {
    (AppendHeaders([flash.set()]), Redirect::to("/account")).into_response()
}

/// `POST /signup`: a new user (random id, random sign-in secret), signed in; the page shows
/// the secret, once.
pub async fn signup(
    State(state): State<AppState>,
    viewer: Option<Viewer>,
    client: ClientInfo,
) -> Result<Response, AppError> {
    let (user, secret) = state.db.create_user().await?;
    if let Some(old) = viewer {
        state.sessions().delete(old.session.id).await?;
    }
    let cookie = new_session(&state, &user, client, false).await?;
    let page = SignedUpPage {
        user_id: user.id,
        secret: secret.expose().to_owned(),
    };
    Ok((cookie, Html(page.render()?)).into_response())
}

/// The sign-in form.
#[derive(Debug, serde::Deserialize)]
pub struct LoginForm {
    /// The user id.
    pub user_id: String,
    /// The sign-in secret shown at sign-up.
    #[serde(default)]
    pub secret: String,
    /// Set (`1`) for "remember me": the session lives [`REMEMBER_ME`] (sliding) instead of
    /// the store's TTL.
    #[serde(default)]
    pub remember: Option<String>,
}

/// Whether `client` may check a credential now: [`AppError::TooManyRequests`] when not.
pub fn rate_limit(state: &AppState, client: &ClientInfo) -> Result<(), AppError> {
    if state.may_try_sign_in(&client.ip) {
        Ok(())
    } else {
        tracing::info!(ip = %client.ip, "sign-in refused: rate limit");
        Err(AppError::TooManyRequests)
    }
}

/// `POST /login`: signs in with the user id and sign-in secret (at most
/// [`SIGN_IN_BURST`](crate::state::SIGN_IN_BURST) tries at once per address, then 429).
/// A browser that was signed in keeps its old session as another device ("re-login"), so
/// one browser can play several devices; the user's oldest sessions beyond
/// [`MAX_DEVICES`](crate::state::MAX_DEVICES) are signed out.
pub async fn login(
    State(state): State<AppState>,
    viewer: Option<Viewer>,
    client: ClientInfo,
    CsrfToken(csrf_token): CsrfToken,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    rate_limit(&state, &client)?;
    let Some(user) = state.db.authenticate(&form.user_id, &form.secret).await? else {
        // One answer for an unknown id, a malformed one and a wrong secret.
        let page = render_index(
            viewer.as_ref().map(|v| v.user.id),
            csrf_token,
            Some(SIGN_IN_FAILED.into()),
            None,
            last_user(&headers),
        )?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    let remember = matches!(form.remember.as_deref(), Some("1" | "on" | "true"));
    let cookies = new_session(&state, &user, client, remember).await?;
    Ok((
        cookies,
        AppendHeaders([Flash::SignedIn.set()]),
        Redirect::to("/account"),
    )
        .into_response())
}

/// What a failed sign-in says, whatever failed.
pub const SIGN_IN_FAILED: &str = "Wrong user id or sign-in secret.";

/// `POST /sign-out`: deletes this session.
pub async fn sign_out(State(state): State<AppState>, viewer: Viewer) -> Result<Response, AppError> {
    state.sessions().delete(viewer.session.id).await?;
    Ok(signed_out(&state, Flash::SignedOut))
}

/// The form of "sign out of all devices".
#[derive(Debug, serde::Deserialize)]
pub struct SignOutAllForm {
    /// Set (`1`) to revoke the user's API keys too.
    #[serde(default)]
    pub revoke_api_keys: Option<String>,
}

/// `POST /sign-out-all`: deletes every session of the user, and their API keys when asked.
pub async fn sign_out_all(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<SignOutAllForm>,
) -> Result<Response, AppError> {
    let mine = Filter::new().eq("user_id", viewer.user.id.to_string());
    let gone = state.sessions().delete_all(&mine).await?;
    let keys = match form.revoke_api_keys.as_deref() {
        Some("1" | "on" | "true") => state
            .api_keys
            .delete_all(&mine.clone().status(Status::All))
            .await?
            .len(),
        _ => 0,
    };
    tracing::info!(
        user_id = %viewer.user.id,
        sessions = gone.len(),
        api_keys = keys,
        "signed out of all devices"
    );
    Ok(signed_out(&state, Flash::SignedOutEverywhere))
}

/// A form naming one of the user's sessions.
#[derive(Debug, serde::Deserialize)]
pub struct SessionForm {
    /// The session id; for `/expire-session`, none means this session.
    #[serde(default)]
    pub session_id: Option<String>,
}

/// The session a form names (`session_id`), or this one without it.
pub fn session_id(form: &SessionForm, viewer: &Viewer) -> Result<Uuid, AppError> {
    match form.session_id.as_deref().map(str::trim) {
        None | Some("") => Ok(viewer.session.id),
        Some(id) => Uuid::parse_str(id).map_err(|_| AppError::BadRequest("Not a session id.")),
    }
}

/// The user's session `id` (whatever its status), so no one touches another's.
pub fn own(viewer: &Viewer, id: Uuid) -> Filter {
    Filter::new()
        .id(id)
        .eq("user_id", viewer.user.id.to_string())
}

/// `POST /expire-session`: expires one of the user's sessions (this one without
/// `session_id`).
pub async fn expire_session(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<SessionForm>,
) -> Result<Response, AppError> {
    let id = session_id(&form, &viewer)?;
    state.sessions().expire_all(&own(&viewer, id)).await?;
    if id == viewer.session.id {
        return Ok(signed_out(&state, Flash::SignedOut));
    }
    Ok(back_to_account(Flash::Expired))
}

/// `POST /delete-session`: deletes one of the user's sessions.
pub async fn delete_session(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<SessionForm>,
) -> Result<Response, AppError> {
    if form
        .session_id
        .as_deref()
        .is_none_or(|id| id.trim().is_empty())
    {
        return Err(AppError::BadRequest(
            "Which session? The form had no session id.",
        ));
    }
    let id = session_id(&form, &viewer)?;
    state
        .sessions()
        .delete_all(&own(&viewer, id).status(Status::All))
        .await?;
    if id == viewer.session.id {
        return Ok(signed_out(&state, Flash::SignedOut));
    }
    Ok(back_to_account(Flash::Deleted))
}
