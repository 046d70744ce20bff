//! The axum integration's token sources: `Cookie`, `X-Auth-Token` and
//! `Authorization: Bearer` headers built from arbitrary bytes, read by
//! `SessionAuth::token_from` (the pure function the extractor and the layer call).
//!
//! Input format: lines `name:value` (split at the first `:`); a name byte below 4 picks one
//! of the three token headers, so the fuzzer reaches them quickly.
//!
//! Run: `fuzz/run.sh headers 600` (see fuzz/README.md).
#![no_main]

use std::sync::OnceLock;

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use sqlx_sessions::SessionStore;
use sqlx_sessions::axum::{MAX_TOKEN_BYTES, SessionAuth, TokenSource};

struct Fixture {
    _rt: tokio::runtime::Runtime,
    auths: Vec<SessionAuth>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let auths = rt.block_on(async {
            let pool = sqlx_sessions::sqlx::SqlitePool::connect("sqlite::memory:")
                .await
                .unwrap();
            let store = SessionStore::builder(pool).build().unwrap();
            let auth = SessionAuth::new(store);
            vec![
                auth.clone(),
                auth.clone()
                    .sources([TokenSource::Bearer, TokenSource::Cookie]),
                auth.clone()
                    .cookie_name("sid")
                    .sources([TokenSource::Cookie, TokenSource::x_auth_token()]),
                auth.sources([]),
            ]
        });
        Fixture { _rt: rt, auths }
    })
}

const KNOWN: [&str; 4] = ["cookie", "x-auth-token", "authorization", "cookie"];

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let mut headers = HeaderMap::new();
    for line in data.split(|&b| b == b'\n') {
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &b""[..]),
        };
        let name = match name {
            [b] if *b < 4 => HeaderName::from_static(KNOWN[*b as usize]),
            _ => match HeaderName::from_bytes(name) {
                Ok(n) => n,
                Err(_) => continue,
            },
        };
        let Ok(value) = HeaderValue::from_bytes(value) else {
            continue;
        };
        headers.append(name, value);
    }
    for (i, auth) in f.auths.iter().enumerate() {
        let Some(token) = auth.token_from(&headers) else {
            continue;
        };
        assert!(i != 3, "no sources accept nothing");
        assert!(!token.is_empty());
        assert!(token.len() <= MAX_TOKEN_BYTES);
        assert!(!token.bytes().any(|b| b.is_ascii_whitespace()));
        // The token is part of one of the headers it may come from.
        let from_a_source = ["cookie", "x-auth-token", "authorization"]
            .iter()
            .any(|name| {
                headers
                    .get_all(*name)
                    .iter()
                    .any(|v| v.to_str().is_ok_and(|v| v.contains(token)))
            });
        assert!(from_a_source);
        // Deterministic.
        assert_eq!(auth.token_from(&headers), Some(token));
    }
});
