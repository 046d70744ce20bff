//! axum-login on tower-sessions, with sqlx-sessions' [`TowerStore`] on SQLite: a sign-in
//! form, a protected page, "my devices" and "sign out everywhere".
//!
//! Run it with `cargo run -p sqlx-sessions-axum-login-example` and open
//! <http://127.0.0.1:4100> (`DATABASE_URL` and `BIND` change the database and the address).
//!
//! The only line that differs from an app on `tower-sessions-sqlx-store` is the store given to
//! `SessionManagerLayer::new` ([`session_layer`]). What the store adds is in [`pages`]: the
//! user's devices are `SessionStore::list` by the `user_id` column, which the store fills
//! from axum-login's session data, and signing out everywhere is one `delete_all`.

pub mod pages;
pub mod users;

use axum::Router;
use axum::routing::{get, post};
use axum_login::{AuthManagerLayerBuilder, login_required};
use sqlx_sessions::SessionStore;
use sqlx_sessions::tower_sessions::TowerStore;
use tower_sessions::{Expiry, SessionManagerLayer};

pub use users::Users;

/// The state of the handlers: the session store, also as tower-sessions sees it.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The tower-sessions store (its `store()` is the sqlx-sessions store).
    pub tower: TowerStore,
}

/// The store on `url` (SQLite), its table created if missing.
pub async fn connect(url: &str) -> sqlx_sessions::Result<SessionStore> {
    let pool = sqlx_sessions::Pool::connect(url).await?;
    let store = SessionStore::builder(pool).build()?;
    store.migrate().await?;
    Ok(store)
}

/// The tower-sessions layer on `store`: sessions end after a day of inactivity, and every
/// request saves (the store writes only what changed, and the expiry once per stale window).
/// Cookies are not `Secure` here, for plain-http local use; put the app behind HTTPS and
/// call `.with_secure(true)` in production.
pub fn session_layer(store: SessionStore) -> SessionManagerLayer<TowerStore> {
    SessionManagerLayer::new(TowerStore::new(store))
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(time::Duration::days(1)))
        .with_always_save(true)
}

/// The application.
pub fn app(store: SessionStore, users: Users) -> Router {
    let state = AppState {
        tower: TowerStore::new(store.clone()),
    };
    let auth = AuthManagerLayerBuilder::new(users, session_layer(store)).build();
    let signed_in = Router::new()
        .route("/protected", get(pages::protected))
        .route("/devices", get(pages::devices))
        .route("/devices/{id}/sign-out", post(pages::sign_out_device))
        .route("/sign-out-everywhere", post(pages::sign_out_everywhere))
        .route_layer(login_required!(Users, login_url = "/"));
    Router::new()
        .merge(signed_in)
        .route("/", get(pages::index))
        .route("/login", post(pages::login))
        .route("/logout", post(pages::logout))
        .with_state(state)
        .layer(auth)
}
