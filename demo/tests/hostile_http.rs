//! The hostile input catalogue over HTTP, through `oneshot` on `app(state)` with a fresh
//! SQLite file: duplicated and conflicting cookies and headers, `Bearer` with no token,
//! oversized and non-UTF-8 headers, another user's ids in the forms, CSRF tokens missing,
//! wrong or from another session, SQL in form fields. Each case gets a clear refusal, no
//! panic, and leaves every table exactly as it was (compared with a snapshot).

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use common::{Client, TestDb, between};
use sqlx_sessions_demo::{AppState, app};
use tower::ServiceExt as _;

/// Two signed-up users on one app (one CSRF key), each with their browser.
struct World {
    _db: TestDb,
    state: AppState,
    app: Router,
    alice: Client,
    alice_user: String,
    alice_secret: String,
    alice_token: String,
    bob: Client,
    bob_token: String,
}

async fn world() -> World {
    let db = TestDb::sqlite().await;
    let state = db.state().await;
    let mut users = Vec::new();
    for name in ["Alice", "Bob"] {
        let mut client = Client::new(state.clone(), name);
        let (_, credentials) = client.sign_up().await;
        let token = client.cookie("auth_token").unwrap().to_owned();
        users.push((client, credentials, token));
    }
    let (bob, _, bob_token) = users.pop().unwrap();
    let (alice, alice_credentials, alice_token) = users.pop().unwrap();
    World {
        app: app(state.clone()),
        _db: db,
        state,
        alice,
        alice_user: alice_credentials.user,
        alice_secret: alice_credentials.secret,
        alice_token,
        bob,
        bob_token,
    }
}

fn pool(state: &AppState) -> &sqlx::SqlitePool {
    match state.db.pool() {
        sqlx_sessions::Pool::Sqlite(pool) => pool,
        other => panic!("these cases run on SQLite, not {other:?}"),
    }
}

/// Every row of every table of the demo, every column.
async fn snapshot(state: &AppState) -> String {
    let mut out = String::new();
    for sql in [
        "SELECT coalesce(group_concat(r, char(10)), '') FROM (SELECT quote(id)||','||\
         quote(auth_token_digest)||','||quote(data)||','||quote(expires_at)||','||\
         quote(inserted_at)||','||quote(updated_at)||','||quote(user_id) AS r FROM sessions \
         ORDER BY id)",
        "SELECT coalesce(group_concat(r, char(10)), '') FROM (SELECT quote(id)||','||\
         quote(auth_token_digest)||','||quote(data)||','||quote(expires_at)||','||\
         quote(updated_at)||','||quote(last_used_at)||','||quote(token_hint)||','||\
         quote(user_id) AS r FROM api_keys ORDER BY id)",
        "SELECT coalesce(group_concat(id || ',' || hex(secret_digest) || ',' || created_at, \
         char(10)), '') FROM accounts",
    ] {
        let part: String = sqlx::query_scalar(sql)
            .fetch_one(pool(state))
            .await
            .unwrap();
        out.push_str(&part);
        out.push_str("\n--\n");
    }
    out
}

/// A response, read whole.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("JSON body: {}", self.body))
    }

    fn logged_in(&self) -> bool {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        self.json()["is_logged_in"] == serde_json::json!(true)
    }
}

/// Sends a request with raw header bytes (appended, so names may repeat).
async fn send(
    app: &Router,
    method: Method,
    path: &str,
    headers: &[(&str, &[u8])],
    form: Option<&[u8]>,
) -> Reply {
    let mut req = Request::builder().method(method).uri(path);
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        req = req.header(header::HOST, "localhost");
    }
    for (name, value) in headers {
        req = req.header(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value).unwrap(),
        );
    }
    let req = match form {
        Some(body) => req
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body.to_vec())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 22)
        .await
        .unwrap();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn api_me(app: &Router, headers: &[(&str, &[u8])]) -> Reply {
    send(app, Method::GET, "/api/me", headers, None).await
}

async fn account(app: &Router, headers: &[(&str, &[u8])]) -> Reply {
    send(app, Method::GET, "/account", headers, None).await
}

fn signed_out(reply: &Reply) -> bool {
    reply.status == StatusCode::SEE_OTHER
        && reply
            .headers
            .get(header::LOCATION)
            .is_some_and(|l| l == "/")
}

/// The id of the device row whose user agent is `user_agent` on an account page.
fn device_id(body: &str, user_agent: &str) -> String {
    let row_end = body.find(user_agent).unwrap();
    let row_start = body[..row_end].rfind("data-session-id=\"").unwrap();
    between(&body[row_start..], "data-session-id=\"", "\"").unwrap()
}

#[tokio::test]
async fn duplicated_and_conflicting_session_cookies() {
    let w = world().await;
    let before = snapshot(&w.state).await;
    let (a, b) = (&w.alice_token, &w.bob_token);
    // Two session cookies in one header, or across two Cookie headers, are refused: no
    // order decides whose account the request runs as (a planted cookie could come first).
    for headers in [
        vec![format!("auth_token={a}; auth_token={b}")],
        vec![format!("auth_token={b}"), format!("auth_token={a}")],
        vec![format!("auth_token={a}; auth_token={a}")],
    ] {
        let headers: Vec<(&str, &[u8])> =
            headers.iter().map(|h| ("cookie", h.as_bytes())).collect();
        let page = account(&w.app, &headers).await;
        assert!(signed_out(&page), "{headers:?}: {}", page.status);
    }
    // A broken first cookie ends the search: no second try with the other credential.
    for first in [
        "auth_token=nope",
        "auth_token=\"unterminated",
        "auth_token=a b",
    ] {
        let cookie = format!("{first}; auth_token={a}");
        assert!(
            signed_out(&account(&w.app, &[("cookie", cookie.as_bytes())]).await),
            "{first}"
        );
    }
    // Names that only look like it.
    for cookie in [
        format!("Auth_Token={a}"),
        format!("auth_token_x={a}"),
        format!("xauth_token={a}"),
        format!("auth_token%3D{a}"),
    ] {
        assert!(
            signed_out(&account(&w.app, &[("cookie", cookie.as_bytes())]).await),
            "{cookie}"
        );
    }
    assert_eq!(snapshot(&w.state).await, before);
}

#[tokio::test]
async fn duplicated_and_conflicting_token_headers() {
    let w = world().await;
    let before = snapshot(&w.state).await;
    let (a, b) = (w.alice_token.as_bytes(), w.bob_token.as_bytes());
    // Two X-Auth-Token headers, different or even equal: refused.
    assert!(
        !api_me(&w.app, &[("x-auth-token", a), ("x-auth-token", b)])
            .await
            .logged_in()
    );
    assert!(
        !api_me(&w.app, &[("x-auth-token", a), ("x-auth-token", a)])
            .await
            .logged_in()
    );
    // Two Authorization headers: refused.
    let (ba, bb) = ([b"Bearer ", a].concat(), [b"Bearer ", b].concat());
    assert!(
        !api_me(&w.app, &[("authorization", &ba), ("authorization", &bb)])
            .await
            .logged_in()
    );
    // X-Auth-Token and Bearer disagree: the first source (X-Auth-Token) speaks alone.
    let me = api_me(&w.app, &[("authorization", &bb), ("x-auth-token", a)]).await;
    assert!(me.logged_in());
    assert_eq!(me.json()["user"]["id"], w.alice_user.as_str());
    // A malformed first source ends the search, even with a valid Bearer after it.
    assert!(
        !api_me(&w.app, &[("x-auth-token", b"x y"), ("authorization", &ba)])
            .await
            .logged_in()
    );
    // The API never reads the cookie.
    let cookie = [b"auth_token=", a].concat();
    assert!(!api_me(&w.app, &[("cookie", &cookie)]).await.logged_in());
    assert_eq!(snapshot(&w.state).await, before);
}

#[tokio::test]
async fn bearer_without_a_token_and_other_schemes() {
    let w = world().await;
    let before = snapshot(&w.state).await;
    let a = w.alice_token.as_bytes();
    for value in [
        &b"Bearer"[..],
        b"Bearer ",
        b"Bearer    ",
        b"Bearer\t",
        b"bearer",
        b"Basic dXNlcjpwYXNz",
        b"Token abc",
        b"",
        &[b"Bearer ", a, b" extra"].concat(),
        &[b"Bearer", a].concat(),
        &[b"Basic ", a].concat(),
    ] {
        let me = api_me(&w.app, &[("authorization", value)]).await;
        assert!(!me.logged_in(), "{}", String::from_utf8_lossy(value));
    }
    // The scheme in any case, surrounding spaces trimmed: accepted.
    assert!(
        api_me(
            &w.app,
            &[("authorization", &[b"bEaReR   ", a, b"  "].concat())]
        )
        .await
        .logged_in()
    );
    assert_eq!(snapshot(&w.state).await, before);
}

#[tokio::test]
async fn oversized_and_non_utf8_headers() {
    let w = world().await;
    let before = snapshot(&w.state).await;
    let a = w.alice_token.as_bytes();
    let huge = vec![b'a'; 1 << 20];
    for value in [&huge[..], &vec![b'a'; 2049], &[a, &[b'a'; 2000]].concat()] {
        assert!(!api_me(&w.app, &[("x-auth-token", value)]).await.logged_in());
    }
    // A valid token inside an oversized Cookie header is not read.
    let padded = [b"auth_token=", a, b"; pad=", &vec![b'p'; 9 * 1024]].concat();
    assert!(signed_out(&account(&w.app, &[("cookie", &padded)]).await));
    let huge_cookie = [b"auth_token=", a, b"; pad=", &huge[..]].concat();
    assert!(signed_out(
        &account(&w.app, &[("cookie", &huge_cookie)]).await
    ));
    // Non-UTF-8 bytes (obs-text) in the token headers and the cookie.
    let mut bent = a.to_vec();
    bent[5] = 0xff;
    assert!(!api_me(&w.app, &[("x-auth-token", &bent)]).await.logged_in());
    assert!(
        !api_me(
            &w.app,
            &[("authorization", &[b"Bearer ", &bent[..]].concat())]
        )
        .await
        .logged_in()
    );
    let cookie = [b"auth_token=", &bent[..]].concat();
    assert!(signed_out(&account(&w.app, &[("cookie", &cookie)]).await));
    let cookie = [b"x=\xfe\xff; auth_token=", a].concat();
    assert!(signed_out(&account(&w.app, &[("cookie", &cookie)]).await));
    assert_eq!(snapshot(&w.state).await, before);
}

#[tokio::test]
async fn tokens_that_are_not_tokens() {
    let w = world().await;
    let before = snapshot(&w.state).await;
    let a = &w.alice_token;
    let key_like = format!("demo_sk_{}", &a[..40]);
    for value in [
        "' OR '1'='1".to_owned(),
        "\"; DROP TABLE sessions; --".to_owned(),
        a.to_uppercase(),
        a[..63].to_owned(),
        format!("{a}A"),
        format!("%{:02X}{}", a.as_bytes()[0], &a[1..]),
        "demo_sk_".to_owned(),
        key_like,
        "%00".to_owned(),
        "null".to_owned(),
        "undefined".to_owned(),
    ] {
        assert!(
            !api_me(&w.app, &[("x-auth-token", value.as_bytes())])
                .await
                .logged_in(),
            "{value}"
        );
        let cookie = format!("auth_token={value}");
        assert!(
            signed_out(&account(&w.app, &[("cookie", cookie.as_bytes())]).await),
            "{value}"
        );
    }
    assert_eq!(snapshot(&w.state).await, before);
}

#[tokio::test]
async fn another_users_session_id_in_the_expire_and_delete_forms() {
    let mut w = world().await;
    let bob_page = w.bob.get("/account").await;
    let bobs_session = device_id(&bob_page.body, "Bob");
    let page = w.alice.get("/account").await;
    let csrf = page.csrf();
    let before = snapshot(&w.state).await;
    for path in ["/expire-session", "/delete-session"] {
        let res = w
            .alice
            .post(
                path,
                &[("_csrf_token", &csrf), ("session_id", &bobs_session)],
            )
            .await;
        // Answered as if done, touching nothing: no hint that the id exists.
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(res.location.as_deref(), Some("/account"));
        assert_eq!(snapshot(&w.state).await, before, "{path} touched the table");
    }
    // Bob's id twice, or his and then Alice's own: never his.
    for form in [
        format!("_csrf_token={csrf}&session_id={bobs_session}&session_id={bobs_session}"),
        format!("session_id={bobs_session}&_csrf_token={csrf}&session_id="),
    ] {
        let cookie = format!("auth_token={}", w.alice_token);
        let res = send(
            &w.app,
            Method::POST,
            "/delete-session",
            &[("cookie", cookie.as_bytes())],
            Some(form.as_bytes()),
        )
        .await;
        assert!(
            res.status.is_client_error() || res.status == StatusCode::SEE_OTHER,
            "{}",
            res.status
        );
        assert_eq!(snapshot(&w.state).await, before, "{form}");
    }
    // Bob is still signed in.
    assert_eq!(w.bob.get("/account").await.status, StatusCode::OK);
}

#[tokio::test]
async fn session_ids_that_are_not_uuids() {
    let mut w = world().await;
    let csrf = w.alice.get("/account").await.csrf();
    let before = snapshot(&w.state).await;
    for bad in [
        "not-a-uuid",
        "' OR 1=1 --",
        "00000000-0000-0000-0000-00000000000g",
        "*",
        "%",
        "1",
    ] {
        for path in ["/expire-session", "/delete-session"] {
            let res = w
                .alice
                .post(path, &[("_csrf_token", &csrf), ("session_id", bad)])
                .await;
            assert_eq!(res.status, StatusCode::BAD_REQUEST, "{path} {bad}");
            assert!(res.body.contains("Not a session id."));
        }
        let res = w
            .alice
            .post(
                "/api-keys/revoke",
                &[("_csrf_token", &csrf), ("key_id", bad)],
            )
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    // An empty id on delete is refused rather than read as "this session".
    let res = w
        .alice
        .post(
            "/delete-session",
            &[("_csrf_token", &csrf), ("session_id", " ")],
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(snapshot(&w.state).await, before);
}

#[tokio::test]
async fn csrf_missing_wrong_or_from_another_session() {
    let mut w = world().await;
    let alice_csrf = w.alice.get("/account").await.csrf();
    let bob_csrf = w.bob.get("/account").await.csrf();
    let before = snapshot(&w.state).await;
    let (long, suffixed) = ("A".repeat(43), format!("{alice_csrf}x"));
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("missing", vec![]),
        ("empty", vec![("_csrf_token", "")]),
        ("wrong", vec![("_csrf_token", "forged")]),
        ("right length, wrong", vec![("_csrf_token", &long)]),
        ("another session's", vec![("_csrf_token", &bob_csrf)]),
        ("with a suffix", vec![("_csrf_token", &suffixed)]),
        ("truncated", vec![("_csrf_token", &alice_csrf[..42])]),
    ];
    for path in [
        "/sign-out",
        "/sign-out-all",
        "/expire-session",
        "/delete-session",
        "/api-keys",
        "/api-keys/revoke",
        "/login",
        "/signup",
    ] {
        for (what, fields) in &cases {
            let mut form = fields.clone();
            form.push(("name", "k"));
            let res = w.alice.post(path, &form).await;
            assert_eq!(res.status, StatusCode::FORBIDDEN, "{path}: {what}");
        }
    }
    // The wrong token first and the right one second: the first one counts.
    let cookie = format!("auth_token={}", w.alice_token);
    let form = format!("_csrf_token=forged&_csrf_token={alice_csrf}");
    let res = send(
        &w.app,
        Method::POST,
        "/sign-out-all",
        &[("cookie", cookie.as_bytes())],
        Some(form.as_bytes()),
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // In the query string instead of the body: refused.
    let path = format!("/sign-out-all?_csrf_token={alice_csrf}");
    let res = send(
        &w.app,
        Method::POST,
        &path,
        &[("cookie", cookie.as_bytes())],
        Some(b""),
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // As JSON instead of a form: refused.
    let body = format!("{{\"_csrf_token\":\"{alice_csrf}\"}}");
    let req = Request::post("/sign-out-all")
        .header(header::HOST, "localhost")
        .header(header::COOKIE, &cookie)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    assert_eq!(
        w.app.clone().oneshot(req).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(snapshot(&w.state).await, before);
    // A token of a session that has ended dies with it.
    let res = w
        .alice
        .post(
            "/login",
            &[
                ("_csrf_token", &alice_csrf),
                ("user_id", &w.alice_user),
                ("secret", &w.alice_secret),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let after_relogin = snapshot(&w.state).await;
    let res = w
        .alice
        .post("/sign-out-all", &[("_csrf_token", &alice_csrf)])
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(snapshot(&w.state).await, after_relogin);
}

#[tokio::test]
async fn sql_and_junk_in_form_fields() {
    let mut w = world().await;
    let csrf = w.alice.get("/account").await.csrf();
    let before = snapshot(&w.state).await;
    for user_id in [
        "1 OR 1=1",
        "1; DROP TABLE accounts",
        "' OR '1'='1",
        "-1",
        "99999999999999999999",
        "0x1",
        "",
        "１",
    ] {
        let res = w
            .alice
            .post(
                "/login",
                &[
                    ("_csrf_token", &csrf),
                    ("user_id", user_id),
                    ("secret", user_id),
                ],
            )
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{user_id}");
    }
    // API key names: empty and too long are refused; the rest is data.
    for name in ["", "   ", &"k".repeat(81)] {
        let res = w
            .alice
            .post("/api-keys", &[("_csrf_token", &csrf), ("name", name)])
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{name:.10}");
    }
    assert_eq!(snapshot(&w.state).await, before);
    let sly = "'); DROP TABLE api_keys; --<script>";
    let res = w
        .alice
        .post(
            "/api-keys",
            &[
                ("_csrf_token", &csrf),
                ("name", sly),
                ("scope_me_read", "1"),
                ("expires", "30d"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        !res.body.contains("<script>"),
        "the name is escaped in the page"
    );
    let stored: String = sqlx::query_scalar("SELECT data FROM api_keys")
        .fetch_one(pool(&w.state))
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stored).unwrap()["name"],
        sly
    );
    // A form body over the limit.
    let big = format!("_csrf_token={csrf}&name={}", "k".repeat(32 * 1024));
    let cookie = format!("auth_token={}", w.alice_token);
    let res = send(
        &w.app,
        Method::POST,
        "/api-keys",
        &[("cookie", cookie.as_bytes())],
        Some(big.as_bytes()),
    )
    .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Bodies that are not forms.
    for body in [&b"\xff\xfe\x00"[..], b"%%%", b"_csrf_token", b"&&&=&="] {
        let res = send(
            &w.app,
            Method::POST,
            "/sign-out",
            &[("cookie", cookie.as_bytes())],
            Some(body),
        )
        .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn another_users_api_key_and_methods_that_do_not_exist() {
    let mut w = world().await;
    let csrf = w.bob.get("/account").await.csrf();
    let page = w
        .bob
        .post(
            "/api-keys",
            &[
                ("_csrf_token", &csrf),
                ("name", "bob's"),
                ("scope_me_read", "1"),
                ("expires", "30d"),
            ],
        )
        .await;
    let bobs_key = between(&page.body, "data-key-id=\"", "\"").unwrap();
    let alice_csrf = w.alice.get("/account").await.csrf();
    let before = snapshot(&w.state).await;
    let res = w
        .alice
        .post(
            "/api-keys/revoke",
            &[("_csrf_token", &alice_csrf), ("key_id", &bobs_key)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(snapshot(&w.state).await, before);
    // Unsafe routes by GET, and unknown methods: never a state change.
    let cookie = format!("auth_token={}", w.alice_token);
    for path in [
        "/sign-out-all",
        "/sign-out",
        "/delete-session",
        "/api-keys/revoke",
    ] {
        let res = send(
            &w.app,
            Method::GET,
            path,
            &[("cookie", cookie.as_bytes())],
            None,
        )
        .await;
        assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
        let res = send(
            &w.app,
            Method::DELETE,
            path,
            &[("cookie", cookie.as_bytes())],
            None,
        )
        .await;
        assert!(res.status.is_client_error(), "{path}");
    }
    for path in [
        "/static/../Cargo.toml",
        "/static/%2e%2e/Cargo.toml",
        "/api/me/../../etc/passwd",
    ] {
        let res = send(&w.app, Method::GET, path, &[], None).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(snapshot(&w.state).await, before);
}
