//! `TowerStore` under tower-sessions 0.14 and 0.15: the route scenarios tower-sessions runs
//! against its stores, and the ones its stores fail (resurrection, a dumped table, writes
//! under `with_always_save`), on every database.
#![cfg(all(feature = "tower-sessions-014", feature = "tower-sessions-015"))]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use sqlx_sessions::SessionStore;
use sqlx_sessions_test_support::TestDb;
use tower::ServiceExt as _;

/// A response as a browser sees it: status, the session cookie set (`Some("")` when it is
/// removed), the body.
struct Reply {
    status: StatusCode,
    cookie: Option<String>,
    body: String,
}

async fn send(app: &Router, method: &str, path: &str, cookie: Option<&str>) -> Reply {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(id) = cookie {
        req = req.header(header::COOKIE, format!("id={id}"));
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let cookie = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("id="))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned());
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    Reply {
        status,
        cookie,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

async fn store(db: &TestDb) -> SessionStore {
    let store = db.builder().build().unwrap();
    store.migrate().await.unwrap();
    store
}

async fn rows(db: &TestDb) -> i64 {
    db.scalar("SELECT COUNT(*) FROM sessions").await
}

/// The `updated_at` of every row, oldest first: a write moves one.
async fn write_marks(db: &TestDb) -> Vec<String> {
    let sql = if db.is_postgres() {
        "SELECT updated_at::text FROM sessions ORDER BY inserted_at"
    } else if db.is_mysql() {
        "SELECT CAST(updated_at AS CHAR) FROM sessions ORDER BY inserted_at"
    } else {
        "SELECT CAST(updated_at AS TEXT) FROM sessions ORDER BY inserted_at"
    };
    db.texts(sql).await
}

/// The suite, over one version of tower-sessions (`$ts`) and its core (`$core`).
macro_rules! suite {
    ($version:ident, $ts:ident) => {
        mod $version {
            use axum::Router;
            use axum::routing::{get, post};
            use sqlx_sessions::tower_sessions::TowerStore;
            use sqlx_sessions::{Clock as _, Filter, ManualClock, SessionStore};
            use sqlx_sessions_test_support::{TestDb, backend_tests};
            use time::{Duration, OffsetDateTime};
            use $ts::session::{Id, Record};
            use $ts::{ExpiredDeletion as _, Expiry, Session, SessionManagerLayer, SessionStore as _};

            use super::{rows, send, store, write_marks};

            const KEY: &str = "foo";

            fn app(store: &SessionStore, expiry: Expiry, always_save: bool) -> Router {
                let layer = SessionManagerLayer::new(TowerStore::new(store.clone()))
                    .with_secure(false)
                    .with_expiry(expiry)
                    .with_always_save(always_save);
                Router::new()
                    .route("/insert", post(async |s: Session| { s.insert(KEY, 42).await.unwrap(); }))
                    .route("/modify", post(async |s: Session| { s.insert(KEY, 43).await.unwrap(); }))
                    .route("/remove", post(async |s: Session| { s.remove::<i64>(KEY).await.unwrap(); }))
                    .route("/flush", post(async |s: Session| s.flush().await.unwrap()))
                    .route("/cycle", post(async |s: Session| s.cycle_id().await.unwrap()))
                    .route(
                        "/login/{user}",
                        post(async |s: Session, axum::extract::Path(user): axum::extract::Path<i64>| {
                            // What axum-login does at sign-in: cycle the id, keep the user.
                            s.cycle_id().await.unwrap();
                            let data = serde_json::json!({"user_id": user, "auth_hash": [1, 2]});
                            s.insert("axum-login.data", data).await.unwrap();
                        }),
                    )
                    .route(
                        "/get",
                        get(async |s: Session| match s.get::<i64>(KEY).await.unwrap() {
                            Some(v) => v.to_string(),
                            None => "none".to_owned(),
                        }),
                    )
                    .layer(layer)
            }

            fn hour() -> Expiry {
                Expiry::OnInactivity(Duration::hours(1))
            }

            fn record(expiry_date: OffsetDateTime) -> Record {
                Record {
                    id: Id::default(),
                    data: [(KEY.to_owned(), serde_json::json!(42))].into(),
                    expiry_date,
                }
            }

            /// A cookie set by `/insert` on a fresh session.
            async fn inserted(app: &Router) -> String {
                let r = send(app, "POST", "/insert", None).await;
                assert_eq!(r.status, 200);
                r.cookie.expect("a session cookie")
            }

            backend_tests!(
                insert_then_read,
                modify,
                remove,
                flush,
                cycle_id,
                expiry_on_inactivity_slides,
                expiry_at_a_fixed_date,
                expired_not_loaded,
                concurrent_requests_of_one_session,
                id_collision_on_create,
                user_id_column_follows_the_data,
                save_after_delete_does_not_resurrect,
                save_after_revocation_does_not_resurrect,
                dumped_table_holds_no_usable_id,
                always_save_writes_nothing_for_reads,
                one_write_per_stale_window,
                data_written_only_when_changed,
                delete_expired,
            );

            async fn insert_then_read(db: TestDb) {
                let store = store(&db).await;
                let app = app(&store, hour(), false);
                let r = send(&app, "GET", "/get", None).await;
                assert_eq!((r.body.as_str(), r.cookie), ("none", None));
                assert_eq!(rows(&db).await, 0, "an empty session is not stored");
                let id = inserted(&app).await;
                assert_eq!(id.len(), 22);
                assert_eq!(rows(&db).await, 1);
                assert_eq!(send(&app, "GET", "/get", Some(&id)).await.body, "42");
                assert_eq!(send(&app, "GET", "/get", None).await.body, "none");
            }

            async fn modify(db: TestDb) {
                let store = store(&db).await;
                let app = app(&store, hour(), false);
                let id = inserted(&app).await;
                send(&app, "POST", "/modify", Some(&id)).await;
                assert_eq!(send(&app, "GET", "/get", Some(&id)).await.body, "43");
                assert_eq!(rows(&db).await, 1);
            }

            async fn remove(db: TestDb) {
                let store = store(&db).await;
                let app = app(&store, hour(), false);
                let id = inserted(&app).await;
                send(&app, "POST", "/remove", Some(&id)).await;
                assert_eq!(send(&app, "GET", "/get", Some(&id)).await.body, "none");
            }

            async fn flush(db: TestDb) {
                let store = store(&db).await;
                let app = app(&store, hour(), false);
                let id = inserted(&app).await;
                let r = send(&app, "POST", "/flush", Some(&id)).await;
                assert_eq!(r.cookie.as_deref(), Some(""), "the cookie is removed");
                assert_eq!(rows(&db).await, 0);
                assert_eq!(send(&app, "GET", "/get", Some(&id)).await.body, "none");
            }

            async fn cycle_id(db: TestDb) {
                let store = store(&db).await;
                let app = app(&store, hour(), false);
                let old = inserted(&app).await;
                let new = send(&app, "POST", "/cycle", Some(&old)).await.cookie.unwrap();
                assert_ne!(new, old);
                assert_eq!(rows(&db).await, 1, "the old row is gone");
                assert_eq!(send(&app, "GET", "/get", Some(&new)).await.body, "42");
                assert_eq!(send(&app, "GET", "/get", Some(&old)).await.body, "none");
                let tower = TowerStore::new(store);
                assert!(tower.load(&old.parse().unwrap()).await.unwrap().is_none());
            }

            async fn expiry_on_inactivity_slides(db: TestDb) {
                let store = store(&db).await;
                let app = app(&store, Expiry::OnInactivity(Duration::seconds(2)), true);
                let id = inserted(&app).await;
                // Used at 1.2 s: due (the 2 s span has a 2/7 s window in a 7-day/1-day
                // store), so it now lives until 3.2 s.
                tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
                assert_eq!(send(&app, "GET", "/get", Some(&id)).await.body, "42");
                tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
                assert_eq!(send(&app, "GET", "/get", Some(&id)).await.body, "42", "slid");
                tokio::time::sleep(std::time::Duration::from_millis(2300)).await;
                assert_eq!(send(&app, "GET", "/get", Some(&id)).await.body, "none", "inactive");
            }

            async fn expiry_at_a_fixed_date(db: TestDb) {
                let store = store(&db).await;
                let at = OffsetDateTime::now_utc() + Duration::milliseconds(1500);
                let app = app(&store, Expiry::AtDateTime(at), true);
                let id = inserted(&app).await;
                let stored = store.list(&Filter::new()).await.unwrap();
                let stored = stored[0].expires_at.unwrap();
                assert!((stored - at).abs() < Duration::milliseconds(1), "{stored} vs {at}");
                tokio::time::sleep(std::time::Duration::from_millis(700)).await;
                assert_eq!(send(&app, "GET", "/get", Some(&id)).await.body, "42");
                tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
                assert_eq!(send(&app, "GET", "/get", Some(&id)).await.body, "none", "always_save does not move a fixed date");
            }

            async fn expired_not_loaded(db: TestDb) {
                let store = store(&db).await;
                let tower = TowerStore::new(store.clone());
                let mut r = record(OffsetDateTime::now_utc() + Duration::milliseconds(300));
                tower.create(&mut r).await.unwrap();
                assert!(tower.load(&r.id).await.unwrap().is_some());
                tokio::time::sleep(std::time::Duration::from_millis(400)).await;
                assert!(tower.load(&r.id).await.unwrap().is_none());
                // Revoked by the store: not loaded either.
                let mut r = record(OffsetDateTime::now_utc() + Duration::hours(1));
                tower.create(&mut r).await.unwrap();
                store.expire_all(&Filter::new()).await.unwrap();
                assert!(tower.load(&r.id).await.unwrap().is_none());
            }

            async fn concurrent_requests_of_one_session(db: TestDb) {
                let store = store(&db).await;
                let app = app(&store, hour(), true);
                let id = inserted(&app).await;
                let before = write_marks(&db).await;
                let replies = futures_join(&app, &id, 16).await;
                assert!(replies.iter().all(|b| b == "42"), "{replies:?}");
                assert_eq!(rows(&db).await, 1);
                assert_eq!(write_marks(&db).await, before, "reads under always_save wrote");
            }

            async fn futures_join(app: &Router, id: &str, n: usize) -> Vec<String> {
                let tasks: Vec<_> = (0..n)
                    .map(|_| {
                        let (app, id) = (app.clone(), id.to_owned());
                        tokio::spawn(async move { send(&app, "GET", "/get", Some(&id)).await.body })
                    })
                    .collect();
                let mut out = Vec::new();
                for t in tasks {
                    out.push(t.await.unwrap());
                }
                out
            }

            async fn id_collision_on_create(db: TestDb) {
                let store = store(&db).await;
                let tower = TowerStore::new(store);
                let mut first = record(OffsetDateTime::now_utc() + Duration::hours(1));
                tower.create(&mut first).await.unwrap();
                let mut second = record(OffsetDateTime::now_utc() + Duration::hours(1));
                second.id = first.id;
                second.data.insert(KEY.to_owned(), serde_json::json!(7));
                tower.create(&mut second).await.unwrap();
                assert_ne!(second.id, first.id, "the taken id was replaced");
                let load = |id| tower.load(id);
                assert_eq!(load(&first.id).await.unwrap().unwrap().data[KEY], 42);
                assert_eq!(load(&second.id).await.unwrap().unwrap().data[KEY], 7);
            }

            async fn user_id_column_follows_the_data(db: TestDb) {
                let store = store(&db).await;
                let app = app(&store, hour(), false);
                let anon = inserted(&app).await;
                let by_user = |u: &str| Filter::new().eq("user_id", u);
                assert_eq!(store.count(&by_user("")).await.unwrap(), 1, "no user yet");
                let signed_in = send(&app, "POST", "/login/7", Some(&anon)).await.cookie.unwrap();
                let other = send(&app, "POST", "/login/7", None).await.cookie.unwrap();
                assert_eq!(store.list(&by_user("7")).await.unwrap().len(), 2, "both devices");
                assert_eq!(store.count(&by_user("")).await.unwrap(), 0, "cycled away");
                // Sign out everywhere, through the store.
                assert_eq!(store.delete_all(&by_user("7")).await.unwrap().len(), 2);
                for id in [signed_in, other] {
                    assert_eq!(send(&app, "GET", "/get", Some(&id)).await.body, "none");
                }
            }

            async fn save_after_delete_does_not_resurrect(db: TestDb) {
                let store = store(&db).await;
                let tower = TowerStore::new(store.clone());
                let mut r = record(OffsetDateTime::now_utc() + Duration::hours(1));
                tower.create(&mut r).await.unwrap();
                // A slow request holds the record while another device signs out everywhere.
                let mut held = tower.load(&r.id).await.unwrap().unwrap();
                store.delete_all(&Filter::new()).await.unwrap();
                held.data.insert(KEY.to_owned(), serde_json::json!(99));
                held.expiry_date = OffsetDateTime::now_utc() + Duration::hours(2);
                tower.save(&held).await.unwrap();
                assert_eq!(rows(&db).await, 0, "save recreated a deleted session");
                assert!(tower.load(&r.id).await.unwrap().is_none());
            }

            async fn save_after_revocation_does_not_resurrect(db: TestDb) {
                let store = store(&db).await;
                let tower = TowerStore::new(store.clone());
                let mut r = record(OffsetDateTime::now_utc() + Duration::hours(1));
                tower.create(&mut r).await.unwrap();
                store.expire_all(&Filter::new()).await.unwrap();
                r.data.insert(KEY.to_owned(), serde_json::json!(99));
                r.expiry_date = OffsetDateTime::now_utc() + Duration::days(3);
                tower.save(&r).await.unwrap();
                assert!(tower.load(&r.id).await.unwrap().is_none());
                let all = store.list(&Filter::new().status(sqlx_sessions::Status::All)).await.unwrap();
                assert_eq!(all[0].data.value()[KEY], 42, "the revoked row was written");
            }

            async fn dumped_table_holds_no_usable_id(db: TestDb) {
                let store = store(&db).await;
                let tower = TowerStore::new(store.clone());
                let mut ids = Vec::new();
                for _ in 0..3 {
                    let mut r = record(OffsetDateTime::now_utc() + Duration::hours(1));
                    tower.create(&mut r).await.unwrap();
                    ids.push(r.id);
                }
                let dump = db.dump(&["sessions"]).await;
                assert!(dump.contains("\"foo\""), "the dump holds the rows");
                for id in &ids {
                    let text = id.to_string();
                    assert!(!dump.contains(&text), "the id is in the table");
                    // What a thief can take from a row: its digest and its primary key.
                    let digest = hex::decode(store.digest_hex(&text).unwrap()).unwrap();
                    let from_digest = Id(i128::from_le_bytes(digest[..16].try_into().unwrap()));
                    assert!(tower.load(&from_digest).await.unwrap().is_none());
                }
                for row in store.list(&Filter::new()).await.unwrap() {
                    let from_key = Id(row.id.as_u128() as i128);
                    assert!(tower.load(&from_key).await.unwrap().is_none());
                }
                for id in &ids {
                    assert!(tower.load(id).await.unwrap().is_some(), "the real id still works");
                }
            }

            async fn always_save_writes_nothing_for_reads(db: TestDb) {
                let store = store(&db).await;
                let app = app(&store, hour(), true);
                let id = inserted(&app).await;
                let before = write_marks(&db).await;
                for _ in 0..50 {
                    assert_eq!(send(&app, "GET", "/get", Some(&id)).await.body, "42");
                }
                assert_eq!(write_marks(&db).await, before, "a read wrote the row");
                send(&app, "POST", "/modify", Some(&id)).await;
                assert_ne!(write_marks(&db).await, before, "a change was not written");
            }

            async fn one_write_per_stale_window(db: TestDb) {
                let clock = ManualClock::new(time::macros::datetime!(2030-06-01 08:00 UTC));
                let store = db.builder().clock(clock.clone()).build().unwrap();
                store.migrate().await.unwrap();
                let tower = TowerStore::new(store.clone());
                // A 1-hour inactivity session in a 7-day store with a 1-day window: a window
                // of 1/7 hour.
                let span = Duration::hours(1);
                let window: Duration = span / 7_i32;
                let mut r = record(clock.now() + span);
                tower.create(&mut r).await.unwrap();
                let (mut writes, mut last_write, mut marks) = (0, clock.now(), write_marks(&db).await);
                for _ in 0..120 {
                    clock.advance(Duration::seconds(30));
                    // What `with_always_save(true)` does on every request.
                    r.expiry_date = clock.now() + span;
                    tower.save(&r).await.unwrap();
                    let now_marks = write_marks(&db).await;
                    if now_marks != marks {
                        writes += 1;
                        assert!(clock.now() - last_write > window, "two writes in one window");
                        last_write = clock.now();
                        marks = now_marks;
                    }
                    let expires = store.list(&Filter::new()).await.unwrap()[0].expires_at.unwrap();
                    assert!(expires + window >= clock.now() + span, "the expiry did not slide");
                }
                let elapsed = Duration::seconds(30 * 120);
                assert!(writes >= 1 && writes <= (elapsed.as_seconds_f64() / window.as_seconds_f64()).ceil() as i64, "{writes} writes");
            }

            async fn data_written_only_when_changed(db: TestDb) {
                let store = store(&db).await;
                let tower = TowerStore::new(store.clone());
                let mut r = record(OffsetDateTime::now_utc() + Duration::hours(1));
                tower.create(&mut r).await.unwrap();
                let before = write_marks(&db).await;
                tower.save(&r).await.unwrap();
                assert_eq!(write_marks(&db).await, before);
                r.data.insert("other".to_owned(), serde_json::json!({"a": [1, 2]}));
                tower.save(&r).await.unwrap();
                assert_ne!(write_marks(&db).await, before);
                assert_eq!(tower.load(&r.id).await.unwrap().unwrap().data, r.data);
            }

            async fn delete_expired(db: TestDb) {
                let store = store(&db).await;
                let tower = TowerStore::new(store.clone());
                let mut gone = record(OffsetDateTime::now_utc() + Duration::milliseconds(200));
                let mut kept = record(OffsetDateTime::now_utc() + Duration::hours(1));
                tower.create(&mut gone).await.unwrap();
                tower.create(&mut kept).await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                tower.delete_expired().await.unwrap();
                assert_eq!(rows(&db).await, 1);
                assert!(tower.load(&kept.id).await.unwrap().is_some());
            }
        }
    };
}

suite!(v014, tower_sessions_014);
suite!(v015, tower_sessions_015);
