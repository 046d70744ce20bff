//! The handlers and their pages.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use sqlx_sessions::Filter;
use time::format_description::well_known::Rfc3339;

use crate::AppState;
use crate::users::{Credentials, Users};

/// The axum-login session of a request.
pub type AuthSession = axum_login::AuthSession<Users>;

/// Any failure of a handler: logged, answered with a plain 500 that shows nothing inside.
#[derive(Debug)]
pub struct AppError(String);

impl<E: std::fmt::Display> From<E> for AppError {
    fn from(err: E) -> Self {
        AppError(err.to_string())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        eprintln!("request failed: {}", self.0);
        (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong").into_response()
    }
}

type Result<T, E = AppError> = std::result::Result<T, E>;

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignIn {
    message: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "protected.html")]
struct Protected<'a> {
    username: &'a str,
}

#[derive(Template)]
#[template(path = "devices.html")]
struct Devices {
    devices: Vec<Device>,
}

/// One row of "my devices".
struct Device {
    id: String,
    agent: String,
    signed_in: String,
    expires: String,
    current: bool,
}

fn page(t: &impl Template) -> Result<Html<String>> {
    Ok(Html(t.render()?))
}

/// `GET /`: the sign-in form, or the protected page for a signed-in user.
pub async fn index(auth: AuthSession) -> Result<Response> {
    if auth.user.is_some() {
        return Ok(Redirect::to("/protected").into_response());
    }
    Ok(page(&SignIn { message: None })?.into_response())
}

/// `POST /login`: signs in (axum-login cycles the session id), remembers the device.
pub async fn login(
    mut auth: AuthSession,
    headers: HeaderMap,
    Form(creds): Form<Credentials>,
) -> Result<Response> {
    let Some(user) = auth.authenticate(creds).await? else {
        let form = page(&SignIn {
            message: Some("Wrong username or password."),
        })?;
        return Ok((StatusCode::UNAUTHORIZED, form).into_response());
    };
    auth.login(&user).await?;
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown device");
    auth.session.insert("user_agent", agent).await?;
    Ok(Redirect::to("/protected").into_response())
}

/// `POST /logout`: signs this device out.
pub async fn logout(mut auth: AuthSession) -> Result<Redirect> {
    auth.logout().await?;
    Ok(Redirect::to("/"))
}

/// `GET /protected`: only for a signed-in user.
pub async fn protected(auth: AuthSession) -> Result<Response> {
    let Some(user) = &auth.user else {
        return Ok(Redirect::to("/").into_response());
    };
    Ok(page(&Protected {
        username: &user.username,
    })?
    .into_response())
}

/// `GET /devices`: every valid session of the user, this one marked.
pub async fn devices(auth: AuthSession, State(state): State<AppState>) -> Result<Response> {
    let Some(user) = &auth.user else {
        return Ok(Redirect::to("/").into_response());
    };
    let current = match auth.session.id() {
        Some(id) => state.tower.stored(&id.to_string()).await?.map(|s| s.id),
        None => None,
    };
    let sessions = state.tower.store().list(&of_user(user.id)).await?;
    let time = |t: time::OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
    let devices = sessions
        .into_iter()
        .map(|s| Device {
            id: s.id.to_string(),
            agent: s.data.get_str("user_agent").unwrap_or_default(),
            signed_in: time(s.inserted_at),
            expires: s.expires_at.map(time).unwrap_or_else(|| "never".into()),
            current: Some(s.id) == current,
        })
        .collect();
    Ok(page(&Devices { devices })?.into_response())
}

/// `POST /devices/{id}/sign-out`: signs one of the user's devices out.
pub async fn sign_out_device(
    auth: AuthSession,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response> {
    let (Some(user), Some(id)) = (&auth.user, uuid::Uuid::parse_str(&id).ok()) else {
        return Ok(StatusCode::NOT_FOUND.into_response());
    };
    let filter = of_user(user.id).id(id).status(sqlx_sessions::Status::All);
    state.tower.store().delete_all(&filter).await?;
    Ok(Redirect::to("/devices").into_response())
}

/// `POST /sign-out-everywhere`: deletes every session of the user, this one included.
pub async fn sign_out_everywhere(
    auth: AuthSession,
    State(state): State<AppState>,
) -> Result<Redirect> {
    if let Some(user) = &auth.user {
        let all = of_user(user.id).status(sqlx_sessions::Status::All);
        state.tower.store().delete_all(&all).await?;
    }
    Ok(Redirect::to("/"))
}

fn of_user(id: i64) -> Filter {
    Filter::new().eq("user_id", id.to_string())
}
