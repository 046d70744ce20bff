//! API keys on every database: scopes (wildcards, filters, changes), expiry chosen per
//! key, suspend and resume, roll with a grace period (on the test clock), the use counter
//! under concurrency and across a killed process, and the per-owner cap.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::json;
use sqlx_sessions::{
    Error, Filter, KeyExpiry, ManualClock, NewSession, OverCap, Pool, SessionStore, SessionUpdate,
    Status,
};
use sqlx_sessions_test_support::{TestDb, backend_tests};
use time::Duration;
use time::macros::datetime;

const PREFIX: &str = "test_sk_";

fn clock() -> ManualClock {
    ManualClock::new(datetime!(2035-05-05 5:00 UTC))
}

/// A key store as an application sets one up: prefix, scopes, the lifecycle columns,
/// last use, no absolute lifetime (each key has its own expiry), extension on.
fn key_builder(pool: Pool) -> sqlx_sessions::StoreBuilder {
    SessionStore::builder(pool)
        .table("api_keys")
        .token_prefix(PREFIX)
        .store_token_hint()
        .scopes()
        .key_lifecycle(Duration::milliseconds(200))
        .track_last_used(Duration::minutes(1))
        .max_lifetime(None)
        .ttl(Some(Duration::days(30)))
}

async fn keys(db: &TestDb, clock: &ManualClock) -> SessionStore {
    let store = key_builder(db.pool().clone())
        .clock(clock.clone())
        .build()
        .unwrap();
    store.migrate().await.unwrap();
    store
}

fn key(user: &str, name: &str, scopes: &[&str]) -> NewSession {
    NewSession::new()
        .extra("user_id", user)
        .data(json!({ "name": name }))
        .scopes(scopes.iter().copied())
}

/// How many valid keys grant `scope`.
async fn granted(store: &SessionStore, scope: &str) -> u64 {
    store.count(&Filter::new().has_scope(scope)).await.unwrap()
}

async fn scopes_with_wildcards_filters_and_changes(db: TestDb) {
    let clock = clock();
    let store = keys(&db, &clock).await;
    let reader = store
        .create(key("u1", "reader", &["orders:read", "me:read", "me:read"]))
        .await
        .unwrap();
    let orders = store
        .create(key("u1", "orders", &["orders:*"]))
        .await
        .unwrap();
    let admin = store.create(key("u2", "admin", &["*"])).await.unwrap();
    let none = store.create(key("u2", "none", &[])).await.unwrap();
    // Sorted, duplicates dropped, read back as written.
    assert_eq!(reader.session.scopes, ["me:read", "orders:read"]);
    let found = store
        .lookup(reader.token.expose())
        .await
        .unwrap()
        .expect("valid key");
    assert_eq!(found.scopes, ["me:read", "orders:read"]);
    assert!(found.has_scope("orders:read"));
    assert!(!found.has_scope("orders:write"));
    assert!(!found.has_scope("orders:*"));
    let orders_key = store.lookup(orders.token.expose()).await.unwrap().unwrap();
    assert!(orders_key.has_scope("orders:write"));
    assert!(orders_key.has_scope("orders:items:read"));
    assert!(!orders_key.has_scope("me:read"));
    assert!(
        !store
            .lookup(none.token.expose())
            .await
            .unwrap()
            .unwrap()
            .has_scope("me:read")
    );

    // Listing and counting by scope follow the same rule.
    let ids = |list: Vec<sqlx_sessions::Session>| {
        let mut ids: Vec<_> = list.into_iter().map(|s| s.id).collect();
        ids.sort();
        ids
    };
    let mut want = vec![reader.session.id, orders.session.id, admin.session.id];
    want.sort();
    let listed = store
        .list(&Filter::new().has_scope("orders:read"))
        .await
        .unwrap();
    assert_eq!(ids(listed), want);
    assert_eq!(granted(&store, "orders:write").await, 2);
    assert_eq!(
        store
            .count(&Filter::new().has_scope("me:read").eq("user_id", "u1"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(granted(&store, "billing:read").await, 1);
    // `_` is a LIKE wildcard: it must match itself only.
    store.create(key("u3", "u", &["a_b"])).await.unwrap();
    assert_eq!(granted(&store, "axb").await, 1); // `*` only
    assert_eq!(granted(&store, "a_b").await, 2);
    assert_eq!(granted(&store, "bad scope").await, 0);

    // Changed later, in place, and found by the new scope only.
    let changed = store
        .update(
            reader.session.id,
            SessionUpdate::new().scopes(["billing:read"]),
        )
        .await
        .unwrap()
        .expect("valid");
    assert_eq!(changed.scopes, ["billing:read"]);
    let again = store.lookup(reader.token.expose()).await.unwrap().unwrap();
    assert!(again.has_scope("billing:read") && !again.has_scope("orders:read"));
    assert_eq!(granted(&store, "billing:read").await, 2);
    let cleared = store
        .update(
            reader.session.id,
            SessionUpdate::new().scopes(Vec::<String>::new()),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(cleared.scopes.is_empty());

    // Malformed scopes are refused, in creation and update alike.
    for bad in ["orders read", "orders:re*", "", "a::b"] {
        let err = store.create(key("u1", "bad", &[bad])).await.unwrap_err();
        assert!(matches!(err, Error::InvalidValue { .. }), "{bad:?}: {err}");
        let err = store
            .update(orders.session.id, SessionUpdate::new().scopes([bad]))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidValue { .. }), "{bad:?}: {err}");
    }
    // A store without the column says so rather than dropping them.
    let plain = db.builder().table("plain").build().unwrap();
    plain.migrate().await.unwrap();
    let refused = [
        plain
            .create(NewSession::new().extra("user_id", "u").scopes(["a"]))
            .await
            .map(drop),
        plain.count(&Filter::new().has_scope("a")).await.map(drop),
    ];
    for result in refused {
        let err = result.unwrap_err();
        let unsupported = matches!(
            err,
            Error::Unsupported {
                column: "scopes",
                ..
            }
        );
        assert!(unsupported, "{err}");
    }
}

async fn expiry_chosen_per_key_shown_and_changed(db: TestDb) {
    let clock = clock();
    let store = keys(&db, &clock).await;
    let now = store.now();
    let in_30 = store
        .create(key("u1", "a", &[]).expiry("30d".parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(in_30.session.expires_at, Some(now + Duration::days(30)));
    let in_90 = store
        .create(key("u1", "b", &[]).expiry(KeyExpiry::In(Duration::days(90))))
        .await
        .unwrap();
    assert_eq!(in_90.session.expires_at, Some(now + Duration::days(90)));
    let dated = store
        .create(key("u1", "c", &[]).expiry("2099-01-31".parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(
        dated.session.expires_at,
        Some(datetime!(2099-01-31 0:00 UTC))
    );
    let never = store
        .create(key("u1", "d", &[]).expiry(KeyExpiry::Never))
        .await
        .unwrap();
    assert_eq!(never.session.expires_at, None);
    assert!("soon".parse::<KeyExpiry>().is_err());
    assert!("-5d".parse::<KeyExpiry>().is_err());

    // Lists show each key's own expiry.
    let listed = store
        .list(&Filter::new().eq("user_id", "u1"))
        .await
        .unwrap();
    let expiry_of = |id| listed.iter().find(|s| s.id == id).unwrap().expires_at;
    assert_eq!(expiry_of(in_90.session.id), Some(now + Duration::days(90)));
    assert_eq!(expiry_of(never.session.id), None);
    assert_eq!(
        expiry_of(dated.session.id),
        Some(datetime!(2099-01-31 0:00 UTC)),
        "a midnight expiry is stored as written"
    );

    // Changed later with set_expiry: a never-expiring key gets a date, and back.
    let until = now + Duration::days(7);
    let set = store
        .set_expiry(never.session.id, Some(until))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(set.expires_at, Some(until));
    clock.advance(Duration::days(8));
    assert!(store.lookup(never.token.expose()).await.unwrap().is_none());
    store
        .set_expiry(never.session.id, None)
        .await
        .unwrap()
        .unwrap();
    assert!(store.lookup(never.token.expose()).await.unwrap().is_some());
}

async fn suspended_key_is_refused_at_once_and_resumes_whole(db: TestDb) {
    let clock = clock();
    let store = keys(&db, &clock).await;
    let k = store
        .create(key("u1", "ci", &["me:read", "sessions:write"]).expiry(KeyExpiry::Never))
        .await
        .unwrap();
    let token = k.token.expose().to_owned();
    for _ in 0..3 {
        store.lookup(&token).await.unwrap().expect("valid");
    }
    store.flush_uses().await.unwrap();
    let suspended = store
        .suspend(k.session.id)
        .await
        .unwrap()
        .expect("valid key");
    assert!(suspended.is_suspended());
    // Refused at once: lookup, and every operation that takes the token.
    assert!(store.lookup(&token).await.unwrap().is_none());
    assert!(
        store
            .get(&Filter::new().token(token.clone()))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .update_token(&token, SessionUpdate::new().set("x", 1))
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.rotate_token(&token).await.unwrap().is_none());
    assert!(
        store
            .roll(k.session.id, Duration::ZERO)
            .await
            .unwrap()
            .is_none()
    );
    // Not lost: listed (as valid, suspended), with its scopes and uses.
    let listed = store
        .list(&Filter::new().eq("user_id", "u1"))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].suspended_at.is_some() && !listed[0].is_expired);
    assert_eq!(listed[0].scopes, ["me:read", "sessions:write"]);
    assert_eq!(store.uses(k.session.id).await.unwrap(), Some(3));
    // Suspending twice keeps the first moment.
    clock.advance(Duration::minutes(5));
    let twice = store.suspend(k.session.id).await.unwrap().unwrap();
    assert_eq!(twice.suspended_at, suspended.suspended_at);

    clock.advance(Duration::minutes(5));
    let resumed = store
        .resume(k.session.id)
        .await
        .unwrap()
        .expect("valid key");
    assert!(!resumed.is_suspended());
    let found = store.lookup(&token).await.unwrap().expect("works again");
    assert_eq!(found.scopes, ["me:read", "sessions:write"]);
    assert_eq!(found.inserted_at, k.session.inserted_at);
    assert_eq!(found.expires_at, None);
    // A revoked key cannot be resumed back to life.
    store.expire(k.session.id).await.unwrap();
    assert!(store.resume(k.session.id).await.unwrap().is_none());
    assert!(store.lookup(&token).await.unwrap().is_none());
    // Without the lifecycle columns, suspension is refused rather than ignored.
    let plain = db.builder().table("plain").build().unwrap();
    plain.migrate().await.unwrap();
    let err = plain.suspend(k.session.id).await.unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
}

async fn roll_keeps_the_old_key_for_its_grace_only(db: TestDb) {
    let clock = clock();
    let store = keys(&db, &clock).await;
    let old = store
        .create(
            key("u1", "deploy", &["me:read", "orders:*"]).expiry(KeyExpiry::In(Duration::days(90))),
        )
        .await
        .unwrap();
    let old_token = old.token.expose().to_owned();
    clock.advance(Duration::days(10));
    let grace = Duration::hours(1);
    let new = store
        .roll(old.session.id, grace)
        .await
        .unwrap()
        .expect("a valid key rolls");
    let new_token = new.token.expose().to_owned();
    assert_ne!(new.session.id, old.session.id);
    assert_ne!(new_token, old_token);
    // Same owner, name and scopes; the same lifetime from now.
    assert_eq!(new.session.extra_str("user_id"), Some("u1"));
    assert_eq!(new.session.data.get_str("name").as_deref(), Some("deploy"));
    assert_eq!(new.session.scopes, ["me:read", "orders:*"]);
    assert_eq!(
        new.session.expires_at,
        Some(store.now() + Duration::days(90))
    );
    // The old key: "expires in 1 hour", pointing at its successor.
    let listed = store.list(&Filter::new().id(old.session.id)).await.unwrap();
    assert_eq!(listed[0].expires_at, Some(store.now() + grace));
    assert_eq!(listed[0].replaced_by, Some(new.session.id));
    // Both work during the grace period, and the old one is never extended.
    clock.advance(Duration::minutes(59));
    let during = store.lookup(&old_token).await.unwrap().expect("in grace");
    assert_eq!(during.expires_at, listed[0].expires_at);
    assert!(store.lookup(&new_token).await.unwrap().is_some());
    // A rolled key does not roll again.
    assert!(store.roll(old.session.id, grace).await.unwrap().is_none());
    clock.advance(Duration::minutes(1));
    assert!(
        store.lookup(&old_token).await.unwrap().is_none(),
        "grace over"
    );
    clock.advance(Duration::days(1));
    assert!(store.lookup(&old_token).await.unwrap().is_none());
    assert!(store.lookup(&new_token).await.unwrap().is_some());

    // Zero grace: an immediate rotation.
    let newer = store
        .roll(new.session.id, Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    assert!(store.lookup(&new_token).await.unwrap().is_none());
    assert!(store.lookup(newer.token.expose()).await.unwrap().is_some());
    // A never-expiring key's successor never expires either.
    let forever = store
        .create(key("u2", "forever", &["*"]).expiry(KeyExpiry::Never))
        .await
        .unwrap();
    let next = store
        .roll(forever.session.id, Duration::minutes(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.session.expires_at, None);
    assert!(
        store
            .roll(forever.session.id, -Duration::SECOND)
            .await
            .is_err()
    );
    assert_eq!(
        store
            .count(&Filter::new().eq("user_id", "u1"))
            .await
            .unwrap(),
        1
    );
}

async fn use_counter_is_exact_under_concurrency(db: TestDb) {
    let clock = clock();
    let store = keys(&db, &clock).await;
    let k = store
        .create(key("u1", "busy", &["me:read"]).expiry(KeyExpiry::Never))
        .await
        .unwrap();
    let other = store.create(key("u1", "idle", &[])).await.unwrap();
    let token = k.token.expose().to_owned();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (store, token) = (store.clone(), token.clone());
            tokio::spawn(async move {
                for _ in 0..625 {
                    store.lookup(&token).await.unwrap().expect("valid");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(store.uses(k.session.id).await.unwrap(), Some(10_000));
    store.flush_uses().await.unwrap();
    assert_eq!(store.pending_uses(k.session.id), 0);
    // Flushed to the row, read by another instance of the store.
    let elsewhere = key_builder(db.pool().clone()).build().unwrap();
    assert_eq!(elsewhere.uses(k.session.id).await.unwrap(), Some(10_000));
    let listed = elsewhere
        .list(&Filter::new().id(k.session.id))
        .await
        .unwrap();
    assert_eq!(listed[0].uses, 10_000);
    assert_eq!(elsewhere.uses(other.session.id).await.unwrap(), Some(0));
    assert_eq!(elsewhere.uses(uuid::Uuid::new_v4()).await.unwrap(), None);
    // The background flush writes without being asked.
    for _ in 0..5 {
        store.lookup(&token).await.unwrap();
    }
    let deadline = Instant::now() + std::time::Duration::from_secs(20);
    while elsewhere.uses(k.session.id).await.unwrap() != Some(10_005) {
        assert!(Instant::now() < deadline, "the background flush never ran");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The environment variables that turn the test binary into the child process of
/// [`use_counter_loses_at_most_its_window_on_a_crash`].
const CHILD_URL: &str = "SQLX_SESSIONS_KEYS_CHILD_URL";
const CHILD_TOKEN: &str = "SQLX_SESSIONS_KEYS_CHILD_TOKEN";
/// The flush interval of the child's store.
const CHILD_FLUSH: std::time::Duration = std::time::Duration::from_millis(250);

/// Not a test of its own: run by [`use_counter_loses_at_most_its_window_on_a_crash`] as a
/// child process (with [`CHILD_URL`] set), it uses a key every few milliseconds and prints
/// a line after each use, until it is killed.
#[test]
fn key_use_child() {
    let (Ok(url), Ok(token)) = (std::env::var(CHILD_URL), std::env::var(CHILD_TOKEN)) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let pool = Pool::connect(&url).await.unwrap();
        let flush = Duration::try_from(CHILD_FLUSH).unwrap();
        let store = key_builder(pool).key_lifecycle(flush).build().unwrap();
        let mut stdout = std::io::stdout();
        let mut n = 0_u64;
        loop {
            store.lookup(&token).await.unwrap().expect("valid key");
            n += 1;
            use std::io::Write as _;
            writeln!(stdout, "used {n}").unwrap();
            stdout.flush().unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(4)).await;
        }
    });
}

/// A process killed mid-run (SIGKILL: no shutdown flush) loses only the uses of its last
/// flush window, and never counts a use twice.
async fn use_counter_loses_at_most_its_window_on_a_crash(db: TestDb) {
    let clock = clock();
    let store = keys(&db, &clock).await;
    let k = store
        .create(key("u1", "crash", &[]).expiry(KeyExpiry::Never))
        .await
        .unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "key_use_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_URL, db.url())
        .env(CHILD_TOKEN, k.token.expose())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // Read the child's lines on a thread, each with when it arrived.
    let lines = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(n) = line
                .strip_prefix("used ")
                .and_then(|n| n.parse::<u64>().ok())
                && lines.0.send((n, Instant::now())).is_err()
            {
                return;
            }
        }
    });
    let mut seen = Vec::new();
    let started = Instant::now();
    while seen.len() < 1_200 {
        let got = lines
            .1
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the child uses the key");
        seen.push(got);
        assert!(started.elapsed() < std::time::Duration::from_secs(120));
    }
    child.kill().unwrap();
    let killed_at = Instant::now();
    child.wait().unwrap();
    while let Ok(got) = lines.1.try_recv() {
        seen.push(got);
    }
    let printed = seen.last().unwrap().0;
    let stored = store.uses(k.session.id).await.unwrap().unwrap();
    // Never more than were made (one more may have been counted and not yet printed).
    assert!(stored <= printed + 1, "stored {stored}, made {printed}");
    // Lost at most the documented window: uses since the last flush (one interval), a
    // flush in progress, and a margin for a loaded machine's scheduling.
    let window = CHILD_FLUSH * 2 + std::time::Duration::from_secs(2);
    let safe = seen
        .iter()
        .filter(|(_, at)| killed_at.duration_since(*at) > window)
        .map(|(n, _)| *n)
        .max()
        .unwrap_or(0);
    assert!(safe > 0, "the child ran longer than the window");
    assert!(
        stored >= safe,
        "stored {stored}, made {safe} before the window"
    );
}

async fn cap_per_owner_on_keys(db: TestDb) {
    let builder = key_builder(db.pool().clone())
        .table("capped_keys")
        .max_sessions_per("user_id", 2)
        .over_cap(OverCap::Refuse);
    let store = builder.build().unwrap();
    store.migrate().await.unwrap();
    let first = store.create(key("u1", "a", &[])).await.unwrap();
    let second = store.create(key("u1", "b", &[])).await.unwrap();
    let err = store.create(key("u1", "c", &[])).await.unwrap_err();
    assert!(
        matches!(err, Error::TooManySessions { limit: 2, .. }),
        "{err}"
    );
    store.create(key("u2", "a", &[])).await.unwrap();
    // A roll replaces a key: allowed at the cap, and leaves the owner at the cap.
    store
        .roll(first.session.id, Duration::ZERO)
        .await
        .unwrap()
        .expect("rolls at the cap");
    assert_eq!(
        store
            .count(&Filter::new().eq("user_id", "u1"))
            .await
            .unwrap(),
        2
    );
    assert!(store.create(key("u1", "c", &[])).await.is_err());
    // Revoking one makes room.
    store.expire(second.session.id).await.unwrap();
    store.create(key("u1", "c", &[])).await.unwrap();
    assert_eq!(
        store
            .count(&Filter::new().eq("user_id", "u1").status(Status::All))
            .await
            .unwrap(),
        4
    );
}

backend_tests!(
    scopes_with_wildcards_filters_and_changes,
    expiry_chosen_per_key_shown_and_changed,
    suspended_key_is_refused_at_once_and_resumes_whole,
    roll_keeps_the_old_key_for_its_grace_only,
    use_counter_is_exact_under_concurrency,
    use_counter_loses_at_most_its_window_on_a_crash,
    cap_per_owner_on_keys,
);
