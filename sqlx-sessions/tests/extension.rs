//! Sliding expiry through a real database, and races that must never revive a session.

use std::sync::Arc;

use sqlx_sessions::{Clock, Filter, GetOptions, ManualClock, NewSession, SessionStore, Status};
use sqlx_sessions_test_support::{TestDb, backend_tests};
use time::Duration;
use time::macros::datetime;

fn clock() -> ManualClock {
    ManualClock::new(datetime!(2030-06-01 08:00 UTC))
}

async fn build(
    db: &TestDb,
    clock: &ManualClock,
    ttl: Option<i64>,
    stale: Option<i64>,
) -> SessionStore {
    let store = db
        .builder()
        .clock(clock.clone())
        .ttl(ttl.map(Duration::seconds))
        .extend_stale_time(stale.map(Duration::seconds))
        .build()
        .unwrap();
    store.migrate().await.unwrap();
    store
}

async fn updates(db: &TestDb) -> i64 {
    // `updated_at` moves only when a write happened.
    db.scalar("SELECT COUNT(*) FROM sessions WHERE updated_at <> inserted_at")
        .await
}

async fn extends_only_outside_the_stale_window(db: TestDb) {
    let clock = clock();
    let day = 86_400;
    let store = build(&db, &clock, Some(7 * day), Some(day)).await;
    let c = store
        .create(NewSession::new().extra("user_id", "u"))
        .await
        .unwrap();
    let token = c.token.expose();
    let created_expiry = c.session.expires_at.unwrap();
    // Exactly at the edge (now + ttl == expires_at + stale): no write.
    clock.advance(Duration::days(1));
    let s = store.lookup(token).await.unwrap().unwrap();
    assert_eq!(s.expires_at, Some(created_expiry));
    assert_eq!(updates(&db).await, 0);
    // Just past the edge: one write, to now + ttl.
    clock.advance(Duration::microseconds(1));
    let s = store.lookup(token).await.unwrap().unwrap();
    assert_eq!(s.expires_at, Some(clock.now() + Duration::days(7)));
    assert_eq!(updates(&db).await, 1);
    let stored = store
        .get_with(&Filter::new().id(s.id), GetOptions::extend(false))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.expires_at, s.expires_at);
    // Many uses within the next window: still that one write.
    let written_at = stored.updated_at;
    for _ in 0..50 {
        clock.advance(Duration::minutes(20));
        store.lookup(token).await.unwrap().unwrap();
    }
    let again = store
        .get_with(&Filter::new().id(s.id), GetOptions::extend(false))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.updated_at, written_at);
}

async fn per_call_override_and_auto_extend_off(db: TestDb) {
    let clock = clock();
    let store = db
        .builder()
        .clock(clock.clone())
        .ttl(Some(Duration::hours(2)))
        .extend_stale_time(Some(Duration::ZERO))
        .auto_extend(false)
        .build()
        .unwrap();
    store.migrate().await.unwrap();
    let c = store
        .create(NewSession::new().extra("user_id", "u"))
        .await
        .unwrap();
    clock.advance(Duration::hours(1));
    let s = store.lookup(c.token.expose()).await.unwrap().unwrap();
    assert_eq!(s.expires_at, c.session.expires_at, "auto_extend off");
    let s = store
        .lookup_with(c.token.expose(), GetOptions::extend(true))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.expires_at, Some(clock.now() + Duration::hours(2)));
    clock.advance(Duration::minutes(30));
    let s = store.extend(s.id).await.unwrap().unwrap();
    assert_eq!(s.expires_at, Some(clock.now() + Duration::hours(2)));
}

async fn zero_stale_time_writes_at_every_use(db: TestDb) {
    let clock = clock();
    let store = build(&db, &clock, Some(3_600), Some(0)).await;
    let c = store
        .create(NewSession::new().extra("user_id", "u"))
        .await
        .unwrap();
    for _ in 0..3 {
        clock.advance(Duration::seconds(10));
        let s = store.lookup(c.token.expose()).await.unwrap().unwrap();
        assert_eq!(s.expires_at, Some(clock.now() + Duration::hours(1)));
    }
}

async fn no_ttl_or_no_stale_time_never_extends(db: TestDb) {
    let clock = clock();
    let store = build(&db, &clock, Some(3_600), None).await;
    let c = store
        .create(NewSession::new().extra("user_id", "u"))
        .await
        .unwrap();
    clock.advance(Duration::minutes(59));
    let s = store.lookup(c.token.expose()).await.unwrap().unwrap();
    assert_eq!(s.expires_at, c.session.expires_at);
    clock.advance(Duration::minutes(2));
    assert!(
        store.lookup(c.token.expose()).await.unwrap().is_none(),
        "expired on time"
    );
    assert_eq!(updates(&db).await, 0);

    let db2 = db;
    db2.exec("DELETE FROM sessions").await;
    // With the default absolute timeout, "no ttl" still ends 30 days after creation.
    let capped = build(&db2, &clock, None, Some(60)).await;
    let c = capped
        .create(NewSession::new().extra("user_id", "u"))
        .await
        .unwrap();
    assert_eq!(c.session.expires_at, Some(clock.now() + Duration::days(30)));
    db2.exec("DELETE FROM sessions").await;
    // Sessions that never expire need the cap lifted explicitly.
    let forever = db2
        .builder()
        .clock(clock.clone())
        .ttl(None)
        .extend_stale_time(Some(Duration::seconds(60)))
        .max_lifetime(None)
        .build()
        .unwrap();
    let c = forever
        .create(NewSession::new().extra("user_id", "u"))
        .await
        .unwrap();
    assert_eq!(c.session.expires_at, None);
    clock.advance(Duration::days(400));
    let s = forever.lookup(c.token.expose()).await.unwrap().unwrap();
    assert_eq!(s.expires_at, None);
    assert_eq!(updates(&db2).await, 0);
}

/// Many lookups that all want to extend, racing one expire (or one delete): afterwards the
/// session must not be valid.
async fn race(db: &TestDb, delete: bool) {
    let clock = clock();
    let store = build(db, &clock, Some(3_600), Some(0)).await;
    for round in 0..5 {
        let c = store
            .create(NewSession::new().extra("user_id", "racer"))
            .await
            .unwrap();
        let token: Arc<str> = c.token.expose().into();
        let id = c.session.id;
        let barrier = Arc::new(tokio::sync::Barrier::new(41));
        let mut tasks = Vec::new();
        for i in 0..40 {
            let (store, token, barrier, clock) =
                (store.clone(), token.clone(), barrier.clone(), clock.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                if i % 4 == 0 {
                    clock.advance(Duration::microseconds(1));
                }
                store.lookup(&token).await.map(|s| s.is_some())
            }));
        }
        let revoker = {
            let store = store.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                tokio::task::yield_now().await;
                if delete {
                    store.delete(id).await
                } else {
                    store.expire(id).await
                }
            })
        };
        for t in tasks {
            // Lookups may fail only on a busy database, never with a panic.
            let _ = t.await.unwrap();
        }
        assert!(
            revoker.await.unwrap().unwrap(),
            "round {round}: revocation happened"
        );
        clock.advance(Duration::microseconds(1));
        assert!(
            store.lookup(&token).await.unwrap().is_none(),
            "round {round}: came back"
        );
        let valid = store.count(&Filter::new().id(id)).await.unwrap();
        assert_eq!(valid, 0, "round {round}");
        let all = store
            .count(&Filter::new().id(id).status(Status::All))
            .await
            .unwrap();
        assert_eq!(all, u64::from(!delete), "round {round}");
    }
}

async fn extensions_racing_an_expire_never_revive(db: TestDb) {
    race(&db, false).await;
}

async fn extensions_racing_a_delete_never_revive(db: TestDb) {
    race(&db, true).await;
}

async fn concurrent_creations_do_not_collide(db: TestDb) {
    let clock = clock();
    let store = build(&db, &clock, Some(3_600), Some(60)).await;
    let mut tasks = Vec::new();
    for i in 0..400 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .create(NewSession::new().extra("user_id", format!("u{}", i % 7)))
                .await
                .map(|c| (c.session.id, c.token.into_string()))
        }));
    }
    let mut ids = std::collections::HashSet::new();
    let mut tokens = std::collections::HashSet::new();
    for t in tasks {
        let (id, token) = t.await.unwrap().unwrap();
        assert!(ids.insert(id));
        assert!(tokens.insert(token));
    }
    assert_eq!(store.count(&Filter::new()).await.unwrap(), 400);
    let _ = clock.now();
}

/// Used every 6 days, a session with the default settings is extended at each use, and
/// still dies 30 days after its creation; lifting the cap lets it live on.
async fn default_max_lifetime_ends_a_session_used_every_six_days(db: TestDb) {
    let clock = clock();
    let store = db.builder().clock(clock.clone()).build().unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.settings().max_lifetime, Some(Duration::days(30)));
    let lifted = db
        .builder()
        .clock(clock.clone())
        .max_lifetime(None)
        .build()
        .unwrap();
    let capped = store
        .create(NewSession::new().extra("user_id", "u"))
        .await
        .unwrap();
    let free = lifted
        .create(NewSession::new().extra("user_id", "v"))
        .await
        .unwrap();
    let born = clock.now();
    for day in (6..=120).step_by(6) {
        clock.set(born + Duration::days(day));
        let found = store.lookup(capped.token.expose()).await.unwrap();
        assert_eq!(found.is_some(), day < 30, "capped session on day {day}");
        if let Some(s) = found {
            assert!(s.expires_at.unwrap() <= born + Duration::days(30));
        }
        let found = lifted.lookup(free.token.expose()).await.unwrap();
        assert!(found.is_some(), "lifted cap: alive on day {day}");
    }
    // The default store refuses it by its own lifetime too, whatever store extended it.
    assert!(store.lookup(free.token.expose()).await.unwrap().is_none());
}

/// The lookup reports what it wrote: `extended` only when its UPDATE wrote a new expiry,
/// never for a session created in the same instant or for a touch of `last_used_at` alone.
async fn the_lookup_says_whether_it_extended(db: TestDb) {
    let clock = clock();
    let day = 86_400;
    let store = db
        .builder()
        .clock(clock.clone())
        .ttl(Some(Duration::seconds(7 * day)))
        .extend_stale_time(Some(Duration::seconds(day)))
        .track_last_used(Duration::minutes(1))
        .build()
        .unwrap();
    store.migrate().await.unwrap();
    let token = store
        .create(NewSession::new().extra("user_id", "u"))
        .await
        .unwrap()
        .token
        .into_string();
    let lookup = |options| {
        let store = store.clone();
        let token = token.clone();
        async move {
            store
                .lookup_outcome(&token, options)
                .await
                .unwrap()
                .unwrap()
        }
    };
    // Same instant as the creation: `updated_at` equals "now", yet nothing was extended.
    let same_instant = lookup(GetOptions::default()).await;
    assert!(!same_instant.extended);
    // A touch of last_used_at writes the row but not the expiry.
    clock.advance(Duration::minutes(5));
    let touched = lookup(GetOptions::default()).await;
    assert!(!touched.extended);
    assert_eq!(touched.session.last_used_at, Some(clock.now()));
    assert_eq!(touched.session.updated_at, clock.now());
    // Due: extended, to the expiry now stored.
    clock.advance(Duration::days(2));
    assert!(!lookup(GetOptions::extend(false)).await.extended);
    let extended = lookup(GetOptions::default()).await;
    assert!(extended.extended);
    assert_eq!(
        extended.session.expires_at,
        Some(clock.now() + Duration::days(7))
    );
    let stored = store
        .get_with(
            &Filter::new().id(extended.session.id),
            GetOptions::extend(false),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.expires_at, extended.session.expires_at);
    // Not due again right after.
    assert!(!lookup(GetOptions::default()).await.extended);
    // `get` by token alone answers as the lookup does (and extends the same way).
    clock.advance(Duration::days(2));
    let by_filter = store
        .get(&Filter::new().token(&token))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_filter.expires_at, Some(clock.now() + Duration::days(7)));
    assert!(!lookup(GetOptions::default()).await.extended);
}

backend_tests!(
    the_lookup_says_whether_it_extended,
    default_max_lifetime_ends_a_session_used_every_six_days,
    extends_only_outside_the_stale_window,
    per_call_override_and_auto_extend_off,
    zero_stale_time_writes_at_every_use,
    no_ttl_or_no_stale_time_never_extends,
    extensions_racing_an_expire_never_revive,
    extensions_racing_a_delete_never_revive,
    concurrent_creations_do_not_collide,
);
