//! The read cache: two stores on one table, one cached, on every backend. Revocations made
//! elsewhere are refused within the bound, changes made through the cached store never
//! outlive the call, a lost channel fails closed, and the cache adds or removes no writes.
#![cfg(feature = "cache")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx_sessions::cache::CacheConfig;
use sqlx_sessions::{
    ColumnType, ExtraColumn, Filter, Hashing, ManualClock, NewSession, SessionStore,
};
use sqlx_sessions_test_support::{Backend, TestDb, backend_tests};
use time::macros::datetime;

backend_tests! {
    another_instance_revocations_are_refused_within_the_bound,
    plain_sql_changes_are_refused_within_the_bound,
    changes_through_the_cached_store_are_never_served_after_the_call,
    a_lookup_racing_a_revocation_never_returns_it_afterwards,
    a_lost_channel_fails_closed_and_resumes_after_a_clear,
    the_cache_writes_exactly_what_the_database_path_writes,
    expired_and_capped_entries_are_never_served,
    the_migration_carries_the_triggers,
    out_of_date_triggers_stop_the_cache_until_migrate,
    an_evolved_table_keeps_its_triggers_and_cascades_invalidate,
}

/// A generous deadline for things that must happen eventually (slow machines).
const EVENTUALLY: Duration = Duration::from_secs(20);

/// A cached store (migrated) and a plain one on the same table.
async fn two_stores(db: &TestDb) -> (SessionStore, SessionStore) {
    let cached = db
        .builder()
        .cache(CacheConfig::new(10_000))
        .build()
        .expect("cached store");
    cached.migrate().await.expect("migrate");
    let plain = db.builder().build().expect("plain store");
    (cached, plain)
}

fn stats(store: &SessionStore) -> sqlx_sessions::cache::CacheStats {
    store.cache_stats().expect("a cached store")
}

/// Waits until the cache answers (its channel has confirmed a round).
async fn serving(store: &SessionStore) {
    let started = Instant::now();
    while !stats(store).serving {
        assert!(
            started.elapsed() < EVENTUALLY,
            "not answering: {}",
            stats(store)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Looks `token` up until one lookup is answered from memory.
async fn warm(store: &SessionStore, token: &str) {
    let started = Instant::now();
    loop {
        let before = stats(store).hits;
        assert!(store.lookup(token).await.expect("lookup").is_some());
        if stats(store).hits > before {
            return;
        }
        assert!(
            started.elapsed() < EVENTUALLY,
            "no cache hit within {EVENTUALLY:?}: {}",
            stats(store)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Looks `token` up in a loop from `since` (a moment after the change committed) until
/// well past the bound. Every lookup that starts later than the bound after `since` must
/// be refused, and there must be such lookups. Returns when the first refusal came.
async fn refused_within_bound(store: &SessionStore, token: &str, since: Instant) -> Duration {
    let bound = stats(store).bound;
    let until = since + bound * 2 + Duration::from_millis(100);
    let mut first_refusal = None;
    let mut after_bound = 0;
    loop {
        let started = Instant::now();
        // Past `until`, and at least one lookup started after the bound (on a loaded
        // machine one lookup can take longer than the whole window).
        if started > until && after_bound > 0 {
            break;
        }
        assert!(
            started < until + Duration::from_secs(30),
            "no lookup could be made after the bound"
        );
        let found = store.lookup(token).await.expect("lookup");
        if started.duration_since(since) > bound {
            assert!(
                found.is_none(),
                "served {:?} after the change, past the bound of {bound:?}",
                started.duration_since(since)
            );
            after_bound += 1;
        }
        if found.is_none() && first_refusal.is_none() {
            first_refusal = Some(started.duration_since(since));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    first_refusal.expect("refused at last")
}

async fn create(store: &SessionStore, user: &str) -> (uuid::Uuid, String) {
    let created = store
        .create(NewSession::new().extra("user_id", user))
        .await
        .expect("create");
    (created.session.id, created.token.expose().to_owned())
}

async fn another_instance_revocations_are_refused_within_the_bound(db: TestDb) {
    let (cached, plain) = two_stores(&db).await;
    let (expired_id, expired) = create(&plain, "u1").await;
    let (deleted_id, deleted) = create(&plain, "u2").await;
    let (_, all_of_user) = create(&plain, "u3").await;
    let (_, kept) = create(&plain, "u4").await;
    for token in [&expired, &deleted, &all_of_user, &kept] {
        warm(&cached, token).await;
    }

    assert!(plain.expire(expired_id).await.expect("expire"));
    refused_within_bound(&cached, &expired, Instant::now()).await;
    assert!(plain.delete(deleted_id).await.expect("delete"));
    refused_within_bound(&cached, &deleted, Instant::now()).await;
    let n = plain
        .expire_all(&Filter::new().eq("user_id", "u3"))
        .await
        .expect("expire_all");
    assert_eq!(n.len(), 1);
    refused_within_bound(&cached, &all_of_user, Instant::now()).await;

    // The untouched session is still answered from memory.
    warm(&cached, &kept).await;
    assert!(stats(&cached).invalidations >= 3, "{}", stats(&cached));
}

async fn plain_sql_changes_are_refused_within_the_bound(db: TestDb) {
    let (cached, plain) = two_stores(&db).await;
    let (a, revoked) = create(&plain, "u1").await;
    let (b, deleted) = create(&plain, "u2").await;
    let (c, expired) = create(&plain, "u3").await;
    let (_, truncated) = create(&plain, "u4").await;
    for token in [&revoked, &deleted, &expired, &truncated] {
        warm(&cached, token).await;
    }
    // The revocation marker, as an operator would write it: expiry no later than the
    // last write.
    db.exec(&format!(
        "UPDATE sessions SET expires_at = updated_at WHERE id = {}",
        db.id_sql(a)
    ))
    .await;
    refused_within_bound(&cached, &revoked, Instant::now()).await;
    db.exec(&format!("DELETE FROM sessions WHERE id = {}", db.id_sql(b)))
        .await;
    refused_within_bound(&cached, &deleted, Instant::now()).await;
    let now = match db.backend() {
        Backend::Postgres => "now()",
        Backend::Mysql => "UTC_TIMESTAMP(6)",
        _ => "1",
    };
    db.exec(&format!(
        "UPDATE sessions SET expires_at = {now} WHERE id = {}",
        db.id_sql(c)
    ))
    .await;
    refused_within_bound(&cached, &expired, Instant::now()).await;
    // MySQL's `TRUNCATE` fires no trigger (documented): a `DELETE` there.
    let statement = if db.is_postgres() {
        "TRUNCATE sessions"
    } else {
        "DELETE FROM sessions"
    };
    db.exec(statement).await;
    refused_within_bound(&cached, &truncated, Instant::now()).await;
}

async fn changes_through_the_cached_store_are_never_served_after_the_call(db: TestDb) {
    let clock = ManualClock::new(datetime!(2030-01-01 0:00 UTC));
    let cached = db
        .builder()
        .cache(CacheConfig::new(1_000))
        .clock(clock.clone())
        .ttl(Some(time::Duration::hours(2)))
        .extend_stale_time(Some(time::Duration::hours(1)))
        .track_authentication()
        .build()
        .expect("store");
    cached.migrate().await.expect("migrate");
    let mut sessions = Vec::new();
    for user in [
        "expire",
        "delete",
        "expire_all",
        "delete_all",
        "extend",
        "auth",
    ] {
        let (id, token) = create(&cached, user).await;
        warm(&cached, &token).await;
        sessions.push((id, token));
    }
    let none = |s: Option<sqlx_sessions::Session>| assert!(s.is_none(), "served after the call");

    assert!(cached.expire(sessions[0].0).await.unwrap());
    none(cached.lookup(&sessions[0].1).await.unwrap());
    assert!(cached.delete(sessions[1].0).await.unwrap());
    none(cached.lookup(&sessions[1].1).await.unwrap());
    cached
        .expire_all(&Filter::new().eq("user_id", "expire_all"))
        .await
        .unwrap();
    none(cached.lookup(&sessions[2].1).await.unwrap());
    cached
        .delete_all(&Filter::new().eq("user_id", "delete_all"))
        .await
        .unwrap();
    none(cached.lookup(&sessions[3].1).await.unwrap());

    // An extension through `extend(id)` (not through a lookup): the next lookup shows the
    // new expiry, not the cached one.
    clock.advance(time::Duration::minutes(61));
    let extended = cached.extend(sessions[4].0).await.unwrap().expect("valid");
    let seen = cached.lookup(&sessions[4].1).await.unwrap().expect("valid");
    assert_eq!(seen.expires_at, extended.expires_at);
    assert_eq!(
        seen.expires_at,
        Some(datetime!(2030-01-01 0:00 UTC) + time::Duration::minutes(181))
    );

    let auth_token = &sessions[5].1;
    warm(&cached, auth_token).await;
    clock.advance(time::Duration::minutes(5));
    let marked = cached
        .mark_authenticated(sessions[5].0)
        .await
        .unwrap()
        .expect("valid");
    let seen = cached.lookup(auth_token).await.unwrap().expect("valid");
    assert_eq!(seen.authenticated_at(), marked.authenticated_at());
    assert_eq!(seen.authenticated_at(), clock_now(&clock));
}

fn clock_now(clock: &ManualClock) -> time::OffsetDateTime {
    use sqlx_sessions::Clock as _;
    clock.now()
}

async fn a_lookup_racing_a_revocation_never_returns_it_afterwards(db: TestDb) {
    let (cached, _) = two_stores(&db).await;
    for round in 0..12 {
        let (id, token) = create(&cached, "racer").await;
        warm(&cached, &token).await;
        let stop = Arc::new(AtomicBool::new(false));
        let returned: Arc<std::sync::Mutex<Option<Instant>>> = Default::default();
        let mut lookers = Vec::new();
        for _ in 0..4 {
            let (store, token, stop, returned) = (
                cached.clone(),
                token.clone(),
                stop.clone(),
                returned.clone(),
            );
            lookers.push(tokio::spawn(async move {
                let mut late_hits = 0;
                let mut answered = 0;
                while !stop.load(Ordering::Acquire) {
                    let started = Instant::now();
                    let found = store.lookup(&token).await.expect("lookup");
                    answered += 1;
                    let revoked_at = *returned.lock().unwrap();
                    if found.is_some() && revoked_at.is_some_and(|r| started > r) {
                        late_hits += 1;
                    }
                    tokio::task::yield_now().await;
                }
                (late_hits, answered)
            }));
        }
        tokio::time::sleep(Duration::from_millis(5 + round)).await;
        if round % 2 == 0 {
            assert!(cached.expire(id).await.unwrap());
        } else {
            assert!(cached.delete(id).await.unwrap());
        }
        *returned.lock().unwrap() = Some(Instant::now());
        tokio::time::sleep(Duration::from_millis(20)).await;
        stop.store(true, Ordering::Release);
        for looker in lookers {
            let (late_hits, answered) = looker.await.unwrap();
            assert!(answered > 0);
            assert_eq!(
                late_hits, 0,
                "round {round}: served after the revoking call"
            );
        }
    }
}

async fn a_lost_channel_fails_closed_and_resumes_after_a_clear(db: TestDb) {
    let (cached, plain) = two_stores(&db).await;
    let (a, revoked) = create(&plain, "u1").await;
    let (_, kept) = create(&plain, "u2").await;
    warm(&cached, &revoked).await;
    warm(&cached, &kept).await;
    let clears = stats(&cached).clears;

    if db.is_postgres() {
        // The listening connection killed: whatever is lost meanwhile is cleared.
        let killed = db
            .scalar(&format!(
                "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE application_name = '{}' AND datname = current_database()",
                sqlx_sessions::cache::LISTENER_APPLICATION_NAME
            ))
            .await;
        assert_eq!(killed, 1, "one listening connection");
    } else if db.is_mysql() {
        // The poll connection killed (with every other connection of the test's database but
        // the one sending the `KILL`s: nothing names the poller's apart).
        let killed = kill_other_connections(&db).await;
        assert!(killed >= 1, "the poll connection");
    }
    if !matches!(db.backend(), Backend::Sqlite) {
        db.exec(&format!(
            "UPDATE sessions SET expires_at = updated_at WHERE id = {}",
            db.id_sql(a)
        ))
        .await;
        refused_within_bound(&cached, &revoked, Instant::now()).await;
        warm(&cached, &kept).await;
        assert!(stats(&cached).clears > clears, "{}", stats(&cached));
    }

    // The triggers gone: changes made meanwhile are never reported, so the cache must stop
    // answering and clear itself once the channel is back.
    let (b, unreported) = create(&plain, "u3").await;
    warm(&cached, &unreported).await;
    let clears = stats(&cached).clears;
    if db.is_postgres() {
        db.exec("DROP TRIGGER sessions_cache_notify ON sessions")
            .await;
    } else {
        db.exec("DROP TRIGGER sessions_changes_update; DROP TRIGGER sessions_changes_delete; DROP TABLE sessions_changes")
            .await;
    }
    let dropped = Instant::now();
    db.exec(&format!(
        "UPDATE sessions SET expires_at = updated_at WHERE id = {}",
        db.id_sql(b)
    ))
    .await;
    // Never served once a round has had the bound to fail.
    refused_within_bound(&cached, &unreported, dropped).await;
    let started = Instant::now();
    while stats(&cached).serving {
        assert!(
            started.elapsed() < EVENTUALLY,
            "still answering without triggers"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let misses = stats(&cached).misses;
    assert!(cached.lookup(&kept).await.unwrap().is_some());
    assert!(
        stats(&cached).misses > misses,
        "answered from memory while down"
    );

    cached.migrate().await.expect("the triggers back");
    warm(&cached, &kept).await;
    assert!(stats(&cached).clears > clears, "{}", stats(&cached));
    assert!(cached.lookup(&unreported).await.unwrap().is_none());
}

/// Triggers made by an earlier release (reporting digests, never revocations) are out of
/// date: the cache stops answering until `migrate` replaces them, rather than leaving the
/// access-token verifiers that follow the feed without revocations.
async fn out_of_date_triggers_stop_the_cache_until_migrate(db: TestDb) {
    let (cached, plain) = two_stores(&db).await;
    let (_, token) = create(&plain, "u1").await;
    warm(&cached, &token).await;
    if db.is_postgres() {
        // The function as the earlier release wrote it: digests only.
        db.exec(
            "CREATE OR REPLACE FUNCTION sessions_cache_notify() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               IF TG_OP = 'TRUNCATE' THEN PERFORM pg_notify('sessions_cache', '*');
               ELSE PERFORM pg_notify('sessions_cache', encode(OLD.auth_token_digest, 'hex'));
               END IF;
               RETURN NULL;
             END $$",
        )
        .await;
    } else {
        // The same text on SQLite and MySQL.
        db.exec(
            "DROP TRIGGER sessions_changes_delete;
             CREATE TRIGGER sessions_changes_delete AFTER DELETE ON sessions FOR EACH ROW BEGIN
               INSERT INTO sessions_changes (digest) VALUES (OLD.auth_token_digest);
             END",
        )
        .await;
    }
    let started = Instant::now();
    while stats(&cached).serving {
        assert!(
            started.elapsed() < EVENTUALLY,
            "still answering on out-of-date triggers: {}",
            stats(&cached)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cached.migrate().await.expect("the triggers replaced");
    serving(&cached).await;
    warm(&cached, &token).await;
}

/// Counts the `UPDATE`s of `table` in `write_count`.
async fn count_writes(db: &TestDb, table: &str) {
    if db.is_postgres() {
        db.exec(&format!(
            "CREATE TABLE IF NOT EXISTS write_count (t text PRIMARY KEY, n bigint NOT NULL);
             INSERT INTO write_count VALUES ('{table}', 0);
             CREATE OR REPLACE FUNCTION count_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN UPDATE write_count SET n = n + 1 WHERE t = '{table}'; RETURN NULL; END $$;
             CREATE TRIGGER count_{table} AFTER UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION count_{table}();"
        ))
        .await;
    } else if db.is_mysql() {
        db.exec(&format!(
            "CREATE TABLE IF NOT EXISTS write_count (t VARCHAR(64) PRIMARY KEY, n BIGINT NOT NULL);
             INSERT INTO write_count VALUES ('{table}', 0);
             CREATE TRIGGER count_{table} AFTER UPDATE ON {table} FOR EACH ROW
               UPDATE write_count SET n = n + 1 WHERE t = '{table}';"
        ))
        .await;
    } else {
        db.exec(&format!(
            "CREATE TABLE IF NOT EXISTS write_count (t TEXT PRIMARY KEY, n INTEGER NOT NULL);
             INSERT INTO write_count VALUES ('{table}', 0);
             CREATE TRIGGER count_{table} AFTER UPDATE ON {table} BEGIN
               UPDATE write_count SET n = n + 1 WHERE t = '{table}';
             END;"
        ))
        .await;
    }
}

async fn the_cache_writes_exactly_what_the_database_path_writes(db: TestDb) {
    let start = datetime!(2030-01-01 0:00 UTC);
    let mut outcomes = Vec::new();
    for (table, cache) in [("with_cache", true), ("without_cache", false)] {
        let clock = ManualClock::new(start);
        let mut builder = db
            .builder()
            .table(table)
            .clock(clock.clone())
            .ttl(Some(time::Duration::hours(1)))
            .extend_stale_time(Some(time::Duration::minutes(10)))
            .track_last_used(time::Duration::minutes(5));
        if cache {
            builder = builder.cache(CacheConfig::new(100));
        }
        let store = builder.build().expect("store");
        store.migrate().await.expect("migrate");
        count_writes(&db, table).await;
        let mut tokens = Vec::new();
        for _ in 0..3 {
            tokens.push(create(&store, "u").await.1);
        }
        if cache {
            serving(&store).await;
        }
        for _minute in 0..45 {
            clock.advance(time::Duration::minutes(1));
            for token in &tokens {
                for _ in 0..4 {
                    assert!(store.lookup(token).await.unwrap().is_some());
                }
            }
        }
        let writes = db
            .scalar(&format!("SELECT n FROM write_count WHERE t = '{table}'"))
            .await;
        let mut finals = Vec::new();
        for token in &tokens {
            let s = store.lookup_with(token, sqlx_sessions::GetOptions::extend(false));
            let s = s.await.unwrap().expect("valid");
            finals.push((s.expires_at, s.last_used_at));
        }
        if cache {
            // Under load the channel may have paused serving for a while (failing closed),
            // so hits during the loop are not guaranteed; the cache must still answer once
            // it serves again. These lookups write nothing: the counts are already taken.
            let started = Instant::now();
            while stats(&store).hits == 0 {
                serving(&store).await;
                let again = store.lookup_with(&tokens[0], sqlx_sessions::GetOptions::extend(false));
                assert!(again.await.unwrap().is_some());
                assert!(started.elapsed() < EVENTUALLY, "{}", stats(&store));
            }
        }
        outcomes.push((writes, finals));
    }
    assert!(outcomes[0].0 > 0);
    assert_eq!(outcomes[0], outcomes[1], "with cache vs without");
}

async fn expired_and_capped_entries_are_never_served(db: TestDb) {
    let start = datetime!(2030-01-01 0:00 UTC);
    let clock = ManualClock::new(start);
    let store = db
        .builder()
        .cache(CacheConfig::new(100))
        .clock(clock.clone())
        .auto_extend(false)
        .max_lifetime(Some(time::Duration::hours(3)))
        .build()
        .expect("store");
    store.migrate().await.expect("migrate");
    let short = store
        .create(
            NewSession::new()
                .extra("user_id", "u")
                .expires_at(Some(start + time::Duration::hours(1))),
        )
        .await
        .unwrap();
    // Created by a store without a lifetime cap: only the cached store's cap ends it.
    let uncapped = db
        .builder()
        .clock(clock.clone())
        .max_lifetime(None)
        .build()
        .expect("store");
    let long = uncapped
        .create(NewSession::new().extra("user_id", "u").expires_at(None))
        .await
        .unwrap();
    assert_eq!(long.session.expires_at, None);
    warm(&store, short.token.expose()).await;
    warm(&store, long.token.expose()).await;
    clock.advance(time::Duration::hours(1));
    let hits = stats(&store).hits;
    assert!(store.lookup(short.token.expose()).await.unwrap().is_none());
    assert_eq!(stats(&store).hits, hits, "an expired entry answered");
    warm(&store, long.token.expose()).await;
    clock.advance(time::Duration::hours(2));
    let hits = stats(&store).hits;
    assert!(store.lookup(long.token.expose()).await.unwrap().is_none());
    assert_eq!(
        stats(&store).hits,
        hits,
        "an entry past max_lifetime answered"
    );
}

async fn the_migration_carries_the_triggers(db: TestDb) {
    let (cached, plain) = two_stores(&db).await;
    let with = cached.migration();
    let without = plain.migration();
    assert!(with.up.len() > without.up.len());
    assert!(with.up_sql().contains("TRIGGER"));
    assert!(!without.up_sql().contains("TRIGGER"));
    assert!(with.down.len() > without.down.len());
    // Down, then up again: the cache comes back.
    cached.migrate_down().await.expect("down");
    cached.migrate().await.expect("up");
    let (_, token) = create(&cached, "u").await;
    warm(&cached, &token).await;
}

/// A table made without a cache and without an owner foreign key, then migrated by a cached
/// store that has one (and a new optional column): the triggers are created with the new
/// columns, and a user's delete, cascading to their sessions, is refused within the bound.
async fn an_evolved_table_keeps_its_triggers_and_cascades_invalidate(db: TestDb) {
    db.exec("CREATE TABLE users (id BIGINT PRIMARY KEY)").await;
    db.exec("INSERT INTO users (id) VALUES (1)").await;
    let owner = || ExtraColumn::new("user_id", ColumnType::Integer).references("users", "id");
    // SQLite adds a foreign key only with a new column: the owner column is new there.
    // (MySQL's cascades fire no trigger on the sessions table: the referenced table's
    // trigger reports them.)
    let old = if !matches!(db.backend(), Backend::Sqlite) {
        db.builder()
            .extra_column(ExtraColumn::new("user_id", ColumnType::Integer).optional())
    } else {
        db.builder().no_extra_columns()
    };
    old.build()
        .expect("old store")
        .migrate()
        .await
        .expect("old");
    let cached = db
        .builder()
        .extra_column(owner().optional())
        .track_last_used(time::Duration::hours(1))
        .cache(CacheConfig::new(100))
        .build()
        .expect("cached store");
    cached.migrate().await.expect("evolve");
    cached.check_table().await.expect("fits");
    let plain = db
        .builder()
        .extra_column(owner().optional())
        .track_last_used(time::Duration::hours(1))
        .build()
        .expect("plain store");
    let kept = plain.create(NewSession::new()).await.expect("create");
    let owned = plain
        .create(NewSession::new().extra("user_id", 1))
        .await
        .expect("create");
    warm(&cached, owned.token.expose()).await;
    warm(&cached, kept.token.expose()).await;
    db.exec("DELETE FROM users WHERE id = 1").await;
    refused_within_bound(&cached, owned.token.expose(), Instant::now()).await;
    assert!(cached.lookup(kept.token.expose()).await.unwrap().is_some());
}

#[test]
fn a_cache_needs_a_hashing_algorithm_and_a_runtime() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let pool =
        runtime.block_on(async { sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap() });
    let guard = runtime.enter();
    let err = SessionStore::builder(pool.clone())
        .hashing(Hashing::None)
        .cache(CacheConfig::default())
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("cache"), "{err}");
    let err = SessionStore::builder(pool.clone())
        .cache(CacheConfig::new(0))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("max_entries"), "{err}");
    let err = SessionStore::builder(pool.clone())
        .cache(CacheConfig::new(10).staleness_bound(Duration::from_millis(1)))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("staleness_bound"), "{err}");
    drop(guard);
    let err = SessionStore::builder(pool)
        .cache(CacheConfig::default())
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("tokio runtime"), "{err}");
}

/// Kills every connection to the test's database but the one sending the `KILL`s; returns
/// how many.
async fn kill_other_connections(db: &TestDb) -> usize {
    let ids = db
        .texts(
            "SELECT CAST(ID AS CHAR) FROM information_schema.PROCESSLIST \
             WHERE DB = DATABASE() AND ID <> CONNECTION_ID()",
        )
        .await;
    let sqlx_sessions::Pool::Mysql(pool) = db.pool() else {
        panic!("not a MySQL database");
    };
    for id in &ids {
        let id: u64 = id.parse().expect("a connection id");
        // Gone already is fine: only that it is gone counts.
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("KILL {id}")))
            .execute(pool)
            .await;
    }
    ids.len()
}

/// The plain SQL revoking session `id`.
fn revocation(db: &TestDb, id: uuid::Uuid) -> String {
    format!(
        "UPDATE sessions SET expires_at = updated_at WHERE id = {}",
        db.id_sql(id)
    )
}

/// Runs `sql` on `conn`.
async fn run(conn: &mut sqlx::MySqlConnection, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(conn)
        .await
        .unwrap_or_else(|e| panic!("`{sql}`: {e}"));
}

/// A connection of its own holding open a transaction that has revoked session `id`.
async fn revoked_in_open_transaction(db: &TestDb, id: uuid::Uuid) -> sqlx::MySqlConnection {
    use sqlx::Connection as _;
    let mut conn = sqlx::MySqlConnection::connect(db.url())
        .await
        .expect("connect");
    run(&mut conn, "BEGIN").await;
    run(&mut conn, &revocation(db, id)).await;
    conn
}

/// MySQL's log sequence is not commit order: a transaction left open while a later one
/// commits. The later revocation is refused within the bound while the earlier transaction
/// is still open (and the cache keeps answering), the earlier one within the bound of its
/// own commit; a rolled-back transaction's sequence does not stop the cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_changes_committed_out_of_sequence_order_are_all_seen() {
    use sqlx::Connection as _;
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let (cached, plain) = two_stores(&db).await;
    let (x, first) = create(&plain, "x").await;
    let (y, second) = create(&plain, "y").await;
    let (z, rolled_back) = create(&plain, "z").await;
    let (w, after_rollback) = create(&plain, "w").await;
    let (_, kept) = create(&plain, "k").await;
    for token in [&first, &second, &rolled_back, &after_rollback, &kept] {
        warm(&cached, token).await;
    }
    let bound = stats(&cached).bound;

    // A takes the lower sequence and stays open; B takes the next one and commits.
    let mut a = revoked_in_open_transaction(&db, x).await;
    db.exec(&revocation(&db, y)).await;
    refused_within_bound(&cached, &second, Instant::now()).await;
    // A is still open: the database serves X, the cache may too, and it keeps answering.
    assert!(plain.lookup(&first).await.unwrap().is_some());
    tokio::time::sleep(bound * 2).await;
    warm(&cached, &kept).await;
    run(&mut a, "COMMIT").await;
    refused_within_bound(&cached, &first, Instant::now()).await;
    let _ = a.close().await;

    // A rolled-back sequence below a committed one: dropped after the grace, and the
    // cache goes on applying changes and answering.
    let mut b = revoked_in_open_transaction(&db, z).await;
    db.exec(&revocation(&db, w)).await;
    run(&mut b, "ROLLBACK").await;
    refused_within_bound(&cached, &after_rollback, Instant::now()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    warm(&cached, &rolled_back).await;
    let (v, later) = create(&plain, "v").await;
    warm(&cached, &later).await;
    db.exec(&revocation(&db, v)).await;
    refused_within_bound(&cached, &later, Instant::now()).await;
    warm(&cached, &kept).await;
    let _ = b.close().await;
}

/// A transaction open before the cache started: its change is still applied after its
/// commit (the first poll finds its row open, not committed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_a_transaction_open_before_the_cache_started_is_seen_after_commit() {
    use sqlx::Connection as _;
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let (setup, plain) = two_stores(&db).await;
    drop(setup);
    let (x, token) = create(&plain, "x").await;
    let mut a = revoked_in_open_transaction(&db, x).await;
    // A later sequence committed: the open one lies below the newest committed.
    let (other, _) = create(&plain, "y").await;
    assert!(plain.expire(other).await.unwrap());
    let cached = db
        .builder()
        .cache(CacheConfig::new(100))
        .build()
        .expect("cached store");
    serving(&cached).await;
    warm(&cached, &token).await;
    // Open for longer than a missing sequence's grace.
    tokio::time::sleep(Duration::from_secs(2)).await;
    warm(&cached, &token).await;
    run(&mut a, "COMMIT").await;
    refused_within_bound(&cached, &token, Instant::now()).await;
    let _ = a.close().await;
}

/// The pollers keep the change log at its last rows, and never prune the row of a
/// transaction still open: a revocation held open below 120,000 later rows is still
/// applied after its commit, and the log is pruned once it is resolved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_the_change_log_is_pruned_but_never_past_an_open_transaction() {
    use sqlx::Connection as _;
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let (cached, plain) = two_stores(&db).await;
    let (x, token) = create(&plain, "x").await;
    warm(&cached, &token).await;
    let mut a = revoked_in_open_transaction(&db, x).await;
    // MariaDB's sequence engine: 120,000 committed rows after A's.
    db.exec("INSERT INTO sessions_changes (digest) SELECT 'not a digest' FROM seq_1_to_120000")
        .await;
    let count = "SELECT COUNT(*) FROM sessions_changes";
    // Rounds have read past them (and found nothing to prune above A's row).
    let marker = create(&plain, "m").await;
    warm(&cached, &marker.1).await;
    assert!(plain.expire(marker.0).await.unwrap());
    // Rounds reading that many rows are slow on a loaded machine: the bound itself is
    // tested above.
    refused_eventually(&cached, &marker.1).await;
    assert!(db.scalar(count).await >= 120_000, "pruned past an open row");
    run(&mut a, "COMMIT").await;
    refused_eventually(&cached, &token).await;
    // Resolved: pruned down to the last 100,000 rows, a batch per round.
    let started = Instant::now();
    while db.scalar(count).await > 100_010 {
        assert!(
            started.elapsed() < EVENTUALLY,
            "not pruned: {} rows",
            db.scalar(count).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = a.close().await;
}

/// Looks `token` (whose change has committed) up until it is refused, then, once the
/// bound has passed since the call, a few more times: refused every time. A refusal within
/// the bound may come from the database while a round that started before the change is
/// still the latest one; the cache promises no stale answer after the bound.
async fn refused_eventually(store: &SessionStore, token: &str) {
    let started = Instant::now();
    while store.lookup(token).await.expect("lookup").is_some() {
        assert!(started.elapsed() < EVENTUALLY, "never refused");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep_until((started + stats(store).bound).into()).await;
    for _ in 0..20 {
        assert!(store.lookup(token).await.expect("lookup").is_none());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
