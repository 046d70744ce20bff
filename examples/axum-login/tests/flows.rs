//! The example's flows over HTTP against a real server on a real SQLite file: sign-in,
//! the protected page, my devices, signing one device out, signing out everywhere.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE, USER_AGENT};
use sqlx_sessions::{Filter, SessionStore};
use sqlx_sessions_axum_login_example::{Users, app, connect};

struct Server {
    base: String,
    store: SessionStore,
    file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sessions.db");
    let store = connect(&format!("sqlite:{}?mode=rwc", file.display()))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = app(store.clone(), Users::demo());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Server {
        base,
        store,
        file,
        _dir: dir,
    }
}

/// One browser: its user agent and its session cookie.
struct Device {
    agent: &'static str,
    cookie: Option<String>,
}

struct Reply {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

impl Device {
    fn new(agent: &'static str) -> Self {
        Device {
            agent,
            cookie: None,
        }
    }

    async fn send(&mut self, server: &Server, method: &str, path: &str, form: &str) -> Reply {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = client
            .request(method, format!("{}{path}", server.base))
            .header(USER_AGENT, self.agent);
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, format!("id={c}"));
        }
        if !form.is_empty() {
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form.to_owned());
        }
        let res = req.send().await.unwrap();
        for v in res.headers().get_all(SET_COOKIE) {
            if let Some(rest) = v.to_str().unwrap().strip_prefix("id=") {
                let value = rest.split(';').next().unwrap().to_owned();
                self.cookie = (!value.is_empty()).then_some(value);
            }
        }
        Reply {
            status: res.status(),
            location: res
                .headers()
                .get(LOCATION)
                .map(|v| v.to_str().unwrap().to_owned()),
            body: res.text().await.unwrap(),
        }
    }

    async fn sign_in(&mut self, server: &Server, user: &str, password: &str) -> Reply {
        let form = format!("username={user}&password={password}");
        self.send(server, "POST", "/login", &form).await
    }

    /// Whether the protected page lets this device in.
    async fn signed_in(&mut self, server: &Server) -> bool {
        let r = self.send(server, "GET", "/protected", "").await;
        match r.status {
            StatusCode::OK => true,
            s if s.is_redirection() => {
                assert!(r.location.unwrap().starts_with("/?next="));
                false
            }
            s => panic!("unexpected {s}"),
        }
    }
}

async fn devices_of(store: &SessionStore, user: &str) -> Vec<String> {
    let mut agents: Vec<_> = store
        .list(&Filter::new().eq("user_id", user))
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.data.get_str("user_agent").unwrap_or_default())
        .collect();
    agents.sort();
    agents
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_devices_and_sign_out_everywhere() {
    let server = start().await;
    let mut a = Device::new("device-a");
    let r = a.send(&server, "GET", "/", "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<form method=\"post\" action=\"/login\">"));
    assert!(!a.signed_in(&server).await);

    let r = a.sign_in(&server, "alice", "wrong").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("Wrong username or password."));
    assert!(!a.signed_in(&server).await);

    let r = a.sign_in(&server, "alice", "wonderland").await;
    assert!(r.status.is_redirection(), "{}", r.status);
    assert_eq!(r.location.as_deref(), Some("/protected"));
    let body = a.send(&server, "GET", "/protected", "").await.body;
    assert!(body.contains("Hello, alice"), "{body}");

    let mut b = Device::new("device-b");
    b.sign_in(&server, "alice", "wonderland").await;
    let mut c = Device::new("device-c");
    c.sign_in(&server, "bob", "builder").await;
    assert!(b.signed_in(&server).await && c.signed_in(&server).await);

    // My devices: alice's two, this one marked, none of bob's.
    let page = a.send(&server, "GET", "/devices", "").await.body;
    assert!(page.contains("device-a (this device)"), "{page}");
    assert!(page.contains("device-b") && !page.contains("device-b (this device)"));
    assert!(!page.contains("device-c"));
    assert_eq!(
        devices_of(&server.store, "1").await,
        ["device-a", "device-b"]
    );

    // The database (with its write-ahead log) holds no cookie value.
    let mut bytes = std::fs::read(&server.file).unwrap();
    let wal = server.file.with_extension("db-wal");
    bytes.extend(std::fs::read(wal).unwrap_or_default());
    assert!(
        String::from_utf8_lossy(&bytes).contains("device-a"),
        "the data is in the files read"
    );
    let text = String::from_utf8_lossy(&bytes);
    for d in [&a, &b, &c] {
        assert!(!text.contains(d.cookie.as_deref().unwrap()));
    }

    // Sign device B out from device A's list.
    let rows = server
        .store
        .list(&Filter::new().eq("user_id", "1"))
        .await
        .unwrap();
    let row_b = rows
        .iter()
        .find(|s| s.data.get_str("user_agent").as_deref() == Some("device-b"))
        .unwrap();
    let r = a
        .send(
            &server,
            "POST",
            &format!("/devices/{}/sign-out", row_b.id),
            "",
        )
        .await;
    assert_eq!(r.location.as_deref(), Some("/devices"));
    assert!(!b.signed_in(&server).await, "device B is still signed in");
    assert!(a.signed_in(&server).await);

    // Bob cannot sign alice's devices out.
    let row_a = server
        .store
        .list(&Filter::new().eq("user_id", "1"))
        .await
        .unwrap()[0]
        .id;
    c.send(&server, "POST", &format!("/devices/{row_a}/sign-out"), "")
        .await;
    assert!(a.signed_in(&server).await);

    // Sign out everywhere: every device of alice, bob untouched.
    b.sign_in(&server, "alice", "wonderland").await;
    let r = a.send(&server, "POST", "/sign-out-everywhere", "").await;
    assert_eq!(r.location.as_deref(), Some("/"));
    assert!(!a.signed_in(&server).await && !b.signed_in(&server).await);
    assert!(devices_of(&server.store, "1").await.is_empty());
    assert!(c.signed_in(&server).await);

    // Sign out: the session row is gone.
    c.send(&server, "POST", "/logout", "").await;
    assert!(!c.signed_in(&server).await);
    assert!(devices_of(&server.store, "2").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_pages_writes_nothing_despite_always_save() {
    let server = start().await;
    let mut a = Device::new("device-a");
    a.sign_in(&server, "alice", "wonderland").await;
    let stamp = || async {
        let s = server.store.list(&Filter::new()).await.unwrap();
        assert_eq!(s.len(), 1);
        (s[0].updated_at, s[0].expires_at)
    };
    let before = stamp().await;
    for _ in 0..20 {
        assert!(a.signed_in(&server).await);
    }
    assert_eq!(stamp().await, before, "a read wrote the session");
}
