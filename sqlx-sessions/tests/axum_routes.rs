//! The axum integration on a real router: token sources and their order, 401s, the
//! once-per-request lookup, cookie refresh, and refusing bad input without a query. Every
//! test runs on a fresh SQLite file and a fresh PostgreSQL database, through `oneshot`.
#![cfg(feature = "axum")]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sqlx_sessions::axum::{CookieConfig, CurrentSession, SessionAuth, TokenSource};
use sqlx_sessions::{ManualClock, NewSession, SessionStore};
use sqlx_sessions_test_support::{TestDb, backend_tests};
use time::Duration;
use time::macros::datetime;
use tower::ServiceExt as _;

async fn me(session: CurrentSession) -> String {
    format!("user {}", session.extra_str("user_id").unwrap_or("?"))
}

async fn maybe(session: Option<CurrentSession>) -> String {
    match session {
        Some(s) => format!("user {}", s.extra_str("user_id").unwrap_or("?")),
        None => "anonymous".into(),
    }
}

async fn sign_out(
    axum::extract::State(auth): axum::extract::State<SessionAuth>,
    session: CurrentSession,
) -> Response {
    auth.store().delete(session.id).await.unwrap();
    [(header::SET_COOKIE, auth.sign_out_cookie().to_string())].into_response()
}

async fn reauthenticate(
    axum::extract::State(auth): axum::extract::State<SessionAuth>,
    session: CurrentSession,
) -> Response {
    match auth.rotate(&session).await.unwrap() {
        Some(cookie) => (cookie, "rotated").into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

fn app(auth: &SessionAuth) -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/reauthenticate", post(reauthenticate))
        .route("/maybe", get(maybe))
        .route("/sign-out", post(sign_out))
        .layer(auth.layer())
        .with_state(auth.clone())
}

async fn store(db: &TestDb, clock: &ManualClock) -> SessionStore {
    let store = db.builder().clock(clock.clone()).build().unwrap();
    store.migrate().await.unwrap();
    store
}

fn clock() -> ManualClock {
    ManualClock::new(datetime!(2030-01-01 12:00:00 UTC))
}

async fn new_token(store: &SessionStore, user: &str) -> String {
    let created = store
        .create(NewSession::new().extra("user_id", user))
        .await
        .unwrap();
    created.token.into_string()
}

fn get_with(path: &str, headers: &[(&str, &[u8])]) -> Request<Body> {
    let mut req = Request::get(path).body(Body::empty()).unwrap();
    for (name, value) in headers {
        req.headers_mut().append(
            header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value).unwrap(),
        );
    }
    req
}

async fn call(app: &Router, req: Request<Body>) -> (StatusCode, String, Vec<String>) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let cookies = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap(), cookies)
}

async fn each_source_yields_the_session(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    let token = new_token(&store, "42").await;
    let app = app(&SessionAuth::new(store));
    let cookie = format!("theme=dark; auth_token={token}");
    let bearer = format!("Bearer {token}");
    for headers in [
        vec![("cookie", cookie.as_bytes())],
        vec![("x-auth-token", token.as_bytes())],
        vec![("authorization", bearer.as_bytes())],
    ] {
        let (status, body, _) = call(&app, get_with("/me", &headers)).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "user 42"));
        let (_, body, _) = call(&app, get_with("/maybe", &headers)).await;
        assert_eq!(body, "user 42");
    }
}

async fn no_valid_session_is_a_short_401(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    let token = new_token(&store, "42").await;
    let expired = new_token(&store, "43").await;
    let expired_id = store.lookup(&expired).await.unwrap().unwrap().id;
    store.expire(expired_id).await.unwrap();
    let app = app(&SessionAuth::new(store));
    let unknown = "A".repeat(64);
    for headers in [
        vec![],
        vec![("x-auth-token", unknown.as_bytes())],
        vec![("x-auth-token", expired.as_bytes())],
        vec![("authorization", b"Basic dXNlcjpwYXNz".as_slice())],
    ] {
        let (status, body, _) = call(&app, get_with("/me", &headers)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{headers:?}");
        assert_eq!(body, "unauthorized\n");
        let (status, body, _) = call(&app, get_with("/maybe", &headers)).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "anonymous"));
    }
    // The valid token still works next to them.
    let (status, _, _) = call(&app, get_with("/me", &[("x-auth-token", token.as_bytes())])).await;
    assert_eq!(status, StatusCode::OK);
}

async fn source_order_is_configurable(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    let token = new_token(&store, "42").await;
    let bad_cookie = format!("auth_token={}", "B".repeat(64));
    let bearer = format!("Bearer {token}");
    let headers = [
        ("cookie", bad_cookie.as_bytes()),
        ("authorization", bearer.as_bytes()),
    ];
    // Default order: the bearer token wins over the (unknown) cookie.
    let default = app(&SessionAuth::new(store.clone()));
    let (status, _, _) = call(&default, get_with("/me", &headers)).await;
    assert_eq!(status, StatusCode::OK);
    // Cookie first: the cookie is present, so it decides.
    let cookie_first =
        app(&SessionAuth::new(store.clone()).sources([TokenSource::Cookie, TokenSource::Bearer]));
    let (status, _, _) = call(&cookie_first, get_with("/me", &headers)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Cookies only, under another name: headers are ignored.
    let cookie_only = app(&SessionAuth::new(store.clone())
        .sources([TokenSource::Cookie])
        .cookie_name("sid")
        .unwrap());
    let (status, _, _) = call(
        &cookie_only,
        get_with("/me", &[("x-auth-token", token.as_bytes())]),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let sid = format!("sid={token}");
    let (status, _, _) = call(&cookie_only, get_with("/me", &[("cookie", sid.as_bytes())])).await;
    assert_eq!(status, StatusCode::OK);
}

/// A middleware reads the session, then deletes its row: the handler still sees it, so it
/// did not query again.
async fn one_lookup_per_request(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    let token = new_token(&store, "42").await;
    let auth = SessionAuth::new(store.clone());
    let delete_after_reading = {
        let store = store.clone();
        move |session: CurrentSession, req: Request<Body>, next: Next| {
            let store = store.clone();
            async move {
                assert!(store.delete(session.id).await.unwrap());
                next.run(req).await
            }
        }
    };
    let app = Router::new()
        .route(
            "/two",
            get(|a: CurrentSession, b: Option<CurrentSession>| async move {
                assert_eq!(Some(a.id), b.map(|b| b.id));
                "both"
            }),
        )
        .layer(middleware::from_fn(delete_after_reading))
        .layer(auth.layer());
    let (status, body, _) = call(
        &app,
        get_with("/two", &[("x-auth-token", token.as_bytes())]),
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "both"));
    // The next request queries again and finds nothing.
    let (status, _, _) = call(
        &app,
        get_with("/two", &[("x-auth-token", token.as_bytes())]),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// With the pool closed, any query would fail with 503: bad input must still get 401.
async fn bad_input_is_refused_without_a_query(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    let app = app(&SessionAuth::new(store));
    db.close().await;
    let long = "a".repeat(5000);
    let long_bearer = format!("Bearer {long}");
    let huge_cookie = format!("auth_token={}; pad={}", "a".repeat(64), "p".repeat(9000));
    let long_cookie = format!("auth_token={long}");
    let cases: Vec<Vec<(&str, &[u8])>> = vec![
        vec![("x-auth-token", long.as_bytes())],
        vec![("authorization", long_bearer.as_bytes())],
        vec![("x-auth-token", b"a"), ("x-auth-token", b"b")],
        vec![("x-auth-token", b"not a token")],
        vec![("x-auth-token", b"!!!!")],
        vec![("x-auth-token", b"caf\xc3\xa9")],
        vec![("authorization", b"Bearer")],
        vec![("cookie", huge_cookie.as_bytes())],
        vec![("cookie", long_cookie.as_bytes())],
        vec![("cookie", b"auth_token=\xff\xfe\xfd")],
        vec![("cookie", b"auth_token")],
        vec![("cookie", b";;;=;auth_token==;")],
    ];
    for headers in cases {
        let (status, body, _) = call(&app, get_with("/me", &headers)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{headers:?}");
        assert_eq!(body, "unauthorized\n");
        let (status, body, _) = call(&app, get_with("/maybe", &headers)).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "anonymous"));
    }
    // A well-formed token does reach the (closed) store: 503, without detail.
    let good_shape = "A".repeat(64);
    for path in ["/me", "/maybe"] {
        let (status, body, _) = call(
            &app,
            get_with(path, &[("x-auth-token", good_shape.as_bytes())]),
        )
        .await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, "service unavailable\n")
        );
    }
}

async fn extension_refreshes_the_cookie(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    let token = new_token(&store, "42").await;
    let app = app(&SessionAuth::new(store.clone()));
    let cookie = format!("auth_token={token}");
    // Not due for extension: no cookie, even in the instant the session was created
    // (its `updated_at` is the lookup's "now": only the store knows nothing was written).
    let (_, _, set) = call(&app, get_with("/me", &[("cookie", cookie.as_bytes())])).await;
    assert!(set.is_empty(), "{set:?}");
    // Two days later the lookup extends the session to now + 7 days: the cookie follows.
    clock.advance(Duration::days(2));
    let (status, _, set) = call(&app, get_with("/me", &[("cookie", cookie.as_bytes())])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(set.len(), 1, "{set:?}");
    assert!(set[0].starts_with(&format!("auth_token={token};")));
    assert!(set[0].contains("Max-Age=604800") && set[0].contains("HttpOnly"));
    // From a header, no cookie is set.
    clock.advance(Duration::days(2));
    let (_, _, set) = call(&app, get_with("/me", &[("x-auth-token", token.as_bytes())])).await;
    assert!(set.is_empty(), "{set:?}");
    // A handler that sets the cookie itself (sign-out) is not overridden.
    clock.advance(Duration::days(2));
    let mut req = get_with("/sign-out", &[("cookie", cookie.as_bytes())]);
    *req.method_mut() = axum::http::Method::POST;
    let (status, _, set) = call(&app, req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(set.len(), 1, "{set:?}");
    assert!(set[0].starts_with("auth_token=;") && set[0].contains("Max-Age=0"));
    let (status, _, _) = call(&app, get_with("/me", &[("cookie", cookie.as_bytes())])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// A sibling subdomain planted its own valid session cookie: the victim's client still
/// sends its own token in a header, and that one decides whose account the request runs as.
async fn a_header_token_wins_over_a_planted_cookie(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    let victim = new_token(&store, "victim").await;
    let attacker = new_token(&store, "attacker").await;
    let app = app(&SessionAuth::new(store));
    let planted = format!("auth_token={attacker}");
    let bearer = format!("Bearer {victim}");
    for own in [
        ("x-auth-token", victim.as_bytes()),
        ("authorization", bearer.as_bytes()),
    ] {
        let (status, body, _) = call(
            &app,
            get_with("/me", &[("cookie", planted.as_bytes()), own]),
        )
        .await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "user victim"),
            "{}",
            own.0
        );
    }
}

/// Two session cookies in one request (one planted under another path or by a sibling
/// subdomain) are refused, whatever their order, without a query.
async fn duplicate_session_cookies_are_refused(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    let mine = new_token(&store, "me").await;
    let theirs = new_token(&store, "them").await;
    let app = app(&SessionAuth::new(store));
    let one = format!("auth_token={mine}");
    let (status, body, _) = call(&app, get_with("/me", &[("cookie", one.as_bytes())])).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "user me"));
    let both = format!("auth_token={theirs}; theme=dark; auth_token={mine}");
    let twice = format!("auth_token={mine}; auth_token={mine}");
    let planted = format!("auth_token={theirs}");
    let cases: Vec<Vec<(&str, &[u8])>> = vec![
        vec![("cookie", both.as_bytes())],
        vec![("cookie", twice.as_bytes())],
        vec![("cookie", planted.as_bytes()), ("cookie", one.as_bytes())],
    ];
    for headers in &cases {
        let (status, body, _) = call(&app, get_with("/me", headers)).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::UNAUTHORIZED, "unauthorized\n"),
            "{headers:?}"
        );
    }
    // No query: with the pool closed they are still a 401, not a 503.
    db.close().await;
    for headers in &cases {
        let (status, _, _) = call(&app, get_with("/maybe", headers)).await;
        assert_eq!(status, StatusCode::OK, "{headers:?}");
    }
}

async fn source(session: CurrentSession) -> String {
    match session.source() {
        TokenSource::Cookie => format!("cookie {}", session.is_from_cookie()),
        TokenSource::Header(name) => format!("header {name}"),
        TokenSource::Bearer => "bearer".into(),
        other => format!("{other:?}"),
    }
}

/// A handler can tell a cookie request (which needs CSRF checks) from a header one.
async fn the_source_of_a_session_is_exposed(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    let token = new_token(&store, "42").await;
    let app = Router::new()
        .route("/source", get(source))
        .layer(SessionAuth::new(store).layer());
    let cookie = format!("auth_token={token}");
    let bearer = format!("Bearer {token}");
    for (header, value, expected) in [
        ("cookie", cookie.as_bytes(), "cookie true"),
        ("x-auth-token", token.as_bytes(), "header x-auth-token"),
        ("authorization", bearer.as_bytes(), "bearer"),
    ] {
        let (status, body, _) = call(&app, get_with("/source", &[(header, value)])).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, expected));
    }
}

/// `__Host-auth_token`: set with `Secure`, `Path=/` and no `Domain`, read under that name
/// only; settings that would break the prefix are refused.
async fn host_prefixed_cookies(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    let auth = SessionAuth::new(store.clone())
        .cookie_config(CookieConfig::host_prefixed())
        .unwrap();
    let sign_in = {
        let auth = auth.clone();
        move || async move {
            let created = auth
                .store()
                .create(NewSession::new().extra("user_id", "42"))
                .await
                .unwrap();
            auth.sign_in_headers(&created)
        }
    };
    let app = Router::new()
        .route("/me", get(me))
        .route("/sign-in", post(sign_in))
        .layer(auth.layer());
    let mut req = get_with("/sign-in", &[]);
    *req.method_mut() = axum::http::Method::POST;
    let (status, _, set) = call(&app, req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(set.len(), 1, "{set:?}");
    let cookie = set[0].split(';').next().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-auth_token="), "{set:?}");
    for part in ["Secure", "Path=/", "HttpOnly"] {
        assert!(set[0].contains(part), "{part} missing: {}", set[0]);
    }
    assert!(!set[0].contains("Domain"), "{}", set[0]);
    let (status, body, _) = call(&app, get_with("/me", &[("cookie", cookie.as_bytes())])).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "user 42"));
    let unprefixed = cookie.replacen("__Host-", "", 1);
    let (status, _, _) = call(&app, get_with("/me", &[("cookie", unprefixed.as_bytes())])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for refused in [
        SessionAuth::new(store.clone())
            .cookie_config(CookieConfig::host_prefixed().domain("example.com")),
        SessionAuth::new(store.clone()).cookie_config(CookieConfig::host_prefixed().path("/app")),
        auth.clone().secure_cookies(false),
        SessionAuth::new(store.clone())
            .secure_cookies(false)
            .and_then(|a| a.cookie_name("__Host-sid")),
    ] {
        assert!(matches!(
            refused,
            Err(sqlx_sessions::Error::Config {
                setting: "cookie",
                ..
            })
        ));
    }
}

async fn public_css(_session: Option<CurrentSession>) -> Response {
    ([(header::CACHE_CONTROL, "public, max-age=3600")], "body {}").into_response()
}

/// Every response that sets the session cookie is `Cache-Control: no-store`: the layer's
/// refresh (even over a handler's `public`), the sign-in and sign-out helpers, and a
/// handler's own cookie. Responses that set no cookie keep their own caching.
async fn responses_setting_the_session_cookie_are_not_stored(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    let token = new_token(&store, "42").await;
    let auth = SessionAuth::new(store.clone());
    let app = Router::new()
        .route("/style.css", get(public_css))
        .route("/me", get(me))
        .route("/sign-out", post(sign_out))
        .layer(auth.layer())
        .with_state(auth.clone());
    let cookie = format!("auth_token={token}");
    let fetch = |path: &'static str| {
        let app = app.clone();
        let cookie = cookie.clone();
        async move {
            let res = app
                .oneshot(get_with(path, &[("cookie", cookie.as_bytes())]))
                .await
                .unwrap();
            let cache: Vec<_> = res
                .headers()
                .get_all(header::CACHE_CONTROL)
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect();
            (res.headers().contains_key(header::SET_COOKIE), cache)
        }
    };
    // Not due for extension: no cookie, the handler's caching stands (in the instant the
    // session was created, too).
    assert_eq!(
        fetch("/style.css").await,
        (false, vec!["public, max-age=3600".to_owned()])
    );
    // Due: the refreshed cookie makes the response private to no cache at all.
    clock.advance(Duration::days(2));
    assert_eq!(
        fetch("/style.css").await,
        (true, vec!["no-store".to_owned()])
    );
    clock.advance(Duration::days(2));
    assert_eq!(fetch("/me").await, (true, vec!["no-store".to_owned()]));
    // A handler setting the cookie itself (sign-out with the bare cookie).
    let mut req = get_with("/sign-out", &[("cookie", cookie.as_bytes())]);
    *req.method_mut() = axum::http::Method::POST;
    let res = app.clone().oneshot(req).await.unwrap();
    assert!(res.headers().contains_key(header::SET_COOKIE));
    assert_eq!(
        res.headers().get(header::CACHE_CONTROL).unwrap(),
        "no-store"
    );
    // The helpers, without the layer.
    let created = store
        .create(NewSession::new().extra("user_id", "7"))
        .await
        .unwrap();
    for parts in [auth.sign_in_headers(&created), auth.sign_out_headers()] {
        let res = parts.into_response();
        assert_eq!(
            res.headers().get(header::CACHE_CONTROL).unwrap(),
            "no-store"
        );
        assert_eq!(res.headers().get_all(header::SET_COOKIE).iter().count(), 1);
    }
    assert!(!format!("{:?}", auth.sign_in_headers(&created)).contains(created.token.expose()));
}

/// The rotate helper: one new cookie (not the layer's refresh of the old one, even when the
/// lookup extended the session), `no-store`, the old cookie refused, the session the same.
async fn rotating_sets_the_new_cookie_only(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    let token = new_token(&store, "42").await;
    let before = store.lookup(&token).await.unwrap().unwrap();
    let app = app(&SessionAuth::new(store.clone()));
    let cookie = format!("auth_token={token}");
    // Due for extension, so the layer would refresh the old cookie if the handler did not
    // set one.
    clock.advance(Duration::days(2));
    let res = app
        .clone()
        .oneshot(
            Request::post("/reauthenticate")
                .header("cookie", &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    let set: Vec<_> = res.headers().get_all(header::SET_COOKIE).iter().collect();
    assert_eq!(set.len(), 1, "{set:?}");
    let set = set[0].to_str().unwrap();
    let new = set
        .strip_prefix("auth_token=")
        .and_then(|rest| rest.split(';').next())
        .unwrap();
    assert_ne!(new, token);
    assert!(
        set.contains("HttpOnly") && set.contains("Max-Age="),
        "{set}"
    );
    let (status, _, _) = call(&app, get_with("/me", &[("cookie", cookie.as_bytes())])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let new_cookie = format!("auth_token={new}");
    let (status, body, _) = call(&app, get_with("/me", &[("cookie", new_cookie.as_bytes())])).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "user 42"));
    let after = store.lookup(new).await.unwrap().unwrap();
    assert_eq!(
        (after.id, after.inserted_at),
        (before.id, before.inserted_at)
    );
    // A session gone in between: no cookie.
    store.delete(after.id).await.unwrap();
    assert!(
        SessionAuth::new(store)
            .rotate(&after)
            .await
            .unwrap()
            .is_none()
    );
}

backend_tests!(
    rotating_sets_the_new_cookie_only,
    a_header_token_wins_over_a_planted_cookie,
    duplicate_session_cookies_are_refused,
    the_source_of_a_session_is_exposed,
    host_prefixed_cookies,
    responses_setting_the_session_cookie_are_not_stored,
    each_source_yields_the_session,
    no_valid_session_is_a_short_401,
    source_order_is_configurable,
    one_lookup_per_request,
    bad_input_is_refused_without_a_query,
    extension_refreshes_the_cookie,
);

#[tokio::test]
async fn without_the_layer_the_extractor_is_a_500() {
    let app = Router::new().route("/me", get(me));
    let (status, body, _) = call(&app, get_with("/me", &[("x-auth-token", b"abc")])).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "internal server error\n")
    );
}
