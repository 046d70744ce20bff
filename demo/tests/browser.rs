//! End to end in headless Chromium (Debian's `chromium` and `chromium-driver`) through
//! WebDriver: the demo runs in-process on 127.0.0.1:0 with a fresh SQLite file (and a fresh
//! PostgreSQL database when `PG_TEST_URL` is set), two browser profiles act as two devices.
//!
//! Without Chromium or chromedriver the test is skipped with a note, except under CI
//! (`CI=true`) or `SQLX_SESSIONS_REQUIRE_BROWSER=1`, where it fails. Each run saves the
//! account page to `target/demo-account.png`; with `UPDATE_SCREENSHOTS=1` it also refreshes
//! `docs/demo-account.png`, the README's picture.

mod common;

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::TestDb;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use sqlx_sessions_demo::{app, serve};

type Result<T, E = Box<dyn Error + Send + Sync>> = std::result::Result<T, E>;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// One browser run at a time: two Chromium profiles each are plenty for two cores.
static BROWSERS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn browser_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
        || std::env::var("SQLX_SESSIONS_REQUIRE_BROWSER").is_ok_and(|v| v == "1")
}

/// Whether the browser and its driver are installed; `false` (skip) only outside CI.
fn browser_available() -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    if browser_required() {
        panic!(
            "{} missing: install Debian's chromium and chromium-driver (scripts/test.sh does)",
            missing.join(" and ")
        );
    }
    eprintln!(
        "note: {} missing; skipping the browser test",
        missing.join(" and ")
    );
    false
}

/// chromedriver on a free loopback port, ended when this is dropped (it ends the browsers
/// of the sessions it still has).
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    async fn start() -> Result<Driver> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if let Ok(res) = http.get(format!("{}/status", driver.url)).send().await
                && res.status().is_success()
            {
                return Ok(driver);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err("chromedriver did not start within 10 s".into())
    }

    /// A new browser with a fresh profile (its own cookies: another device).
    async fn browser(&self, profile: &Path) -> Result<Client> {
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,1000",
        ]
        .map(String::from)
        .into_iter()
        .chain([format!("--user-data-dir={}", profile.display())])
        .collect::<Vec<_>>();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": CHROMIUM, "args": args }),
        );
        Ok(ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await?)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

async fn path_of(client: &Client) -> Result<String> {
    Ok(client.current_url().await?.path().to_owned())
}

async fn text(client: &Client, css: &str) -> Result<String> {
    Ok(client.find(Locator::Css(css)).await?.text().await?)
}

/// Clicks a button that submits a form, and waits until the next page has loaded (the old
/// document gone stale, the new one complete), so no check reads a page in between.
async fn click(client: &Client, css: &str) -> Result<()> {
    click_at(client, Locator::Css(css), css).await
}

/// Clicks the element at `at` and waits for the page it loads.
async fn click_at(client: &Client, at: Locator<'_>, what: &str) -> Result<()> {
    let old_page = client.find(Locator::Css("html")).await?;
    client.find(at).await?.click().await?;
    for _ in 0..200 {
        if old_page.tag_name().await.is_err() {
            let state = client.execute("return document.readyState", vec![]).await?;
            if state == "complete" {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("no new page 10 s after clicking {what}").into())
}

async fn count(client: &Client, css: &str) -> Result<usize> {
    Ok(client.find_all(Locator::Css(css)).await?.len())
}

async fn api_me(base: &str, key: &str) -> Result<serde_json::Value> {
    let res = reqwest::Client::new()
        .get(format!("{base}/api/me"))
        .header("x-auth-token", key)
        .send()
        .await?;
    Ok(serde_json::from_str(&res.text().await?)?)
}

/// Types the user id and the sign-in secret into the sign-in form of `/` and sends it.
async fn sign_in(client: &Client, base: &str, user: &str, secret: &str) -> Result<()> {
    client.goto(&format!("{base}/")).await?;
    // The field may hold the last user id signed in from this browser.
    let field = client.find(Locator::Css("#user_id")).await?;
    field.clear().await?;
    field.send_keys(user).await?;
    client
        .find(Locator::Css("#secret"))
        .await?
        .send_keys(secret)
        .await?;
    click(client, "#login").await
}

/// Names a key, ticks its scopes (`#scope-me-read`, ...), chooses its expiry and creates
/// it; the key shown once.
async fn create_key(client: &Client, name: &str, scopes: &[&str], expires: &str) -> Result<String> {
    client
        .find(Locator::Css("#key-name"))
        .await?
        .send_keys(name)
        .await?;
    for scope in scopes {
        client.find(Locator::Css(scope)).await?.click().await?;
    }
    client
        .find(Locator::Css("#key-expires"))
        .await?
        .select_by_value(expires)
        .await?;
    click(client, "#create-key").await?;
    text(client, "#new-key").await
}

/// The status of `method path` with `key` in `X-Auth-Token`.
async fn api_status(base: &str, method: reqwest::Method, path: &str, key: &str) -> Result<u16> {
    let res = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .header("x-auth-token", key)
        .send()
        .await?;
    Ok(res.status().as_u16())
}

/// A cell of the key row named `name`.
async fn key_cell(client: &Client, name: &str, class: &str) -> Result<String> {
    let xpath = format!(
        "//tr[contains(@class,'key')][td[1][text()='{name}']]//td[contains(@class,'{class}')]"
    );
    Ok(client.find(Locator::XPath(&xpath)).await?.text().await?)
}

/// Clicks the button `class` of the key row named `name` whose status is `status`.
async fn key_button(client: &Client, name: &str, status: &str, class: &str) -> Result<()> {
    let xpath = format!(
        "//tr[contains(@class,'key')][td[1][text()='{name}']][td[contains(@class,'key-status')][text()='{status}']]//button[contains(@class,'{class}')]"
    );
    click_at(client, Locator::XPath(&xpath), &xpath).await
}

/// Scoped keys: one that may read the profile, one that may sign browsers out (and is
/// refused the profile); the reader rolled (both keys work in the grace period) and its
/// successor suspended and resumed. Ends signed in.
async fn key_lifecycle(a: &Client, base: &str, user: &str, secret: &str) -> Result<()> {
    use reqwest::Method;
    let reader = create_key(a, "reader", &["#scope-me-read"], "90d").await?;
    assert_eq!(
        api_me(base, &reader).await?["session"]["scopes"],
        serde_json::json!(["me:read"])
    );
    a.goto(&format!("{base}/account")).await?;
    let revoker = create_key(a, "revoker", &["#scope-sessions-write"], "30d").await?;
    assert_eq!(
        api_status(base, Method::GET, "/api/me", &revoker).await?,
        403
    );
    assert_eq!(
        api_status(base, Method::POST, "/api/sessions/revoke", &reader).await?,
        403
    );
    // The list shows scopes, status, last use and uses (the refused request used the key).
    a.goto(&format!("{base}/account")).await?;
    assert_eq!(key_cell(a, "reader", "key-scopes").await?, "me:read");
    assert_eq!(
        key_cell(a, "revoker", "key-scopes").await?,
        "sessions:write"
    );
    assert_eq!(key_cell(a, "reader", "key-uses").await?, "2");
    assert_eq!(key_cell(a, "reader", "key-status").await?, "active");
    assert_ne!(key_cell(a, "reader", "key-last-used").await?, "never");
    // `sessions:write` signs this browser out through the API.
    assert_eq!(
        api_status(base, Method::POST, "/api/sessions/revoke", &revoker).await?,
        200
    );
    a.goto(&format!("{base}/account")).await?;
    assert_eq!(path_of(a).await?, "/");
    sign_in(a, base, user, secret).await?;
    assert_eq!(path_of(a).await?, "/account");

    // Roll the reader: a new key shown once; the old one works during its grace period.
    key_button(a, "reader", "active", "roll").await?;
    let rolled = text(a, "#new-key").await?;
    assert_ne!(rolled, reader);
    assert_eq!(api_me(base, &rolled).await?["is_logged_in"], true);
    assert_eq!(api_me(base, &reader).await?["is_logged_in"], true);
    a.goto(&format!("{base}/account")).await?;
    let statuses: Vec<String> = {
        let mut out = Vec::new();
        for cell in a.find_all(Locator::Css("tr.key .key-status")).await? {
            out.push(cell.text().await?);
        }
        out
    };
    assert!(statuses.contains(&"rolled".to_owned()), "{statuses:?}");

    // Suspend the new key: refused at once; resume: accepted again.
    key_button(a, "reader", "active", "suspend").await?;
    assert_eq!(api_me(base, &rolled).await?["is_logged_in"], false);
    key_button(a, "reader", "suspended", "resume").await?;
    assert_eq!(api_me(base, &rolled).await?["is_logged_in"], true);
    Ok(())
}

/// The whole scenario with two browsers, `a` and `b`, on the demo at `base`.
async fn scenario(a: &Client, b: &Client, base: &str, label: &str) -> Result<()> {
    // Sign up in A: a random id and a secret, shown once; then the account page, one device.
    a.goto(&format!("{base}/")).await?;
    click(a, "#signup").await?;
    let user = text(a, "#new-user-id").await?;
    let secret = text(a, "#new-secret").await?;
    assert_eq!(uuid::Uuid::parse_str(&user)?.get_version_num(), 4);
    click(a, "#continue").await?;
    assert_eq!(path_of(a).await?, "/account");
    assert_eq!(text(a, "#user-id").await?, user);
    assert_eq!(count(a, "tr[data-session-id]").await?, 1);
    assert_eq!(count(a, "tr.current").await?, 1);

    // The cookie: HttpOnly (invisible to scripts) and SameSite=Lax.
    let cookie = a.get_named_cookie("auth_token").await?;
    assert_eq!(cookie.http_only(), Some(true), "HttpOnly");
    assert_eq!(
        cookie.same_site(),
        Some(sqlx_sessions::axum::SameSite::Lax),
        "SameSite=Lax"
    );
    assert_eq!(cookie.path(), Some("/"));
    let visible = a.execute("return document.cookie", vec![]).await?;
    assert!(!visible.as_str().unwrap_or("").contains("auth_token"));

    // B cannot sign in with the id alone; stats are not for anonymous visitors.
    sign_in(b, base, &user, "not the secret").await?;
    assert!(
        b.source()
            .await?
            .contains("Wrong user id or sign-in secret.")
    );
    b.goto(&format!("{base}/stats")).await?;
    assert_eq!(path_of(b).await?, "/");

    // Sign in from B (another browser profile) with the secret: two devices.
    sign_in(b, base, &user, &secret).await?;
    assert_eq!(path_of(b).await?, "/account");
    a.refresh().await?;
    assert_eq!(count(a, "tr[data-session-id]").await?, 2);
    assert_eq!(count(b, "tr[data-session-id]").await?, 2);

    // A expires B's session: struck through in A, and B is signed out.
    click(a, "tr.device:not(.current) button.expire").await?;
    assert_eq!(path_of(a).await?, "/account");
    assert_eq!(
        count(a, "tr.expired s").await?,
        4,
        "device name, user agent, ip and expiry struck through"
    );
    let shot = a.screenshot().await?;
    let target = target_dir();
    std::fs::create_dir_all(&target)?;
    std::fs::write(target.join("demo-account.png"), &shot)?;
    if label == "sqlite" && std::env::var("UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
        std::fs::create_dir_all(&docs)?;
        std::fs::write(docs.join("demo-account.png"), &shot)?;
    }
    b.goto(&format!("{base}/account")).await?;
    assert_eq!(path_of(b).await?, "/", "an expired session is signed out");

    // A deletes it: one device left.
    click(a, "tr.device:not(.current) button.delete").await?;
    assert_eq!(count(a, "tr[data-session-id]").await?, 1);

    // B signs in again; A signs out of all devices: both end up on `/`.
    sign_in(b, base, &user, &secret).await?;
    assert_eq!(path_of(b).await?, "/account");
    a.refresh().await?;
    assert_eq!(count(a, "tr[data-session-id]").await?, 2);
    click(a, "#sign-out-all").await?;
    assert_eq!(path_of(a).await?, "/");
    b.goto(&format!("{base}/account")).await?;
    assert_eq!(path_of(b).await?, "/");

    // A signs in again and creates an API key expiring in 30 days, shown once; /api/me
    // accepts it.
    sign_in(a, base, &user, &secret).await?;
    let key = create_key(a, "browser test", &["#scope-me-read"], "30d").await?;
    assert!(key.starts_with("demo_sk_"), "{}", &key[..8]);
    let me = api_me(base, &key).await?;
    assert_eq!(me["is_logged_in"], true);
    assert_eq!(me["user"]["id"], user.as_str());
    assert_eq!(me["session"]["kind"], "api_key");
    assert!(me["session"]["expires_at"].is_string(), "{me}");
    assert!(text(a, "#curl").await?.contains("/api/me"));

    // Revoked, the key fails.
    a.goto(&format!("{base}/account")).await?;
    assert_eq!(count(a, "tr.key").await?, 1);
    assert_ne!(text(a, "tr.key .key-expires").await?, "never");
    click(a, "tr.key button.revoke").await?;
    assert_eq!(count(a, "tr.key").await?, 0);
    assert_eq!(api_me(base, &key).await?["is_logged_in"], false);

    key_lifecycle(a, base, &user, &secret).await?;
    a.goto(&format!("{base}/account")).await?;

    // A key that never expires (chosen), revoked with the sessions by "sign out of all
    // devices" with its box ticked.
    let key = create_key(a, "forever", &["#scope-me-read"], "never").await?;
    a.goto(&format!("{base}/account")).await?;
    assert_eq!(text(a, "tr.key .key-expires").await?, "never");
    a.find(Locator::Css("#revoke-api-keys"))
        .await?
        .click()
        .await?;
    click(a, "#sign-out-all").await?;
    assert_eq!(path_of(a).await?, "/");
    assert_eq!(api_me(base, &key).await?["is_logged_in"], false);
    sign_in(a, base, &user, &secret).await?;
    assert_eq!(path_of(a).await?, "/account");

    // A form post without its CSRF token: 403, and still signed in.
    let status = a
        .execute(
            "return fetch('/sign-out', {method: 'POST', headers: {'Content-Type': \
             'application/x-www-form-urlencoded'}, body: 'x=1'}).then(r => r.status)",
            vec![],
        )
        .await?;
    assert_eq!(status.as_u64(), Some(403));
    a.execute(
        "document.querySelectorAll('input[name=_csrf_token]').forEach(e => e.remove())",
        vec![],
    )
    .await?;
    click(a, "#sign-out").await?;
    assert!(a.source().await?.contains("403 Forbidden"));
    a.goto(&format!("{base}/account")).await?;
    assert_eq!(
        path_of(a).await?,
        "/account",
        "the refused post did not sign out"
    );

    // Stats: one user, one active session (A's), the rest pruned or deleted.
    a.goto(&format!("{base}/stats")).await?;
    assert_eq!(text(a, "#users").await?, "1");
    assert_eq!(text(a, "#sessions-active").await?, "1");
    assert_eq!(text(a, "#keys-total").await?, "0");
    in_place(a, base, &user, &secret).await
}

/// Issue 12's actions on one device: rename it, re-authenticate (a new token in the
/// cookie), the `curl` line, re-login that keeps the old session with "remember me", and the
/// messages after each, with the user id pre-filled after signing out.
async fn in_place(a: &Client, base: &str, user: &str, secret: &str) -> Result<()> {
    a.goto(&format!("{base}/account")).await?;
    let name = a.find(Locator::Css("tr.current input[name=name]")).await?;
    name.clear().await?;
    name.send_keys("Work laptop").await?;
    click(a, "tr.current button.rename-button").await?;
    assert_eq!(text(a, "#flash").await?, "Device renamed.");
    assert_eq!(text(a, "tr.current .label").await?, "Work laptop");
    a.refresh().await?;
    assert_eq!(count(a, "#flash").await?, 0, "a message shows once");

    let before = a.get_named_cookie("auth_token").await?.value().to_owned();
    a.find(Locator::Css("#reauth-secret"))
        .await?
        .send_keys(secret)
        .await?;
    click(a, "#reauthenticate").await?;
    assert!(text(a, "#flash").await?.contains("new session token"));
    let after = a.get_named_cookie("auth_token").await?.value().to_owned();
    assert_ne!(before, after, "the cookie holds the new token");
    assert_eq!(api_me(base, &before).await?["is_logged_in"], false);
    assert_eq!(api_me(base, &after).await?["is_logged_in"], true);
    assert_eq!(
        text(a, "tr.current .label").await?,
        "Work laptop",
        "the same device"
    );
    assert!(
        text(a, "#curl")
            .await?
            .starts_with("curl -H \"X-Auth-Token: $API_KEY\""),
        "double quotes, so the shell expands $API_KEY"
    );

    // Re-login with "remember me": a second device, the first kept; the cookie lasts 30 days.
    a.goto(&format!("{base}/")).await?;
    let prefilled = a
        .find(Locator::Css("#user_id"))
        .await?
        .prop("value")
        .await?;
    assert_eq!(prefilled.as_deref(), Some(user));
    a.find(Locator::Css("#secret"))
        .await?
        .send_keys(secret)
        .await?;
    a.find(Locator::Css("#remember")).await?.click().await?;
    click(a, "#login").await?;
    assert_eq!(path_of(a).await?, "/account");
    assert!(text(a, "#flash").await?.starts_with("Signed in."));
    assert_eq!(count(a, "tr[data-session-id]").await?, 2);
    assert_eq!(count(a, "tr.current").await?, 1);
    assert!(
        a.source().await?.contains("Work laptop"),
        "the old session kept"
    );
    let expires = a
        .get_named_cookie("auth_token")
        .await?
        .expires_datetime()
        .ok_or("a persistent cookie")?;
    let days = (expires - time::OffsetDateTime::now_utc()).whole_days();
    assert!(days >= 29, "remembered for {days} days");

    // Signing out says so, and the next sign-in has the id filled in.
    click(a, "#sign-out").await?;
    assert_eq!(path_of(a).await?, "/");
    assert_eq!(text(a, "#flash").await?, "Signed out.");
    let prefilled = a
        .find(Locator::Css("#user_id"))
        .await?
        .prop("value")
        .await?;
    assert_eq!(prefilled.as_deref(), Some(user));
    Ok(())
}

async fn run(db: TestDb, label: &str) {
    let _one_at_a_time = BROWSERS.lock().await;
    let state = db.state().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, app(state), async {
        let _ = stopped.await;
    }));

    let driver = Driver::start().await.expect("chromedriver");
    let profiles = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = driver.browser(profiles.0.path()).await.expect("browser A");
    let b = driver.browser(profiles.1.path()).await.expect("browser B");
    let outcome = scenario(&a, &b, &base, label).await;
    let _ = a.close().await;
    let _ = b.close().await;
    drop(driver);
    let _ = stop.send(());
    let _ = server.await;
    if let Err(e) = outcome {
        panic!("browser scenario on {label} failed: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_scenario_sqlite() {
    if !browser_available() {
        return;
    }
    run(TestDb::sqlite().await, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_scenario_postgres() {
    if !browser_available() {
        return;
    }
    if let Some(db) = TestDb::postgres().await {
        run(db, "postgres").await;
    }
}
