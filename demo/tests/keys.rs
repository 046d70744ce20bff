//! API keys in the demo, through the router: created with a name, scopes and an expiry,
//! used on the API (403 for a valid key without the route's scope, 401 without a valid
//! key), `sessions:write` signing browsers out, suspended and resumed, rolled with a grace
//! period on the test clock, and the list showing scopes, status, uses and expiry.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{Client, TestDb, between};
use sqlx_sessions::{Filter, ManualClock};
use sqlx_sessions_demo::AppState;
use sqlx_sessions_demo::csrf::CsrfKey;
use tower::ServiceExt as _;

/// Calls the API with `key` in `X-Auth-Token`: the status and the body.
async fn api(client: &Client, method: &str, path: &str, key: Option<&str>) -> (StatusCode, String) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "localhost:4000");
    if let Some(key) = key {
        req = req.header("x-auth-token", key);
    }
    let res = client
        .app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// Creates a key from the account page; the key shown once, or the refusal's status.
async fn create(client: &mut Client, fields: &[(&str, &str)]) -> Result<String, StatusCode> {
    let csrf = client.get("/account").await.csrf();
    let mut form = vec![("_csrf_token", csrf.as_str())];
    form.extend_from_slice(fields);
    let page = client.post("/api-keys", &form).await;
    match page.status {
        StatusCode::OK => Ok(between(&page.body, "<code id=\"new-key\">", "<").unwrap()),
        status => Err(status),
    }
}

/// Posts a key button's form (`suspend`, `resume`, `roll`) for the key `id`.
async fn button(
    client: &mut Client,
    action: &str,
    id: &str,
    extra: &[(&str, &str)],
) -> common::Page {
    let csrf = client.get("/account").await.csrf();
    let mut form = vec![("_csrf_token", csrf.as_str()), ("key_id", id)];
    form.extend_from_slice(extra);
    client.post(&format!("/api-keys/{action}"), &form).await
}

/// The account page's row of the key `id`.
async fn row(client: &mut Client, id: &str) -> String {
    let page = client.get("/account").await;
    let start = page
        .body
        .find(&format!("data-key-id=\"{id}\""))
        .unwrap_or_else(|| panic!("no row for {id}"));
    let end = page.body[start..].find("</tr>").unwrap() + start;
    page.body[start..end].to_owned()
}

fn cell(row: &str, class: &str) -> String {
    between(row, &format!("class=\"{class}\">"), "<").unwrap()
}

async fn key_id(state: &AppState, user: &str, name: &str) -> String {
    let keys = state
        .api_keys
        .list(&Filter::new().eq("user_id", user))
        .await
        .unwrap();
    let k = keys
        .iter()
        .find(|k| k.data.get_str("name").as_deref() == Some(name) && k.replaced_by.is_none())
        .expect("the key");
    k.id.to_string()
}

async fn scoped_keys_suspended_resumed_and_rolled(db: TestDb) {
    let clock = ManualClock::new(time::OffsetDateTime::now_utc());
    let state = AppState::with_clock(db.db.clone(), CsrfKey::random(), false, clock.clone())
        .await
        .unwrap();
    let mut alice = Client::new(state.clone(), "Alice");
    let (_, credentials) = alice.sign_up().await;
    let user = credentials.user.clone();

    // The form asks for scopes and an expiry: none, or a date gone by, is refused.
    let refused = create(&mut alice, &[("name", "x"), ("expires", "30d")]).await;
    assert_eq!(refused, Err(StatusCode::BAD_REQUEST));
    let past = [
        ("name", "x"),
        ("scope_me_read", "1"),
        ("expires", "date"),
        ("expires_on", "2001-01-01"),
    ];
    assert_eq!(
        create(&mut alice, &past).await,
        Err(StatusCode::BAD_REQUEST)
    );
    let reader = create(
        &mut alice,
        &[
            ("name", "reader"),
            ("scope_me_read", "1"),
            ("expires", "30d"),
        ],
    )
    .await
    .unwrap();
    let revoker = create(
        &mut alice,
        &[
            ("name", "revoker"),
            ("scope_sessions_write", "1"),
            ("expires", "date"),
            ("expires_on", "2099-01-31"),
        ],
    )
    .await
    .unwrap();

    // Each key does what its scopes allow, and gets 403 for the rest.
    let (status, body) = api(&alice, "GET", "/api/me", Some(&reader)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let me: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(me["session"]["scopes"], serde_json::json!(["me:read"]));
    let (status, _) = api(&alice, "GET", "/api/me", Some(&revoker)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = api(&alice, "POST", "/api/sessions/revoke", Some(&reader)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = api(&alice, "POST", "/api/sessions/revoke", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = api(&alice, "POST", "/api/sessions/revoke", Some("demo_sk_nope")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // `sessions:write` signs Alice's browser out.
    let (status, body) = api(&alice, "POST", "/api/sessions/revoke", Some(&revoker)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "{\"revoked\":1}"));
    let account = alice.get("/account").await;
    assert_ne!(account.status, StatusCode::OK, "signed out");
    alice.sign_in(&credentials).await;

    // The list: scopes, status, uses (counted in memory, not yet flushed), expiry. A
    // request refused for its scope still used the key: two uses each.
    let reader_id = key_id(&state, &user, "reader").await;
    let revoker_id = key_id(&state, &user, "revoker").await;
    let r = row(&mut alice, &reader_id).await;
    assert_eq!(cell(&r, "key-scopes"), "me:read");
    assert_eq!(cell(&r, "key-status"), "active");
    assert_eq!(cell(&r, "key-uses"), "2");
    let r = row(&mut alice, &revoker_id).await;
    assert_eq!(cell(&r, "key-scopes"), "sessions:write");
    assert_eq!(cell(&r, "key-uses"), "2");
    assert!(cell(&r, "nowrap key-expires").contains("2099"), "{r}");
    state.api_keys.flush_uses().await.unwrap();
    assert_eq!(cell(&row(&mut alice, &reader_id).await, "key-uses"), "2");

    // Suspended: refused at once; resumed: works again.
    let page = button(&mut alice, "suspend", &reader_id, &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let (status, body) = api(&alice, "GET", "/api/me", Some(&reader)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("\"is_logged_in\":false"), "{body}");
    let r = row(&mut alice, &reader_id).await;
    assert_eq!(cell(&r, "key-status"), "suspended");
    assert!(r.contains("button type=\"submit\" class=\"small resume\""));
    button(&mut alice, "resume", &reader_id, &[]).await;
    assert!(
        api(&alice, "GET", "/api/me", Some(&reader))
            .await
            .1
            .contains("\"is_logged_in\":true")
    );

    // Another user cannot touch Alice's keys.
    let mut bob = Client::new(state.clone(), "Bob");
    bob.sign_up().await;
    assert_eq!(
        button(&mut bob, "suspend", &reader_id, &[]).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        button(&mut bob, "roll", &reader_id, &[]).await.status,
        StatusCode::BAD_REQUEST
    );

    // Rolled with an hour of grace: a new key shown once, same name and scopes; the old one
    // works until the hour is over, then never again.
    let page = button(&mut alice, "roll", &reader_id, &[("grace", "1h")]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let rolled = between(&page.body, "<code id=\"new-key\">", "<").unwrap();
    assert_ne!(rolled, reader);
    let new_id = key_id(&state, &user, "reader").await;
    assert_ne!(new_id, reader_id);
    assert_eq!(
        cell(&row(&mut alice, &new_id).await, "key-scopes"),
        "me:read"
    );
    assert_eq!(
        cell(&row(&mut alice, &reader_id).await, "key-status"),
        "rolled"
    );
    assert_eq!(
        button(&mut alice, "roll", &reader_id, &[]).await.status,
        StatusCode::BAD_REQUEST
    );
    clock.advance(time::Duration::minutes(59));
    assert!(
        api(&alice, "GET", "/api/me", Some(&reader))
            .await
            .1
            .contains("\"is_logged_in\":true")
    );
    assert!(
        api(&alice, "GET", "/api/me", Some(&rolled))
            .await
            .1
            .contains("\"is_logged_in\":true")
    );
    clock.advance(time::Duration::minutes(2));
    assert!(
        api(&alice, "GET", "/api/me", Some(&reader))
            .await
            .1
            .contains("\"is_logged_in\":false")
    );
    assert!(
        api(&alice, "GET", "/api/me", Some(&rolled))
            .await
            .1
            .contains("\"is_logged_in\":true")
    );
    // A bad grace period is refused.
    let page = button(&mut alice, "roll", &new_id, &[("grace", "forever")]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
}

sqlx_sessions_test_support::backend_tests!(scoped_keys_suspended_resumed_and_rolled);
