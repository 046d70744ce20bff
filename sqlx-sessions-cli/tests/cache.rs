//! The command line tool's `expire` and `revoke`, run as the real binary, are refused by a
//! running store with a read cache, and by the demo served with `--cache`, within the
//! cache's bound, on every database.

mod common;

use std::time::{Duration, Instant};

use common::CliDb as _;
use sqlx_sessions::SessionStore;
use sqlx_sessions::cache::CacheConfig;
use sqlx_sessions_test_support::{TestDb, backend_tests};

backend_tests! {
    blocking:
    expire_and_revoke_reach_a_cached_store_within_the_bound,
    expire_and_revoke_reach_the_running_cached_demo_within_the_bound,
}

const EVENTUALLY: Duration = Duration::from_secs(20);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A cached store on the test database, built and migrated inside `runtime`.
fn cached_store(db: &TestDb, runtime: &tokio::runtime::Runtime) -> SessionStore {
    runtime.block_on(async {
        let pool = sqlx_sessions::Pool::connect(db.url()).await.expect("pool");
        let store = SessionStore::builder(pool)
            .cache(CacheConfig::new(1_000))
            .build()
            .expect("cached store");
        store.migrate().await.expect("the cache's triggers");
        store
    })
}

/// Looks `token` up until a lookup is answered from memory.
async fn warm(store: &SessionStore, token: &str) {
    let started = Instant::now();
    loop {
        let before = store.cache_stats().expect("cache").hits;
        assert!(store.lookup(token).await.expect("lookup").is_some());
        if store.cache_stats().expect("cache").hits > before {
            return;
        }
        assert!(started.elapsed() < EVENTUALLY, "never answered from memory");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Every lookup starting later than the bound after `since` is refused (and some do).
async fn refused_within_bound(store: &SessionStore, token: &str, since: Instant) {
    let bound = store.cache_stats().expect("cache").bound;
    let until = since + bound * 2 + Duration::from_millis(100);
    let mut after_bound = 0;
    while Instant::now() < until {
        let started = Instant::now();
        let found = store.lookup(token).await.expect("lookup");
        if started.duration_since(since) > bound {
            assert!(found.is_none(), "served past the bound of {bound:?}");
            after_bound += 1;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(after_bound > 0);
}

fn expire_and_revoke_reach_a_cached_store_within_the_bound(db: &TestDb) {
    db.migrated();
    let runtime = runtime();
    let store = cached_store(db, &runtime);
    let expired = db.create("u1");
    let revoked = db.create("u2");
    let kept = db.create("u3");
    runtime.block_on(async {
        for token in [&expired, &revoked, &kept] {
            warm(&store, token).await;
        }
    });

    db.cmd().args(["expire", "--user", "u1"]).assert().success();
    let since = Instant::now();
    runtime.block_on(refused_within_bound(&store, &expired, since));

    db.cmd().args(["revoke", "--user", "u2"]).assert().success();
    let since = Instant::now();
    runtime.block_on(refused_within_bound(&store, &revoked, since));

    runtime.block_on(warm(&store, &kept));
}

/// `GET path` on the demo at `addr`, with `X-Auth-Token: token`: the whole response.
async fn get(addr: std::net::SocketAddr, path: &str, token: &str) -> String {
    send(addr, path, &format!("X-Auth-Token: {token}")).await
}

/// `GET path` with one more header line, answered 200: the response.
async fn send(addr: std::net::SocketAddr, path: &str, header: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{header}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

/// `GET /api/me` with `token`: whether the demo answered signed in.
async fn signed_in(addr: std::net::SocketAddr, token: &str) -> bool {
    get(addr, "/api/me", token)
        .await
        .contains("\"is_logged_in\":true")
}

/// Every request starting later than `bound` after `since` is answered signed out.
async fn signed_out_within(
    addr: std::net::SocketAddr,
    token: &str,
    since: Instant,
    bound: Duration,
) {
    let until = since + bound * 2 + Duration::from_millis(100);
    let mut after_bound = 0;
    while Instant::now() < until {
        let started = Instant::now();
        let answer = signed_in(addr, token).await;
        if started.duration_since(since) > bound {
            assert!(!answer, "signed in past the bound of {bound:?}");
            after_bound += 1;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(after_bound > 0);
}

fn expire_and_revoke_reach_the_running_cached_demo_within_the_bound(db: &TestDb) {
    use sqlx_sessions::NewSession;
    use sqlx_sessions_demo::{AppState, Config, app, serve};

    let runtime = runtime();
    let config = Config::parse(
        [
            "--cache".to_owned(),
            "--database-url".to_owned(),
            db.url().to_owned(),
        ],
        |_| None,
    )
    .expect("config")
    .expect("not --help");
    let (state, addr, user) = runtime.block_on(async {
        let state = AppState::connect(&config).await.expect("demo state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let router = app(state.clone());
        tokio::spawn(serve(listener, router, std::future::pending()));
        let user = state.db.create_user().await.expect("user").0.id.to_string();
        (state, addr, user)
    });
    let (session, key) = runtime.block_on(async {
        let session = state
            .sessions()
            .create(NewSession::new().extra("user_id", user.as_str()))
            .await
            .expect("session");
        let key = state
            .api_keys
            .create(
                NewSession::new()
                    .extra("user_id", user.as_str())
                    .scopes(["me:read"]),
            )
            .await
            .expect("API key");
        (
            session.token.expose().to_owned(),
            key.token.expose().to_owned(),
        )
    });
    // Served from memory before the change.
    runtime.block_on(async {
        for (token, store) in [(&session, state.sessions()), (&key, &state.api_keys)] {
            let started = Instant::now();
            loop {
                let hits = store.cache_stats().expect("cache").hits;
                assert!(signed_in(addr, token).await);
                if store.cache_stats().expect("cache").hits > hits {
                    break;
                }
                assert!(started.elapsed() < EVENTUALLY, "never answered from memory");
            }
        }
    });
    let bound = state.sessions().cache_stats().expect("cache").bound;
    // `/stats` is for signed-in users: the browser session's cookie.
    let stats = runtime.block_on(send(
        addr,
        "/stats",
        &format!("Cookie: auth_token={session}"),
    ));
    for id in [
        "cache-sessions-hits",
        "cache-keys-hits",
        "cache-sessions-serving",
    ] {
        assert!(stats.contains(&format!("id=\"{id}\"")), "no {id} on /stats");
    }

    db.cmd()
        .args(["expire", "--user", &user])
        .assert()
        .success();
    let since = Instant::now();
    runtime.block_on(signed_out_within(addr, &session, since, bound));

    db.cmd()
        .args(["--table", "api_keys", "revoke", "--user", &user])
        .assert()
        .success();
    let since = Instant::now();
    runtime.block_on(signed_out_within(addr, &key, since, bound));
}
