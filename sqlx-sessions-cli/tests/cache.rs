//! The command line tool's `expire` and `revoke`, run as the real binary, are refused by a
//! running store with a read cache within the cache's bound, on SQLite and PostgreSQL.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::TestDb;
use sqlx_sessions::SessionStore;
use sqlx_sessions::cache::CacheConfig;

db_tests! {
    expire_and_revoke_reach_a_cached_store_within_the_bound,
}

const EVENTUALLY: Duration = Duration::from_secs(20);

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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
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
