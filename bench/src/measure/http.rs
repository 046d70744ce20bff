//! Measurement 6: requests per second of the demo's `GET /api/me` with a valid
//! `X-Auth-Token`, under `wrk` on loopback, against a minimal axum app doing the same reads
//! with raw sqlx ([`crate::raw_app`]), on the same database in the same run.
//!
//! Both apps are served from this process (the multi-threaded tokio runtime of the bench) on
//! ports of their own; `wrk` is a separate process with one thread. The demo's database is
//! filled through the demo itself: users, then sessions made by its store, as signing in
//! makes them. Before the load, every app is asked for a sample of tokens and an unknown one,
//! and must answer logged in and logged out respectively.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use serde::Serialize;
use sqlx::postgres::PgPoolOptions;
use sqlx_sessions::{NewSession, Pool, PoolOptions};
use sqlx_sessions_demo::AppState;
use sqlx_sessions_demo::csrf::CsrfKey;
use sqlx_sessions_demo::db::{Db as DemoDb, PG_POOL_SIZE, SQLITE_POOL_SIZE};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use crate::cli::Plan;
use crate::db::{Db, DbKind};
use crate::raw_app;
use crate::wrk::{self, WrkRun};

/// Most tokens the load script cycles through.
pub const MAX_SCRIPT_TOKENS: usize = 10_000;

/// The three HTTP endpoints measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Endpoint {
    /// The demo's `GET /api/me` (sqlx-sessions, the demo's middleware stack).
    DemoApiMe,
    /// The same, served by a second instance of the demo with its read cache (`--cache`) on
    /// the same database.
    DemoApiMeCache,
    /// The raw app's `GET /raw/me`: the same two reads as `/api/me`, raw sqlx.
    RawMe,
    /// The raw app's `GET /raw/session`: the session read only.
    RawSession,
}

impl Endpoint {
    /// Every endpoint, in report order.
    pub const ALL: [Endpoint; 4] = [
        Endpoint::DemoApiMe,
        Endpoint::DemoApiMeCache,
        Endpoint::RawMe,
        Endpoint::RawSession,
    ];

    /// Whether the demo serves this endpoint (with or without its cache).
    pub fn is_demo(self) -> bool {
        matches!(self, Endpoint::DemoApiMe | Endpoint::DemoApiMeCache)
    }

    /// Name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::DemoApiMe => "demo /api/me",
            Endpoint::DemoApiMeCache => "demo /api/me --cache",
            Endpoint::RawMe => "raw axum /raw/me",
            Endpoint::RawSession => "raw axum /raw/session",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Endpoint::DemoApiMe | Endpoint::DemoApiMeCache => "/api/me",
            Endpoint::RawMe => "/raw/me",
            Endpoint::RawSession => "/raw/session",
        }
    }
}

/// Requests per second of one endpoint at one number of connections.
#[derive(Clone, Debug, Serialize)]
pub struct HttpResult {
    /// Database.
    pub db: DbKind,
    /// Endpoint.
    pub endpoint: Endpoint,
    /// `wrk` connections.
    pub connections: usize,
    /// Sessions in the demo's table.
    pub sessions: u64,
    /// The measured rounds.
    #[serde(flatten)]
    pub load: wrk::Rounds,
}

/// A server running on a loopback port until its handle is dropped or stopped.
#[derive(Debug)]
pub struct Served {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Served {
    /// Serves `app` on a fresh loopback port.
    pub async fn start(app: axum::Router) -> Result<Served> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(sqlx_sessions_demo::serve(listener, app, async move {
            let _ = stopped.await;
        }));
        Ok(Served {
            addr,
            stop: Some(stop),
            task,
        })
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await??;
        Ok(())
    }
}

/// A response read to its end.
#[derive(Debug)]
pub struct Reply {
    /// The status line.
    pub status: String,
    /// The header lines.
    pub headers: Vec<String>,
    /// The body.
    pub body: String,
}

/// One bodiless request (`GET`, `POST`) with one extra header, on a fresh connection.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    (name, value): (&str, &str),
) -> Result<Reply> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{name}: {value}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .context("a response without a blank line")?;
    let mut lines = head.lines();
    Ok(Reply {
        status: lines.next().unwrap_or_default().to_string(),
        headers: lines.map(str::to_string).collect(),
        body: body.to_string(),
    })
}

/// One `GET` with `X-Auth-Token` on a fresh connection; the status line and the body.
async fn get(addr: SocketAddr, path: &str, token: &str) -> Result<(String, String)> {
    let reply = send(addr, "GET", path, ("X-Auth-Token", token)).await?;
    Ok((reply.status, reply.body))
}

/// Checks that `path` on `addr` answers logged in for `tokens` and logged out for a token
/// that does not exist.
async fn check_answers(addr: SocketAddr, path: &str, tokens: &[String]) -> Result<()> {
    for token in tokens {
        let (status, body) = get(addr, path, token).await?;
        ensure!(
            status.starts_with("HTTP/1.1 200") && body.contains("\"is_logged_in\":true"),
            "{path} did not answer logged in for a valid token: {status} {body}"
        );
    }
    let unknown = "A".repeat(64);
    let (status, body) = get(addr, path, &unknown).await?;
    ensure!(
        status.starts_with("HTTP/1.1 200") && body.contains("\"is_logged_in\":false"),
        "{path} did not answer logged out for an unknown token: {status} {body}"
    );
    Ok(())
}

/// Three pools of the demo's size on one database: the demo's, the cached demo's and the
/// raw app's.
async fn open(db: &Db) -> Result<[Pool; 3]> {
    let mut pools = Vec::new();
    for _ in 0..3 {
        pools.push(match db.kind {
            DbKind::Sqlite => {
                let path = db.sqlite_file("http_demo");
                let url = format!("sqlite:{}?mode=rwc", path.display());
                let options = PoolOptions::new().max_connections(SQLITE_POOL_SIZE);
                Pool::connect_with(&url, &options).await?
            }
            DbKind::Postgres => Pool::from(
                PgPoolOptions::new()
                    .max_connections(PG_POOL_SIZE)
                    .connect_with(db.pg_options()?)
                    .await?,
            ),
            DbKind::Mysql => anyhow::bail!("the raw app has no SQL for MySQL"),
        });
    }
    pools.try_into().map_err(|_| anyhow::anyhow!("three pools"))
}

/// Creates `n` sessions through the demo's store, ten per user, as signing in does; returns
/// their tokens.
async fn fill(state: &AppState, n: u64) -> Result<Vec<String>> {
    let mut tokens = Vec::with_capacity(n as usize);
    let (mut user, _) = state.db.create_user().await?;
    for i in 0..n {
        if i > 0 && i % 10 == 0 {
            user = state.db.create_user().await?.0;
        }
        let created = state
            .sessions()
            .create(
                NewSession::new()
                    .extra("user_id", user.id.to_string())
                    .data(serde_json::json!({"user_agent": "wrk/4.1.0", "ip": "127.0.0.1"})),
            )
            .await?;
        tokens.push(created.token.expose().to_string());
    }
    Ok(tokens)
}

/// One `wrk` run, off the async worker threads.
pub async fn load(
    url: &str,
    script: &Path,
    connections: usize,
    duration: Duration,
) -> Result<WrkRun> {
    let (url, script) = (url.to_owned(), script.to_owned());
    tokio::task::spawn_blocking(move || wrk::run(&url, &script, connections, duration)).await?
}

/// Serves the demo and the raw app on `db`, checks their answers, then loads each endpoint
/// with `wrk` in rotating rounds at every connection count of the plan.
pub async fn run(plan: &Plan, db: &Db) -> Result<Vec<HttpResult>> {
    let name = db.kind.name();
    if !wrk::available() {
        eprintln!("[{name}] http: skipped, `wrk` was not found (Debian: `apt-get install wrk`)");
        return Ok(Vec::new());
    }
    let [demo_db, cached_db, raw_db] = open(db).await?;
    let state = AppState::new(DemoDb::from(demo_db), CsrfKey::random(), false).await?;
    let cached = AppState::open(DemoDb::from(cached_db), CsrfKey::random(), false, true).await?;
    let t0 = std::time::Instant::now();
    let tokens = fill(&state, plan.http_sessions).await?;
    eprintln!(
        "[{name}] http: {} sessions created through the demo's store in {:.1}s",
        tokens.len(),
        t0.elapsed().as_secs_f64()
    );
    let demo = Served::start(sqlx_sessions_demo::app(state.clone())).await?;
    let demo_cached = Served::start(sqlx_sessions_demo::app(cached.clone())).await?;
    let raw = Served::start(raw_app::router(raw_db.clone())).await?;
    let addr = |e: Endpoint| match e {
        Endpoint::DemoApiMe => demo.addr,
        Endpoint::DemoApiMeCache => demo_cached.addr,
        Endpoint::RawMe | Endpoint::RawSession => raw.addr,
    };
    let sample: Vec<String> = tokens.iter().step_by(97).take(20).cloned().collect();
    for e in Endpoint::ALL {
        check_answers(addr(e), e.path(), &sample).await?;
    }

    let script_dir = tempfile::tempdir()?;
    let script = script_dir.path().join("tokens.lua");
    let script_tokens = &tokens[..tokens.len().min(MAX_SCRIPT_TOKENS)];
    std::fs::write(&script, wrk::token_script(script_tokens)?)?;

    let mut out = Vec::new();
    for &connections in &plan.http_connections {
        let mut runs: Vec<(Endpoint, WrkRun)> = Vec::new();
        for round in 0..plan.rounds as usize {
            for e in super::rotated(&Endpoint::ALL, round) {
                let url = format!("http://{}{}", addr(e), e.path());
                load(&url, &script, connections, plan.warmup).await?;
                let r = load(&url, &script, connections, plan.case).await?;
                eprintln!(
                    "  [{name}] http c={connections:<3} round {} {:<22} {:>9.0} req/s p50 {:>8.1} us p99 {:>8.1} us",
                    round + 1,
                    e.name(),
                    r.requests_per_sec,
                    r.p50_us,
                    r.p99_us
                );
                runs.push((e, r));
            }
        }
        for e in Endpoint::ALL {
            let mine: Vec<&WrkRun> = runs
                .iter()
                .filter(|(k, _)| *k == e)
                .map(|(_, r)| r)
                .collect();
            out.push(HttpResult {
                db: db.kind,
                endpoint: e,
                connections,
                sessions: tokens.len() as u64,
                load: wrk::Rounds::of(&mine),
            });
        }
    }
    // The sessions must still be valid after the load (nothing expired or got revoked).
    check_answers(demo.addr, Endpoint::DemoApiMe.path(), &sample).await?;
    check_answers(demo_cached.addr, Endpoint::DemoApiMe.path(), &sample).await?;
    if let Some(stats) = cached.sessions().cache_stats() {
        eprintln!("  [{name}] http: the cached demo's session cache: {stats}");
    }
    demo.stop().await?;
    demo_cached.stop().await?;
    raw.stop().await?;
    state.db.close().await;
    cached.db.close().await;
    raw_db.close().await;
    Ok(out)
}

/// The throughput of endpoint `ours` divided by that of `other` for `db` at `connections`.
pub fn ratio(
    rows: &[HttpResult],
    db: DbKind,
    connections: usize,
    ours: Endpoint,
    other: Endpoint,
) -> Option<f64> {
    let find = |e: Endpoint| {
        rows.iter()
            .find(|r| r.db == db && r.connections == connections && r.endpoint == e)
            .map(|r| r.load.requests_per_sec)
    };
    let ours = find(ours)?;
    let theirs = find(other)?;
    (theirs > 0.0).then(|| ours / theirs)
}
