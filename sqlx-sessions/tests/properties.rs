//! Property tests: token generation and format checks, digests, the extension rule through
//! a real store, and filter building with arbitrary names and values. Case counts are
//! bounded so the normal test run stays fast; `PROPTEST_CASES` raises them for a long run.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use sqlx_sessions::{CHECKSUM_LENGTH, MAX_TOKEN_LENGTH, checksum, looks_like_api_key};
use sqlx_sessions::{
    Error, Filter, GetOptions, Hashing, ManualClock, NewSession, SessionStore, Status, TokenFormat,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// Cases for the pure properties, and for those that go through a database.
fn cases(default: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

fn is_alphabet(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn prefix() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_]{1,16}"
}

/// Strings that are often near the token alphabet, sometimes far from it.
fn candidate() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_-]{0,80}",
        ".{0,80}",
        "[A-Za-z0-9_+/=. \\x00-]{0,80}",
        any::<Vec<u8>>().prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

/// Salts without NUL: HMAC pads a short key with zero bytes, so `k` and `k\0` are the
/// same HMAC key (a property of HMAC, not of this crate).
const SALT: &str = "[^\\x00]{1,32}";

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn plain_tokens_have_their_length_and_alphabet(length in 22usize..=1024) {
        let format = TokenFormat::plain(length).unwrap();
        let token = format.generate().unwrap();
        prop_assert_eq!(token.expose().len(), length);
        prop_assert!(is_alphabet(token.expose()));
        prop_assert!(format.accepts(token.expose()));
        let other = format.generate().unwrap();
        prop_assert_ne!(other.expose(), token.expose());
    }

    #[test]
    fn lengths_outside_the_bounds_are_refused(length in prop_oneof![0usize..22, 1025usize..100_000]) {
        let refused = |r: Result<TokenFormat, Error>| {
            matches!(r, Err(Error::Config { setting: "token_length", .. }))
        };
        prop_assert!(refused(TokenFormat::plain(length)));
        prop_assert!(refused(TokenFormat::prefixed("sk_", length)));
    }

    #[test]
    fn api_keys_carry_their_prefix_and_a_valid_checksum(prefix in prefix(), length in 22usize..=128) {
        let format = TokenFormat::prefixed(&prefix, length).unwrap();
        let key = format.generate().unwrap();
        let key = key.expose();
        prop_assert!(key.starts_with(&prefix));
        prop_assert_eq!(key.len(), prefix.len() + length + CHECKSUM_LENGTH);
        prop_assert!(format.accepts(key));
        prop_assert!(looks_like_api_key(key, &prefix));
        let (body, sum) = key.split_at(key.len() - CHECKSUM_LENGTH);
        prop_assert_eq!(checksum(body.as_bytes()), sum);
    }

    #[test]
    fn any_one_character_change_of_an_api_key_is_refused(
        length in 22usize..=64,
        at in any::<prop::sample::Index>(),
        with in any::<char>(),
    ) {
        let format = TokenFormat::prefixed("demo_sk_", length).unwrap();
        let key = format.generate().unwrap().into_string();
        let i = at.index(key.len());
        let mut changed: String = key[..i].to_owned();
        changed.push(with);
        changed.push_str(&key[i + 1..]);
        prop_assume!(changed != key);
        prop_assert!(!format.accepts(&changed), "{changed}");
        prop_assert!(!looks_like_api_key(&changed, "demo_sk_"));
    }

    #[test]
    fn plain_acceptance_is_exactly_the_alphabet_and_bounds(s in candidate()) {
        let format = TokenFormat::plain(64).unwrap();
        let expected = !s.is_empty() && s.len() <= MAX_TOKEN_LENGTH && is_alphabet(&s);
        prop_assert_eq!(format.accepts(&s), expected);
    }

    #[test]
    fn arbitrary_text_is_never_an_api_key(prefix in prefix(), s in candidate()) {
        let format = TokenFormat::prefixed(&prefix, 32).unwrap();
        let candidate = format!("{prefix}{s}");
        // Random text passes the 32-bit checksum about once in four billion tries; if it
        // ever does here, the shape checks must still hold.
        if format.accepts(&candidate) {
            prop_assert_eq!(candidate.len(), prefix.len() + 32 + CHECKSUM_LENGTH);
            prop_assert!(is_alphabet(&candidate[prefix.len()..]));
        }
        if looks_like_api_key(&candidate, &prefix) {
            prop_assert!(candidate.is_ascii());
        }
        prop_assert!(!looks_like_api_key(&s, "no_such_prefix_"));
    }

    #[test]
    fn checksums_are_six_base62_characters(bytes in any::<Vec<u8>>()) {
        let sum = checksum(&bytes);
        prop_assert_eq!(sum.len(), CHECKSUM_LENGTH);
        prop_assert!(sum.bytes().all(|b| b.is_ascii_alphanumeric()));
        prop_assert_eq!(checksum(&bytes), sum);
    }

    #[test]
    fn digests_have_the_size_of_their_algorithm(token in ".{1,200}", salt in proptest::option::of(".{1,40}")) {
        for hashing in Hashing::ALL {
            let salt_bytes = salt.as_deref().map(str::as_bytes);
            let result = hashing.digest_text(salt_bytes, &token);
            let text = match (hashing, salt_bytes) {
                (Hashing::None, Some(_)) | (Hashing::HmacSha256, None) => {
                    let config = matches!(result, Err(Error::Config { .. }));
                    prop_assert!(config);
                    continue;
                }
                _ => result.unwrap(),
            };
            let expected_hex = match hashing {
                Hashing::Sha1 | Hashing::Ripemd160 => 40,
                Hashing::Sha224 | Hashing::Sha3_224 => 56,
                Hashing::Sha256 | Hashing::Sha3_256 | Hashing::Blake2s | Hashing::HmacSha256 => 64,
                Hashing::Sha384 | Hashing::Sha3_384 => 96,
                Hashing::Sha512 | Hashing::Sha3_512 | Hashing::Blake2b => 128,
                Hashing::None => {
                    prop_assert_eq!(&text, &token);
                    continue;
                }
                other => panic!("an algorithm without a known size: {other}"),
            };
            prop_assert_eq!(text.len(), expected_hex, "{}", hashing);
            prop_assert!(text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            // Deterministic.
            prop_assert_eq!(hashing.digest_text(salt_bytes, &token).unwrap(), text);
        }
    }

    #[test]
    fn a_salt_changes_every_digest(token in "[A-Za-z0-9_-]{1,64}", a in SALT, b in SALT) {
        prop_assume!(a != b);
        for hashing in Hashing::ALL.into_iter().filter(|h| *h != Hashing::None) {
            let with_a = hashing.digest(Some(a.as_bytes()), &token).unwrap();
            prop_assert_ne!(&with_a, &hashing.digest(Some(b.as_bytes()), &token).unwrap());
            if hashing != Hashing::HmacSha256 {
                prop_assert_ne!(&with_a, &hashing.digest(None, &token).unwrap());
            }
        }
    }

    #[test]
    fn empty_tokens_have_no_digest(salt in proptest::option::of(".{1,8}")) {
        for hashing in Hashing::ALL {
            prop_assert!(matches!(
                hashing.digest(salt.as_deref().map(str::as_bytes), ""),
                Err(Error::InvalidToken(_))
            ));
        }
    }

    #[test]
    fn hashing_names_parse_back_and_nothing_else_panics(s in ".{0,20}") {
        for hashing in Hashing::ALL {
            prop_assert_eq!(hashing.name().parse::<Hashing>().unwrap(), hashing);
            prop_assert_eq!(hashing.name().to_uppercase().parse::<Hashing>().unwrap(), hashing);
        }
        if let Ok(h) = s.parse::<Hashing>() {
            prop_assert_eq!(h.name(), s.trim().to_ascii_lowercase().replace('-', "_"));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Through a real store (SQLite files; the same statements run on PostgreSQL in the suite).
// ---------------------------------------------------------------------------------------

const T0: OffsetDateTime = datetime!(2030-01-01 0:00 UTC);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn sqlite_pool(dir: &tempfile::TempDir) -> sqlx::SqlitePool {
    let path = dir.path().join("props.db");
    let options = sqlx_sessions::PoolOptions::new().max_connections(2);
    match sqlx_sessions::Pool::connect_with(path.to_str().unwrap(), &options).await {
        Ok(sqlx_sessions::Pool::Sqlite(pool)) => pool,
        other => panic!("not a SQLite pool: {other:?}"),
    }
}

/// The extension rule as the design states it, written again independently.
struct Model {
    ttl: i64,
    stale: i64,
    max: Option<i64>,
    expires: i64,
}

impl Model {
    fn new(ttl: i64, stale: i64, max: Option<i64>) -> Self {
        let expires = max.map_or(ttl, |m| ttl.min(m));
        Model {
            ttl,
            stale,
            max,
            expires,
        }
    }

    /// The expiry after a lookup at `now` (seconds after creation), or `None` when invalid.
    fn lookup(&mut self, now: i64) -> Option<i64> {
        if now >= self.expires || self.max.is_some_and(|m| now >= m) {
            return None;
        }
        if now + self.ttl > self.expires + self.stale {
            let next = self.max.map_or(now + self.ttl, |m| (now + self.ttl).min(m));
            self.expires = self.expires.max(next);
        }
        Some(self.expires)
    }
}

#[test]
fn the_extension_rule_through_a_real_store() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let pool = rt.block_on(sqlite_pool(&dir));
    let strategy = (2i64..200_000)
        .prop_flat_map(|ttl| {
            (
                Just(ttl),
                0..ttl,
                proptest::option::of(1i64..400_000),
                proptest::collection::vec(0..ttl * 3 / 2, 1..8),
            )
        })
        .boxed();
    let mut runner = TestRunner::new(cases(128));
    let table = std::cell::Cell::new(0u32);
    runner
        .run(&strategy, |(ttl, stale, max, steps)| {
            table.set(table.get() + 1);
            rt.block_on(async {
                let clock = ManualClock::new(T0);
                let store = SessionStore::builder(pool.clone())
                    .table(format!("ext_{}", table.get()))
                    .clock(clock.clone())
                    .ttl(Some(Duration::seconds(ttl)))
                    .extend_stale_time(Some(Duration::seconds(stale)))
                    .max_lifetime(max.map(Duration::seconds))
                    .build()
                    .unwrap();
                store.migrate().await.unwrap();
                let c = store
                    .create(NewSession::new().extra("user_id", "p"))
                    .await
                    .unwrap();
                let mut model = Model::new(ttl, stale, max);
                assert_eq!(
                    c.session.expires_at,
                    Some(T0 + Duration::seconds(model.expires))
                );
                let mut now = 0;
                for step in steps {
                    now += step;
                    clock.set(T0 + Duration::seconds(now));
                    let expected = model.lookup(now).map(|e| T0 + Duration::seconds(e));
                    let found = store.lookup(c.token.expose()).await.unwrap();
                    prop_assert_eq!(found.and_then(|s| s.expires_at), expected, "at {}", now);
                    // The database agrees with what the lookup returned.
                    let stored = store
                        .get_with(
                            &Filter::new().id(c.session.id).status(Status::All),
                            GetOptions::extend(false),
                        )
                        .await
                        .unwrap()
                        .and_then(|s| s.expires_at);
                    prop_assert_eq!(stored, Some(T0 + Duration::seconds(model.expires)));
                }
                store.migrate_down().await.unwrap();
                Ok(())
            })
        })
        .unwrap();
}

#[test]
fn filters_refuse_undeclared_columns_and_take_any_value_as_data() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let pool = rt.block_on(sqlite_pool(&dir));
    let store = SessionStore::builder(pool).build().unwrap();
    rt.block_on(async {
        store.migrate().await.unwrap();
        for user in ["alice", "bob", "", "%", "' OR 1=1 --"] {
            store
                .create(NewSession::new().extra("user_id", user))
                .await
                .unwrap();
        }
    });
    let baseline = 5;
    let strategy = (
        prop_oneof![".{0,40}", "[a-z_]{1,10}", Just("user_id".to_owned())],
        prop_oneof![candidate(), any::<String>()],
        any::<String>(),
    );
    let mut runner = TestRunner::new(cases(256));
    runner
        .run(&strategy, |(column, value, data)| {
            rt.block_on(async {
                let filter = Filter::new().eq(column.as_str(), value.as_str());
                if column != "user_id" {
                    let unknown = |r: Result<_, Error>| matches!(r, Err(Error::UnknownColumn(c)) if c == column);
                    prop_assert!(unknown(store.list(&filter).await.map(|_| ())));
                    prop_assert!(unknown(store.count(&filter).await.map(|_| ())));
                    prop_assert!(unknown(store.delete_all(&filter).await.map(|_| ())));
                    prop_assert!(unknown(store.expire_all(&filter).await.map(|_| ())));
                    prop_assert!(unknown(
                        store
                            .create(NewSession::new().extra("user_id", "x").extra(column.as_str(), "x"))
                            .await
                            .map(|_| ())
                    ));
                    return Ok(());
                }
                // NUL is refused alike on every database (PostgreSQL text cannot hold it).
                if value.contains('\0') || data.contains('\0') {
                    let nul = |r: Result<_, Error>| matches!(r, Err(Error::InvalidValue { .. }));
                    let json = serde_json::json!({ "v": value, (data.clone()): [data] });
                    prop_assert!(nul(store
                        .create(NewSession::new().extra("user_id", value.as_str()).data(json))
                        .await
                        .map(|_| ())));
                    return Ok(());
                }
                // Values are data: a row with exactly this value is found by it, and only it.
                let before = store.count(&filter).await.unwrap();
                let json = serde_json::json!({ "v": value, (data.clone()): [data] });
                let c = store
                    .create(NewSession::new().extra("user_id", value.as_str()).data(json.clone()))
                    .await
                    .unwrap();
                let found = store.list(&filter).await.unwrap();
                prop_assert_eq!(found.len() as u64, before + 1);
                prop_assert!(found.iter().all(|s| s.extra_str("user_id") == Some(value.as_str())));
                let s = store.lookup(c.token.expose()).await.unwrap().unwrap();
                prop_assert_eq!(s.data.value(), json);
                // An arbitrary token in a bulk delete deletes nothing.
                let by_token = Filter::new().token(value.as_str()).status(Status::All);
                prop_assert!(store.delete_all(&by_token).await.unwrap().is_empty());
                let deleted = store.delete(c.session.id).await.unwrap();
                prop_assert!(deleted);
                let total = store.count(&Filter::new().status(Status::All)).await.unwrap();
                prop_assert_eq!(total, baseline);
                Ok(())
            })
        })
        .unwrap();
}
