//! What the demo's tests add to the shared test support: the demo's database and app
//! state on a test's fresh database, and a tiny cookie-keeping client for the router.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use sqlx_sessions_demo::csrf::CsrfKey;
use sqlx_sessions_demo::db::Db;
use sqlx_sessions_demo::{AppState, app};
use sqlx_sessions_test_support::Fixture;
use tower::ServiceExt as _;

/// The tables of the demo, for scans of everything the database holds.
const TABLES: [&str; 3] = ["sessions", "api_keys", "accounts"];

/// The demo's database on a fresh test database (which outlives it).
pub struct TestDb {
    pub db: Db,
    fresh: sqlx_sessions_test_support::TestDb,
}

impl Fixture for TestDb {
    async fn setup(fresh: sqlx_sessions_test_support::TestDb) -> Self {
        let db = Db::connect(fresh.url())
            .await
            .expect("connect the test database");
        TestDb { db, fresh }
    }
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        Self::setup(sqlx_sessions_test_support::TestDb::sqlite().await).await
    }

    /// A fresh PostgreSQL database, or `None` (skip, with a note) when `PG_TEST_URL` is not
    /// set outside CI.
    pub async fn postgres() -> Option<TestDb> {
        Some(Self::setup(sqlx_sessions_test_support::TestDb::postgres().await?).await)
    }

    pub async fn state(&self) -> AppState {
        AppState::new(self.db.clone(), CsrfKey::random(), false)
            .await
            .expect("state")
    }

    /// The database's URL.
    pub fn url(&self) -> &str {
        self.fresh.url()
    }

    /// Every byte the database holds (see [`sqlx_sessions_test_support::TestDb::dump`]).
    pub async fn bytes(&self) -> String {
        self.fresh.dump(&TABLES).await
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Page {
    /// The first `_csrf_token` value in the page.
    pub fn csrf(&self) -> String {
        between(&self.body, "name=\"_csrf_token\" value=\"", "\"").expect("a CSRF field")
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("JSON body")
    }
}

/// The text between `start` and the next `end`.
pub fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(text[from..from + len].to_owned())
}

/// A user's id and sign-in secret, as the sign-up page showed them.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub user: String,
    pub secret: String,
}

/// A browser of the router through `oneshot`: keeps cookies, follows nothing, says
/// `Host: localhost:4000` unless told otherwise.
#[derive(Clone)]
pub struct Client {
    pub app: Router,
    pub cookies: BTreeMap<String, String>,
    pub user_agent: String,
}

impl Client {
    pub fn new(state: AppState, user_agent: &str) -> Client {
        Client {
            app: app(state),
            cookies: BTreeMap::new(),
            user_agent: user_agent.into(),
        }
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    /// Signs a new user up from this browser (`GET /`, `POST /signup`): the page that shows
    /// the id and secret once, and both.
    pub async fn sign_up(&mut self) -> (Page, Credentials) {
        let home = self.get("/").await;
        assert_eq!(home.status, StatusCode::OK, "{}", home.body);
        let page = self.post("/signup", &[("_csrf_token", &home.csrf())]).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let credentials = Credentials {
            user: between(&page.body, "<code id=\"new-user-id\">", "<").expect("the user id"),
            secret: between(&page.body, "<code id=\"new-secret\">", "<").expect("the secret"),
        };
        (page, credentials)
    }

    /// `POST /login` with `credentials` and the CSRF token of a fresh `GET /`.
    pub async fn sign_in(&mut self, credentials: &Credentials) -> Page {
        let csrf = self.get("/").await.csrf();
        self.post(
            "/login",
            &[
                ("_csrf_token", &csrf),
                ("user_id", &credentials.user),
                ("secret", &credentials.secret),
            ],
        )
        .await
    }

    pub async fn get(&mut self, path: &str) -> Page {
        self.send(Method::GET, path, None, &[]).await
    }

    pub async fn get_with(&mut self, path: &str, headers: &[(&str, &str)]) -> Page {
        self.send(Method::GET, path, None, headers).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.send(Method::POST, path, Some(body), &[]).await
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        form: Option<String>,
        headers: &[(&str, &str)],
    ) -> Page {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::USER_AGENT, &self.user_agent);
        if !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("host"))
        {
            req = req.header(header::HOST, "localhost:4000");
        }
        if !self.cookies.is_empty() {
            let cookie = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            req = req.header(header::COOKIE, cookie);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = match form {
            Some(body) => req
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body)),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let location = res
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let set_cookies: Vec<String> = res
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for c in &set_cookies {
            let pair = c.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || c.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.into(), value.into());
            }
        }
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        Page {
            status,
            location,
            set_cookies,
            headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
