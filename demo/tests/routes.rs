//! The demo's routes through `oneshot`, on a fresh SQLite file and a fresh PostgreSQL
//! database: sign-up and sign-in, devices, CSRF, the API with sessions and keys, stats, and
//! a database outage; and the demo's findings of the security review (issue 13).

mod common;

use axum::http::StatusCode;
use common::{Client, Credentials, Page, TestDb, between};
use sqlx_sessions::ManualClock;
use sqlx_sessions_demo::AppState;
use sqlx_sessions_demo::csrf::CsrfKey;
use sqlx_sessions_demo::routes::account::SIGN_IN_FAILED;
use sqlx_sessions_demo::state::SIGN_IN_BURST;
use time::format_description::well_known::Rfc3339;

/// Signs a new user up from a fresh browser; returns the client and the credentials.
async fn signed_up(db: &TestDb, user_agent: &str) -> (Client, Credentials) {
    let (client, credentials, _) = signed_up_with_cookie(db, user_agent).await;
    (client, credentials)
}

/// [`signed_up`], with the `Set-Cookie` header of the session cookie.
async fn signed_up_with_cookie(db: &TestDb, user_agent: &str) -> (Client, Credentials, String) {
    let mut client = Client::new(db.state().await, user_agent);
    let (page, credentials) = client.sign_up().await;
    let cookie = page
        .set_cookies
        .into_iter()
        .find(|c| c.starts_with("auth_token="))
        .expect("the session cookie");
    let account = client.get("/account").await;
    let user = between(&account.body, "<span id=\"user-id\">", "<").unwrap();
    assert_eq!(user, credentials.user);
    (client, credentials, cookie)
}

async fn sign_up_sign_in_and_devices(db: TestDb) {
    let (mut phone, alice, cookie) = signed_up_with_cookie(&db, "Phone/1.0").await;
    assert_eq!(phone.cookie("auth_token").unwrap().len(), 64);
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }

    // A second browser signs in with the id and the secret.
    let mut laptop = Client::new(db.state().await, "Laptop/2.0");
    let res = laptop.sign_in(&alice).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location.as_deref(), Some("/account"));
    let account = laptop.get("/account").await;
    assert_eq!(account.body.matches("data-session-id=").count(), 2);
    assert!(account.body.contains("Phone/1.0") && account.body.contains("Laptop/2.0"));
    assert_eq!(account.body.matches("this device").count(), 1);

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

    // Re-login gives this browser a new session and keeps the old one, as another device.
    let old_token = laptop.cookie("auth_token").unwrap().to_owned();
    let res = laptop.sign_in(&alice).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_ne!(laptop.cookie("auth_token").unwrap(), old_token);
    let account = laptop.get("/account").await;
    assert_eq!(account.body.matches("data-session-id=").count(), 2);
    assert_eq!(account.body.matches("this device").count(), 1);

    // Sign out of all devices: back to `/`, cookie gone.
    let res = laptop
        .post("/sign-out-all", &[("_csrf_token", &account.csrf())])
        .await;
    assert_eq!(res.location.as_deref(), Some("/"));
    assert!(laptop.cookie("auth_token").is_none());
    assert_eq!(laptop.get("/account").await.location.as_deref(), Some("/"));
}

/// Issue 13, finding 6: ids are random, and signing in takes the secret; every failure
/// says the same thing, so nothing tells whether an id exists.
async fn sign_in_needs_the_secret_and_says_nothing_about_ids(db: TestDb) {
    let (_, alice) = signed_up(&db, "Alice").await;
    let (_, bob) = signed_up(&db, "Bob").await;
    for credentials in [&alice, &bob] {
        let id = uuid::Uuid::parse_str(&credentials.user).expect("a UUID");
        assert_eq!(id.get_version_num(), 4, "a random id");
        assert!(credentials.secret.len() >= 43, "{}", credentials.secret);
    }
    assert_ne!(alice.user, bob.user);
    assert_ne!(alice.secret, bob.secret);

    let mut mallory = Client::new(db.state().await, "Mallory");
    let attempts = [
        ("the id alone", alice.user.clone(), String::new()),
        ("a wrong secret", alice.user.clone(), "x".repeat(43)),
        (
            "another user's secret",
            alice.user.clone(),
            bob.secret.clone(),
        ),
        (
            "an unknown id",
            uuid::Uuid::new_v4().to_string(),
            alice.secret.clone(),
        ),
        ("a sequential id", "1".to_owned(), alice.secret.clone()),
        ("junk", "abc".to_owned(), "abc".to_owned()),
    ];
    for (what, user, secret) in attempts {
        let res = mallory.sign_in(&Credentials { user, secret }).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{what}");
        assert!(res.body.contains(SIGN_IN_FAILED), "{what}: {}", res.body);
        assert!(!res.body.contains("There is no user"), "{what}");
        assert!(mallory.cookie("auth_token").is_none(), "{what}");
    }
    let res = mallory.sign_in(&alice).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
}

/// Issue 13, finding 6: after [`SIGN_IN_BURST`] tries from one address, sign-in answers
/// 429, even for the right secret.
async fn sign_in_is_rate_limited(db: TestDb) {
    let (_, alice) = signed_up(&db, "Alice").await;
    let state = db.state().await;
    let mut mallory = Client::new(state.clone(), "Mallory");
    let wrong = Credentials {
        user: alice.user.clone(),
        secret: "y".repeat(43),
    };
    for attempt in 0..SIGN_IN_BURST {
        let res = mallory.sign_in(&wrong).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "try {attempt}"
        );
    }
    // One more is allowed every 6 seconds: of the next five (well under 6 s apart), at most
    // one can be let through.
    let mut refused = 0;
    for _ in 0..5 {
        let res = mallory.sign_in(&alice).await;
        if res.status == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
            assert!(
                res.body.contains("Too many sign-in attempts"),
                "{}",
                res.body
            );
        }
    }
    assert!(refused >= 4, "{refused} of 5 refused");
}

/// Issue 13, finding 8: a signed-in request takes only its session's token, and a
/// `csrf_id` the client chose gets no token.
async fn csrf_tokens_are_bound_to_the_session_and_to_issued_ids(db: TestDb) {
    let state = db.state().await;
    let mut alice = Client::new(state.clone(), "Alice");
    alice.sign_up().await;
    // Mallory, signed out, gets a `csrf_id` and its token, and plants the cookie in Alice's
    // browser (a sibling subdomain can).
    let mut mallory = Client::new(state.clone(), "Mallory");
    let token = mallory.get("/").await.csrf();
    let planted = mallory.cookie("csrf_id").unwrap().to_owned();
    alice.cookies.insert("csrf_id".into(), planted);
    let res = alice
        .post("/sign-out-all", &[("_csrf_token", &token)])
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert_eq!(alice.get("/account").await.status, StatusCode::OK);

    // A `csrf_id` the client made up is replaced, and the token of the page is not valid
    // for the made-up one.
    let mut eve = Client::new(state.clone(), "Eve");
    let chosen = "A".repeat(43);
    eve.cookies.insert("csrf_id".into(), chosen.clone());
    let page = eve.get("/").await;
    let issued = eve.cookie("csrf_id").unwrap().to_owned();
    assert_ne!(issued, chosen, "the server issues its own id");
    eve.cookies.insert("csrf_id".into(), chosen.clone());
    let res = eve.post("/signup", &[("_csrf_token", &page.csrf())]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // With the issued id the same token works.
    eve.cookies.insert("csrf_id".into(), issued);
    let res = eve.post("/signup", &[("_csrf_token", &page.csrf())]).await;
    assert_eq!(res.status, StatusCode::OK);
}

fn device_id(account: &Page, user_agent: &str) -> String {
    let row_end = account.body.find(user_agent).unwrap();
    let row_start = account.body[..row_end].rfind("data-session-id=\"").unwrap();
    between(&account.body[row_start..], "data-session-id=\"", "\"").unwrap()
}

async fn forms_need_a_valid_csrf_token(db: TestDb) {
    let (mut alice, Credentials { user, .. }) = signed_up(&db, "Alice").await;
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
    let (mut alice, Credentials { user, .. }) = signed_up(&db, "Alice").await;
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
    assert_eq!(me["user"]["id"], user.as_str());
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
    // The stylesheet sets none either, and stays cacheable.
    let css = Client::new(db.state().await, "curl")
        .get("/static/app.css")
        .await;
    assert!(css.set_cookies.is_empty(), "{:?}", css.set_cookies);

    // An API key: shown once, listed by its hint, accepted, revoked.
    let account = alice.get("/account").await;
    let res = alice
        .post(
            "/api-keys",
            &[
                ("_csrf_token", &account.csrf()),
                ("name", "ci script"),
                ("scope_me_read", "1"),
                ("expires", "never"),
            ],
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
    let (mut bob, _) = signed_up(&db, "Bob").await;
    let csrf = alice.get("/account").await.csrf();
    alice
        .post("/expire-session", &[("_csrf_token", &csrf)])
        .await;
    // Issue 13, finding 6: not for anonymous visitors.
    assert_eq!(alice.get("/stats").await.location.as_deref(), Some("/"));
    let stats = bob.get("/stats").await;
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

/// Issue 13, finding 7: a key needs a sign-in within 10 minutes (or the secret typed
/// again), and an expiry chosen at creation ("never" only when chosen).
async fn api_keys_need_a_fresh_sign_in_and_an_expiry(db: TestDb) {
    let clock = ManualClock::new(time::OffsetDateTime::now_utc());
    let state = AppState::with_clock(db.db.clone(), CsrfKey::random(), false, clock.clone())
        .await
        .unwrap();
    let mut alice = Client::new(state.clone(), "Alice");
    let (_, credentials) = alice.sign_up().await;
    let create = async |client: &mut Client, fields: &[(&str, &str)]| {
        let csrf = client.get("/account").await.csrf();
        let mut form = vec![("_csrf_token", csrf.as_str()), ("name", "script")];
        form.extend_from_slice(fields);
        let form: Vec<(&str, &str)> = form;
        client.post("/api-keys", &form).await
    };
    // No expiry chosen, or one not offered: refused.
    for fields in [
        &[][..],
        &[("scope_me_read", "1"), ("expires", "")],
        &[("scope_me_read", "1"), ("expires", "365d")],
    ] {
        let res = create(&mut alice, fields).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{fields:?}");
    }
    // 30 days, 90 days, never: as chosen.
    let now = clock_now(&clock);
    for (choice, expires) in [
        ("30d", Some(now + time::Duration::days(30))),
        ("90d", Some(now + time::Duration::days(90))),
        ("never", None),
    ] {
        let res = create(&mut alice, &[("scope_me_read", "1"), ("expires", choice)]).await;
        assert_eq!(res.status, StatusCode::OK, "{choice}: {}", res.body);
        let key = between(&res.body, "<code id=\"new-key\">", "<").unwrap();
        let me = alice
            .get_with("/api/me", &[("x-auth-token", &key)])
            .await
            .json();
        let expected = expires.map(|t| t.format(&Rfc3339).unwrap());
        assert_eq!(
            me["session"]["expires_at"],
            serde_json::json!(expected),
            "{choice}"
        );
    }

    // Eleven minutes later the sign-in is stale: no key without the secret.
    clock.advance(time::Duration::minutes(11));
    let account = alice.get("/account").await;
    assert!(
        account.body.contains("id=\"key-secret\""),
        "the form asks for it"
    );
    let keys_before = account.body.matches("data-key-id=").count();
    for secret in [None, Some(""), Some("wrong secret")] {
        let mut fields = vec![("scope_me_read", "1"), ("expires", "30d")];
        fields.extend(secret.map(|s| ("secret", s)));
        let res = create(&mut alice, &fields).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{secret:?}");
        assert!(res.body.contains("confirm it is you"), "{}", res.body);
        assert!(!res.body.contains("id=\"new-key\""));
    }
    let account = alice.get("/account").await;
    assert_eq!(account.body.matches("data-key-id=").count(), keys_before);
    // With the secret: created, and the sign-in is fresh again.
    let res = create(
        &mut alice,
        &[
            ("scope_me_read", "1"),
            ("expires", "30d"),
            ("secret", &credentials.secret),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body.contains("id=\"new-key\""));
    let res = create(&mut alice, &[("scope_me_read", "1"), ("expires", "30d")]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
}

fn clock_now(clock: &ManualClock) -> time::OffsetDateTime {
    use sqlx_sessions::Clock as _;
    clock.now()
}

/// Issue 13, finding 7: "sign out of all devices" revokes the API keys too when asked,
/// and only then.
async fn sign_out_all_can_revoke_api_keys(db: TestDb) {
    let (mut alice, credentials) = signed_up(&db, "Alice").await;
    let csrf = alice.get("/account").await.csrf();
    let res = alice
        .post(
            "/api-keys",
            &[
                ("_csrf_token", &csrf),
                ("name", "k"),
                ("scope_me_read", "1"),
                ("expires", "90d"),
            ],
        )
        .await;
    let key = between(&res.body, "<code id=\"new-key\">", "<").unwrap();
    let key_works = async |client: &mut Client| {
        client
            .get_with("/api/me", &[("x-auth-token", &key)])
            .await
            .json()["is_logged_in"]
            == true
    };
    let res = alice.post("/sign-out-all", &[("_csrf_token", &csrf)]).await;
    assert_eq!(res.location.as_deref(), Some("/"));
    assert!(key_works(&mut alice).await, "kept when not asked");
    alice.sign_in(&credentials).await;
    let csrf = alice.get("/account").await.csrf();
    let res = alice
        .post(
            "/sign-out-all",
            &[("_csrf_token", &csrf), ("revoke_api_keys", "1")],
        )
        .await;
    assert_eq!(res.location.as_deref(), Some("/"));
    assert!(!key_works(&mut alice).await, "revoked with the sessions");
}

/// Issue 13, finding 9: pages are never cached (the account page, the page that shows a
/// new key, the page that shows a new secret); the stylesheet is, and sets no cookie.
async fn caching_headers(db: TestDb) {
    let mut alice = Client::new(db.state().await, "Alice");
    let (signed_up, _) = alice.sign_up().await;
    assert_eq!(signed_up.headers["cache-control"], "no-store");
    let account = alice.get("/account").await;
    assert_eq!(account.headers["cache-control"], "no-store");
    let res = alice
        .post(
            "/api-keys",
            &[
                ("_csrf_token", &account.csrf()),
                ("name", "k"),
                ("scope_me_read", "1"),
                ("expires", "30d"),
            ],
        )
        .await;
    assert!(res.body.contains("id=\"new-key\""));
    assert_eq!(res.headers["cache-control"], "no-store");
    assert_eq!(alice.get("/").await.headers["cache-control"], "no-store");
    for mut client in [alice, Client::new(db.state().await, "fresh")] {
        let css = client.get("/static/app.css").await;
        assert_eq!(css.status, StatusCode::OK);
        assert_eq!(css.headers["cache-control"], "public, max-age=3600");
        assert!(css.set_cookies.is_empty(), "{:?}", css.set_cookies);
    }
}

/// Issue 13, finding 6: only allowed `Host` names are answered (no DNS rebinding).
async fn unknown_host_names_are_refused(db: TestDb) {
    let state = db.state().await;
    let mut client = Client::new(state.clone(), "x");
    for host in [
        "evil.example",
        "evil.example:4000",
        "localhost.evil.example:4000",
    ] {
        for path in ["/", "/api/me", "/static/app.css", "/stats"] {
            let res = client.get_with(path, &[("host", host)]).await;
            assert_eq!(res.status, StatusCode::MISDIRECTED_REQUEST, "{host}{path}");
            assert!(res.set_cookies.is_empty());
        }
    }
    for host in [
        "localhost:4000",
        "127.0.0.1:4000",
        "[::1]:4000",
        "LOCALHOST",
    ] {
        let res = client.get_with("/", &[("host", host)]).await;
        assert_eq!(res.status, StatusCode::OK, "{host}");
    }
    let mut client = Client::new(state.allow_hosts(["demo.test".to_owned()]), "x");
    let res = client.get_with("/", &[("host", "demo.test:8080")]).await;
    assert_eq!(res.status, StatusCode::OK);
}

/// Over HTTPS (`SECURE_COOKIES=1`) both cookies carry the `__Host-` prefix, which no
/// sibling subdomain can plant, and the CSRF check reads the prefixed `csrf_id`.
async fn secure_cookies_are_host_prefixed(db: TestDb) {
    let state = AppState::new(db.db.clone(), CsrfKey::random(), true)
        .await
        .unwrap();
    let mut alice = Client::new(state, "Alice");
    let (page, credentials) = alice.sign_up().await;
    for name in ["__Host-auth_token=", "__Host-csrf_id="] {
        assert!(
            alice.cookies.keys().any(|k| name.starts_with(k.as_str())),
            "{name} in {:?}",
            alice.cookies
        );
    }
    let session_cookie = page
        .set_cookies
        .iter()
        .find(|c| c.starts_with("__Host-auth_token="))
        .expect("the session cookie");
    for attribute in ["Secure", "Path=/", "HttpOnly"] {
        assert!(session_cookie.contains(attribute), "{session_cookie}");
    }
    assert!(!session_cookie.contains("Domain"), "{session_cookie}");
    assert!(!alice.cookies.contains_key("csrf_id"));
    let res = alice.sign_in(&credentials).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
}

/// Issue 12's demo: a flash after each action, the last user id pre-filled, "remember me"
/// (a per-session TTL), renaming a device, re-authenticating (a new token, the cookie
/// replaced), the `curl` line that expands `$API_KEY`, and issue 13's cap on devices.
async fn devices_are_renamed_remembered_reauthenticated_and_capped(db: TestDb) {
    let state = db.state().await;
    let (mut browser, alice) = signed_up(&db, "Browser/1.0").await;

    // Sign out: the home page says so, once, and pre-fills the user id.
    let account = browser.get("/account").await;
    browser
        .post("/sign-out", &[("_csrf_token", &account.csrf())])
        .await;
    let home = browser.get("/").await;
    assert!(home.body.contains("id=\"flash\""), "{}", home.body);
    assert!(home.body.contains("Signed out."));
    assert!(home.body.contains(&format!("value=\"{}\"", alice.user)));
    assert!(
        !browser.get("/").await.body.contains("Signed out."),
        "shown once"
    );

    // "Remember me": the session keeps a TTL of its own, 30 days.
    let csrf = browser.get("/").await.csrf();
    let res = browser
        .post(
            "/login",
            &[
                ("_csrf_token", &csrf),
                ("user_id", &alice.user),
                ("secret", &alice.secret),
                ("remember", "1"),
            ],
        )
        .await;
    assert_eq!(res.location.as_deref(), Some("/account"));
    let remembered = browser.cookie("auth_token").unwrap().to_owned();
    let session = state.sessions().lookup(&remembered).await.unwrap().unwrap();
    assert_eq!(session.ttl, Some(time::Duration::days(30)));
    let lifetime = session.expires_at.unwrap() - session.inserted_at;
    assert!(lifetime > time::Duration::days(29), "{lifetime}");
    let account = browser.get("/account").await;
    assert!(account.body.contains("Signed in."), "{}", account.body);

    // Rename this device; the name shows, and an empty name goes back to the user agent's.
    let csrf = account.csrf();
    let this = device_id(&account, "Browser/1.0");
    let res = browser
        .post(
            "/rename-session",
            &[
                ("_csrf_token", &csrf),
                ("session_id", &this),
                ("name", "Kitchen <tablet>"),
            ],
        )
        .await;
    assert_eq!(res.location.as_deref(), Some("/account"));
    let account = browser.get("/account").await;
    assert!(account.body.contains("Device renamed."));
    assert!(
        account.body.contains("Kitchen &#60;tablet&#62;")
            || account.body.contains("Kitchen &lt;tablet&gt;"),
        "{}",
        account.body
    );
    let data = state
        .sessions()
        .lookup(&remembered)
        .await
        .unwrap()
        .unwrap()
        .data;
    assert_eq!(data.get_str("name").as_deref(), Some("Kitchen <tablet>"));
    assert_eq!(
        data.get_str("user_agent").as_deref(),
        Some("Browser/1.0"),
        "the rest kept"
    );
    // Another user's device cannot be renamed.
    let (mut bob, _) = signed_up(&db, "Bob").await;
    let bob_csrf = bob.get("/account").await.csrf();
    let res = bob
        .post(
            "/rename-session",
            &[
                ("_csrf_token", &bob_csrf),
                ("session_id", &this),
                ("name", "mine"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);

    // Re-authenticate: a wrong secret says so; the right one rotates the token.
    let res = browser
        .post(
            "/reauthenticate",
            &[("_csrf_token", &csrf), ("secret", "wrong")],
        )
        .await;
    assert_eq!(res.location.as_deref(), Some("/account"));
    assert_eq!(browser.cookie("auth_token"), Some(remembered.as_str()));
    assert!(
        browser
            .get("/account")
            .await
            .body
            .contains("not your sign-in secret")
    );
    let res = browser
        .post(
            "/reauthenticate",
            &[("_csrf_token", &csrf), ("secret", &alice.secret)],
        )
        .await;
    assert_eq!(res.location.as_deref(), Some("/account"));
    let rotated = browser.cookie("auth_token").unwrap().to_owned();
    assert_ne!(rotated, remembered);
    assert!(
        state
            .sessions()
            .lookup(&remembered)
            .await
            .unwrap()
            .is_none()
    );
    let after = state.sessions().lookup(&rotated).await.unwrap().unwrap();
    assert_eq!(after.id.to_string(), this, "the same device");
    let account = browser.get("/account").await;
    assert!(
        account.body.contains("new session token"),
        "{}",
        account.body
    );
    // The curl line expands `$API_KEY` in the shell.
    assert!(
        account.body.contains("curl -H \"X-Auth-Token: $API_KEY\""),
        "{}",
        account.body
    );

    // The cap: at most MAX_DEVICES sessions; each sign-in beyond signs the oldest out (this
    // browser's, then the next one's).
    let max = sqlx_sessions_demo::state::MAX_DEVICES as usize;
    let mut next = Client::new(db.state().await, "Next/1.0");
    next.sign_in(&alice).await;
    let mut last = None;
    for i in 0..max {
        let mut device = Client::new(db.state().await, &format!("Device/{i}"));
        assert_eq!(device.sign_in(&alice).await.status, StatusCode::SEE_OTHER);
        last = Some(device);
    }
    let account = last.unwrap().get("/account").await;
    assert_eq!(
        account.body.matches("data-session-id=").count(),
        max,
        "{}",
        account.body
    );
    assert!(!account.body.contains("Next/1.0") && !account.body.contains("Kitchen"));
    assert_eq!(browser.get("/account").await.location.as_deref(), Some("/"));
    assert_eq!(next.get("/account").await.location.as_deref(), Some("/"));
}

sqlx_sessions_test_support::backend_tests!(
    devices_are_renamed_remembered_reauthenticated_and_capped,
    secure_cookies_are_host_prefixed,
    sign_up_sign_in_and_devices,
    sign_in_needs_the_secret_and_says_nothing_about_ids,
    sign_in_is_rate_limited,
    csrf_tokens_are_bound_to_the_session_and_to_issued_ids,
    api_keys_need_a_fresh_sign_in_and_an_expiry,
    sign_out_all_can_revoke_api_keys,
    caching_headers,
    unknown_host_names_are_refused,
    forms_need_a_valid_csrf_token,
    api_me_with_sessions_and_keys,
    others_sessions_are_out_of_reach,
    stats_counts,
    database_outage_is_a_503,
);
