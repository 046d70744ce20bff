//! Schema evolution on every database: `migrate` on a table made by the previous release
//! with new options on, what it refuses (and that a refusal changes nothing), the record of
//! migrations, and foreign keys on an owner column (deleting a user deletes their
//! sessions).

use serde_json::json;
use sqlx_sessions::{
    ColumnType, Error, ExtraColumn, Filter, NewSession, Pool, SessionStore, StoreBuilder,
};
use sqlx_sessions_test_support::{TestDb, backend_tests};
use time::Duration;

const SALT: &str = "an-evolution-test-salt-of-32-bytes-or-more";

/// The store of the previous release: the default columns only.
fn old_store(db: &TestDb) -> StoreBuilder {
    db.builder().token_prefix("app_").secret_salt(SALT)
}

/// Creates the table exactly as the previous release did: its DDL, without the record of
/// migrations (which it did not have).
async fn create_as_previous_release(db: &TestDb, old: &SessionStore) {
    let record = format!("{}_migrations", old.spec().table());
    for sql in old.migration().up {
        if !sql.contains(&record) {
            db.exec(&sql).await;
        }
    }
}

/// The descriptions in the record of `table`'s migrations, in the order applied.
async fn recorded(db: &TestDb, table: &str) -> Vec<String> {
    let column = if db.is_mysql() {
        "CAST(description AS CHAR)"
    } else {
        "description"
    };
    db.texts(&format!(
        "SELECT {column} FROM {table}_migrations ORDER BY applied_at, position"
    ))
    .await
}

fn mismatch(err: Error) -> (Option<String>, String) {
    match err {
        Error::TableMismatch { column, reason, .. } => (column, reason),
        other => panic!("expected a table mismatch, got {other}"),
    }
}

async fn a_table_of_the_previous_release_gains_the_new_options(db: TestDb) {
    let old = old_store(&db).build().unwrap();
    create_as_previous_release(&db, &old).await;
    let mut tokens = Vec::new();
    for i in 0..3 {
        let c = old
            .create(
                NewSession::new()
                    .extra("user_id", format!("u{i}"))
                    .data(json!({"i": i})),
            )
            .await
            .unwrap();
        tokens.push(c.token.expose().to_owned());
    }

    let new = old_store(&db)
        .extra_column(ExtraColumn::text("user_id").indexed())
        .extra_column(ExtraColumn::text("device").optional().indexed())
        .track_last_used(Duration::ZERO)
        .track_authentication()
        .store_token_hint()
        .track_salt()
        .per_session_ttl()
        .build()
        .unwrap();
    // Before: the check names the first missing column, and the plan lists every change.
    let (column, reason) = mismatch(new.check_table().await.unwrap_err());
    assert_eq!(column.as_deref(), Some("last_used_at"), "{reason}");
    let pending = new.pending_migration().await.unwrap();
    assert_eq!(pending.len(), 7, "{pending:#?}");
    assert!(
        pending
            .iter()
            .all(|s| s.starts_with("ALTER TABLE") || s.starts_with("CREATE INDEX"))
    );

    new.migrate().await.unwrap();
    new.check_table()
        .await
        .expect("the table fits the new spec");
    assert!(new.pending_migration().await.unwrap().is_empty());
    assert_eq!(
        recorded(&db, "sessions").await,
        [
            "add column last_used_at",
            "add column authenticated_at",
            "add column token_hint",
            "add column salt_id",
            "add column ttl_seconds",
            "add column device",
            "add index sessions_device_index",
        ]
    );

    // The old rows are still valid, with their data and owners, and the new columns work
    // on them.
    for (i, token) in tokens.iter().enumerate() {
        let found = new.lookup(token).await.unwrap().expect("an old session");
        assert_eq!(found.data.value(), json!({"i": i}));
        assert_eq!(found.extra_str("user_id"), Some(format!("u{i}").as_str()));
        assert!(found.extra("device").unwrap().is_null());
        assert!(found.ttl.is_none() && found.token_hint.is_none());
        assert!(found.last_used_at.is_some(), "lookups now track use");
    }
    // Rows written before salt tracking count as on a previous salt.
    assert_eq!(new.count_on_previous_salts().await.unwrap(), 3);
    let fresh = new
        .create(
            NewSession::new()
                .extra("user_id", "u9")
                .extra("device", "phone")
                .ttl(Duration::days(30)),
        )
        .await
        .unwrap();
    assert_eq!(fresh.session.ttl, Some(Duration::days(30)));
    assert!(
        fresh
            .session
            .token_hint
            .as_deref()
            .unwrap()
            .starts_with("app_")
    );
    assert_eq!(
        new.count(&Filter::new().eq("device", "phone"))
            .await
            .unwrap(),
        1
    );
    // The old store still works beside it (it reads the columns it knows).
    assert!(old.lookup(fresh.token.expose()).await.unwrap().is_some());

    // Idempotent: a second migration applies and records nothing.
    new.migrate().await.unwrap();
    assert_eq!(recorded(&db, "sessions").await.len(), 7);
}

async fn a_new_table_is_created_and_recorded_as_its_migration_says(db: TestDb) {
    let store = db.builder().table("fresh").build().unwrap();
    let pending = store.pending_migration().await.unwrap();
    let migration = store.migration();
    // The table's statements, then the record: `migration()` is the plan plus what every
    // migration runs, and `down` drops all of it.
    assert!(!pending.is_empty());
    assert!(migration.up.starts_with(&pending), "{migration:#?}");
    assert!(migration.up.last().unwrap().contains("fresh_migrations"));
    assert!(migration.down.last().unwrap().contains("fresh_migrations"));
    store.migrate().await.unwrap();
    assert_eq!(recorded(&db, "fresh").await, vec!["create"; pending.len()]);
    let sql = if db.is_mysql() {
        "SELECT CAST(sql_text AS CHAR) FROM fresh_migrations ORDER BY position"
    } else {
        "SELECT sql_text FROM fresh_migrations ORDER BY position"
    };
    assert_eq!(db.texts(sql).await, pending);
    store.migrate_down().await.unwrap();
    let missing = store.check_table().await.unwrap_err();
    assert!(
        matches!(missing, Error::TableMismatch { column: None, .. }),
        "{missing}"
    );
    // The record went with it: the next migration starts a new one.
    store.migrate().await.unwrap();
    assert_eq!(recorded(&db, "fresh").await.len(), pending.len());
}

async fn what_cannot_be_done_safely_is_refused_and_changes_nothing(db: TestDb) {
    let old = old_store(&db).build().unwrap();
    create_as_previous_release(&db, &old).await;
    old.create(NewSession::new().extra("user_id", "7"))
        .await
        .unwrap();

    // A type change: `user_id` is text in the table.
    let typed = old_store(&db)
        .extra_column(ExtraColumn::new("user_id", ColumnType::Integer))
        .per_session_ttl()
        .build()
        .unwrap();
    let (column, reason) = mismatch(typed.migrate().await.unwrap_err());
    assert_eq!(column.as_deref(), Some("user_id"));
    assert!(
        reason.contains("does not change a column's type"),
        "{reason}"
    );
    // Nothing ran: `ttl_seconds`, planned before the refusal, is still missing.
    let (column, _) = mismatch(
        old_store(&db)
            .per_session_ttl()
            .build()
            .unwrap()
            .check_table()
            .await
            .unwrap_err(),
    );
    assert_eq!(column.as_deref(), Some("ttl_seconds"));

    // A required column without a default on a table that has rows.
    let required = old_store(&db)
        .extra_column(ExtraColumn::text("user_id").indexed())
        .extra_column(ExtraColumn::text("tenant"))
        .build()
        .unwrap();
    let (column, reason) = mismatch(required.migrate().await.unwrap_err());
    assert_eq!(column.as_deref(), Some("tenant"));
    assert!(reason.contains("NOT NULL"), "{reason}");
    // Declared optional, it is added.
    let optional = old_store(&db)
        .extra_column(ExtraColumn::text("user_id").indexed())
        .extra_column(ExtraColumn::text("tenant").optional())
        .build()
        .unwrap();
    optional.migrate().await.unwrap();
    optional.check_table().await.unwrap();

    // On an empty table a required column is added where the database can (not SQLite).
    let empty = db.builder().table("empty").build().unwrap();
    empty.migrate().await.unwrap();
    let grown = db
        .builder()
        .table("empty")
        .extra_column(ExtraColumn::text("user_id").indexed())
        .extra_column(ExtraColumn::new("tenant", ColumnType::Integer))
        .build()
        .unwrap();
    match grown.migrate().await {
        Ok(()) => {
            assert!(!matches!(db.pool(), Pool::Sqlite(_)));
            grown.check_table().await.unwrap();
        }
        Err(e) => {
            assert!(matches!(db.pool(), Pool::Sqlite(_)), "{e}");
            let (column, reason) = mismatch(e);
            assert_eq!(column.as_deref(), Some("tenant"));
            assert!(reason.contains("SQLite"), "{reason}");
        }
    }
}

/// The users table the sessions point to: the same DDL on every database.
async fn users(db: &TestDb, ids: &[i64]) {
    db.exec("CREATE TABLE users (id BIGINT PRIMARY KEY)").await;
    for id in ids {
        db.exec(&format!("INSERT INTO users (id) VALUES ({id})"))
            .await;
    }
}

fn owned_by_users(db: &TestDb) -> StoreBuilder {
    db.builder().extra_column(
        ExtraColumn::new("user_id", ColumnType::Integer)
            .indexed()
            .references("users", "id"),
    )
}

async fn deleting_a_user_deletes_their_sessions(db: TestDb) {
    users(&db, &[1, 2]).await;
    let store = owned_by_users(&db).build().unwrap();
    store.migrate().await.unwrap();
    let of = |user: i64| {
        let store = store.clone();
        async move {
            store
                .create(NewSession::new().extra("user_id", user))
                .await
                .map(|c| c.token.expose().to_owned())
        }
    };
    let first = [of(1).await.unwrap(), of(1).await.unwrap()];
    let second = of(2).await.unwrap();
    // No such user: the database refuses the session.
    let err = of(3).await.unwrap_err();
    assert!(err.is_database(), "{err}");

    db.exec("DELETE FROM users WHERE id = 1").await;
    for token in &first {
        assert!(store.lookup(token).await.unwrap().is_none());
    }
    assert!(store.lookup(&second).await.unwrap().is_some());
    assert_eq!(store.count(&Filter::new()).await.unwrap(), 1);
    assert_eq!(
        store.count(&Filter::new().eq("user_id", 1)).await.unwrap(),
        0
    );
}

async fn a_foreign_key_is_added_to_an_existing_table_where_the_database_can(db: TestDb) {
    users(&db, &[5]).await;
    let old = db
        .builder()
        .extra_column(ExtraColumn::new("user_id", ColumnType::Integer).indexed())
        .build()
        .unwrap();
    old.migrate().await.unwrap();
    let kept = old
        .create(NewSession::new().extra("user_id", 5))
        .await
        .unwrap();
    let new = owned_by_users(&db).build().unwrap();
    match new.migrate().await {
        Err(e) => {
            // SQLite's ALTER TABLE adds no constraint to an existing column.
            assert!(matches!(db.pool(), Pool::Sqlite(_)), "{e}");
            let (column, reason) = mismatch(e);
            assert_eq!(column.as_deref(), Some("user_id"));
            assert!(reason.contains("foreign key"), "{reason}");
        }
        Ok(()) => {
            assert!(!matches!(db.pool(), Pool::Sqlite(_)));
            assert_eq!(
                recorded(&db, "sessions").await.last().map(String::as_str),
                Some("add foreign key user_id")
            );
            db.exec("DELETE FROM users WHERE id = 5").await;
            assert!(new.lookup(kept.token.expose()).await.unwrap().is_none());
        }
    }
    // A new optional owner column gets its foreign key with it, everywhere.
    let grown = owned_by_users(&db)
        .table("grown")
        .no_extra_columns()
        .build()
        .unwrap();
    grown.migrate().await.unwrap();
    let with_owner = db
        .builder()
        .table("grown")
        .extra_column(
            ExtraColumn::new("user_id", ColumnType::Integer)
                .optional()
                .references("users", "id"),
        )
        .build()
        .unwrap();
    with_owner.migrate().await.unwrap();
    db.exec("INSERT INTO users (id) VALUES (6)").await;
    let owned = with_owner
        .create(NewSession::new().extra("user_id", 6))
        .await
        .unwrap();
    db.exec("DELETE FROM users WHERE id = 6").await;
    assert!(
        with_owner
            .lookup(owned.token.expose())
            .await
            .unwrap()
            .is_none()
    );
}

async fn foreign_key_names_are_checked_and_mysql_refuses_text_keys(db: TestDb) {
    let bad = db
        .builder()
        .extra_column(
            ExtraColumn::new("user_id", ColumnType::Integer).references("users; --", "id"),
        )
        .build()
        .unwrap_err();
    assert!(
        matches!(
            bad,
            Error::Config {
                setting: "references",
                ..
            }
        ),
        "{bad}"
    );
    let text = db
        .builder()
        .extra_column(ExtraColumn::text("user_id").references("users", "id"))
        .build();
    match (db.is_mysql(), text) {
        (true, Err(Error::Config { setting, reason })) => {
            assert_eq!(setting, "references");
            assert!(reason.contains("BLOB"), "{reason}");
        }
        (false, Ok(_)) => {}
        (mysql, other) => panic!("mysql: {mysql}, got {other:?}"),
    }
}

backend_tests!(
    a_table_of_the_previous_release_gains_the_new_options,
    a_new_table_is_created_and_recorded_as_its_migration_says,
    what_cannot_be_done_safely_is_refused_and_changes_nothing,
    deleting_a_user_deletes_their_sessions,
    a_foreign_key_is_added_to_an_existing_table_where_the_database_can,
    foreign_key_names_are_checked_and_mysql_refuses_text_keys,
);

/// SQLite enforces foreign keys only on connections with `PRAGMA foreign_keys = ON`: a
/// store with a foreign key refuses to migrate on a pool without it, instead of keeping
/// sessions of deleted users.
#[tokio::test]
async fn sqlite_refuses_foreign_keys_on_a_pool_without_them() {
    let db = TestDb::sqlite().await;
    let options = db
        .url()
        .parse::<sqlx::sqlite::SqliteConnectOptions>()
        .unwrap()
        .create_if_missing(true)
        .foreign_keys(false);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    sqlx::query("CREATE TABLE users (id BIGINT PRIMARY KEY)")
        .execute(&pool)
        .await
        .unwrap();
    let store = SessionStore::builder(pool.clone())
        .extra_column(ExtraColumn::new("user_id", ColumnType::Integer).references("users", "id"))
        .build()
        .unwrap();
    let err = store.migrate().await.unwrap_err();
    assert!(
        matches!(&err, Error::Config { setting: "references", reason } if reason.contains("foreign_keys")),
        "{err}"
    );
    // The pool's default (sqlx's, and `Pool::connect`'s) has them on.
    let on = SessionStore::builder(db.pool().clone())
        .extra_column(ExtraColumn::new("user_id", ColumnType::Integer).references("users", "id"))
        .build()
        .unwrap();
    on.migrate().await.unwrap();
    pool.close().await;
}
