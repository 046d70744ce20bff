//! Signing up, in and out, and managing the sessions (devices) of the account.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Redirect, Response};
use sqlx_sessions::{Filter, NewSession, Status};
use uuid::Uuid;

use crate::csrf::CsrfToken;
use crate::db::User;
use crate::error::AppError;
use crate::routes::pages::render_index;
use crate::state::AppState;
use crate::viewer::{ClientInfo, Viewer};

/// Creates a session for `user` (a new token at every sign-in) and sends the browser to
/// its account page with the cookie.
async fn sign_in(state: &AppState, user: &User, client: ClientInfo) -> Result<Response, AppError> {
    let created = state
        .sessions()
        .create(
            NewSession::new()
                .extra("user_id", user.id.to_string())
                .data(serde_json::json!({"user_agent": client.user_agent, "ip": client.ip})),
        )
        .await?;
    tracing::info!(user_id = user.id, session_id = %created.session.id, "signed in");
    let cookie = state.auth.sign_in_cookie(&created);
    Ok(([(SET_COOKIE, cookie.to_string())], Redirect::to("/account")).into_response())
}

/// Ends this browser's session: the cookie goes, and the browser goes back to `/`.
fn signed_out(state: &AppState) -> Response {
    let cookie = state.auth.sign_out_cookie();
    ([(SET_COOKIE, cookie.to_string())], Redirect::to("/")).into_response()
}

/// `POST /signup`: a new user, signed in.
pub async fn signup(
    State(state): State<AppState>,
    viewer: Option<Viewer>,
    client: ClientInfo,
) -> Result<Response, AppError> {
    let user = state.db.create_user().await?;
    if let Some(old) = viewer {
        state.sessions().delete(old.session.id).await?;
    }
    sign_in(&state, &user, client).await
}

/// The sign-in form.
#[derive(Debug, serde::Deserialize)]
pub struct LoginForm {
    /// The user id.
    pub user_id: String,
}

/// `POST /login`: signs in by user id. When this browser was signed in, its old session is
/// replaced by the new one ("re-login").
pub async fn login(
    State(state): State<AppState>,
    viewer: Option<Viewer>,
    client: ClientInfo,
    CsrfToken(csrf_token): CsrfToken,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    let refuse = |message: String| {
        let page = render_index(
            viewer.as_ref().map(|v| v.user.id),
            csrf_token.clone(),
            Some(message),
        )?;
        Ok::<_, AppError>((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
    };
    let Ok(user_id) = form.user_id.trim().parse::<i64>() else {
        return refuse("A user id is a number, such as 1.".into());
    };
    let Some(user) = state.db.find_user(user_id).await? else {
        return refuse(format!("There is no user #{user_id}. Sign up first."));
    };
    let response = sign_in(&state, &user, client).await?;
    if let Some(old) = viewer {
        state.sessions().delete(old.session.id).await?;
    }
    Ok(response)
}

/// `POST /sign-out`: deletes this session.
pub async fn sign_out(State(state): State<AppState>, viewer: Viewer) -> Result<Response, AppError> {
    state.sessions().delete(viewer.session.id).await?;
    Ok(signed_out(&state))
}

/// `POST /sign-out-all`: deletes every session of the user.
pub async fn sign_out_all(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, AppError> {
    let gone = state
        .sessions()
        .delete_all(&Filter::new().eq("user_id", viewer.user.id.to_string()))
        .await?;
    tracing::info!(
        user_id = viewer.user.id,
        sessions = gone.len(),
        "signed out of all devices"
    );
    Ok(signed_out(&state))
}

/// A form naming one of the user's sessions.
#[derive(Debug, serde::Deserialize)]
pub struct SessionForm {
    /// The session id; for `/expire-session`, none means this session.
    #[serde(default)]
    pub session_id: Option<String>,
}

fn session_id(form: &SessionForm, viewer: &Viewer) -> Result<Uuid, AppError> {
    match form.session_id.as_deref().map(str::trim) {
        None | Some("") => Ok(viewer.session.id),
        Some(id) => Uuid::parse_str(id).map_err(|_| AppError::BadRequest("Not a session id.")),
    }
}

/// The user's session `id` (whatever its status), so no one touches another's.
fn own(viewer: &Viewer, id: Uuid) -> Filter {
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
        return Ok(signed_out(&state));
    }
    Ok(Redirect::to("/account").into_response())
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
        return Ok(signed_out(&state));
    }
    Ok(Redirect::to("/account").into_response())
}
