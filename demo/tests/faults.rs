//! Faults: PostgreSQL and MariaDB stopped under load and started again (503s that come
//! fast, recovery without a restart, the pruner logging and carrying on, no session lost or
//! altered); two demo processes on one PostgreSQL or MariaDB (a revocation through one is
//! refused by the other); SQLite with a second connection holding the write lock, and a
//! read-only database file.
//!
//! The server cases run their own throw-away server
//! ([`sqlx_sessions_test_support::server`]), on a free loopback port. Without the server
//! binaries they are skipped with a note, unless CI=true (or SQLX_SESSIONS_REQUIRE_PG=1,
//! SQLX_SESSIONS_REQUIRE_MYSQL=1) makes them fail.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{Client, between};
use sqlx_sessions_demo::csrf::CsrfKey;
use sqlx_sessions_demo::db::Db;
use sqlx_sessions_demo::{AppState, app};
use sqlx_sessions_test_support::server::{Server, ServerKind, free_port};
use tower::ServiceExt as _;

// ---------------------------------------------------------------------------------------
// Captured logs (one subscriber for the whole binary).
// ---------------------------------------------------------------------------------------

fn logs() -> sqlx_sessions_test_support::Logs {
    // `sqlx=warn` alone would also hide `sqlx_sessions` (targets match by prefix).
    sqlx_sessions_test_support::capture_logs("info,sqlx=warn,sqlx_sessions=info")
}

fn log_text() -> String {
    logs().text()
}

// ---------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------

async fn signed_up(state: &AppState, user_agent: &str) -> (Client, String) {
    let mut client = Client::new(state.clone(), user_agent);
    let home = client.get("/").await;
    let res = client
        .post("/signup", &[("_csrf_token", &home.csrf())])
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let token = client.cookie("auth_token").unwrap().to_owned();
    (client, token)
}

/// Every session row, every column: the rows as text (PostgreSQL), the row count and a
/// checksum of every row's content (MariaDB).
async fn snapshot(pool: &sqlx_sessions::Pool) -> String {
    match pool {
        sqlx_sessions::Pool::Postgres(pool) => sqlx::query_scalar(
            "SELECT coalesce(string_agg(t::text, E'\\n' ORDER BY t.id), '') FROM sessions t",
        )
        .fetch_one(pool)
        .await
        .unwrap(),
        sqlx_sessions::Pool::Mysql(pool) => {
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
                .fetch_one(pool)
                .await
                .unwrap();
            let (_, sum): (String, Option<i64>) =
                sqlx::query_as("CHECKSUM TABLE sessions EXTENDED")
                    .fetch_one(pool)
                    .await
                    .unwrap();
            format!("{count} rows, checksum {sum:?}")
        }
        other => panic!("no snapshot for {}", other.kind()),
    }
}

/// The URL the demo uses on `server`: PostgreSQL's default database, a new `faults`
/// database on MariaDB (its default database is the server's own `mysql`).
async fn app_url(server: &Server) -> String {
    match server.kind() {
        ServerKind::Postgres => server.url(),
        ServerKind::Mariadb => {
            let pool = sqlx::MySqlPool::connect(&server.url()).await.unwrap();
            sqlx::query("CREATE DATABASE faults")
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
            server.url().replace("/mysql", "/faults")
        }
    }
}

async fn api_me(app: &Router, token: &str) -> (StatusCode, Duration) {
    let req = Request::get("/api/me")
        .header(header::HOST, "localhost")
        .header("x-auth-token", token)
        .body(Body::empty())
        .unwrap();
    let started = Instant::now();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    if status == StatusCode::OK {
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            json["is_logged_in"], true,
            "a valid session must stay signed in"
        );
    }
    (status, started.elapsed())
}

/// The bound on any one request while the database is away: the pool's acquire timeout
/// (5 s in the demo) plus slack for a loaded machine.
const REQUEST_BOUND: Duration = Duration::from_secs(8);

// ---------------------------------------------------------------------------------------
// The database server stopped under load, then started again.
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
struct Sample {
    at: Duration,
    status: StatusCode,
    took: Duration,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_under_load_then_recovery() {
    outage_under_load_then_recovery(ServerKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_outage_under_load_then_recovery() {
    outage_under_load_then_recovery(ServerKind::Mariadb).await;
}

async fn outage_under_load_then_recovery(kind: ServerKind) {
    let _ = logs();
    let Some(mut server) = Server::start(kind) else {
        return;
    };
    let db = Db::connect(&app_url(&server).await).await.unwrap();
    let state = AppState::new(db.clone(), CsrfKey::random(), false)
        .await
        .unwrap();
    let app = app(state.clone());
    let mut tokens = Vec::new();
    for i in 0..12 {
        tokens.push(signed_up(&state, &format!("ua-{i}")).await.1);
    }
    let pool = db.pool();
    let before = snapshot(pool).await;
    let pruners = state.spawn_pruners(Duration::from_millis(250));

    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
    let mut workers = Vec::new();
    for w in 0..6 {
        let (app, tokens, stop, samples) =
            (app.clone(), tokens.clone(), stop.clone(), samples.clone());
        workers.push(tokio::spawn(async move {
            let mut i = w;
            while !stop.load(Ordering::SeqCst) {
                let at = start.elapsed();
                let (status, took) = api_me(&app, &tokens[i % tokens.len()]).await;
                samples.lock().unwrap().push(Sample { at, status, took });
                i += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let down_at = start.elapsed();
    tokio::task::block_in_place(|| server.pause());
    let down_done = start.elapsed();
    // Long enough for every worker to make at least one whole request in the outage.
    tokio::time::sleep(REQUEST_BOUND + Duration::from_secs(3)).await;
    let up_at = start.elapsed();
    tokio::task::block_in_place(|| server.resume());
    let up_done = start.elapsed();
    // Recovery without a restart of the app: wait for the first good answer after restart.
    let recovered = loop {
        let last_ok = samples
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.at >= up_done && s.status == StatusCode::OK)
            .map(|s| s.at + s.took)
            .min();
        if let Some(t) = last_ok {
            break t;
        }
        assert!(
            start.elapsed() < up_done + Duration::from_secs(30),
            "no recovery in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.expect("no request panics");
    }
    for p in pruners {
        p.stop().await;
    }

    let samples = std::mem::take(&mut *samples.lock().unwrap());
    let count = |f: &dyn Fn(&Sample) -> bool| samples.iter().filter(|s| f(s)).count();
    let ok = count(&|s| s.status == StatusCode::OK);
    let unavailable = count(&|s| s.status == StatusCode::SERVICE_UNAVAILABLE);
    let max = samples.iter().map(|s| s.took).max().unwrap();
    let outage: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.at >= down_done && s.at + s.took <= up_at)
        .collect();
    eprintln!(
        "outage: {} requests ({} ok, {} 503), {kind:?} down {:?}..{:?}, up at {:?}, \
         first success after restart at {:?}, slowest request {:?}, {} requests during the \
         outage, slowest of those {:?}",
        samples.len(),
        ok,
        unavailable,
        down_at,
        down_done,
        up_done,
        recovered,
        max,
        outage.len(),
        outage.iter().map(|s| s.took).max()
    );
    assert_eq!(ok + unavailable, samples.len(), "only 200 or 503");
    assert!(max <= REQUEST_BOUND, "a request hung for {max:?}");
    assert!(!outage.is_empty());
    assert!(
        outage
            .iter()
            .all(|s| s.status == StatusCode::SERVICE_UNAVAILABLE)
    );
    assert!(ok > 0 && unavailable > 0);
    assert!(recovered - up_done < Duration::from_secs(15));
    // No session lost or altered.
    assert_eq!(snapshot(pool).await, before);
    for token in &tokens {
        assert_eq!(api_me(&app, token).await.0, StatusCode::OK);
    }
    // The pruner logged its failures and carried on.
    let logs = log_text();
    assert!(
        logs.contains("pruning failed; retrying next round"),
        "{logs}"
    );
    eprintln!(
        "pruner: {} failed rounds logged, {} successful rounds logged",
        logs.matches("pruning failed").count(),
        logs.matches("pruned expired sessions").count()
    );
    let last_failure = logs.rfind("pruning failed").unwrap();
    assert!(
        logs[last_failure..].contains("pruned expired sessions"),
        "the pruner ran again after the outage"
    );
    db.close().await;
}

// ---------------------------------------------------------------------------------------
// Two demo processes on one database server.
// ---------------------------------------------------------------------------------------

struct DemoProcess {
    child: Child,
    base: String,
}

impl DemoProcess {
    fn spawn(database_url: &str) -> DemoProcess {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_sqlx-sessions-demo"))
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", database_url)
            .env("CSRF_SECRET", "one secret shared by every instance")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the demo");
        DemoProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn wait_ready(&mut self, http: &reqwest::Client) {
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the demo exited: {status}");
            }
            if http
                .get(format!("{}/stats", self.base))
                .send()
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the demo did not start in 30 s");
    }
}

impl Drop for DemoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A form body, percent-encoded.
fn form(fields: &[(&str, &str)]) -> String {
    let encode = |v: &str| {
        v.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn set_cookies(res: &reqwest::Response) -> Vec<(String, String)> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next()?.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

async fn me_on(http: &reqwest::Client, base: &str, token: &str) -> serde_json::Value {
    let res = http
        .get(format!("{base}/api/me"))
        .header("x-auth-token", token)
        .send()
        .await
        .unwrap();
    serde_json::from_str(&res.text().await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_demo_processes_share_revocations() {
    two_demo_processes_share_revocations_on(ServerKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_demo_processes_share_revocations_on_mariadb() {
    two_demo_processes_share_revocations_on(ServerKind::Mariadb).await;
}

async fn two_demo_processes_share_revocations_on(kind: ServerKind) {
    let Some(server) = Server::start(kind) else {
        return;
    };
    let url = app_url(&server).await;
    // Create the tables once, so the two processes do not race their first migrations.
    let db = Db::connect(&url).await.unwrap();
    AppState::new(db.clone(), CsrfKey::random(), false)
        .await
        .unwrap();
    db.close().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut one = DemoProcess::spawn(&url);
    let mut two = DemoProcess::spawn(&url);
    one.wait_ready(&http).await;
    two.wait_ready(&http).await;

    // Sign up through process one.
    let home = http.get(format!("{}/", one.base)).send().await.unwrap();
    let mut cookies = set_cookies(&home);
    let page = home.text().await.unwrap();
    let csrf = between(&page, "name=\"_csrf_token\" value=\"", "\"").unwrap();
    let cookie_header = |cookies: &[(String, String)]| {
        cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let res = http
        .post(format!("{}/signup", one.base))
        .header(header::COOKIE, cookie_header(&cookies))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[("_csrf_token", csrf.as_str())]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    cookies.extend(set_cookies(&res));
    let token = cookies
        .iter()
        .find(|(k, _)| k == "auth_token")
        .unwrap()
        .1
        .clone();

    // Both processes know the session.
    assert_eq!(me_on(&http, &one.base, &token).await["is_logged_in"], true);
    assert_eq!(me_on(&http, &two.base, &token).await["is_logged_in"], true);
    let account = http
        .get(format!("{}/account", two.base))
        .header(header::COOKIE, cookie_header(&cookies))
        .send()
        .await
        .unwrap();
    assert_eq!(account.status(), StatusCode::OK);
    let page = account.text().await.unwrap();

    // An API key made through process two works on process one.
    let csrf = between(&page, "name=\"_csrf_token\" value=\"", "\"").unwrap();
    let made = http
        .post(format!("{}/api-keys", two.base))
        .header(header::COOKIE, cookie_header(&cookies))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[
            ("_csrf_token", csrf.as_str()),
            ("name", "ci"),
            ("expires", "30d"),
        ]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let key_id = between(&made, "data-key-id=\"", "\"").unwrap();
    let key = between(&made, "<code id=\"new-key\">", "<").expect("the new key, shown once");
    assert_eq!(me_on(&http, &one.base, &key).await["is_logged_in"], true);

    // Revoke the key through process one: process two refuses it at its next request.
    let res = http
        .post(format!("{}/api-keys/revoke", one.base))
        .header(header::COOKIE, cookie_header(&cookies))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[
            ("_csrf_token", csrf.as_str()),
            ("key_id", key_id.as_str()),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(me_on(&http, &two.base, &key).await["is_logged_in"], false);

    // Sign out everywhere through process one: process two refuses the session at once.
    let res = http
        .post(format!("{}/sign-out-all", one.base))
        .header(header::COOKIE, cookie_header(&cookies))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[("_csrf_token", csrf.as_str())]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(me_on(&http, &two.base, &token).await["is_logged_in"], false);
    let account = http
        .get(format!("{}/account", two.base))
        .header(header::COOKIE, cookie_header(&cookies))
        .send()
        .await
        .unwrap();
    assert_eq!(
        account.status(),
        StatusCode::SEE_OTHER,
        "sent back to sign in"
    );
    drop((one, two));
}

// ---------------------------------------------------------------------------------------
// SQLite: a second connection holding the write lock; a read-only database file.
// ---------------------------------------------------------------------------------------

async fn sqlite_state(path: &Path) -> AppState {
    let db = Db::connect(path.to_str().unwrap()).await.unwrap();
    AppState::new(db, CsrfKey::random(), false).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_write_lock_held_elsewhere() {
    let _ = logs();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.db");
    let state = sqlite_state(&path).await;
    let (mut alice, token) = signed_up(&state, "Alice").await;
    let app = app(state.clone());

    // Another connection (as another process would) takes the write lock and keeps it.
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&path);
    let mut other = sqlx::ConnectOptions::connect(&options).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();

    // Reads go on: WAL readers do not wait for the writer.
    assert_eq!(api_me(&app, &token).await.0, StatusCode::OK);
    assert_eq!(alice.get("/account").await.status, StatusCode::OK);
    // Writes wait the busy timeout (5 s), then get a clear 503.
    let mut bob = Client::new(state.clone(), "Bob");
    let csrf = bob.get("/").await.csrf();
    let started = Instant::now();
    let res = bob.post("/signup", &[("_csrf_token", &csrf)]).await;
    let took = started.elapsed();
    eprintln!(
        "signup under a held write lock: {} after {took:?}",
        res.status
    );
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.body.contains("database is unavailable"));
    assert!(took <= REQUEST_BOUND, "{took:?}");
    assert!(
        log_text().contains("database is locked"),
        "the log names the cause"
    );

    // Released: writes work again, without a restart.
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    let csrf = bob.get("/").await.csrf();
    let res = bob.post("/signup", &[("_csrf_token", &csrf)]).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(api_me(&app, &token).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_read_only_database_file() {
    let _ = logs();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.db");
    let state = sqlite_state(&path).await;
    let (_, token) = signed_up(&state, "Alice").await;
    state.db.close().await;

    // Read-only file (and folder, so no journal can be made beside it). Root ignores file
    // modes, so the database is also opened read-only, as a read-only mount would force.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    let url = format!("sqlite:{}?mode=ro", path.display());
    let result = async {
        let db = Db::connect(&url).await?;
        AppState::new(db, CsrfKey::random(), false).await
    }
    .await;
    match result {
        Err(e) => {
            let chain = sqlx_sessions_demo::error::error_chain(&e);
            eprintln!("read-only database at start: {chain}");
            assert!(
                chain.contains("readonly") || chain.contains("read-only"),
                "{chain}"
            );
        }
        Ok(state) => {
            let app = app(state.clone());
            // Reads work; writes are refused with a 503 whose log names the cause.
            assert_eq!(api_me(&app, &token).await.0, StatusCode::OK);
            let mut bob = Client::new(state.clone(), "Bob");
            let csrf = bob.get("/").await.csrf();
            let res = bob.post("/signup", &[("_csrf_token", &csrf)]).await;
            eprintln!("signup on a read-only database: {}", res.status);
            assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
            assert!(log_text().contains("readonly"), "the log names the cause");
        }
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
}
