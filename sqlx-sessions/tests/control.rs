//! Changing sessions in place, on every database: update (merge, replace, extra columns),
//! set_expiry (the one way back), per-session TTLs, rotate, the `*_in` operations inside a
//! caller's transaction, and the new filters. The races: update against expire and delete,
//! concurrent merges of different keys, rotate against lookups of the old token.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;
use sqlx_sessions::{
    Clock, Error, Filter, ManualClock, NewSession, OverCap, Pool, SessionStore, SessionUpdate,
    Status,
};
use sqlx_sessions_test_support::{TestDb, backend_tests};
use time::Duration;
use time::macros::datetime;

fn clock() -> ManualClock {
    ManualClock::new(datetime!(2034-04-04 4:00 UTC))
}

async fn store(db: &TestDb, clock: &ManualClock) -> SessionStore {
    let store = db
        .builder()
        .clock(clock.clone())
        .ttl(Some(Duration::hours(1)))
        .extend_stale_time(Some(Duration::minutes(10)))
        .per_session_ttl()
        .build()
        .unwrap();
    store.migrate().await.unwrap();
    store
}

fn user(id: &str) -> NewSession {
    NewSession::new().extra("user_id", id)
}

async fn update_merges_replaces_and_sets_columns(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    let s = store
        .create(user("u1").data(json!({"a": 1, "cart": [1, 2], "nested": {"x": 1}})))
        .await
        .unwrap();
    let id = s.session.id;
    clock.advance(Duration::seconds(5));
    let change = SessionUpdate::new()
        .set("b", "two")
        .set("nested", json!({"y": null}))
        .remove("cart")
        .extra("user_id", 42_i64);
    let updated = store.update(id, change).await.unwrap().expect("valid");
    assert_eq!(
        updated.data.value(),
        json!({"a": 1, "b": "two", "nested": {"y": null}})
    );
    // An integer for a text column is converted, and the filter takes one too.
    assert_eq!(updated.extra_str("user_id"), Some("42"));
    assert_eq!(
        store.count(&Filter::new().eq("user_id", 42)).await.unwrap(),
        1
    );
    assert_eq!(updated.updated_at, clock.now());
    assert_eq!(
        updated.expires_at, s.session.expires_at,
        "update never extends"
    );
    // Replace, then keys set on top of the new data.
    let replaced = SessionUpdate::new()
        .replace_data(json!({"only": true}))
        .set("more", 1);
    let by_token = store
        .update_token(s.token.expose(), replaced)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_token.data.value(), json!({"only": true, "more": 1}));
    let read = store.get(&Filter::new().id(id)).await.unwrap().unwrap();
    assert_eq!(read.data.value(), by_token.data.value());
    // Refused, and nothing written.
    let refused = [
        store
            .update(id, SessionUpdate::new().merge(json!([1])))
            .await,
        store.update(id, SessionUpdate::new().set("a\"b", 1)).await,
        store
            .update(id, SessionUpdate::new().extra("user_id", true))
            .await,
        store
            .update(id, SessionUpdate::new().extra("user_id", None::<String>))
            .await,
        store
            .update(id, SessionUpdate::new().extra("nope", 1))
            .await,
    ];
    for r in refused {
        assert!(r.is_err(), "{r:?}");
    }
    let err = store
        .update(id, SessionUpdate::new().extra("user_id", true))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("user_id is a text column; got a boolean"),
        "{err}"
    );
    let after = store.get(&Filter::new().id(id)).await.unwrap().unwrap();
    assert_eq!(after.data.value(), by_token.data.value());
    // Expired or unknown: nothing to update, nothing revived.
    store.expire(id).await.unwrap();
    assert!(
        store
            .update(id, SessionUpdate::new().set("k", 1))
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.lookup(s.token.expose()).await.unwrap().is_none());
    assert!(
        store
            .update_token("not-a-token", SessionUpdate::new().set("k", 1))
            .await
            .unwrap()
            .is_none()
    );
}

async fn concurrent_merges_of_different_keys_all_survive(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    let s = store
        .create(user("u1").data(json!({"keep": 0})))
        .await
        .unwrap();
    let id = s.session.id;
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .update(id, SessionUpdate::new().set(format!("k{i}"), i))
                    .await
            })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap().unwrap().is_some());
    }
    let data = store
        .get(&Filter::new().id(id))
        .await
        .unwrap()
        .unwrap()
        .data
        .value();
    assert_eq!(data["keep"], json!(0));
    for i in 0..40 {
        assert_eq!(data[format!("k{i}")], json!(i), "k{i} lost: {data}");
    }
}

/// Updates race an expire (or a delete) of the same session; once the expire returned,
/// the session is never valid again, and after a delete the row never reappears.
async fn update_racing_expire_or_delete_never_revives(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    for round in 0..20 {
        let s = store.create(user("racer")).await.unwrap();
        let id = s.session.id;
        let updaters: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    for j in 0..5 {
                        store
                            .update(id, SessionUpdate::new().set(format!("t{i}"), j))
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        tokio::task::yield_now().await;
        if round % 2 == 0 {
            assert!(store.expire(id).await.unwrap());
        } else {
            assert!(store.delete(id).await.unwrap());
        }
        for u in updaters {
            u.await.unwrap();
        }
        assert!(store.lookup(s.token.expose()).await.unwrap().is_none());
        let left = store
            .list(&Filter::new().id(id).status(Status::All))
            .await
            .unwrap();
        if round % 2 == 0 {
            assert_eq!(left.len(), 1);
            assert!(left[0].is_expired);
        } else {
            assert!(left.is_empty(), "a deleted session came back");
        }
    }
}

async fn set_expiry_is_the_way_back_within_the_cap(db: TestDb) {
    let clock = clock();
    let store = db
        .builder()
        .clock(clock.clone())
        .max_lifetime(Some(Duration::days(2)))
        .build()
        .unwrap();
    store.migrate().await.unwrap();
    let s = store.create(user("u1")).await.unwrap();
    let id = s.session.id;
    let token = s.token.expose();
    store.expire(id).await.unwrap();
    assert!(store.lookup(token).await.unwrap().is_none());
    clock.advance(Duration::seconds(1));
    // Brought back by the application, explicitly.
    let back = store
        .set_expiry(id, Some(clock.now() + Duration::hours(3)))
        .await
        .unwrap()
        .unwrap();
    assert!(!back.is_expired);
    assert!(back.updated_at < back.expires_at.unwrap());
    assert!(store.lookup(token).await.unwrap().is_some());
    // Past the cap: cut to inserted_at + max_lifetime; `None` too.
    let cap = s.session.inserted_at + Duration::days(2);
    let far = store
        .set_expiry(id, Some(clock.now() + Duration::days(30)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(far.expires_at, Some(cap));
    let never = store.set_expiry(id, None).await.unwrap().unwrap();
    assert_eq!(never.expires_at, Some(cap));
    // An expiry in the past revokes.
    let past = store
        .set_expiry(id, Some(clock.now() - Duration::minutes(1)))
        .await
        .unwrap()
        .unwrap();
    assert!(past.is_expired);
    assert!(store.lookup(token).await.unwrap().is_none());
    // Past its absolute lifetime, nothing brings it back.
    clock.advance(Duration::days(3));
    let late = store
        .set_expiry(id, Some(clock.now() + Duration::hours(1)))
        .await
        .unwrap()
        .unwrap();
    assert!(late.is_expired);
    assert!(store.lookup(token).await.unwrap().is_none());
    assert!(
        store
            .set_expiry(uuid::Uuid::new_v4(), None)
            .await
            .unwrap()
            .is_none()
    );
}

async fn a_session_slides_by_its_own_ttl(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    let t0 = clock.now();
    let remember = store
        .create(user("u1").ttl(Duration::days(7)))
        .await
        .unwrap();
    assert_eq!(remember.session.expires_at, Some(t0 + Duration::days(7)));
    assert_eq!(remember.session.ttl, Some(Duration::days(7)));
    // Created for 20 minutes explicitly in a one-hour store: that span is its TTL.
    let short = store
        .create(user("u1").expires_at(Some(t0 + Duration::minutes(20))))
        .await
        .unwrap();
    let plain = store.create(user("u1")).await.unwrap();
    assert_eq!(plain.session.ttl, None);
    // Past each one's stale window (10 minutes scaled to its TTL): each slides by its own.
    clock.advance(Duration::days(1) + Duration::hours(5));
    let now = clock.now();
    let r = store
        .lookup(remember.token.expose())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.expires_at, Some(now + Duration::days(7)));
    assert!(store.lookup(short.token.expose()).await.unwrap().is_none());
    assert!(store.lookup(plain.token.expose()).await.unwrap().is_none());
    let short2 = store
        .create(user("u1").expires_at(Some(now + Duration::minutes(20))))
        .await
        .unwrap();
    clock.advance(Duration::minutes(5));
    let s = store.lookup(short2.token.expose()).await.unwrap().unwrap();
    assert_eq!(
        s.expires_at,
        Some(clock.now() + Duration::minutes(20)),
        "not the store's hour"
    );
    // Refused: a sub-second TTL, and a TTL in a store without the column.
    assert!(matches!(
        store
            .create(user("u1").ttl(Duration::milliseconds(1500)))
            .await,
        Err(Error::InvalidValue { .. })
    ));
    let other = db.builder().table("other").build().unwrap();
    other.migrate().await.unwrap();
    assert!(matches!(
        other.create(user("u1").ttl(Duration::days(1))).await,
        Err(Error::Unsupported { .. })
    ));
}

async fn rotate_keeps_the_session_and_refuses_the_old_token(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    let s = store
        .create(user("u1").data(json!({"device": "phone"})))
        .await
        .unwrap();
    clock.advance(Duration::seconds(3));
    let rotated = store.rotate(s.session.id).await.unwrap().unwrap();
    assert_ne!(rotated.token.expose(), s.token.expose());
    assert_eq!(rotated.session.id, s.session.id);
    assert_eq!(rotated.session.inserted_at, s.session.inserted_at);
    assert_eq!(rotated.session.data.value(), s.session.data.value());
    assert!(store.lookup(s.token.expose()).await.unwrap().is_none());
    let found = store.lookup(rotated.token.expose()).await.unwrap().unwrap();
    assert_eq!(found.id, s.session.id);
    let again = store
        .rotate_token(rotated.token.expose())
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .lookup(rotated.token.expose())
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.lookup(again.token.expose()).await.unwrap().is_some());
    // A revoked session gets no new token.
    store.expire(s.session.id).await.unwrap();
    assert!(store.rotate(s.session.id).await.unwrap().is_none());
    assert!(store.lookup(again.token.expose()).await.unwrap().is_none());
}

/// Lookups of the old token run throughout a rotation: none that starts after `rotate`
/// returned finds the session.
async fn rotate_racing_lookups_of_the_old_token(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    for _ in 0..10 {
        let s = store.create(user("u1")).await.unwrap();
        let old = s.token.expose().to_owned();
        let rotated = Arc::new(AtomicBool::new(false));
        let lookups: Vec<_> = (0..8)
            .map(|_| {
                let (store, old, rotated) = (store.clone(), old.clone(), rotated.clone());
                tokio::spawn(async move {
                    for _ in 0..20 {
                        let after = rotated.load(Ordering::SeqCst);
                        let found = store.lookup(&old).await.unwrap();
                        assert!(
                            !(after && found.is_some()),
                            "the old token worked after rotate returned"
                        );
                    }
                })
            })
            .collect();
        tokio::task::yield_now().await;
        let new = store.rotate(s.session.id).await.unwrap().unwrap();
        rotated.store(true, Ordering::SeqCst);
        for l in lookups {
            l.await.unwrap();
        }
        assert!(store.lookup(&old).await.unwrap().is_none());
        assert!(store.lookup(new.token.expose()).await.unwrap().is_some());
    }
}

/// Runs `body` inside a transaction of the test's pool and commits or rolls back.
macro_rules! in_tx {
    ($db:expr, $commit:expr, |$conn:ident| $body:block) => {
        match $db.pool() {
            Pool::Sqlite(pool) => {
                let mut tx = pool.begin().await.unwrap();
                {
                    let $conn = &mut *tx;
                    $body
                }
                if $commit {
                    tx.commit().await.unwrap()
                } else {
                    tx.rollback().await.unwrap()
                }
            }
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await.unwrap();
                {
                    let $conn = &mut *tx;
                    $body
                }
                if $commit {
                    tx.commit().await.unwrap()
                } else {
                    tx.rollback().await.unwrap()
                }
            }
            Pool::Mysql(pool) => {
                let mut tx = pool.begin().await.unwrap();
                {
                    let $conn = &mut *tx;
                    $body
                }
                if $commit {
                    tx.commit().await.unwrap()
                } else {
                    tx.rollback().await.unwrap()
                }
            }
            other => panic!("no transactions for {other:?}"),
        }
    };
}

async fn operations_run_in_the_callers_transaction(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    let old = store.create(user("u9")).await.unwrap();
    // Rolled back: nothing stays, not even the other session's revocation.
    let mut token: String;
    in_tx!(db, false, |conn| {
        let c = store.create_in(&mut *conn, user("u9")).await.unwrap();
        token = c.token.expose().to_owned();
        assert!(store.lookup_in(&mut *conn, &token).await.unwrap().is_some());
        let others = Filter::new().eq("user_id", "u9").except_id(c.session.id);
        assert_eq!(
            store
                .expire_all_in(&mut *conn, &others)
                .await
                .unwrap()
                .len(),
            1
        );
    });
    assert!(store.lookup(&token).await.unwrap().is_none());
    assert!(store.lookup(old.token.expose()).await.unwrap().is_some());
    assert_eq!(
        store
            .count(&Filter::new().status(Status::All))
            .await
            .unwrap(),
        1
    );
    // Committed: "sign in and revoke every other session" at once. On SQLite the
    // transaction holds the write lock while the store works on its connection.
    in_tx!(db, true, |conn| {
        let c = store.create_in(&mut *conn, user("u9")).await.unwrap();
        token = c.token.expose().to_owned();
        let id = c.session.id;
        let others = Filter::new().eq("user_id", "u9").except_id(id);
        store.expire_all_in(&mut *conn, &others).await.unwrap();
        store
            .update_in(&mut *conn, id, SessionUpdate::new().set("device", "laptop"))
            .await
            .unwrap()
            .unwrap();
        let r = store.rotate_in(&mut *conn, id).await.unwrap().unwrap();
        assert!(store.lookup_in(&mut *conn, &token).await.unwrap().is_none());
        token = r.token.expose().to_owned();
        assert_eq!(store.count_in(&mut *conn, &Filter::new()).await.unwrap(), 1);
        assert_eq!(
            store
                .list_in(&mut *conn, &Filter::new())
                .await
                .unwrap()
                .len(),
            1
        );
    });
    let current = store.lookup(&token).await.unwrap().unwrap();
    assert_eq!(current.data.get_str("device").as_deref(), Some("laptop"));
    assert!(store.lookup(old.token.expose()).await.unwrap().is_none());
    in_tx!(db, true, |conn| {
        let all = Filter::new().eq("user_id", "u9");
        assert_eq!(
            store.delete_all_in(&mut *conn, &all).await.unwrap().len(),
            2
        );
    });
    assert_eq!(
        store
            .count(&Filter::new().status(Status::All))
            .await
            .unwrap(),
        0
    );
}

async fn filters_on_time_ranges_and_lists(db: TestDb) {
    let clock = clock();
    let store = db
        .builder()
        .clock(clock.clone())
        .track_last_used(Duration::ZERO)
        .build()
        .unwrap();
    store.migrate().await.unwrap();
    let t0 = clock.now();
    let a = store.create(user("a")).await.unwrap();
    clock.advance(Duration::hours(1));
    let b = store.create(user("b")).await.unwrap();
    let forever = store.create(user("c").expires_at(None)).await.unwrap();
    clock.advance(Duration::hours(1));
    store.lookup(a.token.expose()).await.unwrap().unwrap();
    let t1 = t0 + Duration::hours(1);
    let ids = |v: Vec<sqlx_sessions::Session>| {
        let mut ids: Vec<_> = v.into_iter().map(|s| s.id).collect();
        ids.sort();
        ids
    };
    let sorted = |mut v: Vec<uuid::Uuid>| {
        v.sort();
        v
    };
    assert_eq!(
        ids(store
            .list(&Filter::new().inserted_before(t1))
            .await
            .unwrap()),
        vec![a.session.id]
    );
    assert_eq!(
        ids(store.list(&Filter::new().inserted_after(t1)).await.unwrap()),
        sorted(vec![b.session.id, forever.session.id])
    );
    // Never expiring counts as expiring after any instant.
    let max = store.settings().max_lifetime.unwrap();
    assert_eq!(
        ids(store
            .list(&Filter::new().expires_after(t0 + max + Duration::days(1)))
            .await
            .unwrap()),
        Vec::<uuid::Uuid>::new(),
        "max_lifetime caps even `never`"
    );
    assert_eq!(
        ids(store
            .list(&Filter::new().expires_before(t1 + Duration::days(8)))
            .await
            .unwrap())
        .len(),
        2
    );
    // Last use: `a` was used now; the others count as used at creation.
    assert_eq!(
        ids(store
            .list(&Filter::new().last_used_after(t1 + Duration::minutes(30)))
            .await
            .unwrap()),
        vec![a.session.id]
    );
    assert_eq!(
        store
            .count(&Filter::new().last_used_before(t1 + Duration::minutes(30)))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        ids(store
            .list(&Filter::new().is_in("user_id", ["a", "c", "zz"]))
            .await
            .unwrap()),
        sorted(vec![a.session.id, forever.session.id])
    );
    assert_eq!(
        store
            .count(&Filter::new().is_in("user_id", Vec::<String>::new()))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        ids(store
            .list(&Filter::new().ids([b.session.id, uuid::Uuid::new_v4()]))
            .await
            .unwrap()),
        vec![b.session.id]
    );
    let plain = db.builder().table("plain").build().unwrap();
    plain.migrate().await.unwrap();
    assert!(matches!(
        plain.count(&Filter::new().last_used_after(t0)).await,
        Err(Error::Unsupported { .. })
    ));
}

/// 50 concurrent sign-ins of one user against a cap of 3: exactly 3 valid sessions stay
/// (the newest, when evicting), or exactly 3 creations succeed (when refusing).
async fn the_cap_per_owner_holds_under_50_concurrent_creations(db: TestDb) {
    for over in [OverCap::EvictOldest, OverCap::Refuse] {
        let table = format!("capped_{}", matches!(over, OverCap::Refuse) as u8);
        let store = db
            .builder()
            .table(table)
            .max_sessions_per("user_id", 3)
            .over_cap(over)
            .build()
            .unwrap();
        store.migrate().await.unwrap();
        let other = store.create(user("someone-else")).await.unwrap();
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(
                    async move { store.create(user("capped").data(json!({"i": i}))).await },
                )
            })
            .collect();
        let mut created = Vec::new();
        let mut refused = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(c) => created.push(c),
                Err(Error::TooManySessions { column, limit }) => {
                    assert_eq!((column.as_str(), limit), ("user_id", 3));
                    refused += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
        let valid = store
            .list(&Filter::new().eq("user_id", "capped"))
            .await
            .unwrap();
        assert_eq!(valid.len(), 3, "{over:?}");
        match over {
            OverCap::Refuse => {
                assert_eq!((created.len(), refused), (3, 47));
            }
            _ => {
                assert_eq!((created.len(), refused), (50, 0));
                // Each creation returned its session; three of them survive.
                for s in &valid {
                    assert!(created.iter().any(|c| c.session.id == s.id));
                }
            }
        }
        // Other owners are not touched.
        assert!(store.lookup(other.token.expose()).await.unwrap().is_some());
    }
    // Refused at build time: an unknown column, a cap of zero.
    assert!(db.builder().max_sessions_per("nope", 3).build().is_err());
    assert!(db.builder().max_sessions_per("user_id", 0).build().is_err());
}

backend_tests!(
    the_cap_per_owner_holds_under_50_concurrent_creations,
    update_merges_replaces_and_sets_columns,
    concurrent_merges_of_different_keys_all_survive,
    update_racing_expire_or_delete_never_revives,
    set_expiry_is_the_way_back_within_the_cap,
    a_session_slides_by_its_own_ttl,
    rotate_keeps_the_session_and_refuses_the_old_token,
    rotate_racing_lookups_of_the_old_token,
    operations_run_in_the_callers_transaction,
    filters_on_time_ranges_and_lists,
);
