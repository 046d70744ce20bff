//! # sqlx-sessions demo
//!
//! A small web app on [`sqlx_sessions`]: sign up (a random user id and a sign-in secret,
//! shown once), sign in from several browsers, see every device on the account page, expire
//! or delete one, sign out everywhere, and create API keys for `GET /api/me`. Sessions also
//! refresh short-lived access tokens (`POST /api/token`, keys at `/.well-known/jwks.json`,
//! checked without the database by `GET /api/claims`; see [`access`]). It is a demo:
//! it listens on the loopback only unless told otherwise, and is not meant to be a service.
//!
//! Run it with `cargo run -p sqlx-sessions-demo` (SQLite file `sqlx-sessions-demo.db` in the
//! working folder, <http://127.0.0.1:4000>), or against PostgreSQL with
//! `DATABASE_URL=postgres://... cargo run -p sqlx-sessions-demo`. `--help` lists the rest.
//!
//! The shape: [`app`] builds the router from an [`AppState`] (so tests drive it with
//! `oneshot` or serve it on port 0); `main.rs` only reads the [`Config`], connects, starts
//! the pruners and serves. Every error becomes a response in one place ([`AppError`]); every
//! form post is checked for its CSRF token ([`csrf`]); every request for its `Host`
//! ([`host`]).

pub mod access;
pub mod config;
pub mod csrf;
pub mod csrf_key;
pub mod db;
pub mod error;
pub mod flash;
pub mod host;
pub mod routes;
pub mod state;
pub mod viewer;
pub mod views;

use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::HeaderValue;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::middleware;
use axum::response::Response;
use axum::routing::{get, post};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tower::ServiceExt as _;
use tower_http::timeout::RequestBodyTimeoutLayer;

pub use config::Config;
pub use error::AppError;
pub use state::AppState;

use routes::{account, api, devices, key_api, key_life, keys, pages, tokens};

/// The demo's router.
///
/// The browser pages sit behind the CSRF check and the cookie-session layer, and are never
/// stored by a cache (`Cache-Control: no-store`: they carry CSRF tokens, devices, new keys);
/// the API (`/api/me`, token in a header, no forms) and the stylesheet (public, cacheable,
/// no cookie) skip all three. Every request must name an allowed `Host`.
pub fn app(state: AppState) -> Router {
    let browser = Router::new()
        .route("/", get(pages::index))
        .route("/account", get(pages::account))
        .route("/stats", get(pages::stats))
        .route("/signup", post(account::signup))
        .route("/login", post(account::login))
        .route("/sign-out", post(account::sign_out))
        .route("/sign-out-all", post(account::sign_out_all))
        .route("/expire-session", post(account::expire_session))
        .route("/delete-session", post(account::delete_session))
        .route("/rename-session", post(devices::rename))
        .route("/reauthenticate", post(devices::reauthenticate))
        .route("/api-keys", post(keys::create))
        .route("/api-keys/revoke", post(keys::revoke))
        .merge(tokens::browser_routes())
        .route("/api-keys/suspend", post(key_life::suspend))
        .route("/api-keys/resume", post(key_life::resume))
        .route("/api-keys/roll", post(key_life::roll))
        .fallback(pages::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), csrf::protect))
        .layer(state.auth.layer())
        .layer(middleware::map_response(no_store));
    // The key API reads API keys from headers only (no cookie, so no CSRF).
    let key_api = Router::new()
        .route("/api/sessions/revoke", post(key_api::revoke_sessions))
        .layer(state.key_auth.layer());
    Router::new()
        .route("/api/me", get(api::me))
        .merge(key_api)
        .route("/static/app.css", get(pages::stylesheet))
        .merge(tokens::api_routes(&state))
        .merge(browser)
        .layer(middleware::map_response(security_headers))
        .layer(middleware::from_fn_with_state(state.clone(), host::check))
        .with_state(state)
}

/// Browser pages are private to one browser and one moment: no cache keeps them.
async fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
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

/// How long the server waits for a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// For the request line and headers of a request, from its first byte (or from the
    /// connection's start): a client that sends them slowly is disconnected.
    pub header_read: Duration,
    /// For the body of a request once its handler reads it: 408 after that.
    pub request_body: Duration,
}

impl Default for Timeouts {
    /// 10 s for headers, 30 s for a body.
    fn default() -> Self {
        Timeouts {
            header_read: Duration::from_secs(10),
            request_body: Duration::from_secs(30),
        }
    }
}

/// Serves `app` on `listener` (with the peer address, kept in session data) until
/// `shutdown` completes, with the default [`Timeouts`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app, shutdown, Timeouts::default()).await
}

/// [`serve`] with the given timeouts. On `shutdown` it stops accepting and waits for the
/// open connections to finish their requests.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    timeouts: Timeouts,
) -> std::io::Result<()> {
    let app = app.layer(RequestBodyTimeoutLayer::new(timeouts.request_body));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: wait a little rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Responses go out as soon as they are written, not held back by Nagle's algorithm.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY could not be set");
        }
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
