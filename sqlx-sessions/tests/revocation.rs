//! Revocation that holds whatever the clocks of the instances say: two stores on one table
//! whose clocks differ by seconds (the revoking one ahead, then behind), lookups and
//! extensions racing an expire, and a clock stepped back after an expire. After `expire`
//! returns, the session is never accepted again and never gets a later expiry. On
//! PostgreSQL every check also runs on an adopted ecto_sessions table (naive timestamps).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use sqlx_sessions::{Filter, GetOptions, ManualClock, NewSession, SessionStore, Status};
use sqlx_sessions_test_support::{TestDb, backend_tests};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tokio::sync::Semaphore;
use uuid::Uuid;

const SKEW: Duration = Duration::seconds(2);
const LOOKUPS: usize = 400;
const IN_FLIGHT: usize = 32;

fn start() -> OffsetDateTime {
    datetime!(2031-05-05 5:00 UTC)
}

/// The tables a check runs on: the crate's own and an adopted ecto_sessions one (naive
/// timestamps; ISO-8601 text on SQLite).
fn flavours(_db: &TestDb) -> Vec<bool> {
    vec![false, true]
}

/// A store on the shared table with its own clock, extending at every use.
async fn store(db: &TestDb, ecto: bool, clock: &ManualClock) -> SessionStore {
    let mut b = db
        .builder()
        .clock(clock.clone())
        .ttl(Some(Duration::hours(1)))
        .extend_stale_time(Some(Duration::ZERO));
    if ecto {
        b = b.ecto_compat().table("ecto_sessions");
    }
    let store = b.build().unwrap();
    store.migrate().await.unwrap();
    store
}

/// Two instances on one table: the one that revokes, `skew` ahead of the one that looks up.
struct Instances {
    revoker: SessionStore,
    revoker_clock: ManualClock,
    looker: SessionStore,
    looker_clock: ManualClock,
}

async fn instances(db: &TestDb, ecto: bool, skew: Duration) -> Instances {
    let looker_clock = ManualClock::new(start());
    let revoker_clock = ManualClock::new(start() + skew);
    Instances {
        revoker: store(db, ecto, &revoker_clock).await,
        revoker_clock,
        looker: store(db, ecto, &looker_clock).await,
        looker_clock,
    }
}

/// The stored row of `id`, whatever its status, read without extending it.
async fn stored(store: &SessionStore, id: Uuid) -> sqlx_sessions::Session {
    store
        .get_with(
            &Filter::new().id(id).status(Status::All),
            GetOptions::extend(false),
        )
        .await
        .unwrap()
        .expect("the row is still there")
}

/// Everything that could accept or extend the session refuses it, and its expiry is no
/// later than `revoked_at`.
async fn assert_revoked(store: &SessionStore, token: &str, id: Uuid, revoked_at: OffsetDateTime) {
    let what = format!("at {} on {}", store.now(), store.spec().table());
    assert!(
        store.lookup(token).await.unwrap().is_none(),
        "lookup {what}"
    );
    assert!(store.extend(id).await.unwrap().is_none(), "extend {what}");
    let valid = Filter::new().id(id);
    assert!(store.get(&valid).await.unwrap().is_none(), "get {what}");
    assert!(
        store
            .get(&Filter::new().token(token))
            .await
            .unwrap()
            .is_none(),
        "get by token {what}"
    );
    assert!(store.list(&valid).await.unwrap().is_empty(), "list {what}");
    assert_eq!(store.count(&valid).await.unwrap(), 0, "count {what}");
    let expired = Filter::new().id(id).status(Status::Expired);
    assert_eq!(store.count(&expired).await.unwrap(), 1, "expired {what}");
    assert!(
        store.expire_all(&valid).await.unwrap().is_empty(),
        "expire_all {what}"
    );
    let row = stored(store, id).await;
    assert!(row.is_expired, "is_expired {what}");
    let at = row.expires_at.expect("an expiry");
    assert!(
        at <= revoked_at,
        "expiry moved to {at} after {revoked_at} {what}"
    );
}

/// Expires `id` through `store` and returns the expiry it wrote.
async fn expire(store: &SessionStore, id: Uuid) -> OffsetDateTime {
    let expired = store.expire_all(&Filter::new().id(id)).await.unwrap();
    assert_eq!(expired.len(), 1, "the expire found the session");
    assert!(expired[0].is_expired);
    expired[0].expires_at.expect("expire writes an expiry")
}

async fn skewed_expire(db: &TestDb, skew: Duration) {
    for ecto in flavours(db) {
        let i = instances(db, ecto, skew).await;
        let c = i
            .looker
            .create(NewSession::new().extra("user_id", "u"))
            .await
            .unwrap();
        let (id, token) = (c.session.id, c.token.expose().to_owned());
        i.looker_clock.advance(Duration::seconds(1));
        assert!(i.looker.lookup(&token).await.unwrap().is_some());
        let revoked_at = expire(&i.revoker, id).await;
        assert_eq!(revoked_at, i.revoker.now());
        // Both instances refuse it, as their clocks move on (the looker's staying on its
        // side of the revoker's).
        for _ in 0..3 {
            assert_revoked(&i.looker, &token, id, revoked_at).await;
            assert_revoked(&i.revoker, &token, id, revoked_at).await;
            i.looker_clock.advance(Duration::milliseconds(300));
            i.revoker_clock.advance(Duration::milliseconds(300));
        }
        // A session that expires between the two clocks: the revoker sees it expired and
        // says so, yet the instance behind must not extend it back to life.
        let soon = i.looker.now() + Duration::milliseconds(500);
        let soon = if skew.is_positive() {
            soon
        } else {
            soon + SKEW // behind: the revoker sees it valid, the looker too
        };
        let c = i
            .looker
            .create(
                NewSession::new()
                    .extra("user_id", "v")
                    .expires_at(Some(soon)),
            )
            .await
            .unwrap();
        let (id, token) = (c.session.id, c.token.expose().to_owned());
        let was_valid = i.revoker.expire(id).await.unwrap();
        assert_eq!(was_valid, !skew.is_positive());
        let revoked_at = stored(&i.revoker, id).await.expires_at.unwrap();
        assert!(revoked_at <= soon);
        assert_revoked(&i.looker, &token, id, revoked_at).await;
        assert_revoked(&i.revoker, &token, id, revoked_at).await;
    }
}

async fn expire_by_an_instance_ahead_holds(db: TestDb) {
    skewed_expire(&db, SKEW).await;
}

async fn expire_by_an_instance_behind_holds(db: TestDb) {
    skewed_expire(&db, -SKEW).await;
}

async fn expire_holds_after_the_clock_steps_back(db: TestDb) {
    for ecto in flavours(&db) {
        let clock = ManualClock::new(start());
        let store = store(&db, ecto, &clock).await;
        let c = store
            .create(NewSession::new().extra("user_id", "u"))
            .await
            .unwrap();
        let (id, token) = (c.session.id, c.token.expose().to_owned());
        clock.advance(Duration::seconds(10));
        assert!(store.lookup(&token).await.unwrap().is_some());
        let revoked_at = expire(&store, id).await;
        // An NTP step back, half a second and then more.
        for step in [500, 2_500, 60_000] {
            clock.set(revoked_at - Duration::milliseconds(step));
            assert_revoked(&store, &token, id, revoked_at).await;
        }
    }
}

/// What one racing lookup saw.
#[derive(Debug, Default)]
struct Tally {
    found: AtomicUsize,
    refused: AtomicUsize,
    /// Lookups that started after the expire returned and still found the session.
    revived: AtomicUsize,
}

async fn race(db: &TestDb, ecto: bool, skew: Duration) {
    let i = instances(db, ecto, skew).await;
    let c = i
        .looker
        .create(NewSession::new().extra("user_id", "target"))
        .await
        .unwrap();
    let (id, token): (Uuid, Arc<str>) = (c.session.id, c.token.expose().into());
    let expired = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let tally = Arc::new(Tally::default());
    let gate = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut tasks = Vec::with_capacity(LOOKUPS);
    for n in 0..LOOKUPS {
        let (store, clock, token) = (i.looker.clone(), i.looker_clock.clone(), token.clone());
        let (expired, started, tally, gate) = (
            expired.clone(),
            started.clone(),
            tally.clone(),
            gate.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            started.fetch_add(1, Ordering::SeqCst);
            // Every other lookup moves the clock, so each is due for extension.
            if n % 2 == 0 {
                clock.advance(Duration::microseconds(1));
            }
            let after = expired.load(Ordering::SeqCst);
            let found = if n % 5 == 0 {
                store.extend(id).await.unwrap()
            } else {
                store.lookup(&token).await.unwrap()
            };
            match found {
                Some(_) if after => tally.revived.fetch_add(1, Ordering::SeqCst),
                Some(_) => tally.found.fetch_add(1, Ordering::SeqCst),
                None => tally.refused.fetch_add(1, Ordering::SeqCst),
            };
        }));
    }
    while started.load(Ordering::SeqCst) < LOOKUPS / 3 {
        tokio::task::yield_now().await;
    }
    let revoked_at = expire(&i.revoker, id).await;
    expired.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.expect("no lookup panics");
    }
    let t = &*tally;
    eprintln!("skew {skew}, ecto {ecto}: {t:?}");
    assert_eq!(
        t.revived.load(Ordering::SeqCst),
        0,
        "a revoked session came back (skew {skew}, ecto {ecto})"
    );
    assert!(t.found.load(Ordering::SeqCst) > 0, "the race started valid");
    assert!(
        t.refused.load(Ordering::SeqCst) > 0,
        "the race saw the expire"
    );
    assert_revoked(&i.looker, &token, id, revoked_at).await;
    assert_revoked(&i.revoker, &token, id, revoked_at).await;
}

async fn lookups_racing_a_skewed_expire(db: TestDb) {
    for ecto in flavours(&db) {
        race(&db, ecto, SKEW).await;
        race(&db, ecto, -SKEW).await;
    }
}

backend_tests!(
    expire_by_an_instance_ahead_holds,
    expire_by_an_instance_behind_holds,
    expire_holds_after_the_clock_steps_back,
    lookups_racing_a_skewed_expire,
);
