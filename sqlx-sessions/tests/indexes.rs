//! Index names on tables whose names are as long as the databases allow: every expected
//! index exists after `migrate()`, and the queries a store runs use them (`EXPLAIN` on
//! PostgreSQL, `EXPLAIN QUERY PLAN` on SQLite).

use sqlx::Row as _;
use sqlx_sessions::Pool;
use sqlx_sessions_test_support::{TestDb, backend_tests};

/// The columns the store indexes by default (`user_id` is the default extra column).
const INDEXED: [&str; 3] = ["auth_token_digest", "expires_at", "user_id"];

/// `(index name, definition)` of every index on `table` but the primary key's.
async fn indexes(db: &TestDb, table: &str) -> Vec<(String, String)> {
    match db.pool() {
        Pool::Sqlite(pool) => sqlx::query(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
        )
        .bind(table)
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect(),
        #[cfg(feature = "postgres")]
        Pool::Postgres(pool) => sqlx::query(
            "SELECT indexname::text, indexdef FROM pg_indexes WHERE tablename = $1 AND indexdef NOT LIKE '%(id)'",
        )
        .bind(table)
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect(),
        #[cfg(feature = "mysql")]
        Pool::Mysql(pool) => sqlx::query(
            "SELECT CAST(index_name AS CHAR), CAST(CONCAT(IF(MIN(non_unique) = 0, 'UNIQUE ', ''), \
             '(', GROUP_CONCAT(column_name ORDER BY seq_in_index), ')') AS CHAR) \
             FROM information_schema.statistics WHERE table_schema = DATABASE() \
             AND table_name = ? AND index_name <> 'PRIMARY' GROUP BY index_name",
        )
        .bind(table)
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect(),
        other => panic!("no index query for {other:?}"),
    }
}

/// The plan of `SELECT id FROM table WHERE <condition>`, as one text.
async fn plan(db: &TestDb, table: &str, condition: &str) -> String {
    match db.pool() {
        Pool::Sqlite(pool) => {
            let sql = format!("EXPLAIN QUERY PLAN SELECT id FROM \"{table}\" WHERE {condition}");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>("detail"))
                .collect::<Vec<_>>()
                .join("\n")
        }
        #[cfg(feature = "postgres")]
        Pool::Postgres(pool) => {
            // An empty table is cheaper to scan than to search: ask for the index plan.
            let mut conn = pool.acquire().await.unwrap();
            sqlx::query("SET enable_seqscan = off")
                .execute(&mut *conn)
                .await
                .unwrap();
            let sql = format!("EXPLAIN SELECT id FROM \"{table}\" WHERE {condition}");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(&mut *conn)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>(0))
                .collect::<Vec<_>>()
                .join("\n")
        }
        // The indexes the optimizer can use (an empty table may need none at all).
        #[cfg(feature = "mysql")]
        Pool::Mysql(pool) => {
            let sql = format!("EXPLAIN SELECT id FROM `{table}` WHERE {condition}");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await
                .unwrap()
                .iter()
                .map(|r| {
                    r.try_get::<Option<String>, _>("possible_keys")
                        .ok()
                        .flatten()
                        .unwrap_or_default()
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
        other => panic!("no query plan for {other:?}"),
    }
}

async fn long_table_names_keep_every_index(db: TestDb) {
    for len in [62, 63] {
        let table = format!("s{}", "x".repeat(len - 1));
        let store = db.builder().table(table.clone()).build().unwrap();
        store.migrate().await.unwrap();
        store.migrate().await.unwrap(); // idempotent
        let found = indexes(&db, &table).await;
        assert_eq!(found.len(), INDEXED.len(), "{len}: {found:?}");
        for column in INDEXED {
            let (name, def) = found
                .iter()
                .find(|(_, def)| {
                    def.contains(&format!("({column})"))
                        || def.contains(&format!("(`{column}`)"))
                        || def.contains(&format!("(\"{column}\")"))
                })
                .unwrap_or_else(|| panic!("{len}: no index on {column}: {found:?}"));
            assert!(name.len() <= 63 && *name != table, "{len}: {name}");
            assert_eq!(
                def.to_ascii_uppercase().contains("UNIQUE"),
                column == "auth_token_digest",
                "{def}"
            );
            let condition = match column {
                "auth_token_digest" if db.is_postgres() => "auth_token_digest = '\\x00'::bytea",
                // A range: MySQL reads an equality on a unique key of an empty table as a
                // constant and names no index.
                "auth_token_digest" if db.is_mysql() => "auth_token_digest > x'00'",
                "auth_token_digest" => "auth_token_digest = x'00'",
                "expires_at" if db.is_postgres() || db.is_mysql() => "expires_at <= now()",
                "expires_at" => "expires_at <= 5",
                _ => "user_id = 'u'",
            };
            let plan = plan(&db, &table, condition).await;
            assert!(
                plan.contains(name.as_str()),
                "{len}: {condition} does not use {name}:\n{plan}"
            );
        }
        let names: std::collections::HashSet<_> = found.iter().map(|(n, _)| n).collect();
        assert_eq!(names.len(), INDEXED.len(), "distinct names");
        // The store works on it, through the unique index.
        let c = store
            .create(sqlx_sessions::NewSession::new().extra("user_id", "u"))
            .await
            .unwrap();
        assert!(store.lookup(c.token.expose()).await.unwrap().is_some());
    }
}

async fn short_table_names_keep_their_index_names(db: TestDb) {
    let store = db.builder().build().unwrap();
    store.migrate().await.unwrap();
    let mut names: Vec<_> = indexes(&db, "sessions")
        .await
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "sessions_auth_token_digest_index",
            "sessions_expires_at_index",
            "sessions_user_id_index"
        ]
    );
}

backend_tests!(
    long_table_names_keep_every_index,
    short_table_names_keep_their_index_names,
);
