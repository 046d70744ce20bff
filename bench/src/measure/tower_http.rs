//! Measurement 10: one axum app on tower-sessions with axum-login, once on
//! tower-sessions-sqlx-store (`SqliteStore`, `PostgresStore`) and once on sqlx-sessions'
//! `TowerStore`, each with and without `with_always_save(true)`, under `wrk`: requests per
//! second, latency, and the INSERTs and UPDATEs that reached the session table.
//!
//! The app is generic over the store ([`app`]): `SessionManagerLayer::new(store)` with
//! sessions that end after a day of inactivity, under axum-login's `AuthManagerLayer` with an
//! in-memory user backend, and one route, `GET /me`, that answers the signed-in user's id
//! (axum-login reads its key of the session data and loads the user on every request).
//! Every case has its own table and app; its sessions are signed in through its own app
//! (`POST /login/{id}`, which cycles the id as axum-login does), and `wrk` sends their
//! cookies in turn. Writes are counted per table, the same way for both stores: triggers on
//! SQLite, `pg_stat_user_tables` on PostgreSQL (an upsert that takes its `ON CONFLICT` path
//! counts as an UPDATE).
//!
//! `TowerStore`'s store has a TTL of a day (the session's span) and the stale window of
//! `--tower-stale-secs`, so the window is exactly that: a session that is only read gets at
//! most one UPDATE per window even with `with_always_save(true)`, which each case checks
//! against the time its load lasted.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_login::{AuthManagerLayerBuilder, AuthSession, AuthUser, AuthnBackend, UserId};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx_sessions::cache::CacheConfig;
use sqlx_sessions::tower_sessions::TowerStore;
use sqlx_sessions::{Filter, StoreBuilder};
use tower_sessions::{Expiry, SessionManagerLayer, SessionStore};

use super::http::{MAX_SCRIPT_TOKENS, Served, load, send};
use super::writes::{self, Counted};
use crate::cli::Plan;
use crate::contenders::sqlx_sessions::SqlxSessions;
use crate::contenders::tower::{self, StoreVisitor, Tower};
use crate::db::{Db, DbKind};
use crate::wrk::{self, Rounds, WrkRun};

/// How long a session lasts without a request (tower-sessions' `Expiry::OnInactivity`).
pub const INACTIVITY: time::Duration = time::Duration::days(1);

/// Sessions signed in per user, as several devices would.
const SESSIONS_PER_USER: u64 = 10;

/// Concurrent sign-ins while the sessions are made.
const LOGIN_TASKS: u64 = 16;

/// The session store under the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoreKind {
    /// `tower-sessions-sqlx-store` 0.15 (`SqliteStore`, `PostgresStore`, on sqlx 0.8).
    SqlxStore,
    /// `sqlx_sessions::tower_sessions::TowerStore` on a sqlx-sessions store.
    TowerStore,
    /// `TowerStore` on a sqlx-sessions store with its read cache on (revocations still
    /// seen, within the cache's bound across instances): what tower-sessions users would
    /// otherwise reach for with `CachingSessionStore`, which never invalidates.
    TowerStoreCached,
}

impl StoreKind {
    /// Name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::SqlxStore => "tower-sessions-sqlx-store",
            StoreKind::TowerStore => "TowerStore",
            StoreKind::TowerStoreCached => "TowerStore+cache",
        }
    }

    /// Whether this is one of sqlx-sessions' stores (a `TowerStore`).
    pub fn is_ours(self) -> bool {
        self != StoreKind::SqlxStore
    }
}

/// One case: a store, and whether the session layer saves on every request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Case {
    /// The store.
    pub store: StoreKind,
    /// `with_always_save(true)`.
    pub always_save: bool,
}

impl Case {
    /// Every case, in report order.
    pub const ALL: [Case; 6] = [
        Case::new(StoreKind::SqlxStore, false),
        Case::new(StoreKind::TowerStore, false),
        Case::new(StoreKind::TowerStoreCached, false),
        Case::new(StoreKind::SqlxStore, true),
        Case::new(StoreKind::TowerStore, true),
        Case::new(StoreKind::TowerStoreCached, true),
    ];

    const fn new(store: StoreKind, always_save: bool) -> Self {
        Case { store, always_save }
    }

    /// `plain` or `always-save`.
    pub fn mode(self) -> &'static str {
        if self.always_save {
            "always-save"
        } else {
            "plain"
        }
    }

    /// The store and the mode, for reports.
    pub fn label(self) -> String {
        format!("{} {}", self.store.name(), self.mode())
    }

    /// The name of the case's table (each contender prefixes it).
    fn table_name(self) -> &'static str {
        match (self.store == StoreKind::TowerStoreCached, self.always_save) {
            (false, true) => "th_always",
            (false, false) => "th_plain",
            (true, true) => "thc_always",
            (true, false) => "thc_plain",
        }
    }
}

/// What one case measured at one number of connections.
#[derive(Clone, Debug, Serialize)]
pub struct TowerHttpResult {
    /// Database.
    pub db: DbKind,
    /// The store and the mode.
    pub case: Case,
    /// `wrk` connections.
    pub connections: usize,
    /// Sessions signed in (and cookies `wrk` cycles through).
    pub sessions: u64,
    /// The measured rounds.
    #[serde(flatten)]
    pub load: Rounds,
    /// Requests while the writes were counted: every round, warm-ups included.
    pub counted_requests: u64,
    /// UPDATEs of the session table during those requests.
    pub updates: u64,
    /// INSERTs into it during those requests (0 expected: every cookie is signed in).
    pub inserts: u64,
    /// How the writes were counted.
    pub counted_by: String,
    /// Seconds from the first to the last counted request.
    pub counted_secs: f64,
    /// `TowerStore`'s stale window, seconds.
    pub stale_window_secs: f64,
    /// The most UPDATEs "one per session per stale window" allows over `counted_secs`
    /// (`TowerStore` with `always_save` only).
    pub update_bound: Option<u64>,
}

impl TowerHttpResult {
    /// UPDATEs per 10,000 counted requests.
    pub fn updates_per_10k(&self) -> f64 {
        if self.counted_requests == 0 {
            return 0.0;
        }
        self.updates as f64 * 10_000.0 / self.counted_requests as f64
    }

    /// Whether the UPDATEs stayed within [`Self::update_bound`] (`None` without a bound).
    pub fn within_bound(&self) -> Option<bool> {
        self.update_bound.map(|b| self.updates <= b)
    }
}

/// The most UPDATEs `sessions` sessions may get in `secs` with at most one per `window`:
/// each one `floor(secs / window) + 1` (the first may fall right at the start).
pub fn update_bound(sessions: u64, secs: f64, window: f64) -> u64 {
    sessions * ((secs / window).floor() as u64 + 1)
}

/// A user of the app: an id and the bytes axum-login keeps a digest of in the session (a
/// password hash, in a real app).
#[derive(Clone)]
pub struct User {
    id: i64,
    auth_hash: [u8; 32],
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User").field("id", &self.id).finish()
    }
}

impl AuthUser for User {
    type Id = i64;

    fn id(&self) -> i64 {
        self.id
    }

    fn session_auth_hash(&self) -> &[u8] {
        &self.auth_hash
    }
}

/// The users `1..=n`, in memory (the measurement is about sessions); signing in takes the id.
#[derive(Clone, Debug)]
pub struct Users {
    by_id: Arc<HashMap<i64, User>>,
}

impl Users {
    /// Users with ids `1..=n`.
    pub fn new(n: u64) -> Self {
        let by_id = (1..=n as i64)
            .map(|id| {
                let auth_hash = Sha256::digest(format!("password of {id}")).into();
                (id, User { id, auth_hash })
            })
            .collect();
        Users {
            by_id: Arc::new(by_id),
        }
    }
}

impl AuthnBackend for Users {
    type User = User;
    type Credentials = i64;
    type Error = std::convert::Infallible;

    async fn authenticate(&self, id: i64) -> Result<Option<User>, Self::Error> {
        Ok(self.by_id.get(&id).cloned())
    }

    async fn get_user(&self, id: &UserId<Self>) -> Result<Option<User>, Self::Error> {
        Ok(self.by_id.get(id).cloned())
    }
}

/// `POST /login/{id}`: signs user `id` in (axum-login cycles the session id).
async fn login(mut auth: AuthSession<Users>, Path(id): Path<i64>) -> Response {
    match auth.authenticate(id).await {
        Ok(Some(user)) => match auth.login(&user).await {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        },
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET /me`: the signed-in user's id, or 401.
async fn me(auth: AuthSession<Users>) -> Response {
    match auth.user {
        Some(user) => format!("{{\"user_id\":{}}}", user.id).into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

/// The app on `store`: tower-sessions' layer (a day of inactivity, `always_save` as asked)
/// under axum-login's, with the sign-in and `GET /me` routes.
pub fn app<S: SessionStore + Clone>(store: S, always_save: bool, users: Users) -> Router {
    let sessions = SessionManagerLayer::new(store)
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(INACTIVITY))
        .with_always_save(always_save);
    let auth = AuthManagerLayerBuilder::new(users, sessions).build();
    Router::new()
        .route("/me", get(me))
        .route("/login/{id}", post(login))
        .layer(auth)
}

/// Builds [`app`] on whichever store type a [`Tower`] contender has.
struct AppOn {
    always_save: bool,
    users: Users,
}

impl StoreVisitor for AppOn {
    type Output = Router;

    fn visit<S: SessionStore + Clone>(self, store: S) -> Router {
        app(store, self.always_save, self.users)
    }
}

/// One case's store, table and served app.
struct Running {
    case: Case,
    table: String,
    pg_schema: &'static str,
    served: Served,
    lib: Option<SqlxSessions>,
    tower: Option<Tower>,
    cookies: Vec<String>,
}

impl Running {
    fn counted(&self) -> Counted<'_> {
        Counted {
            table: &self.table,
            pg_schema: self.pg_schema,
        }
    }

    async fn close(self) -> Result<()> {
        self.served.stop().await?;
        if let Some(lib) = &self.lib {
            lib.close().await;
        }
        if let Some(tower) = &self.tower {
            tower.close().await;
        }
        Ok(())
    }
}

/// Opens the case's table and serves its app.
async fn start(plan: &Plan, db: &Db, case: Case, users: &Users) -> Result<Running> {
    let name = case.table_name();
    let on = AppOn {
        always_save: case.always_save,
        users: users.clone(),
    };
    Ok(match case.store {
        StoreKind::SqlxStore => {
            let t = Tower::open(db, name).await?;
            Running {
                case,
                table: t.table().to_owned(),
                pg_schema: tower::PG_SCHEMA,
                served: Served::start(t.with_store(on)).await?,
                lib: None,
                tower: Some(t),
                cookies: Vec::new(),
            }
        }
        StoreKind::TowerStore | StoreKind::TowerStoreCached => {
            let stale = time::Duration::try_from(plan.tower_stale)?;
            let cached = case.store == StoreKind::TowerStoreCached;
            let capacity = usize::try_from(plan.http_sessions)?.max(1) * 2;
            let lib = SqlxSessions::open_built(db, name, |b: StoreBuilder| {
                let b = b.ttl(Some(INACTIVITY)).extend_stale_time(Some(stale));
                if cached {
                    b.cache(CacheConfig::new(capacity))
                } else {
                    b
                }
            })
            .await?;
            let store = TowerStore::new(lib.store().clone());
            Running {
                case,
                table: lib.table().to_owned(),
                pg_schema: "public",
                served: Served::start(on.visit(store)).await?,
                lib: Some(lib),
                tower: None,
                cookies: Vec::new(),
            }
        }
    })
}

/// The value of the `id` cookie a response sets.
fn session_cookie(headers: &[String]) -> Option<String> {
    headers.iter().find_map(|h| {
        let (name, value) = h.split_once(':')?;
        if !name.trim().eq_ignore_ascii_case("set-cookie") {
            return None;
        }
        let value = value.trim().strip_prefix("id=")?;
        Some(value.split(';').next()?.to_owned())
    })
}

/// Signs `n` sessions in through the app at `addr`, [`SESSIONS_PER_USER`] per user, from
/// [`LOGIN_TASKS`] tasks; returns their cookies in sign-in order.
async fn sign_in(addr: SocketAddr, n: u64) -> Result<Vec<String>> {
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..LOGIN_TASKS {
        tasks.spawn(async move {
            let mut out = Vec::new();
            for i in (t..n).step_by(LOGIN_TASKS as usize) {
                let user = i / SESSIONS_PER_USER + 1;
                let reply =
                    send(addr, "POST", &format!("/login/{user}"), ("Accept", "*/*")).await?;
                ensure!(
                    reply.status.starts_with("HTTP/1.1 204"),
                    "signing in failed: {} {}",
                    reply.status,
                    reply.body
                );
                let cookie = session_cookie(&reply.headers).context("no session cookie")?;
                out.push((i, cookie));
            }
            anyhow::Ok(out)
        });
    }
    let mut all = Vec::with_capacity(n as usize);
    while let Some(done) = tasks.join_next().await {
        all.extend(done??);
    }
    all.sort_unstable_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, c)| c).collect())
}

/// Checks that `GET /me` on `addr` answers the right user for a sample of `cookies` and 401
/// for a session id that does not exist.
async fn check_answers(addr: SocketAddr, cookies: &[String]) -> Result<()> {
    for (i, cookie) in cookies.iter().enumerate().step_by(97).take(20) {
        let reply = send(addr, "GET", "/me", ("Cookie", &format!("id={cookie}"))).await?;
        let user = i as u64 / SESSIONS_PER_USER + 1;
        ensure!(
            reply.status.starts_with("HTTP/1.1 200")
                && reply.body == format!("{{\"user_id\":{user}}}"),
            "/me did not answer user {user} for its session: {} {}",
            reply.status,
            reply.body
        );
    }
    let unknown = "id=AAAAAAAAAAAAAAAAAAAAAA";
    let reply = send(addr, "GET", "/me", ("Cookie", unknown)).await?;
    ensure!(
        reply.status.starts_with("HTTP/1.1 401"),
        "/me did not refuse an unknown session: {} {}",
        reply.status,
        reply.body
    );
    Ok(())
}

/// (inserts, updates) of every case's table, in the order of `running`.
async fn counts(db: &Db, running: &[Running]) -> Result<Vec<(u64, u64)>> {
    let tables: Vec<Counted<'_>> = running.iter().map(Running::counted).collect();
    writes::read_counters(db, &tables, false).await
}

/// Runs every case on `db` at every connection count of the plan.
pub async fn run(plan: &Plan, db: &Db) -> Result<Vec<TowerHttpResult>> {
    let name = db.kind.name();
    if !wrk::available() {
        eprintln!(
            "[{name}] tower-http: skipped, `wrk` was not found (Debian: `apt-get install wrk`)"
        );
        return Ok(Vec::new());
    }
    let sessions = plan.http_sessions;
    let users = Users::new(sessions.div_ceil(SESSIONS_PER_USER));
    let mut running = Vec::new();
    for case in Case::ALL {
        let mut r = start(plan, db, case, &users).await?;
        let t0 = Instant::now();
        r.cookies = sign_in(r.served.addr, sessions).await?;
        eprintln!(
            "[{name}] tower-http: {} sessions signed in through {} in {:.1}s",
            r.cookies.len(),
            case.label(),
            t0.elapsed().as_secs_f64()
        );
        check_answers(r.served.addr, &r.cookies).await?;
        writes::install_counter(db, &r.counted()).await?;
        running.push(r);
    }
    if let Some(lib) = running.iter().find_map(|r| r.lib.as_ref()) {
        // TowerStore copied axum-login's user id into the user column.
        let n = lib.store().count(&Filter::new().eq("user_id", "1")).await?;
        ensure!(
            n == SESSIONS_PER_USER.min(sessions),
            "TowerStore's user column holds {n} sessions of user 1"
        );
    }

    let script_dir = tempfile::tempdir()?;
    let mut scripts = Vec::new();
    for (i, r) in running.iter().enumerate() {
        let path = script_dir.path().join(format!("cookies{i}.lua"));
        let cookies = &r.cookies[..r.cookies.len().min(MAX_SCRIPT_TOKENS)];
        std::fs::write(&path, wrk::header_script("Cookie", "id=", cookies)?)?;
        scripts.push(path);
    }

    let window = plan.tower_stale.as_secs_f64();
    let mut out = Vec::new();
    for &connections in &plan.http_connections {
        let before = counts(db, &running).await?;
        let started = Instant::now();
        let mut runs: Vec<(usize, WrkRun)> = Vec::new();
        let mut counted = vec![0u64; running.len()];
        for round in 0..plan.rounds as usize {
            let order: Vec<usize> = (0..running.len()).collect();
            for i in super::rotated(&order, round) {
                let r = &running[i];
                let url = format!("http://{}/me", r.served.addr);
                let warm = load(&url, &scripts[i], connections, plan.warmup).await?;
                let run = load(&url, &scripts[i], connections, plan.case).await?;
                counted[i] += warm.requests + run.requests;
                eprintln!(
                    "  [{name}] tower-http c={connections:<3} round {} {:<38} {:>9.0} req/s p50 {:>8.1} us p99 {:>8.1} us",
                    round + 1,
                    r.case.label(),
                    run.requests_per_sec,
                    run.p50_us,
                    run.p99_us
                );
                runs.push((i, run));
            }
        }
        let counted_secs = started.elapsed().as_secs_f64();
        let after = counts(db, &running).await?;
        for (i, r) in running.iter().enumerate() {
            let mine: Vec<&WrkRun> = runs
                .iter()
                .filter(|(k, _)| *k == i)
                .map(|(_, run)| run)
                .collect();
            let bounded = r.case.store.is_ours() && r.case.always_save;
            let result = TowerHttpResult {
                db: db.kind,
                case: r.case,
                connections,
                sessions: r.cookies.len() as u64,
                load: Rounds::of(&mine),
                counted_requests: counted[i],
                inserts: after[i].0 - before[i].0,
                updates: after[i].1 - before[i].1,
                counted_by: writes::counted_by(db.kind).to_owned(),
                counted_secs,
                stale_window_secs: window,
                update_bound: bounded
                    .then(|| update_bound(r.cookies.len() as u64, counted_secs, window)),
            };
            eprintln!(
                "  [{name}] tower-http c={connections:<3} {:<38} updates {} ({:.1} per 10k requests) inserts {}",
                r.case.label(),
                result.updates,
                result.updates_per_10k(),
                result.inserts
            );
            out.push(result);
        }
    }
    for r in running {
        // The sessions are still signed in after the load.
        check_answers(r.served.addr, &r.cookies).await?;
        r.close().await?;
    }
    Ok(out)
}

/// Requests per second of `TowerStore` (uncached) divided by tower-sessions-sqlx-store's,
/// for `db`, the mode `always_save` and `connections`.
pub fn ratio(
    rows: &[TowerHttpResult],
    db: DbKind,
    connections: usize,
    always_save: bool,
) -> Option<f64> {
    ratio_of(rows, StoreKind::TowerStore, db, connections, always_save)
}

/// Requests per second of `ours` divided by tower-sessions-sqlx-store's, for `db`, the mode
/// `always_save` and `connections`.
pub fn ratio_of(
    rows: &[TowerHttpResult],
    ours: StoreKind,
    db: DbKind,
    connections: usize,
    always_save: bool,
) -> Option<f64> {
    let find = |store| {
        rows.iter()
            .find(|r| {
                r.db == db
                    && r.connections == connections
                    && r.case == Case::new(store, always_save)
            })
            .map(|r| r.load.requests_per_sec)
    };
    let ours = find(ours)?;
    let theirs = find(StoreKind::SqlxStore)?;
    (theirs > 0.0).then(|| ours / theirs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_session_cookie() {
        let headers = [
            "content-length: 0".to_string(),
            "set-cookie: id=AbC-d_e; HttpOnly; SameSite=Strict; Path=/".to_string(),
        ];
        assert_eq!(session_cookie(&headers).as_deref(), Some("AbC-d_e"));
        assert_eq!(session_cookie(&["set-cookie: other=x".to_string()]), None);
    }

    fn quick_plan() -> Plan {
        Plan::from_args(&<crate::cli::Args as clap::Parser>::parse_from([
            "bench", "--quick",
        ]))
    }

    /// Both stores under `always_save` on SQLite: the triggers count the sqlx store's upsert
    /// of every request as an UPDATE, and TowerStore's sessions, read well inside their
    /// stale window, get none; every request answers its own user.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn counts_the_writes_of_each_store() {
        let dir = tempfile::tempdir().unwrap();
        let plan = quick_plan();
        let db = Db::sqlite(dir.path(), plan.pools);
        let users = Users::new(1);
        let mut got = Vec::new();
        for store in [StoreKind::SqlxStore, StoreKind::TowerStore] {
            let r = start(&plan, &db, Case::new(store, true), &users)
                .await
                .unwrap();
            let cookies = sign_in(r.served.addr, 3).await.unwrap();
            writes::install_counter(&db, &r.counted()).await.unwrap();
            let before = writes::read_counter(&db, &r.counted(), false)
                .await
                .unwrap();
            for _ in 0..5 {
                check_answers(r.served.addr, &cookies).await.unwrap();
            }
            let after = writes::read_counter(&db, &r.counted(), false)
                .await
                .unwrap();
            got.push((after.0 - before.0, after.1 - before.1));
            r.close().await.unwrap();
        }
        // check_answers sends one request per sampled cookie (the first of 3) and one with
        // an unknown id, which neither store writes.
        assert_eq!(got, vec![(0, 5), (0, 0)]);
    }

    #[test]
    fn bound_is_one_update_per_session_per_window() {
        assert_eq!(update_bound(100, 0.5, 30.0), 100);
        assert_eq!(update_bound(100, 30.0, 30.0), 200);
        assert_eq!(update_bound(100, 75.0, 30.0), 300);
    }
}
