//! Deleting expired sessions in batches, and the background pruner.

use std::time::Duration as StdDuration;

use sqlx_sessions::{Filter, ManualClock, NewSession, SessionStore, Status};
use sqlx_sessions_test_support::{TestDb, backend_tests};
use time::Duration;
use time::macros::datetime;

fn clock() -> ManualClock {
    ManualClock::new(datetime!(2031-03-01 00:00 UTC))
}

async fn build(db: &TestDb, clock: &ManualClock, batch: u32) -> SessionStore {
    let store = db
        .builder()
        .clock(clock.clone())
        .prune_batch_size(batch)
        .ttl(Some(Duration::hours(1)))
        .extend_stale_time(Some(Duration::minutes(10)))
        .build()
        .unwrap();
    store.migrate().await.unwrap();
    store
}

async fn deletes_more_rows_than_one_batch(db: TestDb) {
    let clock = clock();
    let store = build(&db, &clock, 10).await;
    for i in 0..47 {
        store
            .create(NewSession::new().extra("user_id", format!("old{i}")))
            .await
            .unwrap();
    }
    clock.advance(Duration::hours(2));
    let mut keep = Vec::new();
    for i in 0..5 {
        keep.push(
            store
                .create(NewSession::new().extra("user_id", format!("new{i}")))
                .await
                .unwrap(),
        );
    }
    assert_eq!(
        store
            .count(&Filter::new().status(Status::Expired))
            .await
            .unwrap(),
        47
    );
    assert_eq!(store.delete_expired_batch().await.unwrap(), 10);
    assert_eq!(store.delete_expired().await.unwrap(), 37);
    assert_eq!(store.delete_expired().await.unwrap(), 0);
    assert_eq!(
        store
            .count(&Filter::new().status(Status::All))
            .await
            .unwrap(),
        5
    );
    for k in &keep {
        assert!(store.lookup(k.token.expose()).await.unwrap().is_some());
    }
}

async fn max_lifetime_sessions_are_pruned(db: TestDb) {
    let clock = clock();
    let store = db
        .builder()
        .clock(clock.clone())
        .ttl(None)
        .max_lifetime(Some(Duration::days(1)))
        .build()
        .unwrap();
    store.migrate().await.unwrap();
    let c = store
        .create(NewSession::new().extra("user_id", "u"))
        .await
        .unwrap();
    assert_eq!(
        c.session.expires_at,
        Some(clock.now_for_tests() + Duration::days(1))
    );
    clock.advance(Duration::days(1));
    assert!(store.lookup(c.token.expose()).await.unwrap().is_none());
    assert_eq!(store.delete_expired().await.unwrap(), 1);
}

trait Now {
    fn now_for_tests(&self) -> time::OffsetDateTime;
}
impl Now for ManualClock {
    fn now_for_tests(&self) -> time::OffsetDateTime {
        sqlx_sessions::Clock::now(self)
    }
}

fn logs() -> sqlx_sessions_test_support::Logs {
    sqlx_sessions_test_support::capture_logs("trace")
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(StdDuration::from_millis(25)).await;
    }
    panic!("timed out waiting for: {what}");
}

async fn pruner_runs_survives_errors_and_stops(db: TestDb) {
    let logs = logs();
    let clock = clock();
    let table = "sessions";
    let store = build(&db, &clock, 3).await;
    for _ in 0..8 {
        store
            .create(NewSession::new().extra("user_id", "x"))
            .await
            .unwrap();
    }
    clock.advance(Duration::hours(2));
    let pruner = store.spawn_pruner(StdDuration::from_millis(20));
    eventually("expired rows pruned", async || {
        store
            .count(&Filter::new().status(Status::All))
            .await
            .unwrap()
            == 0
    })
    .await;
    // The table disappears: rounds fail, are logged, and the pruner carries on.
    store.migrate_down().await.unwrap();
    eventually("a failed round logged", async || {
        logs.text().contains("pruning failed")
    })
    .await;
    assert!(!pruner.is_finished());
    store.migrate().await.unwrap();
    for _ in 0..4 {
        store
            .create(NewSession::new().extra("user_id", "y"))
            .await
            .unwrap();
    }
    clock.advance(Duration::hours(2));
    eventually("pruning resumed", async || {
        store
            .count(&Filter::new().status(Status::All))
            .await
            .unwrap()
            == 0
    })
    .await;
    let text = logs.text();
    assert!(
        text.contains("pruned expired sessions"),
        "rounds are logged"
    );
    assert!(text.contains(table));
    tokio::time::timeout(StdDuration::from_secs(5), pruner.stop())
        .await
        .expect("stop returns promptly");
}

async fn dropping_the_handle_stops_the_pruner(db: TestDb) {
    let clock = clock();
    let store = build(&db, &clock, 100).await;
    let pruner = store.spawn_pruner(StdDuration::from_millis(10));
    tokio::time::sleep(StdDuration::from_millis(50)).await;
    drop(pruner);
    tokio::time::sleep(StdDuration::from_millis(100)).await;
    // Rows that expire now stay: nobody prunes any more.
    store
        .create(NewSession::new().extra("user_id", "z"))
        .await
        .unwrap();
    clock.advance(Duration::hours(2));
    tokio::time::sleep(StdDuration::from_millis(100)).await;
    assert_eq!(
        store
            .count(&Filter::new().status(Status::Expired))
            .await
            .unwrap(),
        1
    );
}

backend_tests!(
    deletes_more_rows_than_one_batch,
    max_lifetime_sessions_are_pruned,
    pruner_runs_survives_errors_and_stops,
    dropping_the_handle_stops_the_pruner,
);
