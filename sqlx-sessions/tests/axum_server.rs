//! The axum integration behind a real HTTP server on port 0: sign in, use the cookie and the
//! headers, sign out. Runs on a fresh SQLite file and a fresh PostgreSQL database.
#![cfg(feature = "axum")]

use axum::Router;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use sqlx_sessions::NewSession;
use sqlx_sessions::axum::{CurrentSession, SessionAuth};
use sqlx_sessions_test_support::{TestDb, backend_tests};

async fn sign_in(State(auth): State<SessionAuth>, body: String) -> Response {
    let created = auth
        .store()
        .create(NewSession::new().extra("user_id", body))
        .await
        .unwrap();
    let cookie = auth.sign_in_cookie(&created);
    ([(SET_COOKIE, cookie.to_string())], Redirect::to("/me")).into_response()
}

async fn sign_out(State(auth): State<SessionAuth>, session: CurrentSession) -> Response {
    auth.store().delete(session.id).await.unwrap();
    let cookie = auth.sign_out_cookie();
    ([(SET_COOKIE, cookie.to_string())], Redirect::to("/")).into_response()
}

async fn me(session: CurrentSession) -> String {
    format!("user {}", session.extra_str("user_id").unwrap_or("?"))
}

/// Serves the app on 127.0.0.1:0 and returns its base URL.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn sign_in_use_and_sign_out(db: TestDb) {
    let store = db.builder().build().unwrap();
    store.migrate().await.unwrap();
    let auth = SessionAuth::new(store.clone())
        .secure_cookies(false)
        .unwrap();
    let app = Router::new()
        .route("/me", get(me))
        .route("/sign-in", post(sign_in))
        .route("/sign-out", post(sign_out))
        .layer(auth.layer())
        .with_state(auth);
    let base = serve(app).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let res = client
        .post(format!("{base}/sign-in"))
        .body("7")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let set_cookie = res.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=6047"] {
        assert!(set_cookie.contains(attribute), "{attribute}: {set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "turned off for plain http");
    let pair = set_cookie.split(';').next().unwrap().to_owned();
    let token = pair.strip_prefix("auth_token=").unwrap().to_owned();
    let session = store.lookup(&token).await.unwrap().unwrap();
    assert_eq!(session.extra_str("user_id"), Some("7"));

    for (name, value) in [
        ("cookie", pair.clone()),
        ("x-auth-token", token.clone()),
        ("authorization", format!("Bearer {token}")),
    ] {
        let res = client
            .get(format!("{base}/me"))
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.text().await.unwrap(), "user 7");
    }

    let res = client
        .post(format!("{base}/sign-out"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cleared = res.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cleared.starts_with("auth_token=;") && cleared.contains("Max-Age=0"));
    assert!(store.lookup(&token).await.unwrap().is_none());

    let res = client
        .get(format!("{base}/me"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    assert_eq!(res.text().await.unwrap(), "unauthorized\n");
}

backend_tests!(sign_in_use_and_sign_out);
