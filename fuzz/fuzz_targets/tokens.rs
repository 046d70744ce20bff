//! Token parsing: `TokenFormat::accepts`, `looks_like_api_key`, checksums and
//! `Hashing::digest`, on arbitrary bytes; and the store's promise that a token it does not
//! accept costs no query (its pool is closed, so any query would be an error).
//!
//! Run: `fuzz/run.sh tokens 600` (see fuzz/README.md).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sqlx_sessions::{
    CHECKSUM_LENGTH, MAX_TOKEN_LENGTH, MIN_TOKEN_LENGTH, checksum, looks_like_api_key,
};
use sqlx_sessions::{Hashing, SessionStore, TokenFormat};

struct Fixture {
    rt: tokio::runtime::Runtime,
    plain: SessionStore,
    keys: SessionStore,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (plain, keys) = rt.block_on(async {
            let pool = sqlx_sessions::sqlx::SqlitePool::connect("sqlite::memory:")
                .await
                .unwrap();
            let plain = SessionStore::builder(pool.clone()).build().unwrap();
            let keys = SessionStore::builder(pool.clone())
                .table("api_keys")
                .token_prefix("fz_sk_")
                .token_length(24)
                .build()
                .unwrap();
            pool.close().await;
            (plain, keys)
        });
        Fixture { rt, plain, keys }
    })
}

fn is_alphabet(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    // The bytes as an extractor would hand them over: exact text, or lossy text.
    let text = String::from_utf8_lossy(data);
    let candidates: Vec<&str> = match std::str::from_utf8(data) {
        Ok(exact) => vec![exact],
        Err(_) => vec![&text],
    };
    for s in candidates {
        let plain = TokenFormat::plain(64).unwrap();
        let expected = !s.is_empty() && s.len() <= MAX_TOKEN_LENGTH && is_alphabet(s);
        assert_eq!(plain.accepts(s), expected);

        let format = TokenFormat::prefixed("fz_sk_", 24).unwrap();
        let accepted = format.accepts(s);
        if accepted {
            assert_eq!(s.len(), "fz_sk_".len() + 24 + CHECKSUM_LENGTH);
            assert!(looks_like_api_key(s, "fz_sk_"));
            let (body, sum) = s.split_at(s.len() - CHECKSUM_LENGTH);
            assert_eq!(checksum(body.as_bytes()), sum);
        }
        if looks_like_api_key(s, "fz_sk_") {
            assert!(s.is_ascii() && s.len() >= "fz_sk_".len() + MIN_TOKEN_LENGTH + CHECKSUM_LENGTH);
        }
        // A prefix made from the input itself.
        let split = s
            .char_indices()
            .nth(s.chars().count() / 3)
            .map_or(0, |(i, _)| i);
        let _ = looks_like_api_key(&s[split..], &s[..split]);

        let sum = checksum(s.as_bytes());
        assert!(sum.len() == CHECKSUM_LENGTH && sum.bytes().all(|b| b.is_ascii_alphanumeric()));

        // Digests: never a panic; the right size; deterministic; empty is an error.
        let salt = data.get(..data.len().min(7));
        for hashing in Hashing::ALL {
            for salt in [None, salt] {
                match hashing.digest(salt, s) {
                    Ok(d) => {
                        assert!(!s.is_empty());
                        assert_eq!(hashing.digest(salt, s).unwrap(), d);
                        if hashing == Hashing::None {
                            assert_eq!(d, s.as_bytes());
                        } else {
                            assert!(matches!(d.len(), 20 | 28 | 32 | 48 | 64));
                        }
                    }
                    Err(_) => assert!(
                        s.is_empty()
                            || (hashing == Hashing::None && salt.is_some())
                            || (hashing == Hashing::HmacSha256 && salt.is_none())
                    ),
                }
            }
        }

        // The store: a refused token is `Ok(None)` with no query; an accepted one reaches
        // the (closed) database and fails there.
        for store in [&f.plain, &f.keys] {
            let result = f.rt.block_on(store.lookup(s));
            if store.token_format().accepts(s) {
                assert!(result.unwrap_err().is_database());
            } else {
                assert!(result.unwrap().is_none());
            }
        }
    }
});
