//! Beyond ecto_sessions: API-key tokens, salt rotation, HMAC, absolute lifetime, activity,
//! freshness, revocation that reports, and adopting an ecto_sessions table.

use sqlx_sessions::{
    Clock, Error, Filter, GetOptions, Hashing, ManualClock, NewSession, SessionStore, Status,
};
use sqlx_sessions_test_support::{Backend, TestDb, backend_tests};
use time::Duration;
use time::macros::datetime;

fn clock() -> ManualClock {
    ManualClock::new(datetime!(2032-02-02 10:00 UTC))
}

async fn close(db: &TestDb) {
    db.close().await;
}

async fn api_keys_are_checked_before_any_query(db: TestDb) {
    let clock = clock();
    let keys = db
        .builder()
        .table("api_keys")
        .token_prefix("myapp_sk_")
        .token_length(32)
        .store_token_hint()
        .ttl(None)
        .clock(clock.clone())
        .build()
        .unwrap();
    keys.migrate().await.unwrap();
    let k = keys
        .create(NewSession::new().extra("user_id", "u"))
        .await
        .unwrap();
    let key = k.token.expose().to_owned();
    let hint = k.session.token_hint.clone().unwrap();
    assert_eq!(hint, key[..13]);
    assert!(hint.starts_with("myapp_sk_"));
    let listed = keys.list(&Filter::new()).await.unwrap();
    assert_eq!(listed[0].token_hint.as_deref(), Some(hint.as_str()));
    assert!(
        !db.dump(&["api_keys"]).await.contains(&key[..20]),
        "only the hint is kept"
    );
    assert!(keys.lookup(&key).await.unwrap().is_some());
    // An unknown key of the right shape is looked up; corrupted ones never are.
    let mut other = sqlx_sessions::TokenFormat::prefixed("myapp_sk_", 32)
        .unwrap()
        .generate()
        .unwrap()
        .into_string();
    assert!(keys.lookup(&other).await.unwrap().is_none());
    close(&db).await;
    assert!(
        keys.lookup(&other).await.unwrap_err().is_database(),
        "well-formed: queried"
    );
    other.replace_range(20..21, if &other[20..21] == "A" { "B" } else { "A" });
    let mut corrupted = vec![
        other,
        key.replacen("myapp_sk_", "myapp_pk_", 1),
        key[..key.len() - 1].to_owned(),
    ];
    for i in 0..key.len() {
        let mut b = key.clone().into_bytes();
        b[i] = if b[i] == b'x' { b'y' } else { b'x' };
        corrupted.push(String::from_utf8(b).unwrap());
    }
    for bad in corrupted {
        assert!(keys.lookup(&bad).await.unwrap().is_none(), "{bad}");
    }
}

// Salts and keys of at least 32 bytes, as a store requires.
const SALT_A: &str = "salt-a-long-enough-for-a-secret-salt";
const SALT_B: &str = "salt-b-long-enough-for-a-secret-salt";
const SALT_C: &str = "salt-c-long-enough-for-a-secret-salt";
const KEY_ONE: &str = "key-one-long-enough-for-an-hmac-key";
const KEY_TWO: &str = "key-two-long-enough-for-an-hmac-key";

async fn three_salts_after_two_rotations(db: TestDb) {
    let clock = clock();
    let with = |salt: &str, previous: &[&str]| {
        db.builder()
            .clock(clock.clone())
            .secret_salt(salt)
            .previous_salts(previous.iter().copied())
            .track_salt()
            .build()
            .unwrap()
    };
    let a = with(SALT_A, &[]);
    a.migrate().await.unwrap();
    let t1 = a
        .create(NewSession::new().extra("user_id", "1"))
        .await
        .unwrap();
    let b = with(SALT_B, &[SALT_A]);
    let t2 = b
        .create(NewSession::new().extra("user_id", "2"))
        .await
        .unwrap();
    let c = with(SALT_C, &[SALT_B, SALT_A]);
    let t3 = c
        .create(NewSession::new().extra("user_id", "3"))
        .await
        .unwrap();
    assert_eq!(c.count_on_previous_salts().await.unwrap(), 2);
    // Store `a` no longer finds a token issued under salt-c.
    assert!(a.lookup(t3.token.expose()).await.unwrap().is_none());
    for (t, user) in [(&t1, "1"), (&t2, "2"), (&t3, "3")] {
        let s = c
            .lookup(t.token.expose())
            .await
            .unwrap()
            .expect("found under its salt");
        assert_eq!(s.extra_str("user_id"), Some(user));
    }
    // Found rows were re-digested: nothing is left on old salts, and the newest store
    // without previous salts still finds every session.
    assert_eq!(c.count_on_previous_salts().await.unwrap(), 0);
    let only_c = with(SALT_C, &[]);
    for t in [&t1, &t2, &t3] {
        assert!(only_c.lookup(t.token.expose()).await.unwrap().is_some());
    }
    assert!(matches!(
        a.count_on_previous_salts().await.map(|_| ()),
        Ok(())
    ));
    let untracked = db.builder().clock(clock.clone()).build().unwrap();
    assert!(matches!(
        untracked.count_on_previous_salts().await,
        Err(Error::Unsupported {
            column: "salt_id",
            ..
        })
    ));
}

async fn hmac_keys_rotate_too(db: TestDb) {
    let clock = clock();
    let k1 = db
        .builder()
        .table("hmac_sessions")
        .hashing(Hashing::HmacSha256)
        .secret_salt(KEY_ONE)
        .clock(clock.clone())
        .build()
        .unwrap();
    k1.migrate().await.unwrap();
    let t = k1
        .create(NewSession::new().extra("user_id", "u"))
        .await
        .unwrap();
    assert_eq!(
        k1.digest_hex(t.token.expose()).unwrap(),
        Hashing::HmacSha256
            .digest_text(Some(KEY_ONE.as_bytes()), t.token.expose())
            .unwrap()
    );
    let k2 = db
        .builder()
        .table("hmac_sessions")
        .hashing(Hashing::HmacSha256)
        .secret_salt(KEY_TWO)
        .previous_salts([KEY_ONE])
        .clock(clock.clone())
        .build()
        .unwrap();
    assert!(k2.lookup(t.token.expose()).await.unwrap().is_some());
    let k2_only = db
        .builder()
        .table("hmac_sessions")
        .hashing(Hashing::HmacSha256)
        .secret_salt(KEY_TWO)
        .clock(clock.clone())
        .build()
        .unwrap();
    assert!(
        k2_only.lookup(t.token.expose()).await.unwrap().is_some(),
        "re-digested under key-two"
    );
    assert!(k1.lookup(t.token.expose()).await.unwrap().is_none());
}

async fn max_lifetime_cannot_be_passed(db: TestDb) {
    let clock = clock();
    let store = db
        .builder()
        .clock(clock.clone())
        .ttl(Some(Duration::hours(2)))
        .extend_stale_time(Some(Duration::ZERO))
        .max_lifetime(Some(Duration::hours(10)))
        .build()
        .unwrap();
    store.migrate().await.unwrap();
    let c = store
        .create(NewSession::new().extra("user_id", "u"))
        .await
        .unwrap();
    let limit = c.session.inserted_at + Duration::hours(10);
    let mut last_seen = c.session.inserted_at;
    loop {
        clock.advance(Duration::minutes(30));
        match store.lookup(c.token.expose()).await.unwrap() {
            Some(s) => {
                assert!(s.expires_at.unwrap() <= limit);
                last_seen = clock.now();
            }
            None => break,
        }
    }
    assert!(last_seen < limit);
    assert!(clock.now() >= limit);
    // An explicit expiry beyond the limit is capped too.
    let far = store
        .create(
            NewSession::new()
                .extra("user_id", "u")
                .expires_at(Some(clock.now() + Duration::days(99))),
        )
        .await
        .unwrap();
    assert_eq!(
        far.session.expires_at,
        Some(clock.now() + Duration::hours(10))
    );
}

async fn last_used_at_written_once_per_touch_interval(db: TestDb) {
    let clock = clock();
    let store = db
        .builder()
        .clock(clock.clone())
        .track_last_used(Duration::hours(1))
        .build()
        .unwrap();
    store.migrate().await.unwrap();
    let c = store
        .create(NewSession::new().extra("user_id", "u"))
        .await
        .unwrap();
    assert_eq!(c.session.last_used_at, None);
    clock.advance(Duration::seconds(1));
    let first_use = clock.now();
    for _ in 0..1_000 {
        let s = store.lookup(c.token.expose()).await.unwrap().unwrap();
        assert_eq!(s.last_used_at, Some(first_use));
        clock.advance(Duration::seconds(3));
    }
    let read = |store: SessionStore| async move {
        store
            .get_with(
                &Filter::new().status(Status::All),
                GetOptions::extend(false),
            )
            .await
            .unwrap()
            .unwrap()
    };
    let s = read(store.clone()).await;
    // One write in 1,000 lookups: updated_at is the first use.
    assert_eq!(s.updated_at, first_use);
    assert_eq!(s.last_used_at, Some(first_use));
    clock.advance(Duration::hours(1));
    let s = store.lookup(c.token.expose()).await.unwrap().unwrap();
    assert_eq!(s.last_used_at, Some(clock.now()));
    let listed = store.list(&Filter::new()).await.unwrap();
    assert_eq!(listed[0].last_used_at, Some(clock.now()));
}

async fn freshness_and_reauthentication(db: TestDb) {
    let clock = clock();
    let plain = db.builder().clock(clock.clone()).build().unwrap();
    plain.migrate().await.unwrap();
    let p = plain
        .create(NewSession::new().extra("user_id", "u"))
        .await
        .unwrap();
    assert_eq!(p.session.authenticated_at(), p.session.inserted_at);
    assert!(matches!(
        plain.mark_authenticated(p.session.id).await,
        Err(Error::Unsupported {
            column: "authenticated_at",
            ..
        })
    ));
    let store = db
        .builder()
        .table("fresh_sessions")
        .clock(clock.clone())
        .track_authentication()
        .build()
        .unwrap();
    store.migrate().await.unwrap();
    let c = store
        .create(NewSession::new().extra("user_id", "u"))
        .await
        .unwrap();
    assert!(store.is_fresh(&c.session, Duration::minutes(5)));
    clock.advance(Duration::minutes(30));
    let s = store.lookup(c.token.expose()).await.unwrap().unwrap();
    assert!(!store.is_fresh(&s, Duration::minutes(5)));
    let s = store.mark_authenticated(s.id).await.unwrap().unwrap();
    assert_eq!(s.authenticated_at(), clock.now());
    let s = store.lookup(c.token.expose()).await.unwrap().unwrap();
    assert!(store.is_fresh(&s, Duration::minutes(5)));
}

async fn revocation_returns_what_it_revoked(db: TestDb) {
    let clock = clock();
    let store = db.builder().clock(clock.clone()).build().unwrap();
    store.migrate().await.unwrap();
    let mut ids = Vec::new();
    for device in ["phone", "laptop", "tablet"] {
        let c = store
            .create(
                NewSession::new()
                    .extra("user_id", "alice")
                    .data(serde_json::json!({"device": device})),
            )
            .await
            .unwrap();
        ids.push(c.session.id);
    }
    store
        .create(NewSession::new().extra("user_id", "bob"))
        .await
        .unwrap();
    let expired = store
        .expire_all(&Filter::new().eq("user_id", "alice").except_id(ids[1]))
        .await
        .unwrap();
    let mut devices: Vec<_> = expired
        .iter()
        .filter_map(|s| s.data.get_str("device"))
        .collect();
    devices.sort();
    assert_eq!(devices, vec!["phone", "tablet"]);
    assert!(
        expired
            .iter()
            .all(|s| s.extra_str("user_id") == Some("alice"))
    );
    let valid = store
        .list(&Filter::new().eq("user_id", "alice"))
        .await
        .unwrap();
    assert_eq!(valid.iter().map(|s| s.id).collect::<Vec<_>>(), vec![ids[1]]);
    assert_eq!(
        store
            .count(&Filter::new().eq("user_id", "bob"))
            .await
            .unwrap(),
        1
    );
}

async fn adopts_an_ecto_sessions_table(db: TestDb) {
    // The table as ecto_sessions' migration creates it through each Ecto adapter, and a row
    // as the Elixir app writes it. Ecto's MySQL adapter (MyXQL): `binary_id` is
    // `binary(16)`, `string` `varchar(255)`, `map` `json`, `utc_datetime_usec`
    // `datetime(6)`, InnoDB. `ecto_sqlite3`: `binary_id`, `string` and `map` are `TEXT`
    // (a hyphenated UUID, JSON), `utc_datetime_usec` ISO-8601 `TEXT` with microseconds and
    // a `Z` (`DateTime.to_iso8601`).
    if db.backend() == Backend::Sqlite {
        let elixir_digest = Hashing::Sha256
            .digest_text(
                Some(b"super-secret".as_slice()),
                "elixir-issued-token-0123456789abcdefghij",
            )
            .unwrap();
        db.exec(&format!(
            "CREATE TABLE \"sessions\" (
                \"id\" TEXT PRIMARY KEY,
                \"auth_token_digest\" TEXT NOT NULL,
                \"data\" TEXT DEFAULT ('{{}}') NOT NULL,
                \"expires_at\" TEXT,
                \"user_id\" TEXT NOT NULL,
                \"inserted_at\" TEXT NOT NULL,
                \"updated_at\" TEXT NOT NULL
            );
            CREATE UNIQUE INDEX \"sessions_auth_token_digest_index\" ON \"sessions\" (\"auth_token_digest\");
            CREATE INDEX \"sessions_user_id_index\" ON \"sessions\" (\"user_id\");
            INSERT INTO sessions VALUES (
                '7c9e6679-7425-40de-944b-e07fc1f90ae7', '{elixir_digest}',
                '{{\"device\":\"phoenix\"}}', '2032-02-03T08:00:00.500000Z', 'elixir-user',
                '2032-02-02T09:00:00.000000Z', '2032-02-02T09:00:00.000000Z'
            );"
        ))
        .await;
    } else if db.is_mysql() {
        db.exec(
            "CREATE TABLE `sessions` (
                `id` binary(16),
                `auth_token_digest` varchar(255) NOT NULL,
                `data` json DEFAULT '{}' NOT NULL,
                `expires_at` datetime(6),
                `user_id` varchar(255) NOT NULL,
                `inserted_at` datetime(6) NOT NULL,
                `updated_at` datetime(6) NOT NULL,
                PRIMARY KEY (`id`)
            ) ENGINE = INNODB;
            CREATE UNIQUE INDEX `sessions_auth_token_digest_index` ON `sessions` (`auth_token_digest`);
            CREATE INDEX `sessions_user_id_index` ON `sessions` (`user_id`);
            INSERT INTO sessions VALUES (
                UNHEX(REPLACE('7c9e6679-7425-40de-944b-e07fc1f90ae7', '-', '')),
                SHA2(CONCAT('super-secret', 'elixir-issued-token-0123456789abcdefghij'), 256),
                '{\"device\": \"phoenix\"}',
                '2032-02-03 08:00:00.5', 'elixir-user', '2032-02-02 09:00:00', '2032-02-02 09:00:00'
            );",
        )
        .await;
    } else {
        db.exec(
            "CREATE TABLE sessions (
                id uuid PRIMARY KEY,
                auth_token_digest varchar(255) NOT NULL,
                data jsonb NOT NULL DEFAULT '{}',
                expires_at timestamp without time zone,
                user_id varchar(255) NOT NULL,
                inserted_at timestamp without time zone NOT NULL,
                updated_at timestamp without time zone NOT NULL
            );
            CREATE UNIQUE INDEX sessions_auth_token_digest_index ON sessions (auth_token_digest);
            CREATE INDEX sessions_user_id_index ON sessions (user_id);
            INSERT INTO sessions VALUES (
                '7c9e6679-7425-40de-944b-e07fc1f90ae7',
                encode(sha256(('super-secret' || 'elixir-issued-token-0123456789abcdefghij')::bytea), 'hex'),
                '{\"device\": \"phoenix\"}',
                '2032-02-03 08:00:00.5', 'elixir-user', '2032-02-02 09:00:00', '2032-02-02 09:00:00'
            );",
        )
        .await;
    }
    let clock = clock();
    let store = db
        .builder()
        .ecto_compat()
        // The Elixir app's short salt is accepted as a previous salt only: rows found
        // under it move onto the long one.
        .secret_salt(SALT_A)
        .previous_salts(["super-secret"])
        .ttl(Some(Duration::days(1)))
        .extend_stale_time(Some(Duration::hours(1)))
        .clock(clock.clone())
        .build()
        .unwrap();
    store.migrate().await.unwrap(); // idempotent on the existing table; adds nothing
    store.check_table().await.expect("the adopted table fits");
    let s = store
        .lookup("elixir-issued-token-0123456789abcdefghij")
        .await
        .unwrap()
        .expect("the Elixir session is found");
    assert_eq!(s.extra_str("user_id"), Some("elixir-user"));
    assert_eq!(s.data.get_str("device").as_deref(), Some("phoenix"));
    // It was due: extended to now + ttl, written as naive UTC.
    assert_eq!(s.expires_at, Some(clock.now() + Duration::days(1)));
    let (as_text, written, inserted) = match db.backend() {
        Backend::Mysql => (
            "CAST(expires_at AS CHAR)",
            "2032-02-03 10:00:00.000000",
            "2032-02-02 10:00:00",
        ),
        Backend::Postgres => (
            "expires_at::text",
            "2032-02-03 10:00:00",
            "2032-02-02 10:00:00",
        ),
        Backend::Sqlite => (
            "expires_at",
            "2032-02-03T10:00:00.000000Z",
            "2032-02-02T10:00:00.000000Z",
        ),
    };
    let stored: String = db
        .scalar_text(&format!(
            "SELECT {as_text} FROM sessions WHERE user_id = 'elixir-user'"
        ))
        .await;
    assert_eq!(stored, written);
    // Found under the short salt, the row was re-digested under the long one.
    let moved = Hashing::Sha256
        .digest_text(
            Some(SALT_A.as_bytes()),
            "elixir-issued-token-0123456789abcdefghij",
        )
        .unwrap();
    let on_long_salt = db
        .scalar(&format!(
            "SELECT COUNT(*) FROM sessions WHERE auth_token_digest = '{moved}'"
        ))
        .await;
    assert_eq!(on_long_salt, 1);
    // A session created here is what the Elixir app reads once it uses the long salt too.
    let c = store
        .create(NewSession::new().extra("user_id", "rust-user"))
        .await
        .unwrap();
    let hex = Hashing::Sha256
        .digest_text(Some(SALT_A.as_bytes()), c.token.expose())
        .unwrap();
    let found = db
        .scalar(&format!("SELECT COUNT(*) FROM sessions WHERE auth_token_digest = '{hex}' AND inserted_at = '{inserted}'"))
        .await;
    assert_eq!(found, 1);
    assert!(store.expire(s.id).await.unwrap());
    assert!(
        store
            .lookup("elixir-issued-token-0123456789abcdefghij")
            .await
            .unwrap()
            .is_none()
    );
    let columns_sql = match db.backend() {
        Backend::Sqlite => "SELECT COUNT(*) FROM pragma_table_info('sessions')",
        Backend::Mysql => {
            "SELECT COUNT(*) FROM information_schema.columns \
             WHERE table_name = 'sessions' AND table_schema = DATABASE()"
        }
        Backend::Postgres => {
            "SELECT COUNT(*) FROM information_schema.columns \
             WHERE table_name = 'sessions' AND table_schema = current_schema()"
        }
    };
    let columns = db.scalar(columns_sql).await;
    assert_eq!(columns, 7, "no column added");
    let refused = db
        .builder()
        .ecto_compat()
        .track_last_used(Duration::hours(1))
        .build();
    assert!(matches!(
        refused,
        Err(Error::Config {
            setting: "ecto_compat",
            ..
        })
    ));
}

backend_tests!(
    api_keys_are_checked_before_any_query,
    three_salts_after_two_rotations,
    hmac_keys_rotate_too,
    max_lifetime_cannot_be_passed,
    last_used_at_written_once_per_touch_interval,
    freshness_and_reauthentication,
    revocation_returns_what_it_revoked,
    adopts_an_ecto_sessions_table,
);
