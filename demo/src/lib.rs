//! # sqlx-sessions demo
//!
//! A small web app on [`sqlx_sessions`]: sign up, sign in by user id from several browsers,
//! see every device on the account page, expire or delete one, sign out everywhere, and
//! create API keys for `GET /api/me`.
//!
//! Run it with `cargo run -p sqlx-sessions-demo` (SQLite file `sqlx-sessions-demo.db` in the
//! working folder, <http://127.0.0.1:4000>), or against PostgreSQL with
//! `DATABASE_URL=postgres://... cargo run -p sqlx-sessions-demo`. `--help` lists the rest.
//!
//! The shape: [`app`] builds the router from an [`AppState`] (so tests drive it with
//! `oneshot` or serve it on port 0); `main.rs` only reads the [`Config`], connects, starts
//! the pruners and serves. Every error becomes a response in one place ([`AppError`]); every
//! form post is checked for its CSRF token ([`csrf`]).

pub mod config;
pub mod csrf;
pub mod db;
pub mod error;
pub mod routes;
pub mod state;
pub mod viewer;
pub mod views;

use std::net::SocketAddr;

use axum::Router;
use axum::http::HeaderValue;
use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::middleware;
use axum::response::Response;
use axum::routing::{get, post};
use axum::serve::ListenerExt as _;

pub use config::Config;
pub use error::AppError;
pub use state::AppState;

use routes::{account, api, keys, pages};

/// The demo's router.
///
/// The browser pages sit behind the CSRF check and the cookie-session layer; the API
/// (`/api/me`, token in a header, no forms) does not need either and skips both, so an API
/// request costs no CSRF cookie and no random bytes.
pub fn app(state: AppState) -> Router {
    let browser = Router::new()
        .route("/", get(pages::index))
        .route("/account", get(pages::account))
        .route("/stats", get(pages::stats))
        .route("/static/app.css", get(pages::stylesheet))
        .route("/signup", post(account::signup))
        .route("/login", post(account::login))
        .route("/sign-out", post(account::sign_out))
        .route("/sign-out-all", post(account::sign_out_all))
        .route("/expire-session", post(account::expire_session))
        .route("/delete-session", post(account::delete_session))
        .route("/api-keys", post(keys::create))
        .route("/api-keys/revoke", post(keys::revoke))
        .fallback(pages::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), csrf::protect))
        .layer(state.auth.layer());
    Router::new()
        .route("/api/me", get(api::me))
        .merge(browser)
        .layer(middleware::map_response(security_headers))
        .with_state(state)
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
    );
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

/// Serves `app` on `listener` (with the peer address, kept in session data) until
/// `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Responses go out as soon as they are written, not held back by Nagle's algorithm.
    let listener = listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY could not be set");
        }
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
