//! The hostile input catalogue of the library: every case runs on every database,
//! must end in a clear refusal (`Ok(None)`, an empty result or a typed error), never panic,
//! and leave the table exactly as it was (compared row by row with a snapshot).

use sqlx_sessions::{
    ColumnType, Error, ExtraColumn, Filter, ManualClock, NewSession, SessionStore, Status, Value,
};
use sqlx_sessions_test_support::{TestDb, backend_tests};
use time::Duration;
use time::macros::datetime;
use uuid::Uuid;

fn clock() -> ManualClock {
    ManualClock::new(datetime!(2031-03-03 09:00:00.5 UTC))
}

/// A store with one column of each type, and two users with two sessions each.
struct Fixture {
    store: SessionStore,
    clock: ManualClock,
    alice_token: String,
    alice_id: Uuid,
    bob_token: String,
    bob_id: Uuid,
}

async fn fixture(db: &TestDb) -> Fixture {
    let clock = clock();
    let store = db
        .builder()
        .extra_column(ExtraColumn::text("user_id").indexed())
        .extra_column(ExtraColumn::new("device_id", ColumnType::Uuid).optional())
        .extra_column(ExtraColumn::new("level", ColumnType::Integer).optional())
        .extra_column(ExtraColumn::new("admin", ColumnType::Boolean).optional())
        .extra_column(ExtraColumn::new("seen_at", ColumnType::Timestamp).optional())
        .clock(clock.clone())
        .build()
        .unwrap();
    store.migrate().await.unwrap();
    let mut made = Vec::new();
    for user in ["alice", "bob"] {
        for device in 0..2 {
            let c = store
                .create(
                    NewSession::new()
                        .extra("user_id", user)
                        .extra("device_id", Uuid::new_v4())
                        .extra("level", device)
                        .extra("admin", false)
                        .data(serde_json::json!({"user_agent": format!("{user}-{device}")})),
                )
                .await
                .unwrap();
            made.push((c.token.into_string(), c.session.id));
            clock.advance(Duration::seconds(1));
        }
    }
    Fixture {
        store,
        clock,
        alice_token: made[0].0.clone(),
        alice_id: made[0].1,
        bob_token: made[2].0.clone(),
        bob_id: made[2].1,
    }
}

/// Every row of the `sessions` table, every column, in id order.
async fn snapshot(db: &TestDb) -> String {
    if db.is_postgres() {
        db.scalar_text(
            "SELECT coalesce(string_agg(t::text, E'\\n' ORDER BY t.id), '') FROM sessions t",
        )
        .await
    } else if db.is_mysql() {
        // Row by row (GROUP_CONCAT truncates), every column as hex or NULL.
        let cols = [
            "id",
            "auth_token_digest",
            "data",
            "expires_at",
            "inserted_at",
            "updated_at",
            "user_id",
            "device_id",
            "level",
            "admin",
            "seen_at",
        ]
        .map(|c| format!("QUOTE(HEX(`{c}`))"))
        .join(", ',', ");
        db.texts(&format!("SELECT CONCAT({cols}) FROM sessions ORDER BY id"))
            .await
            .join("\n")
    } else {
        db.scalar_text(
            "SELECT coalesce(group_concat(r, char(10)), '') FROM (SELECT \
             quote(id)||','||quote(auth_token_digest)||','||quote(data)||','||\
             quote(expires_at)||','||quote(inserted_at)||','||quote(updated_at)||','||\
             quote(user_id)||','||quote(device_id)||','||quote(level)||','||quote(admin)||','||\
             quote(seen_at) AS r FROM sessions ORDER BY id)",
        )
        .await
    }
}

/// Runs every token-taking operation with `token` and asserts that each refuses it: no
/// session found, nothing counted, nothing expired or deleted, and the table unchanged.
async fn refuses_token(db: &TestDb, f: &Fixture, token: &str) {
    let before = snapshot(db).await;
    let store = &f.store;
    let shown = format!("{:?}", token.chars().take(40).collect::<String>());
    assert!(store.lookup(token).await.unwrap().is_none(), "{shown}");
    let by_token = Filter::new().token(token);
    assert!(store.get(&by_token).await.unwrap().is_none(), "{shown}");
    assert!(store.list(&by_token).await.unwrap().is_empty(), "{shown}");
    assert_eq!(store.count(&by_token).await.unwrap(), 0, "{shown}");
    let all = by_token.clone().status(Status::All);
    assert_eq!(store.count(&all).await.unwrap(), 0, "{shown}");
    assert!(
        store.expire_all(&by_token).await.unwrap().is_empty(),
        "{shown}"
    );
    assert!(store.delete_all(&all).await.unwrap().is_empty(), "{shown}");
    assert_eq!(snapshot(db).await, before, "{shown}: the table changed");
    assert_eq!(db.scalar("SELECT COUNT(*) FROM sessions").await, 4);
}

/// Asserts that `result` failed with an error matching `expected`, and the table is as
/// `before`.
async fn refused<T: std::fmt::Debug>(
    db: &TestDb,
    before: &str,
    result: sqlx_sessions::Result<T>,
    expected: impl Fn(&Error) -> bool,
) {
    match result {
        Err(e) if expected(&e) => {}
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(snapshot(db).await, before, "the table changed");
}

async fn empty_token(db: TestDb) {
    let f = fixture(&db).await;
    refuses_token(&db, &f, "").await;
}

async fn whitespace_tokens(db: TestDb) {
    let f = fixture(&db).await;
    for t in [" ", "\t", "\r\n", "\u{a0}", "\u{3000}", &" ".repeat(64)] {
        refuses_token(&db, &f, t).await;
    }
}

async fn a_real_token_with_surrounding_whitespace(db: TestDb) {
    let f = fixture(&db).await;
    for t in [
        format!(" {}", f.alice_token),
        format!("{}\n", f.alice_token),
        format!("{}\t", f.alice_token),
        format!("\u{feff}{}", f.alice_token),
    ] {
        refuses_token(&db, &f, &t).await;
    }
}

async fn one_megabyte_tokens(db: TestDb) {
    let f = fixture(&db).await;
    refuses_token(&db, &f, &"a".repeat(1 << 20)).await;
    refuses_token(&db, &f, &"é".repeat(1 << 19)).await;
    // A real token followed by a megabyte of alphabet characters.
    refuses_token(
        &db,
        &f,
        &format!("{}{}", f.alice_token, "A".repeat(1 << 20)),
    )
    .await;
}

async fn non_utf8_bytes_seen_through_lossy_conversion(db: TestDb) {
    let f = fixture(&db).await;
    let mut bytes = f.alice_token.as_bytes().to_vec();
    bytes[10] = 0xff;
    let replaced = String::from_utf8_lossy(&bytes).into_owned();
    refuses_token(&db, &f, &replaced).await;
    for raw in [
        &b"\xff\xfe\xfd"[..],
        b"\xc3\x28",
        b"\xed\xa0\x80",
        b"\xf0\x28\x8c\xbc",
    ] {
        refuses_token(&db, &f, &String::from_utf8_lossy(raw)).await;
    }
}

async fn nul_containing_tokens(db: TestDb) {
    let f = fixture(&db).await;
    let t = &f.alice_token;
    for bad in [
        "\0".to_owned(),
        "\0".repeat(64),
        format!("{t}\0"),
        format!("\0{t}"),
        format!("{}\0{}", &t[..32], &t[32..]),
        format!("{}\0{}", &t[..32], &t[33..]), // right length, one character swapped for NUL
    ] {
        refuses_token(&db, &f, &bad).await;
    }
}

async fn right_length_outside_the_alphabet(db: TestDb) {
    let f = fixture(&db).await;
    let t = &f.alice_token;
    for c in ['+', '/', '=', '.', '~', '%', '*', '$', '\\', ';', '\'', '"'] {
        // The real token with one character replaced: same length, one bad character.
        let mut bad = t.clone();
        bad.replace_range(20..21, &c.to_string());
        refuses_token(&db, &f, &bad).await;
        refuses_token(&db, &f, &c.to_string().repeat(64)).await;
    }
    // Multi-byte look-alikes: same character count, more bytes.
    refuses_token(&db, &f, &"а".repeat(64)).await; // Cyrillic a
    refuses_token(&db, &f, &"Ａ".repeat(64)).await; // full-width A
}

async fn near_misses_of_a_real_token(db: TestDb) {
    let f = fixture(&db).await;
    let t = &f.alice_token;
    let flip_case: String = t
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    let mut last_changed = t.clone();
    let last = if t.ends_with('A') { "B" } else { "A" };
    last_changed.replace_range(63..64, last);
    for bad in [
        t[..63].to_owned(),
        format!("{t}A"),
        flip_case,
        last_changed,
        // Percent-encoded: the first character always, `-` and `_` wherever they are.
        format!(
            "%{:02X}{}",
            t.as_bytes()[0],
            t[1..].replace('-', "%2D").replace('_', "%5F")
        ),
        format!("{t}{t}"),
        f.bob_token.chars().rev().collect(),
    ] {
        assert_ne!(&bad, t, "a near miss must differ from the token");
        refuses_token(&db, &f, &bad).await;
    }
}

async fn sql_metacharacters_in_tokens(db: TestDb) {
    let f = fixture(&db).await;
    for bad in [
        "' OR '1'='1",
        "' OR 1=1 --",
        "\"; DROP TABLE sessions; --",
        "'); DELETE FROM sessions; --",
        "\\' OR 1=1 /*",
        "$1",
        "%",
        "_",
        "a' UNION SELECT auth_token_digest FROM sessions --",
    ] {
        refuses_token(&db, &f, bad).await;
        // Padded to a valid length, too.
        let padded = format!("{bad}{}", "x".repeat(64usize.saturating_sub(bad.len())));
        refuses_token(&db, &f, &padded).await;
    }
    // Inside the alphabet, a wildcard-looking token is just an unknown token.
    refuses_token(&db, &f, &"_".repeat(64)).await;
    refuses_token(&db, &f, &"-".repeat(64)).await;
}

async fn sql_metacharacters_in_user_id_filters(db: TestDb) {
    let f = fixture(&db).await;
    let before = snapshot(&db).await;
    for sly in [
        "alice' OR '1'='1",
        "' OR 1=1 --",
        "alice\"; DROP TABLE sessions; --",
        "%",
        "_____",
        "alice%",
        "ALICE",
        " alice",
    ] {
        let filter = Filter::new().eq("user_id", sly);
        assert!(f.store.list(&filter).await.unwrap().is_empty(), "{sly}");
        assert_eq!(f.store.count(&filter).await.unwrap(), 0, "{sly}");
        assert!(f.store.get(&filter).await.unwrap().is_none(), "{sly}");
        assert!(f.store.expire_all(&filter).await.unwrap().is_empty());
        assert!(f.store.delete_all(&filter).await.unwrap().is_empty());
    }
    assert_eq!(snapshot(&db).await, before);
}

async fn sql_metacharacters_in_created_values_are_data(db: TestDb) {
    let f = fixture(&db).await;
    let before = snapshot(&db).await;
    let sly = "x'); DELETE FROM sessions; --\"\\";
    let data = serde_json::json!({
        "user_agent": "'; DROP TABLE sessions; --",
        "q\"uote": "back\\slash",
        "nested": {"$1": ["' OR 1=1", null, 1e300]},
    });
    let c = f
        .store
        .create(NewSession::new().extra("user_id", sly).data(data.clone()))
        .await
        .unwrap();
    let s = f.store.lookup(c.token.expose()).await.unwrap().unwrap();
    assert_eq!(s.extra_str("user_id"), Some(sly));
    assert_eq!(s.data.value(), data);
    let mine = f
        .store
        .list(&Filter::new().eq("user_id", sly))
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    // Removing it restores the exact table: nothing else was touched.
    assert!(f.store.delete(c.session.id).await.unwrap());
    assert_eq!(snapshot(&db).await, before);
}

async fn unknown_columns_in_filters(db: TestDb) {
    let f = fixture(&db).await;
    let before = snapshot(&db).await;
    for name in [
        "role",
        "",
        "USER_ID",
        "user_id ",
        "\"user_id\"",
        "user_id\" OR 1=1 --",
        "user_id; DROP TABLE sessions",
        // Built-in columns are not filterable through `eq`: the digest least of all.
        "auth_token_digest",
        "id",
        "expires_at",
        "data",
    ] {
        let filter = Filter::new().eq(name, "alice");
        let unknown = |e: &Error| matches!(e, Error::UnknownColumn(c) if c == name);
        refused(&db, &before, f.store.list(&filter).await, unknown).await;
        refused(&db, &before, f.store.count(&filter).await, unknown).await;
        refused(&db, &before, f.store.get(&filter).await, unknown).await;
        refused(&db, &before, f.store.expire_all(&filter).await, unknown).await;
        let all = filter.clone().status(Status::All);
        refused(&db, &before, f.store.delete_all(&all).await, unknown).await;
    }
}

async fn unknown_columns_at_creation(db: TestDb) {
    let f = fixture(&db).await;
    let before = snapshot(&db).await;
    for name in [
        "is_admin",
        "auth_token_digest",
        "id",
        "expires_at",
        "user_id\"--",
    ] {
        let new = NewSession::new()
            .extra("user_id", "mallory")
            .extra(name, "x");
        let unknown = |e: &Error| matches!(e, Error::UnknownColumn(c) if c == name);
        refused(&db, &before, f.store.create(new).await, unknown).await;
    }
    // A required column given as NULL, or not at all.
    let missing = |e: &Error| matches!(e, Error::MissingColumn(c) if c == "user_id");
    let null = NewSession::new().extra("user_id", Value::Null);
    refused(&db, &before, f.store.create(null).await, missing).await;
    refused(
        &db,
        &before,
        f.store.create(NewSession::new()).await,
        missing,
    )
    .await;
}

async fn a_uuid_that_is_not_a_uuid(db: TestDb) {
    let f = fixture(&db).await;
    let before = snapshot(&db).await;
    for bad in [
        "",
        "not-a-uuid",
        "' OR 1=1 --",
        "00000000-0000-0000-0000-00000000000g",
        "00000000-0000-0000-0000-0000000000000",
        "{00000000-0000-0000-0000-000000000000",
        "\0",
        &"1".repeat(1 << 20),
    ] {
        let invalid =
            |e: &Error| matches!(e, Error::InvalidValue { column, .. } if column == "device_id");
        let filter = Filter::new().eq("device_id", bad);
        refused(&db, &before, f.store.list(&filter).await, invalid).await;
        refused(&db, &before, f.store.delete_all(&filter).await, invalid).await;
        refused(&db, &before, f.store.expire_all(&filter).await, invalid).await;
        let new = NewSession::new()
            .extra("user_id", "mallory")
            .extra("device_id", bad);
        refused(&db, &before, f.store.create(new).await, invalid).await;
    }
}

async fn values_that_do_not_fit_their_column(db: TestDb) {
    let f = fixture(&db).await;
    let before = snapshot(&db).await;
    let cases: Vec<(&str, Value)> = vec![
        ("level", "1 OR 1=1".into()),
        ("level", "99999999999999999999".into()),
        ("level", "0x10".into()),
        ("level", "".into()),
        ("level", true.into()),
        ("admin", "yes please".into()),
        ("admin", "TRUE'--".into()),
        ("admin", 2i64.into()),
        ("seen_at", "2031-13-45T00:00:00Z".into()),
        ("seen_at", "now()".into()),
        ("seen_at", "'; DROP TABLE sessions; --".into()),
        ("user_id", Uuid::nil().into()),
        ("device_id", 7i64.into()),
    ];
    for (column, value) in cases {
        let invalid = |e: &Error| matches!(e, Error::InvalidValue { column: c, .. } if c == column);
        let filter = Filter::new().eq(column, value.clone());
        refused(&db, &before, f.store.count(&filter).await, invalid).await;
        refused(&db, &before, f.store.delete_all(&filter).await, invalid).await;
        let mut new = NewSession::new().extra(column, value);
        if column != "user_id" {
            new = new.extra("user_id", "mallory");
        }
        refused(&db, &before, f.store.create(new).await, invalid).await;
    }
}

async fn another_users_session_id_is_not_theirs(db: TestDb) {
    let f = fixture(&db).await;
    let before = snapshot(&db).await;
    // The pattern an app uses for "delete/expire my session <id>": id AND owner.
    let bobs_as_alice = Filter::new().id(f.bob_id).eq("user_id", "alice");
    assert!(f.store.get(&bobs_as_alice).await.unwrap().is_none());
    assert!(f.store.expire_all(&bobs_as_alice).await.unwrap().is_empty());
    let all = bobs_as_alice.clone().status(Status::All);
    assert!(f.store.delete_all(&all).await.unwrap().is_empty());
    // Alice's token with Bob's id matches nothing either.
    let mixed = Filter::new().token(&f.alice_token).id(f.bob_id);
    assert!(f.store.expire_all(&mixed).await.unwrap().is_empty());
    assert!(
        f.store
            .delete_all(&mixed.status(Status::All))
            .await
            .unwrap()
            .is_empty()
    );
    // An id that exists nowhere.
    assert!(!f.store.expire(Uuid::new_v4()).await.unwrap());
    assert!(!f.store.delete(Uuid::new_v4()).await.unwrap());
    assert!(!f.store.expire(Uuid::nil()).await.unwrap());
    assert!(!f.store.delete(Uuid::max()).await.unwrap());
    assert_eq!(snapshot(&db).await, before);
    // And the sessions still work.
    assert!(f.store.lookup(&f.bob_token).await.unwrap().is_some());
    assert!(f.store.lookup(&f.alice_token).await.unwrap().is_some());
}

async fn paging_on_bulk_writes_is_refused(db: TestDb) {
    let f = fixture(&db).await;
    let before = snapshot(&db).await;
    let invalid = |e: &Error| matches!(e, Error::InvalidValue { column, .. } if column == "limit");
    let paged = Filter::new().limit(1);
    refused(&db, &before, f.store.delete_all(&paged).await, invalid).await;
    refused(&db, &before, f.store.expire_all(&paged).await, invalid).await;
    refused(&db, &before, f.store.count(&paged).await, invalid).await;
    let offset = Filter::new().offset(u32::MAX).status(Status::All);
    refused(&db, &before, f.store.delete_all(&offset).await, invalid).await;
    // Extreme paging on a list is fine: it returns what there is.
    let many = Filter::new().limit(u32::MAX).offset(u32::MAX);
    assert!(f.store.list(&many).await.unwrap().is_empty());
    assert_eq!(
        f.store.list(&Filter::new().limit(0)).await.unwrap().len(),
        0
    );
}

async fn status_text_that_is_not_a_status(db: TestDb) {
    let f = fixture(&db).await;
    let before = snapshot(&db).await;
    for bad in [
        "",
        "valid; DROP TABLE sessions",
        "' OR 1=1",
        "VALID\0",
        "expired--",
    ] {
        let parsed = bad.parse::<Status>();
        assert!(
            matches!(&parsed, Err(Error::InvalidValue { column, .. }) if column == "status"),
            "{bad:?}"
        );
    }
    assert_eq!(" All ".parse::<Status>().unwrap(), Status::All);
    let _ = &f;
    assert_eq!(snapshot(&db).await, before);
}

async fn nul_in_values_is_refused_alike_on_both_databases(db: TestDb) {
    let f = fixture(&db).await;
    let before = snapshot(&db).await;
    let nul = |e: &Error| matches!(e, Error::InvalidValue { reason, .. } if reason.contains("NUL"));
    let filter = Filter::new().eq("user_id", "alice\0");
    refused(&db, &before, f.store.delete_all(&filter).await, nul).await;
    refused(&db, &before, f.store.count(&filter).await, nul).await;
    let new = NewSession::new().extra("user_id", "mal\0lory");
    refused(&db, &before, f.store.create(new).await, nul).await;
    for data in [
        serde_json::json!({"user_agent": "a\u{0}b"}),
        serde_json::json!({"k\u{0}": 1}),
        serde_json::json!([["deep", "\u{0}"]]),
    ] {
        let new = NewSession::new().extra("user_id", "mallory").data(data);
        refused(
            &db,
            &before,
            f.store.create(new).await,
            |e: &Error| matches!(e, Error::InvalidValue { column, .. } if column == "data"),
        )
        .await;
    }
    // A backslash-u sequence typed as text is not a NUL.
    let c = f
        .store
        .create(
            NewSession::new()
                .extra("user_id", "mallory")
                .data(serde_json::json!({"t": "\\u0000"})),
        )
        .await
        .unwrap();
    f.store.delete(c.session.id).await.unwrap();
    assert_eq!(snapshot(&db).await, before);
}

async fn hostile_json_data_round_trips_or_is_refused(db: TestDb) {
    let f = fixture(&db).await;
    let before = snapshot(&db).await;
    let mut deep = serde_json::json!("bottom");
    for _ in 0..100 {
        deep = serde_json::json!([deep]);
    }
    let cases = [
        serde_json::json!({"big": "x".repeat(1 << 20)}),
        deep,
        serde_json::json!({"emoji": "👩‍💻", "rtl": "\u{202e}gnp.exe", "quote": "\"'`"}),
        serde_json::json!("a bare string"),
        serde_json::json!([1, 2, 3]),
        serde_json::json!(null),
        serde_json::json!({"n": u64::MAX, "f": -1.5}),
    ];
    for data in cases {
        let created = f
            .store
            .create(
                NewSession::new()
                    .extra("user_id", "mallory")
                    .data(data.clone()),
            )
            .await;
        let c = match created {
            Ok(c) => c,
            // MariaDB's JSON_VALID check and MySQL's JSON type refuse documents nested
            // deeper than 32 and 100 levels: a database error, and nothing stored.
            Err(e) if db.is_mysql() && json_depth(&data) > 32 => {
                assert!(e.is_database(), "{e:?}");
                continue;
            }
            Err(e) => panic!("{e:?}"),
        };
        let s = f.store.lookup(c.token.expose()).await.unwrap().unwrap();
        assert_eq!(s.data.value(), data);
        assert!(f.store.delete(c.session.id).await.unwrap());
    }
    assert_eq!(snapshot(&db).await, before);
}

/// The nesting depth of a JSON value (a scalar is 1).
fn json_depth(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Array(items) => 1 + items.iter().map(json_depth).max().unwrap_or(0),
        serde_json::Value::Object(map) => 1 + map.values().map(json_depth).max().unwrap_or(0),
        _ => 1,
    }
}

async fn extreme_expiry_times(db: TestDb) {
    let f = fixture(&db).await;
    let before = snapshot(&db).await;
    // Long past: created already expired; never found, never extended.
    let past = NewSession::new()
        .extra("user_id", "mallory")
        .expires_at(Some(datetime!(1970-01-01 0:00 UTC)));
    match f.store.create(past).await {
        Ok(c) => {
            assert!(c.session.is_expired);
            assert!(f.store.lookup(c.token.expose()).await.unwrap().is_none());
            assert!(f.store.delete(c.session.id).await.unwrap());
        }
        Err(e) => panic!("{e:?}"),
    }
    // Before the calendars of the databases: stored, or refused by the database.
    let ancient = NewSession::new()
        .extra("user_id", "mallory")
        .expires_at(Some(datetime!(-9999-01-01 0:00 UTC)));
    match f.store.create(ancient).await {
        Ok(c) => {
            assert!(f.store.lookup(c.token.expose()).await.unwrap().is_none());
            assert!(f.store.delete(c.session.id).await.unwrap());
        }
        Err(e) => assert!(e.is_database(), "{e:?}"),
    }
    // Far future: valid, and lookups do not overflow the extension arithmetic.
    let future = NewSession::new()
        .extra("user_id", "mallory")
        .expires_at(Some(datetime!(9999-12-31 23:59:59.999999 UTC)));
    let c = f.store.create(future).await.unwrap();
    assert!(f.store.lookup(c.token.expose()).await.unwrap().is_some());
    assert!(f.store.delete(c.session.id).await.unwrap());
    assert_eq!(snapshot(&db).await, before);
    let _ = &f.clock;
}

async fn api_key_stores_refuse_forgeries(db: TestDb) {
    let f = fixture(&db).await;
    let keys = db
        .builder()
        .table("api_keys")
        .token_prefix("demo_sk_")
        .token_length(32)
        .build()
        .unwrap();
    keys.migrate().await.unwrap();
    let key = keys
        .create(NewSession::new().extra("user_id", "alice"))
        .await
        .unwrap()
        .token
        .into_string();
    let count_keys = "SELECT COUNT(*) FROM api_keys";
    let (body, sum) = key.split_at(key.len() - 6);
    let forged_sum = format!(
        "{body}{}",
        if sum == "000000" { "000001" } else { "000000" }
    );
    let mut forged_body = key.clone();
    let c = if &key[10..11] == "A" { "B" } else { "A" };
    forged_body.replace_range(10..11, c);
    // The checksum is public: a made-up key with a valid one passes the screen and is
    // refused by the digest lookup instead.
    let forged_with_checksum = {
        let (made_up, _) = forged_body.split_at(forged_body.len() - 6);
        format!("{made_up}{}", sqlx_sessions::checksum(made_up.as_bytes()))
    };
    assert!(keys.token_format().accepts(&forged_with_checksum));
    for bad in [
        "demo_sk_".to_owned(),
        format!("demo_sk_{}", "A".repeat(1 << 20)),
        forged_sum,
        forged_body,
        forged_with_checksum,
        key.to_uppercase(),
        key.replacen("demo_sk_", "DEMO_SK_", 1),
        key.replacen("demo_sk_", "prod_sk_", 1),
        format!("{key}\0"),
        format!("{key} "),
        key[8..].to_owned(),
        // A key is not a session token, and a session token is not a key.
        f.alice_token.clone(),
    ] {
        assert!(keys.lookup(&bad).await.unwrap().is_none(), "{bad:.40}");
        let all = Filter::new().token(&bad).status(Status::All);
        assert!(keys.delete_all(&all).await.unwrap().is_empty());
    }
    refuses_token(&db, &f, &key).await;
    assert_eq!(db.scalar(count_keys).await, 1);
    assert!(keys.lookup(&key).await.unwrap().is_some());
}

async fn a_token_of_one_store_means_nothing_to_another(db: TestDb) {
    let f = fixture(&db).await;
    let salted = db
        .builder()
        .table("salted")
        .secret_salt("pepper-pepper-pepper-pepper-pepper")
        .build()
        .unwrap();
    salted.migrate().await.unwrap();
    let other = salted
        .create(NewSession::new().extra("user_id", "alice"))
        .await
        .unwrap();
    refuses_token(&db, &f, other.token.expose()).await;
    assert!(salted.lookup(&f.alice_token).await.unwrap().is_none());
    // The digest of a token is not a token either.
    let digest = f.store.digest_hex(&f.alice_token).unwrap();
    refuses_token(&db, &f, &digest).await;
    refuses_token(&db, &f, &digest[..64]).await;
}

async fn expired_and_deleted_tokens_stay_refused(db: TestDb) {
    let f = fixture(&db).await;
    assert!(f.store.expire(f.alice_id).await.unwrap());
    assert!(f.store.delete(f.bob_id).await.unwrap());
    let before = snapshot(&db).await;
    for t in [&f.alice_token, &f.bob_token] {
        assert!(f.store.lookup(t).await.unwrap().is_none());
        assert!(
            f.store
                .get(&Filter::new().token(t))
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            f.store
                .expire_all(&Filter::new().token(t))
                .await
                .unwrap()
                .is_empty()
        );
    }
    assert!(f.store.extend(f.alice_id).await.unwrap().is_none());
    assert!(f.store.extend(f.bob_id).await.unwrap().is_none());
    assert!(!f.store.expire(f.alice_id).await.unwrap());
    assert_eq!(snapshot(&db).await, before);
}

async fn hostile_store_configuration_is_refused_at_build(db: TestDb) {
    let config = |e: &Error| matches!(e, Error::Config { .. });
    let results = [
        db.builder().table("sessions; DROP TABLE x").build().err(),
        db.builder().table("\"sessions\"").build().err(),
        db.builder().table("").build().err(),
        db.builder().table("a".repeat(64)).build().err(),
        db.builder().table("Sessions").build().err(),
        db.builder()
            .extra_column(ExtraColumn::text("user_id\" text, \"x"))
            .build()
            .err(),
        db.builder()
            .extra_column(ExtraColumn::text("auth_token_digest"))
            .build()
            .err(),
        db.builder().token_prefix("sk-'").build().err(),
        db.builder().token_prefix("").build().err(),
        db.builder().token_length(21).build().err(),
        db.builder().token_length(usize::MAX).build().err(),
        db.builder().ttl(Some(Duration::seconds(-1))).build().err(),
        db.builder().prune_batch_size(0).build().err(),
    ];
    for (i, r) in results.iter().enumerate() {
        assert!(r.as_ref().is_some_and(config), "case {i}: {r:?}");
    }
}

backend_tests!(
    empty_token,
    whitespace_tokens,
    a_real_token_with_surrounding_whitespace,
    one_megabyte_tokens,
    non_utf8_bytes_seen_through_lossy_conversion,
    nul_containing_tokens,
    right_length_outside_the_alphabet,
    near_misses_of_a_real_token,
    sql_metacharacters_in_tokens,
    sql_metacharacters_in_user_id_filters,
    sql_metacharacters_in_created_values_are_data,
    unknown_columns_in_filters,
    unknown_columns_at_creation,
    a_uuid_that_is_not_a_uuid,
    values_that_do_not_fit_their_column,
    another_users_session_id_is_not_theirs,
    paging_on_bulk_writes_is_refused,
    status_text_that_is_not_a_status,
    nul_in_values_is_refused_alike_on_both_databases,
    hostile_json_data_round_trips_or_is_refused,
    extreme_expiry_times,
    api_key_stores_refuse_forgeries,
    a_token_of_one_store_means_nothing_to_another,
    expired_and_deleted_tokens_stay_refused,
    hostile_store_configuration_is_refused_at_build,
);
