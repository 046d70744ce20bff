//! `Pool::connect`: the database chosen by the URL's scheme, and the options.

use std::time::Duration;

use sqlx_sessions::{NewSession, Pool, PoolOptions, SessionStore};

async fn round_trip(pool: Pool) {
    let store = SessionStore::builder(pool.clone())
        .table("pool_sessions")
        .build()
        .expect("store");
    store.migrate().await.expect("migrate");
    let created = store
        .create(NewSession::new().extra("user_id", "7"))
        .await
        .expect("create");
    let found = store.lookup(created.token.expose()).await.expect("lookup");
    assert_eq!(found.map(|s| s.id), Some(created.session.id));
    store.migrate_down().await.expect("migrate down");
    pool.close().await;
}

#[tokio::test]
async fn a_plain_path_and_a_sqlite_url_open_sqlite_files_created_when_missing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("plain.db");
    let pool = Pool::connect(path.to_str().unwrap())
        .await
        .expect("plain path");
    assert!(matches!(pool, Pool::Sqlite(_)), "{pool:?}");
    assert!(path.exists(), "the file is created");
    round_trip(pool).await;

    let path = dir.path().join("url.db");
    let url = format!("sqlite:{}", path.display());
    let pool = Pool::connect(&url).await.expect("sqlite url");
    assert!(matches!(pool, Pool::Sqlite(_)), "{pool:?}");
    assert!(path.exists(), "the file is created");
    round_trip(pool).await;
}

#[tokio::test]
async fn create_if_missing_false_refuses_a_missing_file_and_lazy_defers_the_failure() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("missing.db");
    let url = path.to_str().unwrap();
    let strict = PoolOptions::new()
        .create_if_missing(false)
        .acquire_timeout(Duration::from_secs(2));
    let err = Pool::connect_with(url, &strict).await.unwrap_err();
    assert!(err.is_database(), "{err:?}");
    assert!(!path.exists(), "no file is created");

    let pool = Pool::connect_with(url, &strict.clone().lazy(true))
        .await
        .expect("a lazy pool does not connect");
    let store = SessionStore::builder(pool).build().expect("store");
    let err = store.migrate().await.unwrap_err();
    assert!(err.is_database(), "{err:?}");
    assert!(!path.exists(), "no file is created");
}

#[tokio::test]
async fn max_connections_bounds_the_pool() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bounded.db");
    let pool = Pool::connect_with(
        path.to_str().unwrap(),
        &PoolOptions::new().max_connections(1),
    )
    .await
    .expect("connect");
    let Pool::Sqlite(sqlite) = &pool else {
        panic!("not SQLite: {pool:?}")
    };
    assert_eq!(sqlite.options().get_max_connections(), 1);
    pool.close().await;
}

#[tokio::test]
async fn an_unknown_scheme_is_refused_by_name() {
    for url in ["mssql://sa@localhost/app", "redis://localhost"] {
        let err = Pool::connect(url).await.unwrap_err().to_string();
        let scheme = url.split(':').next().unwrap();
        assert!(err.contains(&format!("`{scheme}`")), "{err}");
    }
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_and_postgresql_urls_open_postgres() {
    let Ok(url) = std::env::var("PG_TEST_URL") else {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true" || v == "1"),
            "PG_TEST_URL is required in CI"
        );
        eprintln!("skipped: PG_TEST_URL is not set");
        return;
    };
    let alias = url.replacen("postgres://", "postgresql://", 1);
    for url in [url.clone(), alias] {
        let pool = Pool::connect(&url).await.expect("connect");
        assert!(matches!(pool, Pool::Postgres(_)), "{pool:?}");
        pool.close().await;
    }
    // Each test process uses a table of its own name on the shared server.
    let pool = Pool::connect(&url).await.expect("connect");
    let table = format!("pool_sessions_{}", std::process::id());
    let store = SessionStore::builder(pool.clone())
        .table(table)
        .build()
        .expect("store");
    store.migrate().await.expect("migrate");
    let created = store
        .create(NewSession::new().extra("user_id", "7"))
        .await
        .expect("create");
    let found = store.lookup(created.token.expose()).await.expect("lookup");
    store.migrate_down().await.expect("migrate down");
    assert_eq!(found.map(|s| s.id), Some(created.session.id));
    pool.close().await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql_and_mariadb_urls_open_mysql() {
    let Some(db) = sqlx_sessions_test_support::TestDb::mysql().await else {
        return;
    };
    let alias = db.url().replacen("mysql://", "mariadb://", 1);
    for url in [db.url().to_owned(), alias] {
        let pool = Pool::connect(&url).await.expect("connect");
        assert!(matches!(pool, Pool::Mysql(_)), "{pool:?}");
        round_trip(pool).await;
    }
}
