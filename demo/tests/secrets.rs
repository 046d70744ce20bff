//! Secrets: after a full run of the demo's flows (sign-up, sign-in on a second device, the
//! account page, the API with session tokens and API keys, revocations, refused tokens), a
//! scan of every byte the database holds, of the logs captured at TRACE (sqlx's own
//! included), and of the `Debug` output of the state and everything read from the stores
//! finds no plaintext token.

mod common;

use axum::http::StatusCode;
use common::{Client, TestDb, between};
use sqlx_sessions::{Filter, Status};

/// Every log line at TRACE.
fn logs() -> sqlx_sessions_test_support::Logs {
    sqlx_sessions_test_support::capture_logs("trace")
}

/// No token, nor its first 24 characters, in `haystack`.
fn assert_clean(what: &str, haystack: &str, tokens: &[String]) {
    assert!(!tokens.is_empty());
    for t in tokens {
        assert!(
            !haystack.contains(t.as_str()),
            "a plaintext token in {what}"
        );
        assert!(
            !haystack.contains(&t[..24]),
            "part of a plaintext token in {what}"
        );
    }
}

async fn no_plaintext_token_after_every_flow(db: TestDb) {
    let logs = logs();
    let state = db.state().await;
    let mut secrets = Vec::new();
    let mut debug = Vec::new();

    let mut phone = Client::new(state.clone(), "Phone");
    let (_, credentials) = phone.sign_up().await;
    secrets.push(phone.cookie("auth_token").unwrap().to_owned());

    let mut laptop = Client::new(state.clone(), "Laptop");
    let res = laptop.sign_in(&credentials).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let laptop_token = laptop.cookie("auth_token").unwrap().to_owned();
    secrets.push(laptop_token.clone());

    // API keys: created (shown once), used, one revoked.
    let mut key_ids = Vec::new();
    for name in ["ci", "backup"] {
        let csrf = laptop.get("/account").await.csrf();
        let page = laptop
            .post(
                "/api-keys",
                &[
                    ("_csrf_token", &csrf),
                    ("name", name),
                    ("scope_me_read", "1"),
                    ("expires", "never"),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::OK);
        let key = between(&page.body, "<code id=\"new-key\">", "<").unwrap();
        let me = laptop.get_with("/api/me", &[("x-auth-token", &key)]).await;
        assert_eq!(me.json()["is_logged_in"], true);
        let bearer = format!("Bearer {key}");
        let me = laptop
            .get_with("/api/me", &[("authorization", &bearer)])
            .await;
        assert_eq!(me.json()["is_logged_in"], true);
        key_ids.push(between(&page.body, "data-key-id=\"", "\"").unwrap());
        // The part after the prefix: the stored hint shows the prefix and 4 characters.
        secrets.push(key["demo_sk_".len()..].to_owned());
    }
    let csrf = laptop.get("/account").await.csrf();
    let res = laptop
        .post(
            "/api-keys/revoke",
            &[("_csrf_token", &csrf), ("key_id", &key_ids[0])],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);

    // Session tokens on the API; refused and near-miss tokens.
    for token in [&secrets[0], &laptop_token] {
        let me = phone.get_with("/api/me", &[("x-auth-token", token)]).await;
        assert_eq!(me.json()["is_logged_in"], true);
        // The last character replaced by a different one: provably not the token.
        let last = if token.ends_with('A') { "B" } else { "A" };
        let near = format!("{}{last}", &token[..63]);
        assert_ne!(&near, token);
        let me = phone.get_with("/api/me", &[("x-auth-token", &near)]).await;
        assert_eq!(me.json()["is_logged_in"], false);
    }

    // What the app and the library would print with `{:?}`.
    debug.push(format!("{state:?}"));
    let all = Filter::new().status(Status::All);
    debug.push(format!("{:?}", state.sessions().list(&all).await.unwrap()));
    debug.push(format!("{:?}", state.api_keys.list(&all).await.unwrap()));
    for token in &secrets[..2] {
        let filter = Filter::new().token(token.as_str());
        debug.push(format!("{filter:?}"));
        debug.push(format!("{:?}", state.sessions().get(&filter).await));
    }

    // The sign-in secret is a secret too (checked after the sessions, which the digest
    // lists hold by id only).
    secrets.push(credentials.secret.clone());

    // The phone expires the laptop's session; the laptop signs out everywhere.
    let account = phone.get("/account").await;
    let laptop_id = {
        let end = account.body.find("Laptop").unwrap();
        let start = account.body[..end].rfind("data-session-id=\"").unwrap();
        between(&account.body[start..], "data-session-id=\"", "\"").unwrap()
    };
    let res = phone
        .post(
            "/expire-session",
            &[("_csrf_token", &account.csrf()), ("session_id", &laptop_id)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let me = phone
        .get_with("/api/me", &[("x-auth-token", &laptop_token)])
        .await;
    assert_eq!(me.json()["is_logged_in"], false);
    let csrf = phone.get("/account").await.csrf();
    let res = phone.post("/sign-out-all", &[("_csrf_token", &csrf)]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    state.sessions().delete_expired().await.unwrap();

    let bytes = db.bytes().await;
    assert_clean("the database", &bytes, &secrets);

    // Errors print no token either.
    db.db.close().await;
    let error = state.sessions().lookup(&secrets[0]).await.unwrap_err();
    debug.push(format!("{error:?} {error}"));
    let me = phone
        .get_with("/api/me", &[("x-auth-token", &secrets[0])])
        .await;
    assert_eq!(me.status, StatusCode::SERVICE_UNAVAILABLE);

    assert_clean("Debug output", &debug.join("\n"), &secrets);
    let logged = logs.text();
    assert!(logged.contains("signed in"), "the logs were captured");
    assert_clean("the logs", &logged, &secrets);
}

async fn no_plaintext_token_in_the_database(db: TestDb) {
    let state = db.state().await;
    let mut secrets = Vec::new();
    for i in 0..10 {
        let mut client = Client::new(state.clone(), &format!("ua-{i}"));
        let (_, credentials) = client.sign_up().await;
        secrets.push(client.cookie("auth_token").unwrap().to_owned());
        secrets.push(credentials.secret);
        let csrf = client.get("/account").await.csrf();
        let page = client
            .post(
                "/api-keys",
                &[
                    ("_csrf_token", &csrf),
                    ("name", "k"),
                    ("scope_me_read", "1"),
                    ("expires", "30d"),
                ],
            )
            .await;
        let key = between(&page.body, "<code id=\"new-key\">", "<").unwrap();
        let me = client.get_with("/api/me", &[("x-auth-token", &key)]).await;
        assert_eq!(me.json()["is_logged_in"], true);
        secrets.push(key["demo_sk_".len()..].to_owned());
    }
    let bytes = db.bytes().await;
    assert!(
        bytes.contains("ua-7"),
        "the database was read, session data included"
    );
    assert_clean("the database", &bytes, &secrets);
}

sqlx_sessions_test_support::backend_tests!(
    no_plaintext_token_after_every_flow,
    no_plaintext_token_in_the_database
);
