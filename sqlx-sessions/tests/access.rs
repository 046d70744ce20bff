//! Access tokens on every backend: minting, verifying without the database, expiry on the
//! test clock, refused keys and algorithms, key rotation, refresh with and without
//! rotation, reuse detection (also under racing refreshes), and revocation heard through
//! the read cache's invalidation feed.
#![cfg(feature = "access-tokens")]

use std::time::Duration as StdDuration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sqlx_sessions::access::{Issuer, Refusal, SigningKey, Verifier};
use sqlx_sessions::{Clock as _, Error, ManualClock, NewSession, SessionStore};
use sqlx_sessions_test_support::{TestDb, backend_tests};
use time::Duration;
use time::macros::datetime;

backend_tests! {
    minted_tokens_verify_with_the_jwks_alone,
    hs256_tokens_verify_and_never_reach_the_jwks,
    tokens_expire_on_the_test_clock_and_never_outlive_their_session,
    wrong_keys_none_and_confused_algorithms_are_refused,
    issuer_and_audience_are_required_when_configured,
    rotated_keys_keep_verifying_until_their_tokens_expire,
    refresh_without_rotation_extends_and_refuses_when_gone,
    refresh_with_rotation_detects_reuse_and_revokes_the_session,
    racing_refreshes_of_one_token_give_one_winner_and_revoke,
    following_needs_a_feed,
    an_api_keys_scopes_column_is_its_scope_claim,
}

#[cfg(feature = "cache")]
mod feed {
    use super::*;
    backend_tests! {
        revocations_are_heard_through_the_feed,
    }
}

fn clock() -> ManualClock {
    ManualClock::new(datetime!(2030-01-01 0:00 UTC))
}

async fn store_on(db: &TestDb, clock: &ManualClock) -> SessionStore {
    let store = db
        .builder()
        .clock(clock.clone())
        .detect_token_reuse()
        .build()
        .expect("store");
    store.migrate().await.expect("migrate");
    // The `previous_digest` column is part of the table's contract.
    store.check_table().await.expect("the table fits");
    store
}

fn ed(kid: &str) -> SigningKey {
    SigningKey::generate_ed25519(kid).expect("key")
}

async fn sign_in(store: &SessionStore, user: &str) -> (uuid::Uuid, String) {
    let created = store
        .create(
            NewSession::new()
                .extra("user_id", user)
                .data(serde_json::json!({"scopes": ["read", "write"]})),
        )
        .await
        .expect("create");
    (created.session.id, created.token.expose().to_owned())
}

fn refusal(result: sqlx_sessions::Result<sqlx_sessions::access::Claims>) -> Refusal {
    match result {
        Err(Error::AccessToken(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn b64(json: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(json.to_string())
}

async fn minted_tokens_verify_with_the_jwks_alone(db: TestDb) {
    let clock = clock();
    let store = store_on(&db, &clock).await;
    let issuer = Issuer::builder(store.clone(), ed("k1"))
        .scope_from_data("scopes")
        .build()
        .expect("issuer");
    let (id, token) = sign_in(&store, "42").await;
    let session = store.lookup(&token).await.unwrap().expect("session");
    let access = issuer.mint(&session).expect("mint");
    let c = access.claims();
    assert_eq!((c.sub.as_str(), c.sid), ("42", id));
    assert_eq!(c.iat, clock.now().unix_timestamp());
    assert_eq!(c.exp - c.iat, 300);
    assert_eq!(access.expires_in(), 300);
    assert_eq!(c.scope.as_deref(), Some("read write"));
    assert!(c.has_scope("write") && !c.has_scope("admin"));
    // Neither the session token nor its digest is in the token.
    let payload = access.expose().split('.').nth(1).unwrap();
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert!(!payload.contains(&token));
    assert!(!payload.contains(&store.digest_hex(&token).unwrap()));
    assert!(!format!("{access:?}").contains(access.expose()));
    // Another service with the JWKS document only.
    let jwks = serde_json::to_value(issuer.jwks()).unwrap();
    assert_eq!(jwks["keys"][0]["kid"], "k1");
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    assert!(
        jwks["keys"][0].get("d").is_none(),
        "no private part: {jwks}"
    );
    let set = serde_json::from_value(jwks).unwrap();
    let remote = Verifier::from_jwks(&set).unwrap().clock(clock.clone());
    assert_eq!(remote.verify(access.expose()).unwrap(), *c);
    // Two mints differ in `jti`.
    assert_ne!(issuer.mint(&session).unwrap().claims().jti, c.jti);
}

async fn hs256_tokens_verify_and_never_reach_the_jwks(db: TestDb) {
    let clock = clock();
    let store = store_on(&db, &clock).await;
    assert!(SigningKey::hs256("h", &[7; 31]).is_err(), "short secret");
    let key = SigningKey::hs256("h1", &[7; 32]).unwrap();
    let issuer = Issuer::builder(store.clone(), key).build().unwrap();
    let (_, token) = sign_in(&store, "7").await;
    let refreshed = issuer.refresh(&token).await.unwrap().expect("valid");
    let claims = issuer
        .verifier()
        .verify(refreshed.access_token.expose())
        .unwrap();
    assert_eq!(claims.sub, "7");
    assert!(issuer.jwks().keys.is_empty());
    // Another secret does not verify it.
    let other = Issuer::builder(store.clone(), SigningKey::hs256("h1", &[8; 32]).unwrap())
        .build()
        .unwrap();
    assert_eq!(
        refusal(other.verifier().verify(refreshed.access_token.expose())),
        Refusal::Signature
    );
}

async fn tokens_expire_on_the_test_clock_and_never_outlive_their_session(db: TestDb) {
    let clock = clock();
    let store = store_on(&db, &clock).await;
    let issuer = Issuer::builder(store.clone(), ed("k1"))
        .ttl(StdDuration::from_secs(60))
        .build()
        .unwrap();
    let verifier = issuer.verifier();
    let (_, token) = sign_in(&store, "1").await;
    let access = issuer.refresh(&token).await.unwrap().unwrap().access_token;
    clock.advance(Duration::seconds(64)); // within the 5 s leeway
    assert!(verifier.verify(access.expose()).is_ok());
    clock.advance(Duration::seconds(1));
    assert_eq!(refusal(verifier.verify(access.expose())), Refusal::Expired);
    // A token issued "in the future" (a clock far behind) is not yet valid.
    clock.advance(Duration::seconds(-600));
    assert_eq!(
        refusal(verifier.verify(access.expose())),
        Refusal::NotYetValid
    );
    clock.advance(Duration::seconds(600));
    // A session expiring before the token's lifetime caps `exp`.
    let short = store
        .create(
            NewSession::new()
                .extra("user_id", "2")
                .expires_at(Some(clock.now() + Duration::seconds(20))),
        )
        .await
        .unwrap();
    let access = issuer.mint(&short.session).unwrap();
    assert_eq!(access.expires_in(), 20);
    clock.advance(Duration::seconds(21));
    assert!(matches!(
        issuer.mint(&short.session),
        Err(Error::Refused(_))
    ));
}

async fn wrong_keys_none_and_confused_algorithms_are_refused(db: TestDb) {
    let clock = clock();
    let store = store_on(&db, &clock).await;
    let key = ed("k1");
    let issuer = Issuer::builder(store.clone(), key.clone()).build().unwrap();
    let verifier = issuer.verifier();
    let (_, token) = sign_in(&store, "1").await;
    let access = issuer.refresh(&token).await.unwrap().unwrap().access_token;
    let good = access.expose();
    // Another key under the same kid.
    let impostor = Issuer::builder(store.clone(), ed("k1")).build().unwrap();
    let forged = impostor
        .mint(&store.lookup(&token).await.unwrap().unwrap())
        .unwrap();
    assert_eq!(
        refusal(verifier.verify(forged.expose())),
        Refusal::Signature
    );
    // An unknown kid, and none at all.
    let stranger = Issuer::builder(store.clone(), ed("k9")).build().unwrap();
    let other = stranger
        .mint(&store.lookup(&token).await.unwrap().unwrap())
        .unwrap();
    assert_eq!(
        refusal(verifier.verify(other.expose())),
        Refusal::UnknownKey
    );
    let parts: Vec<&str> = good.split('.').collect();
    let claims = parts[1];
    let no_kid = format!(
        "{}.{claims}.{}",
        b64(&serde_json::json!({"alg": "EdDSA"})),
        parts[2]
    );
    assert_eq!(refusal(verifier.verify(&no_kid)), Refusal::UnknownKey);
    // `alg: none`, with and without a signature.
    let none = b64(&serde_json::json!({"alg": "none", "kid": "k1", "typ": "JWT"}));
    for t in [
        format!("{none}.{claims}."),
        format!("{none}.{claims}.{}", parts[2]),
    ] {
        assert_eq!(refusal(verifier.verify(&t)), Refusal::Malformed, "{t}");
    }
    // Algorithm confusion: HS256 keyed with the public key's bytes, under the EdDSA kid.
    let public = serde_json::to_value(issuer.jwks()).unwrap()["keys"][0]["x"]
        .as_str()
        .unwrap()
        .to_owned();
    let public = URL_SAFE_NO_PAD.decode(public).unwrap();
    let confused = jsonwebtoken::encode(
        &{
            let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
            h.kid = Some("k1".into());
            h
        },
        access.claims(),
        &jsonwebtoken::EncodingKey::from_secret(&public).unwrap(),
    )
    .unwrap();
    assert_eq!(refusal(verifier.verify(&confused)), Refusal::Algorithm);
    // A tampered payload.
    let mut tampered_claims = access.claims().clone();
    tampered_claims.sub = "2".into();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&tampered_claims).unwrap()),
        parts[2]
    );
    assert_eq!(refusal(verifier.verify(&tampered)), Refusal::Signature);
    assert_eq!(refusal(verifier.verify("not a token")), Refusal::Malformed);
    assert_eq!(
        refusal(verifier.verify(&"a".repeat(9000))),
        Refusal::Malformed
    );
    assert!(verifier.verify(good).is_ok());
}

async fn issuer_and_audience_are_required_when_configured(db: TestDb) {
    let clock = clock();
    let store = store_on(&db, &clock).await;
    let key = ed("k1");
    let issuer = Issuer::builder(store.clone(), key.clone())
        .issuer("https://auth.example")
        .audience("api")
        .build()
        .unwrap();
    let (_, token) = sign_in(&store, "1").await;
    let access = issuer.refresh(&token).await.unwrap().unwrap().access_token;
    assert_eq!(access.claims().iss.as_deref(), Some("https://auth.example"));
    assert_eq!(access.claims().aud.as_deref(), Some("api"));
    let keys = [key.verifying_key().clone()];
    let v = || Verifier::new(keys.clone()).unwrap().clock(clock.clone());
    assert!(
        v().issuer("https://auth.example")
            .audience("api")
            .verify(access.expose())
            .is_ok()
    );
    assert_eq!(
        refusal(v().issuer("https://other").verify(access.expose())),
        Refusal::Issuer
    );
    assert_eq!(
        refusal(v().audience("billing").verify(access.expose())),
        Refusal::Audience
    );
    // A token without `iss`/`aud` where they are required.
    let bare = Issuer::builder(store.clone(), key).build().unwrap();
    let bare = bare.refresh(&token).await.unwrap().unwrap().access_token;
    assert_eq!(
        refusal(v().issuer("https://auth.example").verify(bare.expose())),
        Refusal::Issuer
    );
    assert_eq!(
        refusal(v().audience("api").verify(bare.expose())),
        Refusal::Audience
    );
}

async fn rotated_keys_keep_verifying_until_their_tokens_expire(db: TestDb) {
    let clock = clock();
    let store = store_on(&db, &clock).await;
    let issuer = Issuer::builder(store.clone(), ed("k1")).build().unwrap();
    let verifier = issuer.verifier();
    let (_, token) = sign_in(&store, "1").await;
    let old = issuer.refresh(&token).await.unwrap().unwrap().access_token;
    clock.advance(Duration::seconds(100));
    issuer.rotate_key(ed("k2"));
    let new = issuer.refresh(&token).await.unwrap().unwrap().access_token;
    let kid = |t: &str| jsonwebtoken::decode_header(t).unwrap().kid.unwrap();
    assert_eq!(
        (kid(old.expose()), kid(new.expose())),
        ("k1".into(), "k2".into())
    );
    assert!(
        verifier.verify(old.expose()).is_ok(),
        "the previous key still verifies"
    );
    assert!(verifier.verify(new.expose()).is_ok());
    let kids = |i: &Issuer| -> Vec<String> {
        i.jwks()
            .keys
            .iter()
            .filter_map(|k| k.common.key_id.clone())
            .collect()
    };
    assert_eq!(kids(&issuer), ["k2", "k1"]);
    // One lifetime plus the leeway after the rotation, k1 is gone.
    clock.advance(Duration::seconds(305));
    assert_eq!(kids(&issuer), ["k2"]);
    assert_eq!(refusal(verifier.verify(old.expose())), Refusal::UnknownKey);
    let newest = issuer.refresh(&token).await.unwrap().unwrap().access_token;
    assert!(verifier.verify(newest.expose()).is_ok());
}

async fn refresh_without_rotation_extends_and_refuses_when_gone(db: TestDb) {
    let clock = clock();
    let store = store_on(&db, &clock).await;
    let issuer = Issuer::builder(store.clone(), ed("k1")).build().unwrap();
    let (id, token) = sign_in(&store, "1").await;
    let before = store.lookup(&token).await.unwrap().unwrap().expires_at;
    // Past the stale window the refresh extends the session, as a lookup does.
    clock.advance(Duration::days(2));
    let first = issuer.refresh(&token).await.unwrap().expect("valid");
    assert!(first.refresh_token.is_none());
    assert_eq!(first.access_token.claims().sid, id);
    let after = store.lookup(&token).await.unwrap().unwrap().expires_at;
    assert!(after > before, "{after:?} > {before:?}");
    // The same token refreshes again.
    assert!(issuer.refresh(&token).await.unwrap().is_some());
    assert!(store.expire(id).await.unwrap());
    assert!(issuer.refresh(&token).await.unwrap().is_none());
    assert!(issuer.refresh("no-such-token").await.unwrap().is_none());
}

async fn refresh_with_rotation_detects_reuse_and_revokes_the_session(db: TestDb) {
    let clock = clock();
    let store = store_on(&db, &clock).await;
    let plain = db.builder().clock(clock.clone()).build().unwrap();
    assert!(
        Issuer::builder(plain, ed("k1"))
            .rotate_refresh_tokens(true)
            .build()
            .is_err(),
        "rotation needs the previous_digest column"
    );
    let issuer = Issuer::builder(store.clone(), ed("k1"))
        .rotate_refresh_tokens(true)
        .build()
        .unwrap();
    let (id, t1) = sign_in(&store, "1").await;
    let r1 = issuer.refresh(&t1).await.unwrap().expect("valid");
    let t2 = r1
        .refresh_token
        .expect("a new refresh token")
        .expose()
        .to_owned();
    assert_ne!(t1, t2);
    assert!(store.lookup(&t1).await.unwrap().is_none(), "rotated away");
    let r2 = issuer.refresh(&t2).await.unwrap().expect("valid");
    let t3 = r2.refresh_token.unwrap().expose().to_owned();
    assert_eq!(r2.access_token.claims().sid, id);
    // t2 was rotated away by the last exchange: presenting it revokes the session.
    match issuer.refresh(&t2).await {
        Err(Error::RefreshTokenReused { session_id }) => assert_eq!(session_id, id),
        other => panic!("expected reuse, got {other:?}"),
    }
    assert!(
        store.lookup(&t3).await.unwrap().is_none(),
        "the whole session is revoked"
    );
    assert!(issuer.refresh(&t3).await.unwrap().is_none());
    // An unknown token is only refused.
    assert!(issuer.refresh("never-issued").await.unwrap().is_none());
}

async fn racing_refreshes_of_one_token_give_one_winner_and_revoke(db: TestDb) {
    let clock = clock();
    let store = store_on(&db, &clock).await;
    let issuer = Issuer::builder(store.clone(), ed("k1"))
        .rotate_refresh_tokens(true)
        .build()
        .unwrap();
    for round in 0..3 {
        let (id, token) = sign_in(&store, &format!("u{round}")).await;
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(6));
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let (issuer, token, barrier) = (issuer.clone(), token.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    issuer.refresh(&token).await
                })
            })
            .collect();
        let (mut won, mut reused, mut gone) = (Vec::new(), 0, 0);
        for t in tasks {
            match t.await.unwrap() {
                Ok(Some(r)) => won.push(r.refresh_token.unwrap().expose().to_owned()),
                Ok(None) => gone += 1,
                Err(Error::RefreshTokenReused { session_id }) => {
                    assert_eq!(session_id, id);
                    reused += 1;
                }
                Err(e) => panic!("refresh failed: {e}"),
            }
        }
        assert_eq!(
            won.len(),
            1,
            "exactly one exchange rotates (gone {gone}, reused {reused})"
        );
        assert!(reused >= 1, "a second presentation is reuse");
        assert_eq!(won.len() + reused + gone, 6);
        assert!(
            store.lookup(&won[0]).await.unwrap().is_none(),
            "the winner's new token dies with the session"
        );
    }
}

async fn following_needs_a_feed(db: TestDb) {
    let clock = clock();
    let store = store_on(&db, &clock).await;
    let issuer = Issuer::builder(store.clone(), ed("k1")).build().unwrap();
    #[cfg(feature = "cache")]
    assert!(issuer.verifier().follow_revocations(&store).is_err());
    // Without a feed a revoked session's token verifies until `exp`.
    let (id, token) = sign_in(&store, "1").await;
    let access = issuer.refresh(&token).await.unwrap().unwrap().access_token;
    assert!(store.expire(id).await.unwrap());
    assert!(issuer.verifier().verify(access.expose()).is_ok());
    clock.advance(Duration::seconds(305));
    assert_eq!(
        refusal(issuer.verifier().verify(access.expose())),
        Refusal::Expired
    );
}

/// The verifier's refusal of `token` once its feed is confirmed: while it is not, every
/// token is refused as [`Refusal::RevocationUnknown`] (fail closed); it never verifies.
#[cfg(feature = "cache")]
async fn refusal_once_confirmed(
    verifier: &sqlx_sessions::access::Verifier,
    token: &sqlx_sessions::access::AccessToken,
) -> Refusal {
    let started = std::time::Instant::now();
    loop {
        match refusal(verifier.verify(token.expose())) {
            Refusal::RevocationUnknown => {
                assert!(started.elapsed() < StdDuration::from_secs(20), "feed down");
                tokio::time::sleep(StdDuration::from_millis(10)).await;
            }
            other => return other,
        }
    }
}

/// Waits until the cached store's feed has confirmed a round (its cache answers).
#[cfg(feature = "cache")]
async fn until_serving(store: &SessionStore) {
    let started = std::time::Instant::now();
    while !store.cache_stats().unwrap().serving {
        assert!(
            started.elapsed() < StdDuration::from_secs(20),
            "feed not serving"
        );
        tokio::time::sleep(StdDuration::from_millis(5)).await;
    }
}

/// Whether the cached store's feed had a gap (which clears the cache) since it had cleared
/// `clears` times, waiting for the feed to be confirmed again first.
#[cfg(feature = "cache")]
async fn gap_since(store: &SessionStore, clears: u64) -> bool {
    until_serving(store).await;
    store.cache_stats().unwrap().clears > clears
}

/// Revocations by this store, another instance and plain SQL are refused by a verifier
/// following the cached store's feed within the bound; a rotation is not a revocation.
#[cfg(feature = "cache")]
async fn revocations_are_heard_through_the_feed(db: TestDb) {
    use std::time::Instant;
    let cached = db
        .builder()
        .cache(sqlx_sessions::cache::CacheConfig::new(1000))
        .build()
        .unwrap();
    cached.migrate().await.unwrap();
    let other = db.builder().build().unwrap();
    let issuer = Issuer::builder(cached.clone(), ed("k1")).build().unwrap();
    let verifier = issuer.verifier().follow_revocations(&cached).unwrap();
    until_serving(&cached).await;
    // Tokens issued up to the second of the feed's last gap (its first round, or a round
    // that failed and was caught up, as a loaded machine can make happen at any time) are
    // refused, since revocations before it are unknown (`revoked.rs` tests that rule);
    // tokens issued in a later second verify.
    let mut sessions = Vec::new();
    let mut clears = 0;
    for attempt in 0.. {
        clears = cached.cache_stats().unwrap().clears;
        let second = time::OffsetDateTime::now_utc().unix_timestamp();
        while time::OffsetDateTime::now_utc().unix_timestamp() <= second {
            tokio::time::sleep(StdDuration::from_millis(20)).await;
        }
        sessions.clear();
        let mut refused = None;
        for user in ["a", "b", "c", "d"] {
            let (id, token) = sign_in(&cached, user).await;
            let access = issuer.refresh(&token).await.unwrap().unwrap().access_token;
            if let Err(e) = verifier.verify(access.expose()) {
                refused = Some((user, refusal(Err(e))));
            }
            sessions.push((id, token, access));
        }
        let Some((user, why)) = refused else { break };
        // Refused only while the feed was unconfirmed (every token then is), or because it
        // had a gap meanwhile, which clears its cache.
        assert!(
            why == Refusal::RevocationUnknown || gap_since(&cached, clears).await,
            "{user}'s fresh token was refused ({why:?}) without a gap in the feed"
        );
        assert!(attempt < 20, "the feed kept having gaps");
    }
    let [a, b, c, d] = &sessions[..] else {
        unreachable!()
    };
    // Through the cached store: refused as soon as the call returns.
    assert!(cached.expire(a.0).await.unwrap());
    assert!(verifier.verify(a.2.expose()).is_err());
    assert_eq!(
        refusal_once_confirmed(&verifier, &a.2).await,
        Refusal::Revoked
    );
    // A rotation is no revocation.
    assert!(other.rotate(d.0).await.unwrap().is_some());
    // Another instance and plain SQL: refused within the bound (1 s / 100 ms / 1 s), waited
    // for with a generous margin on a loaded machine.
    assert!(other.delete(b.0).await.unwrap());
    let now = match db.backend() {
        sqlx_sessions_test_support::Backend::Postgres => "now()",
        sqlx_sessions_test_support::Backend::Mysql => "UTC_TIMESTAMP(6)",
        _ => "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)",
    };
    let sql = format!(
        "UPDATE sessions SET expires_at = {now} WHERE id = {}",
        db.id_sql(c.0)
    );
    db.exec(&sql).await;
    let changed = Instant::now();
    for (_, _, access) in [b, c] {
        while verifier.verify(access.expose()).is_ok() {
            assert!(
                changed.elapsed() < StdDuration::from_secs(20),
                "revocation never heard"
            );
            tokio::time::sleep(StdDuration::from_millis(10)).await;
        }
        assert_eq!(
            refusal_once_confirmed(&verifier, access).await,
            Refusal::Revoked
        );
    }
    // The rotated session's token still verifies (unless a gap in the feed came since it
    // was minted: then every token of that age is refused).
    if let Err(e) = verifier.verify(d.2.expose()) {
        let why = refusal(Err(e));
        assert!(
            why == Refusal::RevocationUnknown || gap_since(&cached, clears).await,
            "the rotated session's token was refused ({why:?})"
        );
    }
}

/// A store with a `scopes` column (API keys) puts the key's scopes in the `scope` claim,
/// whatever the data holds; the verifier's wildcard-free check reads them.
async fn an_api_keys_scopes_column_is_its_scope_claim(db: TestDb) {
    let clock = clock();
    let store = db
        .builder()
        .table("api_keys")
        .scopes()
        .clock(clock.clone())
        .build()
        .expect("store");
    store.migrate().await.expect("migrate");
    let issuer = Issuer::builder(store.clone(), ed("k1"))
        .scope_from_data("scopes")
        .build()
        .expect("issuer");
    let created = store
        .create(
            NewSession::new()
                .extra("user_id", "7")
                .scopes(["orders:read", "me:read"])
                .data(serde_json::json!({"scopes": ["ignored"]})),
        )
        .await
        .expect("create");
    let session = store
        .lookup(created.token.expose())
        .await
        .unwrap()
        .expect("key");
    let access = issuer.mint(&session).expect("mint");
    assert_eq!(
        access.claims().scope.as_deref(),
        Some("me:read orders:read")
    );
    assert!(access.claims().has_scope("orders:read") && !access.claims().has_scope("ignored"));
}
