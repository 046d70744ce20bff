//! Races under load, on SQLite and PostgreSQL, with the pruner running throughout:
//! 10,000 concurrent creations (no collision, no lost row), and 1,000 concurrent lookups
//! that extend at every use racing an expire and a delete of the same session (it never
//! comes back). Concurrency is bounded by a semaphore so CI stays fast.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use sqlx_sessions::{Clock, Filter, ManualClock, NewSession, SessionStore, Status};
use sqlx_sessions_test_support::{TestDb, backend_tests};
use time::Duration;
use time::macros::datetime;
use tokio::sync::Semaphore;

const CREATIONS: usize = 10_000;
/// One creation in this many is born expired, so the pruner has work during the race.
const EXPIRED_EVERY: usize = 10;
const LOOKUPS: usize = 1_000;
const IN_FLIGHT: usize = 64;

fn clock() -> ManualClock {
    ManualClock::new(datetime!(2033-03-03 3:00 UTC))
}

async fn build(db: &TestDb, clock: &ManualClock) -> SessionStore {
    let store = db
        .builder()
        .clock(clock.clone())
        .ttl(Some(Duration::hours(1)))
        .extend_stale_time(Some(Duration::ZERO))
        .prune_batch_size(100)
        .build()
        .unwrap();
    store.migrate().await.unwrap();
    store
}

async fn ten_thousand_concurrent_creations(db: TestDb) {
    let clock = clock();
    let store = build(&db, &clock).await;
    let pruner = store.spawn_pruner(std::time::Duration::from_millis(5));
    let gate = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut tasks = Vec::with_capacity(CREATIONS);
    for i in 0..CREATIONS {
        let (store, gate, clock) = (store.clone(), gate.clone(), clock.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            let mut new = NewSession::new()
                .extra("user_id", format!("u{}", i % 97))
                .data(serde_json::json!({ "i": i }));
            let born_expired = i % EXPIRED_EVERY == 0;
            if born_expired {
                new = new.expires_at(Some(clock.now() - Duration::seconds(1)));
            }
            let c = store.create(new).await?;
            Ok::<_, sqlx_sessions::Error>((c.session.id, c.token.into_string(), born_expired))
        }));
    }
    let mut ids = HashSet::new();
    let mut tokens = HashSet::new();
    let mut valid = Vec::new();
    let mut errors = Vec::new();
    for t in tasks {
        match t.await.expect("no creation panics") {
            Ok((id, token, born_expired)) => {
                assert!(ids.insert(id), "id collision");
                assert!(tokens.insert(token.clone()), "token collision");
                if !born_expired {
                    valid.push((id, token));
                }
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    assert!(
        errors.is_empty(),
        "{} creations failed: {:?}",
        errors.len(),
        &errors[..errors.len().min(3)]
    );
    assert_eq!(ids.len(), CREATIONS);
    // Every valid row is there, each exactly once; the pruner took only expired rows.
    let listed: HashSet<_> = store
        .list(&Filter::new())
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    let expected: HashSet<_> = valid.iter().map(|(id, _)| *id).collect();
    assert_eq!(listed.len(), CREATIONS - CREATIONS / EXPIRED_EVERY);
    assert_eq!(listed, expected, "rows lost or invented");
    // The pruner deleted born-expired rows during the race; it finishes them now, and
    // nothing valid goes with them.
    let during = store
        .count(&Filter::new().status(Status::All))
        .await
        .unwrap();
    let pruned_during = CREATIONS as u64 - during;
    eprintln!("creation race: {CREATIONS} created, {pruned_during} expired rows pruned during it");
    assert!(pruned_during > 0, "the pruner ran during the race");
    store.delete_expired().await.unwrap();
    assert_eq!(
        store
            .count(&Filter::new().status(Status::All))
            .await
            .unwrap(),
        expected.len() as u64
    );
    let digests = db
        .scalar("SELECT COUNT(DISTINCT auth_token_digest) FROM sessions")
        .await;
    assert_eq!(digests as usize, expected.len());
    // A sample of tokens finds its own session.
    for (id, token) in valid.iter().step_by(97) {
        let s = store.lookup(token).await.unwrap().expect("valid session");
        assert_eq!(s.id, *id);
    }
    pruner.stop().await;
}

/// What happened in one lookup race.
#[derive(Debug, Default)]
struct Tally {
    found: AtomicUsize,
    refused: AtomicUsize,
    errors: AtomicUsize,
    /// Lookups that started after a revocation had returned and still found the session.
    revived: AtomicUsize,
}

async fn lookups_racing_an_expire_and_a_delete(db: TestDb) {
    let clock = clock();
    let store = build(&db, &clock).await;
    // Bystanders: other users' sessions that nothing in the race may touch.
    let mut bystanders = Vec::new();
    for i in 0..50 {
        let c = store
            .create(NewSession::new().extra("user_id", format!("b{i}")))
            .await
            .unwrap();
        bystanders.push((c.session.id, c.token.into_string(), c.session.expires_at));
    }
    let pruner = store.spawn_pruner(std::time::Duration::from_millis(2));
    let tally = Arc::new(Tally::default());
    for round in 0..2 {
        let c = store
            .create(NewSession::new().extra("user_id", "target"))
            .await
            .unwrap();
        let id = c.session.id;
        let token: Arc<str> = c.token.expose().into();
        let expired = Arc::new(AtomicBool::new(false));
        let deleted = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(Semaphore::new(IN_FLIGHT));
        let mut tasks = Vec::with_capacity(LOOKUPS + 2);
        for i in 0..LOOKUPS {
            let (store, token, gate, clock, tally) = (
                store.clone(),
                token.clone(),
                gate.clone(),
                clock.clone(),
                tally.clone(),
            );
            let (expired, deleted, started) = (expired.clone(), deleted.clone(), started.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = gate.acquire_owned().await.unwrap();
                started.fetch_add(1, Ordering::SeqCst);
                if i % 3 == 0 {
                    clock.advance(Duration::microseconds(1));
                }
                let after_revocation =
                    expired.load(Ordering::SeqCst) || deleted.load(Ordering::SeqCst);
                match store.lookup(&token).await {
                    Ok(Some(_)) => {
                        tally.found.fetch_add(1, Ordering::SeqCst);
                        if after_revocation {
                            tally.revived.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    Ok(None) => {
                        tally.refused.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => {
                        tally.errors.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }));
        }
        // The expire lands a third of the way in, the delete two thirds: both mid-race.
        let revoker = {
            let (store, started) = (store.clone(), started.clone());
            let (expired, deleted) = (expired.clone(), deleted.clone());
            tokio::spawn(async move {
                while started.load(Ordering::SeqCst) < LOOKUPS / 3 {
                    tokio::task::yield_now().await;
                }
                let did_expire = store.expire(id).await.unwrap();
                expired.store(true, Ordering::SeqCst);
                while started.load(Ordering::SeqCst) < 2 * LOOKUPS / 3 {
                    tokio::task::yield_now().await;
                }
                // The pruner may have taken the expired row first: either way it is gone.
                let _ = store.delete(id).await.unwrap();
                deleted.store(true, Ordering::SeqCst);
                did_expire
            })
        };
        for t in tasks {
            t.await.expect("no lookup panics");
        }
        assert!(
            revoker.await.unwrap(),
            "round {round}: the expire found the session"
        );
        // It never comes back: not by token, not by id, not in any status.
        clock.advance(Duration::microseconds(1));
        assert!(
            store.lookup(&token).await.unwrap().is_none(),
            "round {round}"
        );
        let all = Filter::new().id(id).status(Status::All);
        assert_eq!(store.count(&all).await.unwrap(), 0, "round {round}");
    }
    pruner.stop().await;
    let t = &*tally;
    eprintln!("lookup race: {t:?}");
    assert_eq!(
        t.revived.load(Ordering::SeqCst),
        0,
        "a revoked session came back"
    );
    assert_eq!(
        t.errors.load(Ordering::SeqCst),
        0,
        "lookups failed under load"
    );
    assert_eq!(
        t.found.load(Ordering::SeqCst) + t.refused.load(Ordering::SeqCst),
        2 * LOOKUPS
    );
    assert!(t.found.load(Ordering::SeqCst) > 0 && t.refused.load(Ordering::SeqCst) > 0);
    // No bystander was lost or altered.
    for (id, token, expires_at) in &bystanders {
        let s = store
            .get_with(
                &Filter::new().id(*id),
                sqlx_sessions::GetOptions::extend(false),
            )
            .await
            .unwrap()
            .expect("bystander kept");
        assert_eq!(s.expires_at, *expires_at);
        assert_eq!(store.digest_hex(token).unwrap().len(), 64);
    }
    assert_eq!(
        store
            .count(&Filter::new().status(Status::All))
            .await
            .unwrap(),
        bystanders.len() as u64
    );
}

backend_tests!(
    ten_thousand_concurrent_creations,
    lookups_racing_an_expire_and_a_delete,
);
