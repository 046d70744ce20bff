//! The shared suite: every test runs on a fresh SQLite file and a fresh PostgreSQL database.

use sqlx_sessions::{
    Clock, ColumnType, Error, ExtraColumn, Filter, ManualClock, NewSession, SessionStore, Status,
};
use sqlx_sessions_test_support::{TestDb, backend_tests};
use time::Duration;
use time::macros::datetime;

fn clock() -> ManualClock {
    ManualClock::new(datetime!(2030-01-01 12:00:00.123456 UTC))
}

async fn store(db: &TestDb, clock: &ManualClock) -> SessionStore {
    let store = db.builder().clock(clock.clone()).build().unwrap();
    store.migrate().await.unwrap();
    store
}

async fn create_lookup_and_attributes(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    let created = store
        .create(
            NewSession::new()
                .extra("user_id", "u1")
                .data(serde_json::json!({"user_agent": "Firefox", "ip": "127.0.0.1"})),
        )
        .await
        .unwrap();
    assert_eq!(created.token.expose().len(), 64);
    let s = &created.session;
    assert_eq!(s.inserted_at, clock.now());
    assert_eq!(s.expires_at, Some(clock.now() + Duration::days(7)));
    let found = store.lookup(created.token.expose()).await.unwrap().unwrap();
    assert_eq!(found.id, s.id);
    assert_eq!(found.extra_str("user_id"), Some("u1"));
    assert_eq!(found.data.get_str("user_agent").as_deref(), Some("Firefox"));
    // Microseconds survive the round trip on both databases.
    assert_eq!(found.inserted_at, s.inserted_at);
    assert_eq!(found.inserted_at.microsecond(), 123_456);
    assert_eq!(found.expires_at, s.expires_at);
    assert!(!found.is_expired);
    let by_id = store.get(&Filter::new().id(s.id)).await.unwrap().unwrap();
    assert_eq!(by_id.id, s.id);
    let by_token = store
        .get(&Filter::new().token(created.token.expose()))
        .await
        .unwrap();
    assert_eq!(by_token.map(|s| s.id), Some(s.id));
}

async fn unknown_missing_and_malformed_tokens_find_nothing(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    store
        .create(NewSession::new().extra("user_id", "u1"))
        .await
        .unwrap();
    let unknown = "A".repeat(64);
    for token in [
        "",
        " ",
        unknown.as_str(),
        "abc'; DROP TABLE sessions; --",
        "with\0nul",
        "ü-not-ascii-ü",
        &"x".repeat(1_000_000),
    ] {
        assert!(store.lookup(token).await.unwrap().is_none(), "{token:.20}");
    }
    assert_eq!(
        store
            .count(&Filter::new().status(Status::All))
            .await
            .unwrap(),
        1
    );
}

async fn required_and_undeclared_columns(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    assert!(matches!(
        store.create(NewSession::new()).await,
        Err(Error::MissingColumn(c)) if c == "user_id"
    ));
    assert!(matches!(
        store.create(NewSession::new().extra("user_id", "u").extra("role", "x")).await,
        Err(Error::UnknownColumn(c)) if c == "role"
    ));
    assert!(matches!(
        store
            .list(&Filter::new().eq("user_id\" OR 1=1 --", "x"))
            .await,
        Err(Error::UnknownColumn(_))
    ));
    assert!(matches!(
        store.count(&Filter::new().eq("password", "x")).await,
        Err(Error::UnknownColumn(_))
    ));
    assert!(matches!(
        store.delete_all(&Filter::new().eq("nope", "x")).await,
        Err(Error::UnknownColumn(_))
    ));
    // Values with SQL metacharacters are data, never SQL.
    let sly = "u' OR '1'='1";
    store
        .create(NewSession::new().extra("user_id", sly))
        .await
        .unwrap();
    store
        .create(NewSession::new().extra("user_id", "other"))
        .await
        .unwrap();
    let found = store.list(&Filter::new().eq("user_id", sly)).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].extra_str("user_id"), Some(sly));
}

async fn list_count_status_and_order(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let c = store
            .create(NewSession::new().extra("user_id", if i < 4 { "a" } else { "b" }))
            .await
            .unwrap();
        ids.push(c.session.id);
        clock.advance(Duration::seconds(1));
    }
    assert!(store.expire(ids[1]).await.unwrap());
    assert!(!store.expire(ids[1]).await.unwrap(), "already expired");
    clock.advance(Duration::seconds(1));
    let all = store
        .list(&Filter::new().eq("user_id", "a").status(Status::All))
        .await
        .unwrap();
    let listed: Vec<_> = all.iter().map(|s| s.id).collect();
    assert_eq!(listed, vec![ids[3], ids[2], ids[1], ids[0]], "newest first");
    assert_eq!(all.iter().filter(|s| s.is_expired).count(), 1);
    assert!(all[2].is_expired);
    let valid = Filter::new().eq("user_id", "a");
    assert_eq!(store.count(&valid).await.unwrap(), 3);
    assert_eq!(
        store
            .count(&valid.clone().status(Status::Expired))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .count(&Filter::new().status(Status::All))
            .await
            .unwrap(),
        5
    );
    let page = store.list(&valid.clone().limit(2).offset(1)).await.unwrap();
    assert_eq!(
        page.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![ids[2], ids[0]]
    );
    assert!(
        store.count(&valid.limit(1)).await.is_err(),
        "count takes no limit"
    );
}

async fn expire_delete_and_sign_out_everywhere(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    let mut tokens = Vec::new();
    for user in ["a", "a", "a", "b"] {
        tokens.push(
            store
                .create(NewSession::new().extra("user_id", user))
                .await
                .unwrap(),
        );
    }
    let current = tokens[0].session.id;
    // Sign out other devices: everything of `a` but the current session.
    let revoked = store
        .delete_all(&Filter::new().eq("user_id", "a").except_id(current))
        .await
        .unwrap();
    assert_eq!(revoked.len(), 2);
    assert!(
        revoked
            .iter()
            .all(|s| s.extra_str("user_id") == Some("a") && s.id != current)
    );
    let left = store
        .list(&Filter::new().eq("user_id", "a").status(Status::All))
        .await
        .unwrap();
    assert_eq!(left.iter().map(|s| s.id).collect::<Vec<_>>(), vec![current]);
    // Expire-all returns what it expired; the token then finds nothing.
    let expired = store
        .expire_all(&Filter::new().eq("user_id", "a"))
        .await
        .unwrap();
    assert_eq!(expired.len(), 1);
    assert!(expired[0].is_expired);
    assert!(
        store
            .lookup(tokens[0].token.expose())
            .await
            .unwrap()
            .is_none()
    );
    // Delete works whatever the status, once.
    assert!(store.delete(current).await.unwrap());
    assert!(!store.delete(current).await.unwrap());
    assert!(
        store
            .lookup(tokens[3].token.expose())
            .await
            .unwrap()
            .is_some()
    );
    // Deleting by token.
    let gone = store
        .delete_all(&Filter::new().token(tokens[3].token.expose()))
        .await
        .unwrap();
    assert_eq!(gone.len(), 1);
    assert_eq!(
        store
            .count(&Filter::new().status(Status::All))
            .await
            .unwrap(),
        0
    );
}

async fn explicit_expiry_and_never_expiring(db: TestDb) {
    let clock = clock();
    // The default absolute timeout caps "never" at 30 days after creation.
    let capped = store(&db, &clock).await;
    let c = capped
        .create(NewSession::new().extra("user_id", "u").expires_at(None))
        .await
        .unwrap();
    assert_eq!(c.session.expires_at, Some(clock.now() + Duration::days(30)));
    // Lifted explicitly, a session can never expire.
    let store = db
        .builder()
        .clock(clock.clone())
        .max_lifetime(None)
        .build()
        .unwrap();
    let at = clock.now() + Duration::minutes(5);
    let short = store
        .create(NewSession::new().extra("user_id", "u").expires_at(Some(at)))
        .await
        .unwrap();
    let forever = store
        .create(NewSession::new().extra("user_id", "u").expires_at(None))
        .await
        .unwrap();
    assert_eq!(forever.session.expires_at, None);
    clock.advance(Duration::days(3650));
    assert!(store.lookup(short.token.expose()).await.unwrap().is_none());
    let f = store.lookup(forever.token.expose()).await.unwrap().unwrap();
    assert_eq!(
        f.expires_at, None,
        "a never-expiring session is not given an expiry"
    );
}

async fn two_stores_side_by_side(db: TestDb) {
    let clock = clock();
    let sessions = store(&db, &clock).await;
    let keys = db
        .builder()
        .table("api_keys")
        .token_prefix("demo_sk_")
        .extra_column(ExtraColumn::text("user_id").indexed())
        .extra_column(ExtraColumn::new("scope", ColumnType::Text).optional())
        .extra_column(ExtraColumn::new("project", ColumnType::Integer).indexed())
        .ttl(None)
        .clock(clock.clone())
        .build()
        .unwrap();
    keys.migrate().await.unwrap();
    let s = sessions
        .create(NewSession::new().extra("user_id", "u"))
        .await
        .unwrap();
    let k = keys
        .create(
            NewSession::new()
                .extra("user_id", "u")
                .extra("project", "7"),
        )
        .await
        .unwrap();
    assert!(k.token.expose().starts_with("demo_sk_"));
    assert_eq!(k.session.extra("project").and_then(|v| v.as_i64()), Some(7));
    assert!(k.session.extra("scope").unwrap().is_null());
    // Each token only works in its own store.
    assert!(sessions.lookup(k.token.expose()).await.unwrap().is_none());
    assert!(keys.lookup(s.token.expose()).await.unwrap().is_none());
    assert!(keys.lookup(k.token.expose()).await.unwrap().is_some());
    assert_eq!(
        keys.count(&Filter::new().eq("project", 7)).await.unwrap(),
        1
    );
    assert!(matches!(
        keys.count(&Filter::new().eq("project", "seven")).await,
        Err(Error::InvalidValue { .. })
    ));
    sessions.migrate_down().await.unwrap();
    assert!(keys.lookup(k.token.expose()).await.unwrap().is_some());
}

async fn migrations_are_idempotent_and_printable(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    // SQLite quotes names with grave accents (a double-quoted unknown name is a string there).
    let up = store.migration().up_sql().replace('`', "\"");
    assert!(up.contains("CREATE TABLE IF NOT EXISTS \"sessions\""));
    // MySQL 8 has no CREATE INDEX IF NOT EXISTS: its indexes are part of CREATE TABLE.
    let unique = if db.is_mysql() {
        "UNIQUE KEY \"sessions_auth_token_digest_index\""
    } else {
        "CREATE UNIQUE INDEX IF NOT EXISTS \"sessions_auth_token_digest_index\""
    };
    assert!(up.contains(unique));
    assert!(up.contains("\"sessions_expires_at_index\""));
    assert!(up.contains("\"sessions_user_id_index\""));
    let c = store
        .create(NewSession::new().extra("user_id", "u"))
        .await
        .unwrap();
    store.migrate_down().await.unwrap();
    store.migrate_down().await.unwrap();
    assert!(
        store
            .lookup(c.token.expose())
            .await
            .unwrap_err()
            .is_database()
    );
    store.migrate().await.unwrap();
    assert!(store.lookup(c.token.expose()).await.unwrap().is_none());
}

async fn no_plaintext_token_is_stored_or_shown(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    let mut tokens = Vec::new();
    for _ in 0..20 {
        let c = store
            .create(NewSession::new().extra("user_id", "u"))
            .await
            .unwrap();
        assert!(!format!("{c:?}").contains(c.token.expose()));
        let s = store.lookup(c.token.expose()).await.unwrap().unwrap();
        assert!(!format!("{s:?}").contains(c.token.expose()));
        assert!(
            !serde_json::to_string(&s)
                .unwrap()
                .contains(c.token.expose())
        );
        tokens.push(c.token);
    }
    let dump = db.dump(&["sessions"]).await;
    assert!(dump.len() > 100);
    for t in &tokens {
        assert!(!dump.contains(t.expose()));
        assert!(!dump.contains(&t.expose()[..24]));
    }
}

async fn malformed_tokens_cost_no_query(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    let c = store
        .create(NewSession::new().extra("user_id", "u"))
        .await
        .unwrap();
    // With the pool closed, any query fails: so an Ok(None) proves no query was made.
    db.close().await;
    for bad in ["", "has space", "é", "a\"b", &"z".repeat(2_000)] {
        assert!(store.lookup(bad).await.unwrap().is_none());
        assert!(
            store
                .get(&Filter::new().token(bad))
                .await
                .unwrap()
                .is_none()
        );
    }
    assert!(
        store
            .lookup(c.token.expose())
            .await
            .unwrap_err()
            .is_database()
    );
}

async fn a_store_in_its_own_schema(db: TestDb) {
    let clock = clock();
    // A MySQL schema is a database of the server: one of this test's own.
    let schema = db.schema_name("auth");
    let in_schema = db.builder().schema(&schema).clock(clock.clone()).build();
    if !db.is_postgres() && !db.is_mysql() {
        assert!(matches!(
            in_schema.map(|_| ()),
            Err(Error::Config {
                setting: "schema",
                ..
            })
        ));
        return;
    }
    let auth = in_schema.unwrap();
    auth.migrate().await.unwrap();
    auth.migrate().await.unwrap();
    let create = if db.is_mysql() {
        format!("CREATE DATABASE IF NOT EXISTS `{schema}`")
    } else {
        format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")
    };
    assert!(auth.migration().up_sql().contains(&create));
    let public = store(&db, &clock).await;
    let a = auth
        .create(NewSession::new().extra("user_id", "u"))
        .await
        .unwrap();
    let p = public
        .create(NewSession::new().extra("user_id", "u"))
        .await
        .unwrap();
    assert!(auth.lookup(a.token.expose()).await.unwrap().is_some());
    assert!(auth.lookup(p.token.expose()).await.unwrap().is_none());
    assert!(public.lookup(a.token.expose()).await.unwrap().is_none());
    let count = |table: &str| format!("SELECT COUNT(*) FROM {table}");
    assert_eq!(db.scalar(&count(&format!("{schema}.sessions"))).await, 1);
    let default = if db.is_mysql() {
        "sessions"
    } else {
        "public.sessions"
    };
    assert_eq!(db.scalar(&count(default)).await, 1);
    // Names are validated, never pasted into SQL as given.
    let bad = db.builder().schema("auth\"; DROP TABLE x; --").build();
    assert!(matches!(
        bad.map(|_| ()),
        Err(Error::Config {
            setting: "schema",
            ..
        })
    ));
    let bad = db.builder().table("Sessions").build();
    assert!(matches!(
        bad.map(|_| ()),
        Err(Error::Config {
            setting: "table",
            ..
        })
    ));
}

async fn a_declared_column_missing_from_the_table_is_an_error_not_a_string(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    store
        .create(NewSession::new().extra("user_id", "u"))
        .await
        .unwrap();
    // A store declaring `tenant` on a table created without it (schema drift).
    let drifted = db
        .builder()
        .extra_column(ExtraColumn::text("user_id").indexed())
        .extra_column(ExtraColumn::text("tenant").optional())
        .clock(clock.clone())
        .build()
        .unwrap();
    let err = drifted
        .delete_all(&Filter::new().eq("tenant", "tenant"))
        .await
        .unwrap_err();
    assert!(err.is_database(), "{err:?}");
    assert!(
        drifted
            .count(&Filter::new().eq("tenant", "tenant"))
            .await
            .is_err()
    );
    assert_eq!(
        store
            .count(&Filter::new().status(Status::All))
            .await
            .unwrap(),
        1
    );
}

async fn distinct_values_and_creation_range(db: TestDb) {
    let clock = clock();
    let store = store(&db, &clock).await;
    assert_eq!(store.inserted_range(&Filter::new()).await.unwrap(), None);
    let first = clock.now();
    for user in ["a", "b", "a", "c"] {
        store
            .create(NewSession::new().extra("user_id", user))
            .await
            .unwrap();
        clock.advance(Duration::minutes(1));
    }
    let c = store
        .list(&Filter::new().eq("user_id", "c"))
        .await
        .unwrap()
        .remove(0);
    store.expire(c.id).await.unwrap();
    let all = Filter::new().status(Status::All);
    assert_eq!(store.count_distinct("user_id", &all).await.unwrap(), 3);
    assert_eq!(
        store
            .count_distinct("user_id", &Filter::new())
            .await
            .unwrap(),
        2
    );
    assert!(matches!(
        store.count_distinct("nope", &all).await,
        Err(Error::UnknownColumn(_))
    ));
    let (oldest, newest) = store.inserted_range(&all).await.unwrap().unwrap();
    assert_eq!(oldest, first);
    assert_eq!(newest, first + Duration::minutes(3));
    let (_, newest_valid) = store.inserted_range(&Filter::new()).await.unwrap().unwrap();
    assert_eq!(newest_valid, first + Duration::minutes(2));
}

/// `Display` carries the database's own message, not just "database error", and the
/// cause is still the error's `source`.
async fn a_database_error_displays_the_databases_message(db: TestDb) {
    let store = db.builder().table("never_migrated").build().unwrap();
    let err = store
        .create(NewSession::new().extra("user_id", "u1"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Database(_)), "{err:?}");
    let cause = std::error::Error::source(&err)
        .expect("a database error has a source")
        .to_string();
    let shown = err.to_string();
    let expected = if db.is_postgres() {
        "relation \"never_migrated\" does not exist"
    } else if db.is_mysql() {
        "never_migrated' doesn't exist"
    } else {
        "no such table: never_migrated"
    };
    assert!(cause.contains(expected), "{cause}");
    assert!(shown.starts_with("database error: "), "{shown}");
    assert!(shown.contains(expected), "{shown}");
    // The chain shows the cause once, not twice.
    assert_eq!(
        sqlx_sessions::error_chain(&err).matches(expected).count(),
        1
    );
}

backend_tests!(
    a_database_error_displays_the_databases_message,
    distinct_values_and_creation_range,
    a_declared_column_missing_from_the_table_is_an_error_not_a_string,
    a_store_in_its_own_schema,
    create_lookup_and_attributes,
    unknown_missing_and_malformed_tokens_find_nothing,
    required_and_undeclared_columns,
    list_count_status_and_order,
    expire_delete_and_sign_out_everywhere,
    explicit_expiry_and_never_expiring,
    two_stores_side_by_side,
    migrations_are_idempotent_and_printable,
    no_plaintext_token_is_stored_or_shown,
    malformed_tokens_cost_no_query,
);
