//! The table check and the stored digests, on SQLite and (with `PG_TEST_URL`) PostgreSQL.

use sqlx_sessions::{
    ColumnType, Error, ExtraColumn, Hashing, NewSession, Pool, SessionStore, StoreBuilder,
};

/// A database for one test: a fresh SQLite file, or the PostgreSQL server with a table name
/// no other test uses.
struct Target {
    pool: Pool,
    table: String,
    _dir: Option<tempfile::TempDir>,
}

impl Target {
    async fn sqlite() -> Target {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("inspect.db");
        Target {
            pool: Pool::connect(path.to_str().unwrap()).await.expect("sqlite"),
            table: "sessions".into(),
            _dir: Some(dir),
        }
    }

    async fn postgres() -> Option<Target> {
        let Ok(url) = std::env::var("PG_TEST_URL") else {
            assert!(
                !std::env::var("CI").is_ok_and(|v| v == "true" || v == "1"),
                "PG_TEST_URL is required in CI"
            );
            eprintln!("skipped: PG_TEST_URL is not set");
            return None;
        };
        Some(Target {
            pool: Pool::connect(&url).await.expect("postgres"),
            table: format!("inspect_{}", uuid::Uuid::new_v4().simple()),
            _dir: None,
        })
    }

    fn builder(&self) -> StoreBuilder {
        SessionStore::builder(self.pool.clone()).table(self.table.clone())
    }

    async fn exec(&self, sql: &str) {
        let sql = sqlx::AssertSqlSafe(sql.replace("$table", &self.table));
        match &self.pool {
            Pool::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
            Pool::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
            other => panic!("no raw SQL for {other:?}"),
        }
        .expect("exec");
    }

    async fn drop_table(&self) {
        self.exec("DROP TABLE IF EXISTS $table").await;
    }
}

/// Runs `body` on SQLite, then on PostgreSQL when configured.
macro_rules! on_each_database {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                super::$name(&super::Target::sqlite().await).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                if let Some(t) = super::Target::postgres().await {
                    super::$name(&t).await;
                    t.drop_table().await;
                }
            })*
        }
    };
}

on_each_database!(
    a_missing_table_is_named,
    a_migrated_table_fits,
    a_missing_column_is_named,
    a_column_of_another_type_is_named,
    stored_digests_are_the_digests_of_the_tokens,
    digests_are_refused_under_hashing_none,
);

fn mismatch(err: Error) -> (String, Option<String>, String) {
    let text = err.to_string();
    match err {
        Error::TableMismatch { table, column, .. } => (table, column, text),
        other => panic!("not a table mismatch: {other:?}"),
    }
}

async fn a_missing_table_is_named(t: &Target) {
    let store = t.builder().build().expect("store");
    let (table, column, text) = mismatch(store.check_table().await.unwrap_err());
    assert_eq!(table, t.table);
    assert_eq!(column, None);
    assert!(text.contains(&format!("`{}`", t.table)), "{text}");
}

async fn a_migrated_table_fits(t: &Target) {
    let store = t
        .builder()
        .extra_column(ExtraColumn::text("user_id").indexed())
        .extra_column(ExtraColumn::new("tenant", ColumnType::Integer).optional())
        .track_last_used(time::Duration::minutes(5))
        .track_authentication()
        .build()
        .expect("store");
    store.migrate().await.expect("migrate");
    store
        .check_table()
        .await
        .expect("the store's own table fits");
}

async fn a_missing_column_is_named(t: &Target) {
    t.builder()
        .build()
        .expect("store")
        .migrate()
        .await
        .expect("migrate");
    // An extra column the table lacks.
    let store = t
        .builder()
        .extra_column(ExtraColumn::text("user_id"))
        .extra_column(ExtraColumn::text("tenant"))
        .build()
        .expect("store");
    let (_, column, text) = mismatch(store.check_table().await.unwrap_err());
    assert_eq!(column.as_deref(), Some("tenant"));
    assert!(text.contains("no column `tenant`"), "{text}");
    // An optional column of the store's own that the table lacks.
    let store = t.builder().track_authentication().build().expect("store");
    let (_, column, _) = mismatch(store.check_table().await.unwrap_err());
    assert_eq!(column.as_deref(), Some("authenticated_at"));
}

async fn a_column_of_another_type_is_named(t: &Target) {
    let store = t
        .builder()
        .extra_column(ExtraColumn::new("user_id", ColumnType::Integer))
        .build()
        .expect("store");
    store.migrate().await.expect("migrate");
    store.check_table().await.expect("fits as migrated");
    // The same table read by a store that declares the column as text.
    let text_store = t.builder().build().expect("store");
    let (_, column, text) = mismatch(text_store.check_table().await.unwrap_err());
    assert_eq!(column.as_deref(), Some("user_id"));
    assert!(text.contains("column `user_id` is `"), "{text}");
}

async fn stored_digests_are_the_digests_of_the_tokens(t: &Target) {
    let store = t.builder().build().expect("store");
    store.migrate().await.expect("migrate");
    let mut created = Vec::new();
    for user in ["1", "2", "3"] {
        created.push(
            store
                .create(NewSession::new().extra("user_id", user))
                .await
                .expect("create"),
        );
    }
    let unknown = uuid::Uuid::new_v4();
    let ids: Vec<_> = created[..2]
        .iter()
        .map(|c| c.session.id)
        .chain([unknown])
        .collect();
    let digests = store.stored_digests(&ids).await.expect("digests");
    assert_eq!(digests.len(), 2, "{digests:?}");
    for c in &created[..2] {
        let expected = store.digest_hex(c.token.expose()).expect("digest");
        assert_eq!(digests.get(&c.session.id), Some(&expected));
        assert_ne!(expected, c.token.expose());
    }
    assert!(!digests.contains_key(&created[2].session.id));
    assert!(!digests.contains_key(&unknown));
    assert!(store.stored_digests(&[]).await.expect("none").is_empty());
}

async fn digests_are_refused_under_hashing_none(t: &Target) {
    let store = t.builder().hashing(Hashing::None).build().expect("store");
    store.migrate().await.expect("migrate");
    let created = store
        .create(NewSession::new().extra("user_id", "1"))
        .await
        .expect("create");
    let err = store
        .stored_digests(&[created.session.id])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Refused(_)), "{err:?}");
    assert!(!err.to_string().contains(created.token.expose()));
    let err = store.digest_hex(created.token.expose()).unwrap_err();
    assert!(matches!(err, Error::Refused(_)), "{err:?}");
}
