//! The demo's routes through `oneshot`, on a fresh SQLite file and a fresh PostgreSQL
//! database: sign-up and sign-in, devices, CSRF, the API with sessions and keys, stats, and
//! a database outage.

mod common;

use axum::http::StatusCode;
use common::{Client, Page, TestDb, between};

/// Signs a new user up from a fresh browser; returns the client and the user id.
async fn signed_up(db: &TestDb, user_agent: &str) -> (Client, String) {
    let (client, user, _) = signed_up_with_cookie(db, user_agent).await;
    (client, user)
}

/// [`signed_up`], with the `Set-Cookie` header of the session cookie.
async fn signed_up_with_cookie(db: &TestDb, user_agent: &str) -> (Client, String, String) {
    let mut client = Client::new(db.state().await, user_agent);
    let home = client.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    let res = client
        .post("/signup", &[("_csrf_token", &home.csrf())])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location.as_deref(), Some("/account"));
    let cookie = res
        .set_cookies
        .into_iter()
        .find(|c| c.starts_with("auth_token="))
        .expect("the session cookie");
    let account = client.get("/account").await;
    let user = between(&account.body, "<span id=\"user-id\">", "<").unwrap();
    (client, user, cookie)
}

async fn sign_up_sign_in_and_devices(db: TestDb) {
    let (mut phone, user, cookie) = signed_up_with_cookie(&db, "Phone/1.0").await;
    assert_eq!(phone.cookie("auth_token").unwrap().len(), 64);
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }

    // A second browser signs in by user id.
    let mut laptop = Client::new(db.state().await, "Laptop/2.0");
    let home = laptop.get("/").await;
    let res = laptop
        .post(
            "/login",
            &[("_csrf_token", &home.csrf()), ("user_id", &user)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let account = laptop.get("/account").await;
    assert_eq!(account.body.matches("data-session-id=").count(), 2);
    assert!(account.body.contains("Phone/1.0") && account.body.contains("Laptop/2.0"));
    assert_eq!(account.body.matches("this device").count(), 1);

    // Unknown and malformed user ids.
    let mut stranger = Client::new(db.state().await, "x");
    let csrf = stranger.get("/").await.csrf();
    let res = stranger
        .post("/login", &[("_csrf_token", &csrf), ("user_id", "999999")])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("There is no user #999999"));
    let res = stranger
        .post("/login", &[("_csrf_token", &csrf), ("user_id", "abc")])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("A user id is a number"));

    // The laptop expires the phone's session: struck through, the phone is signed out.
    let phone_id = device_id(&account, "Phone/1.0");
    let csrf = account.csrf();
    let res = laptop
        .post(
            "/expire-session",
            &[("_csrf_token", &csrf), ("session_id", &phone_id)],
        )
        .await;
    assert_eq!(res.location.as_deref(), Some("/account"));
    let account = laptop.get("/account").await;
    assert!(account.body.contains("<s>Phone/1.0</s>"));
    assert_eq!(phone.get("/account").await.location.as_deref(), Some("/"));

    // ...then deletes it.
    let res = laptop
        .post(
            "/delete-session",
            &[("_csrf_token", &csrf), ("session_id", &phone_id)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let account = laptop.get("/account").await;
    assert_eq!(account.body.matches("data-session-id=").count(), 1);

    // Re-login replaces this browser's session with a new one.
    let old_token = laptop.cookie("auth_token").unwrap().to_owned();
    let res = laptop
        .post("/login", &[("_csrf_token", &csrf), ("user_id", &user)])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_ne!(laptop.cookie("auth_token").unwrap(), old_token);
    let account = laptop.get("/account").await;
    assert_eq!(account.body.matches("data-session-id=").count(), 1);

    // Sign out of all devices: back to `/`, cookie gone.
    let res = laptop
        .post("/sign-out-all", &[("_csrf_token", &account.csrf())])
        .await;
    assert_eq!(res.location.as_deref(), Some("/"));
    assert!(laptop.cookie("auth_token").is_none());
    assert_eq!(laptop.get("/account").await.location.as_deref(), Some("/"));
}

fn device_id(account: &Page, user_agent: &str) -> String {
    let row_end = account.body.find(user_agent).unwrap();
    let row_start = account.body[..row_end].rfind("data-session-id=\"").unwrap();
    between(&account.body[row_start..], "data-session-id=\"", "\"").unwrap()
}

async fn forms_need_a_valid_csrf_token(db: TestDb) {
    let (mut alice, user) = signed_up(&db, "Alice").await;
    let account = alice.get("/account").await;
    let csrf = account.csrf();
    for path in [
        "/sign-out",
        "/sign-out-all",
        "/expire-session",
        "/api-keys",
        "/signup",
        "/login",
    ] {
        let res = alice.post(path, &[("name", "k"), ("user_id", &user)]).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{path}");
        let res = alice
            .post(path, &[("_csrf_token", "forged"), ("user_id", &user)])
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{path}");
    }
    // Another user's token does not work in Alice's browser.
    let (mut bob, _) = signed_up(&db, "Bob").await;
    let bobs = bob.get("/account").await.csrf();
    let res = alice.post("/sign-out", &[("_csrf_token", &bobs)]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // A signed-out browser's token is bound to its own csrf_id cookie.
    let mut eve = Client::new(db.state().await, "Eve");
    let eves = eve.get("/").await.csrf();
    let mut mallory = Client::new(db.state().await, "Mallory");
    mallory.get("/").await;
    let res = mallory.post("/signup", &[("_csrf_token", &eves)]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // And Alice's own token still works.
    let res = alice.post("/sign-out", &[("_csrf_token", &csrf)]).await;
    assert_eq!(res.location.as_deref(), Some("/"));
}

async fn api_me_with_sessions_and_keys(db: TestDb) {
    let (mut alice, user) = signed_up(&db, "Alice").await;
    let session_token = alice.cookie("auth_token").unwrap().to_owned();
    let mut anonymous = Client::new(db.state().await, "curl");
    let me = anonymous.get("/api/me").await;
    assert_eq!(me.json(), serde_json::json!({"is_logged_in": false}));
    let me = anonymous
        .get_with("/api/me", &[("x-auth-token", "garbage token")])
        .await;
    assert_eq!(me.json()["is_logged_in"], false);

    let me = anonymous
        .get_with("/api/me", &[("x-auth-token", &session_token)])
        .await
        .json();
    assert_eq!(me["is_logged_in"], true);
    assert_eq!(me["user"]["id"].to_string(), user);
    assert_eq!(me["session"]["kind"], "session");
    assert!(me["session"]["expires_at"].is_string());
    assert_eq!(me["session"]["user_agent"], "Alice");

    // The API sets no cookie (no CSRF id: it has no forms) but keeps the security headers.
    let res = Client::new(db.state().await, "curl")
        .get_with("/api/me", &[("x-auth-token", &session_token)])
        .await;
    assert!(res.set_cookies.is_empty(), "{:?}", res.set_cookies);
    assert_eq!(res.headers["x-frame-options"], "DENY");
    // A page still gets its CSRF id.
    let page = Client::new(db.state().await, "curl").get("/").await;
    assert!(page.set_cookies.iter().any(|c| c.starts_with("csrf_id=")));

    // An API key: shown once, listed by its hint, accepted, revoked.
    let account = alice.get("/account").await;
    let res = alice
        .post(
            "/api-keys",
            &[("_csrf_token", &account.csrf()), ("name", "ci script")],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let key = between(&res.body, "<code id=\"new-key\">", "<").unwrap();
    assert!(key.starts_with("demo_sk_"));
    let account = alice.get("/account").await;
    assert!(!account.body.contains(&key), "a key is shown once");
    assert!(account.body.contains(&key[..12]), "its hint is listed");
    let me = anonymous
        .get_with("/api/me", &[("authorization", &format!("Bearer {key}"))])
        .await
        .json();
    assert_eq!(me["session"]["kind"], "api_key");
    assert_eq!(me["session"]["name"], "ci script");
    let key_id = between(&account.body, "data-key-id=\"", "\"").unwrap();
    let res = alice
        .post(
            "/api-keys/revoke",
            &[("_csrf_token", &account.csrf()), ("key_id", &key_id)],
        )
        .await;
    assert_eq!(res.location.as_deref(), Some("/account"));
    let me = anonymous
        .get_with("/api/me", &[("x-auth-token", &key)])
        .await;
    assert_eq!(me.json()["is_logged_in"], false);

    // A key that fails its checksum costs no query, and is refused all the same.
    let mut forged = key.clone();
    forged.replace_range(10..11, if &key[10..11] == "A" { "B" } else { "A" });
    let me = anonymous
        .get_with("/api/me", &[("x-auth-token", &forged)])
        .await;
    assert_eq!(me.json()["is_logged_in"], false);
}

async fn others_sessions_are_out_of_reach(db: TestDb) {
    let (mut alice, _) = signed_up(&db, "Alice").await;
    let alices = alice.get("/account").await;
    let alice_session = device_id(&alices, "Alice");
    let (mut bob, _) = signed_up(&db, "Bob").await;
    let csrf = bob.get("/account").await.csrf();
    for path in ["/expire-session", "/delete-session"] {
        bob.post(
            path,
            &[("_csrf_token", &csrf), ("session_id", &alice_session)],
        )
        .await;
    }
    let account = alice.get("/account").await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(!account.body.contains("<s>Alice</s>"));
}

async fn stats_counts(db: TestDb) {
    let (mut alice, _) = signed_up(&db, "Alice").await;
    let (_bob, _) = signed_up(&db, "Bob").await;
    let csrf = alice.get("/account").await.csrf();
    alice
        .post("/expire-session", &[("_csrf_token", &csrf)])
        .await;
    let stats = alice.get("/stats").await;
    assert_eq!(stats.status, StatusCode::OK);
    let number = |id: &str| between(&stats.body, &format!("id=\"{id}\">"), "<").unwrap();
    assert_eq!(number("users"), "2");
    assert_eq!(number("sessions-total"), "2");
    assert_eq!(number("sessions-active"), "1");
    assert_eq!(number("sessions-expired"), "1");
}

async fn database_outage_is_a_503(db: TestDb) {
    let (mut alice, _) = signed_up(&db, "Alice").await;
    let token = alice.cookie("auth_token").unwrap().to_owned();
    db.db.close().await;
    let page = alice.get("/account").await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.body.contains("database is unavailable"));
    let me = alice.get_with("/api/me", &[("x-auth-token", &token)]).await;
    assert_eq!(me.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(me.json()["error"].is_string());
    assert_eq!(
        alice.get("/stats").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

sqlx_sessions_test_support::backend_tests!(
    sign_up_sign_in_and_devices,
    forms_need_a_valid_csrf_token,
    api_me_with_sessions_and_keys,
    others_sessions_are_out_of_reach,
    stats_counts,
    database_outage_is_a_503,
);
