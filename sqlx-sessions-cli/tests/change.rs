//! `rotate`, `update` and `set-expiry`, run as the real binary on a fresh database, once
//! on SQLite and once on PostgreSQL.

mod common;

use common::{CliDb as _, assert_no_panic, stderr, stdout};
use serde_json::Value as Json;
use sqlx_sessions_test_support::{TestDb, backend_tests};

backend_tests! {
    blocking:
    rotate_prints_the_new_token_alone_and_retires_the_old,
    update_merges_json_into_the_data,
    set_expiry_brings_an_expired_session_back,
}

/// `get` of a token on standard input: its session as JSON, or `None` (exit 1).
fn get_token(db: &TestDb, token: &str) -> Option<Json> {
    let out = db
        .cmd()
        .args(["get", "--token-stdin", "--status", "valid", "--json"])
        .write_stdin(token)
        .output()
        .expect("run");
    match out.status.code() {
        Some(0) => Some(serde_json::from_str(stdout(&out).trim()).expect("JSON")),
        Some(1) => None,
        other => panic!("get failed ({other:?}): {}", stderr(&out)),
    }
}

fn id_of(db: &TestDb, token: &str) -> String {
    get_token(db, token).expect("a session")["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

fn rotate_prints_the_new_token_alone_and_retires_the_old(db: &TestDb) {
    db.migrated();
    let old = db.create("alice");
    let id = id_of(db, &old);
    let out = db.cmd().args(["rotate", &id]).output().expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    assert_eq!(printed.lines().count(), 1, "{printed:?}");
    let new = printed.trim();
    assert_ne!(new, old);
    assert!(!stderr(&out).contains(new), "the token is printed once");
    assert!(get_token(db, &old).is_none());
    assert_eq!(id_of(db, new), id, "same session, new token");
    // An unknown or revoked session: exit 1; a malformed id: exit 2.
    let unknown = uuid::Uuid::new_v4().to_string();
    let out = db.cmd().args(["rotate", &unknown]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());
    db.cmd().args(["expire", &id]).assert().success();
    let out = db.cmd().args(["rotate", &id]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let out = db.cmd().args(["rotate", "nope"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert_no_panic(&stderr(&out));
}

fn update_merges_json_into_the_data(db: &TestDb) {
    db.migrated();
    let out = db
        .cmd()
        .args(["create", "--user", "bob", "--data", r#"{"a":1,"b":2}"#])
        .output()
        .expect("run");
    let token = stdout(&out).trim().to_owned();
    let id = id_of(db, &token);
    let out = db
        .cmd()
        .args(["update", &id, "--data", r#"{"b":"two","c":[3]}"#])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    let data = &get_token(db, &token).expect("valid")["data"];
    assert_eq!(data, &serde_json::json!({"a": 1, "b": "two", "c": [3]}));
    for bad in ["[1]", "{not json", "\"text\""] {
        let out = db
            .cmd()
            .args(["update", &id, "--data", bad])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert_no_panic(&stderr(&out));
    }
    // An expired session is not updated (nor revived).
    db.cmd().args(["expire", &id]).assert().success();
    let out = db
        .cmd()
        .args(["update", &id, "--data", r#"{"d":4}"#])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(get_token(db, &token).is_none());
}

fn set_expiry_brings_an_expired_session_back(db: &TestDb) {
    db.migrated();
    let token = db.create("carol");
    let id = id_of(db, &token);
    db.cmd().args(["expire", &id]).assert().success();
    assert!(get_token(db, &token).is_none());
    let at = (time::OffsetDateTime::now_utc() + time::Duration::days(2))
        .replace_nanosecond(0)
        .expect("a time")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("RFC 3339");
    let out = db
        .cmd()
        .args(["set-expiry", &id, "--at", &at])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    let back = get_token(db, &token).expect("valid again");
    let expires = time::OffsetDateTime::parse(
        back["expires_at"].as_str().expect("an expiry"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("RFC 3339");
    assert_eq!(
        expires.unix_timestamp(),
        time::OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339)
            .unwrap()
            .unix_timestamp()
    );
    // --never: capped by the default 30-day max lifetime, still valid.
    db.cmd()
        .args(["set-expiry", &id, "--never"])
        .assert()
        .success();
    assert!(get_token(db, &token).is_some());
    // A past expiry expires it.
    db.cmd()
        .args(["set-expiry", &id, "--at", "2001-01-01T00:00:00Z"])
        .assert()
        .success();
    assert!(get_token(db, &token).is_none());
    for args in [
        &["set-expiry", &id][..],
        &["set-expiry", &id, "--at", "tomorrow"],
        &["set-expiry", &id, "--at", &at, "--never"],
    ] {
        let out = db.cmd().args(args).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_no_panic(&stderr(&out));
    }
    let unknown = uuid::Uuid::new_v4().to_string();
    let out = db
        .cmd()
        .args(["set-expiry", &unknown, "--never"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
}
