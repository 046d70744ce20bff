//! The promises of the test support: databases dropped after passing tests and kept after
//! failing ones, on each backend; the store's log lines (sqlx's SQLite statements included,
//! logged on sqlx's own threads) in the capture of their test only.

use sqlx::Connection as _;
use sqlx_sessions::NewSession;
use sqlx_sessions_test_support::{Backend, TestDb, backend_tests, block_on, capture_logs};

/// Whether the database of `db` (named by `name`) exists now.
fn exists(backend: Backend, name: &str) -> bool {
    match backend {
        Backend::Sqlite => std::path::Path::new(name).exists(),
        Backend::Postgres => block_on(async {
            let admin = std::env::var("PG_TEST_URL").expect("PG_TEST_URL");
            let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
            let found: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                    .bind(name)
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
            found
        }),
        Backend::Mysql => block_on(async {
            let admin = std::env::var("MYSQL_TEST_URL").expect("MYSQL_TEST_URL");
            let mut conn = sqlx::MySqlConnection::connect(&admin).await.unwrap();
            let found: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?",
            )
            .bind(name)
            .fetch_one(&mut conn)
            .await
            .unwrap();
            found == 1
        }),
    }
}

fn dropped_after_a_passing_test(db: &TestDb) {
    let (backend, name) = (db.backend(), db.name().to_owned());
    // A SQLite file exists once something used it.
    block_on(async {
        let pool = sqlx_sessions::Pool::connect(db.url()).await.unwrap();
        pool.close().await;
    });
    assert!(exists(backend, &name), "{name} exists during the test");
    let db = TestDb::blocking(backend).expect("the same backend again");
    let name2 = db.name().to_owned();
    drop(db);
    assert!(!exists(backend, &name2), "{name2} is gone after the test");
}

fn kept_after_a_failing_test(db: &TestDb) {
    let backend = db.backend();
    let failed = std::thread::spawn(move || {
        let db = TestDb::blocking(backend).expect("the same backend again");
        block_on(async {
            let pool = sqlx_sessions::Pool::connect(db.url()).await.unwrap();
            pool.close().await;
        });
        let name = db.name().to_owned();
        std::panic::panic_any(name);
    })
    .join()
    .expect_err("the test failed");
    let name = failed.downcast::<String>().expect("its database's name");
    assert!(exists(backend, &name), "{name} is kept for a look");
    // Clean up what the failed test kept.
    match backend {
        Backend::Sqlite => {
            let dir = std::path::Path::new(name.as_str()).parent().unwrap();
            std::fs::remove_dir_all(dir).unwrap();
        }
        Backend::Postgres => block_on(async {
            let admin = std::env::var("PG_TEST_URL").unwrap();
            let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
            let sql = format!("DROP DATABASE \"{name}\" WITH (FORCE)");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .unwrap();
        }),
        Backend::Mysql => block_on(async {
            let admin = std::env::var("MYSQL_TEST_URL").unwrap();
            let mut conn = sqlx::MySqlConnection::connect(&admin).await.unwrap();
            let sql = format!("DROP DATABASE `{name}`");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .unwrap();
        }),
    }
    assert!(!exists(backend, &name));
}

backend_tests!(blocking: dropped_after_a_passing_test, kept_after_a_failing_test);

mod capture {
    use super::*;

    async fn store_lines_go_to_their_test(db: TestDb) {
        let logs = capture_logs("trace");
        let store = db.builder().build().unwrap();
        store.migrate().await.unwrap();
        store
            .create(NewSession::new().extra("user_id", "u"))
            .await
            .unwrap();
        // A test on another thread at the same time, with a capture of its own.
        let theirs = std::thread::spawn(|| {
            let theirs = capture_logs("trace");
            tracing::info!("a line of another test");
            theirs.text()
        })
        .join()
        .unwrap();
        let text = logs.text();
        assert!(text.contains("session created"), "{text}");
        assert!(text.contains("INSERT INTO"), "sqlx's statements: {text}");
        assert!(!text.contains("a line of another test"), "{text}");
        assert!(theirs.contains("a line of another test"), "{theirs}");
        assert!(!theirs.contains("session created"), "{theirs}");
    }

    backend_tests!(store_lines_go_to_their_test);
}
