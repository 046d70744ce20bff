//! Tokens, digests and settings: no database needed.

use sqlx_sessions::{Error, Hashing};
use sqlx_sessions::{Settings, TokenFormat, checksum, looks_like_api_key};

#[test]
fn digest_vectors_from_the_design() {
    assert_eq!(
        Hashing::Sha256.digest_text(None, "sample").unwrap(),
        "af2bdbe1aa9b6ec1e2ade1d694f41fc71a831d0268e9891562113d8a62add1bf"
    );
    assert_eq!(
        Hashing::Sha256
            .digest_text(Some(b"super-secret"), "sample")
            .unwrap(),
        "9b6245c496f31244d30201dcdc6afd51171a460bc19c75200f04ab48d39ebbe4"
    );
    assert!(
        Hashing::Sha512
            .digest_text(None, "sample")
            .unwrap()
            .starts_with("39a5e04aaff7455d")
    );
    assert_eq!(
        Hashing::Sha3_256.digest_text(None, "sample").unwrap(),
        "f68f564e181663381ef67ae5849d3dd1d0f1044cf468d0a0b7875e4ff121906f"
    );
}

#[test]
fn every_algorithm_has_its_output_size_and_is_lowercase_hex() {
    let expected_hex_len = |h: Hashing| match h {
        Hashing::Sha1 | Hashing::Ripemd160 => 40,
        Hashing::Sha224 | Hashing::Sha3_224 => 56,
        Hashing::Sha256 | Hashing::Sha3_256 | Hashing::Blake2s | Hashing::HmacSha256 => 64,
        Hashing::Sha384 | Hashing::Sha3_384 => 96,
        Hashing::Sha512 | Hashing::Sha3_512 | Hashing::Blake2b => 128,
        _ => 6,
    };
    let mut seen = std::collections::HashSet::new();
    for h in Hashing::ALL {
        let key: Option<&[u8]> = if h == Hashing::HmacSha256 {
            Some(b"k")
        } else {
            None
        };
        let text = h.digest_text(key, "sample").unwrap();
        assert_eq!(text.len(), expected_hex_len(h), "{h}");
        if h != Hashing::None {
            assert!(
                text.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            );
        }
        assert!(seen.insert(text), "{h} collides with another algorithm");
        assert_eq!(h.name().parse::<Hashing>().unwrap(), h);
    }
    assert_eq!(Hashing::None.digest_text(None, "sample").unwrap(), "sample");
    // Known answers for the rest of the family, from the reference implementations.
    assert_eq!(
        Hashing::Sha1.digest_text(None, "abc").unwrap(),
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
    assert_eq!(
        Hashing::Blake2s.digest_text(None, "abc").unwrap(),
        "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982"
    );
    assert_eq!(
        Hashing::Ripemd160.digest_text(None, "abc").unwrap(),
        "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc"
    );
    // RFC 4231 test case 2: HMAC-SHA256 with key "Jefe".
    assert_eq!(
        Hashing::HmacSha256
            .digest_text(Some(b"Jefe"), "what do ya want for nothing?")
            .unwrap(),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn empty_tokens_and_salt_without_hashing_are_errors() {
    assert!(matches!(
        Hashing::Sha256.digest(None, ""),
        Err(Error::InvalidToken(_))
    ));
    assert!(matches!(
        Hashing::None.digest(Some(b"salt"), "token"),
        Err(Error::Config {
            setting: "secret_salt",
            ..
        })
    ));
    assert!(Hashing::HmacSha256.digest(None, "token").is_err());
    assert!("md5".parse::<Hashing>().is_err());
}

#[test]
fn tokens_have_alphabet_length_and_entropy_floor() {
    let format = TokenFormat::plain(64).unwrap();
    let tokens: Vec<String> = (0..200)
        .map(|_| format.generate().unwrap().into_string())
        .collect();
    let mut chars = std::collections::HashSet::new();
    for t in &tokens {
        assert_eq!(t.len(), 64);
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        chars.extend(t.chars());
    }
    // 12,800 random characters cover the 64-character alphabet.
    assert_eq!(chars.len(), 64);
    let unique: std::collections::HashSet<_> = tokens.iter().collect();
    assert_eq!(unique.len(), tokens.len());
    assert!(matches!(
        TokenFormat::plain(21),
        Err(Error::Config {
            setting: "token_length",
            ..
        })
    ));
    assert_eq!(
        TokenFormat::plain(22)
            .unwrap()
            .generate()
            .unwrap()
            .expose()
            .len(),
        22
    );
}

#[test]
fn api_key_checksums_reject_every_single_character_corruption() {
    let format = TokenFormat::prefixed("myapp_sk_", 32).unwrap();
    let key = format.generate().unwrap().into_string();
    assert!(key.starts_with("myapp_sk_"));
    assert_eq!(key.len(), 9 + 32 + 6);
    assert!(format.accepts(&key));
    assert!(looks_like_api_key(&key, "myapp_sk_"));
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut tried = 0;
    for i in 0..key.len() {
        for &c in alphabet {
            let mut bytes = key.clone().into_bytes();
            if bytes[i] == c {
                continue;
            }
            bytes[i] = c;
            let bad = String::from_utf8(bytes).unwrap();
            assert!(!format.accepts(&bad), "accepted corruption at {i}: {bad}");
            tried += 1;
        }
    }
    assert!(tried > 2_900);
    // Wrong prefix, wrong length, foreign characters.
    assert!(!format.accepts(&key.replacen("myapp_sk_", "other_sk_", 1)));
    assert!(!format.accepts(&key[..key.len() - 1]));
    assert!(!format.accepts(&format!("{key}x")));
    assert!(!format.accepts(&key.replace(&key[12..13], "é")));
    assert_eq!(checksum(b"myapp_sk_"), checksum(b"myapp_sk_"));
    assert!(TokenFormat::prefixed("bad-prefix", 32).is_err());
    assert!(TokenFormat::prefixed("", 32).is_err());
}

#[test]
fn settings_refusals_name_the_setting() {
    let refuse = |s: Settings, setting: &str| match s.validate() {
        Err(Error::Config { setting: got, .. }) => assert_eq!(got, setting),
        other => panic!("expected refusal of {setting}, got {other:?}"),
    };
    let d = Settings::default;
    refuse(
        with(d(), |s| {
            s.token_length = 10;
        }),
        "token_length",
    );
    refuse(
        with(d(), |s| {
            s.hashing = Hashing::None;
            s.secret_salt = Some("s".into());
        }),
        "secret_salt",
    );
    refuse(
        with(d(), |s| {
            s.hashing = Hashing::HmacSha256;
        }),
        "secret_salt",
    );
    // Checked by the settings themselves, not only when a store is built.
    refuse(
        with(d(), |s| {
            s.previous_salts = vec!["an-old-salt".into()];
        }),
        "previous_salts",
    );
    refuse(
        with(d(), |s| {
            s.ttl = Some(time::Duration::ZERO);
        }),
        "ttl",
    );
    refuse(
        with(d(), |s| {
            s.extend_stale_time = Some(time::Duration::days(8));
        }),
        "extend_stale_time",
    );
    refuse(
        with(d(), |s| {
            s.prune_batch_size = 0;
        }),
        "prune_batch_size",
    );
    refuse(
        with(d(), |s| {
            s.max_lifetime = Some(time::Duration::seconds(-1));
        }),
        "max_lifetime",
    );
    refuse(
        with(d(), |s| {
            s.ttl = Some(time::Duration::days(365 * 2_000));
        }),
        "ttl",
    );
    refuse(
        with(d(), |s| {
            s.max_lifetime = Some(time::Duration::weeks(60_000));
        }),
        "max_lifetime",
    );
    assert!(Settings::default().validate().is_ok());
}

#[test]
fn settings_read_from_the_environment() {
    let env = |name: &str| -> Option<String> {
        match name {
            "TOKEN_LENGTH" => Some("32".into()),
            "HASHING" => Some("sha3-256".into()),
            "TTL" => Some("12h".into()),
            "EXTEND_STALE_TIME" => Some("none".into()),
            "AUTO_EXTEND" => Some("false".into()),
            "MAX_LIFETIME" => Some("30d".into()),
            _ => None,
        }
    };
    let s = Settings::from_lookup(env).unwrap();
    assert_eq!(s.token_length, 32);
    assert_eq!(s.hashing, Hashing::Sha3_256);
    assert_eq!(s.ttl, Some(time::Duration::hours(12)));
    assert_eq!(s.extend_stale_time, None);
    assert!(!s.auto_extend);
    assert_eq!(s.max_lifetime, Some(time::Duration::days(30)));
    let bad = Settings::from_lookup(|n| (n == "TTL").then(|| "a week".to_owned()));
    assert!(matches!(bad, Err(Error::Config { setting: "ttl", .. })));
}

#[test]
fn short_salts_and_hashing_none_from_the_environment_are_refused() {
    let with_salt = |salt: &str| {
        with(Settings::default(), |s| {
            s.secret_salt = Some(salt.into());
        })
    };
    let short = with_salt(&"s".repeat(31)).validate();
    match short {
        Err(Error::Config { setting, reason }) => {
            assert_eq!(setting, "secret_salt");
            assert!(
                reason.contains("32 bytes") && reason.contains("31"),
                "{reason}"
            );
        }
        other => panic!("a 31-byte salt was accepted: {other:?}"),
    }
    assert!(with_salt(&"s".repeat(32)).validate().is_ok());
    let hmac = with(with_salt("short-key"), |s| {
        s.hashing = Hashing::HmacSha256;
    });
    assert!(matches!(
        hmac.validate(),
        Err(Error::Config {
            setting: "secret_salt",
            ..
        })
    ));
    // A short salt may stay as a previous one, to rotate off it.
    let rotating = with(with_salt(&"s".repeat(40)), |s| {
        s.previous_salts = vec!["short".into()];
    });
    assert!(rotating.validate().is_ok());
    // `none` only in code, never from a variable.
    let env = Settings::from_lookup(|n| (n == "HASHING").then(|| "none".to_owned()));
    match env {
        Err(Error::Config { setting, reason }) => {
            assert_eq!(setting, "hashing");
            assert!(reason.contains("SQLX_SESSIONS_HASHING"), "{reason}");
        }
        other => panic!("hashing `none` was read from the environment: {other:?}"),
    }
    let in_code = with(Settings::default(), |s| {
        s.hashing = Hashing::None;
    });
    assert!(in_code.validate().is_ok());
}

/// `base` changed by `f`: `Settings` is `#[non_exhaustive]`, so no struct literal.
fn with(mut base: Settings, f: impl FnOnce(&mut Settings)) -> Settings {
    f(&mut base);
    base
}
