//! API keys through the read cache and an axum router: a suspended or rolled-out key is
//! never served from memory after the call returns, and a valid key without the route's
//! scope gets 403 (not the 401 of a missing or refused one).
#![cfg(all(feature = "axum", feature = "cache"))]

use std::time::{Duration as StdDuration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use sqlx_sessions::axum::{CurrentSession, Scoped, SessionAuth, TokenSource};
use sqlx_sessions::cache::CacheConfig;
use sqlx_sessions::{KeyExpiry, NewSession, SessionStore};
use sqlx_sessions_test_support::{TestDb, backend_tests};
use time::Duration;
use tower::ServiceExt as _;

sqlx_sessions::required_scope!(MeRead = "me:read");
sqlx_sessions::required_scope!(SessionsWrite = "sessions:write");

fn builder(db: &TestDb) -> sqlx_sessions::StoreBuilder {
    db.builder()
        .table("api_keys")
        .token_prefix("test_sk_")
        .scopes()
        .key_lifecycle(Duration::seconds(1))
        .max_lifetime(None)
}

fn key(scopes: &[&str]) -> NewSession {
    NewSession::new()
        .extra("user_id", "u1")
        .scopes(scopes.iter().copied())
        .expiry(KeyExpiry::Never)
}

/// Looks `token` up until one lookup is answered from memory.
async fn warm(store: &SessionStore, token: &str) {
    let started = Instant::now();
    loop {
        let before = store.cache_stats().unwrap().hits;
        assert!(store.lookup(token).await.unwrap().is_some());
        if store.cache_stats().unwrap().hits > before {
            return;
        }
        assert!(
            started.elapsed() < StdDuration::from_secs(20),
            "never cached"
        );
        tokio::time::sleep(StdDuration::from_millis(5)).await;
    }
}

async fn cached_keys_are_refused_once_suspended_or_rolled(db: TestDb) {
    let store = builder(&db).cache(CacheConfig::new(1_000)).build().unwrap();
    store.migrate().await.unwrap();
    let k = store.create(key(&["me:read"])).await.unwrap();
    let token = k.token.expose().to_owned();
    warm(&store, &token).await;
    store.suspend(k.session.id).await.unwrap().unwrap();
    for _ in 0..20 {
        assert!(store.lookup(&token).await.unwrap().is_none());
    }
    store.resume(k.session.id).await.unwrap().unwrap();
    warm(&store, &token).await;
    // Cache hits are uses too.
    store.flush_uses().await.unwrap();
    let uses = store.uses(k.session.id).await.unwrap().unwrap();
    assert!(uses >= 2, "{uses}");
    let new = store
        .roll(k.session.id, Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    for _ in 0..20 {
        assert!(store.lookup(&token).await.unwrap().is_none());
    }
    warm(&store, new.token.expose()).await;
}

async fn status(app: &Router, path: &str, token: Option<&str>) -> StatusCode {
    let mut request = Request::get(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    if status == StatusCode::FORBIDDEN {
        let challenge = response.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap();
        assert!(challenge.contains("insufficient_scope"), "{challenge}");
    }
    status
}

async fn a_key_without_the_scope_gets_403(db: TestDb) {
    let store = builder(&db).build().unwrap();
    store.migrate().await.unwrap();
    let auth = SessionAuth::new(store.clone())
        .sources([TokenSource::Bearer])
        .secure_cookies(false)
        .unwrap();
    async fn me(key: Scoped<MeRead>) -> String {
        key.extra_str("user_id").unwrap_or("?").to_owned()
    }
    async fn revoke(_key: Scoped<SessionsWrite>) -> &'static str {
        "revoked"
    }
    async fn dynamic(
        current: CurrentSession,
    ) -> Result<&'static str, sqlx_sessions::axum::MissingScope> {
        current.require_scope("orders:read")?;
        Ok("orders")
    }
    let app = Router::new()
        .route("/me", get(me))
        .route("/revoke", get(revoke))
        .route("/orders", get(dynamic))
        .layer(auth.layer());
    let reader = store.create(key(&["me:read"])).await.unwrap();
    let admin = store.create(key(&["*"])).await.unwrap();
    let orders = store.create(key(&["orders:*"])).await.unwrap();
    let reader_token = reader.token.expose();
    assert_eq!(
        status(&app, "/me", Some(reader_token)).await,
        StatusCode::OK
    );
    assert_eq!(
        status(&app, "/revoke", Some(reader_token)).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(&app, "/orders", Some(reader_token)).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(&app, "/revoke", Some(admin.token.expose())).await,
        StatusCode::OK
    );
    assert_eq!(
        status(&app, "/orders", Some(orders.token.expose())).await,
        StatusCode::OK
    );
    assert_eq!(
        status(&app, "/me", Some(orders.token.expose())).await,
        StatusCode::FORBIDDEN
    );
    // No key, an unknown one, or a suspended one: 401, never 403.
    assert_eq!(
        status(&app, "/revoke", None).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(&app, "/revoke", Some("test_sk_unknown")).await,
        StatusCode::UNAUTHORIZED
    );
    store.suspend(admin.session.id).await.unwrap().unwrap();
    assert_eq!(
        status(&app, "/revoke", Some(admin.token.expose())).await,
        StatusCode::UNAUTHORIZED
    );
}

backend_tests!(a_key_without_the_scope_gets_403);

mod cached {
    use super::cached_keys_are_refused_once_suspended_or_rolled;
    sqlx_sessions_test_support::backend_tests!(cached_keys_are_refused_once_suspended_or_rolled);
}
