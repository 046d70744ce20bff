//! `keys`: create with scopes and expiry, list, suspend, resume and roll, run as the real
//! binary on a fresh database of every kind, with the library using the keys in between.

mod common;

use assert_cmd::Command;
use common::{CliDb as _, assert_error, stderr, stdout};
use sqlx_sessions::{Pool, SessionStore};
use sqlx_sessions_test_support::{TestDb, backend_tests, block_on};

backend_tests! {
    blocking:
    keys_are_created_listed_suspended_resumed_and_rolled,
}

/// The binary on the `api_keys` table, keys living until their own expiry.
fn keys(db: &TestDb) -> Command {
    let mut cmd = db.cmd();
    cmd.args([
        "keys",
        "--table",
        "api_keys",
        "--max-lifetime",
        "none",
        "--token-prefix",
        "cli_sk_",
    ]);
    cmd
}

/// Runs `f` on the library's store of the same table, as the application would open it.
fn with_keys<T>(db: &TestDb, f: impl AsyncFnOnce(SessionStore) -> T) -> T {
    block_on(async {
        let pool = Pool::connect(db.url()).await.expect("pool");
        let store = SessionStore::builder(pool)
            .table("api_keys")
            .token_prefix("cli_sk_")
            .scopes()
            .key_lifecycle(time::Duration::seconds(5))
            .track_last_used(time::Duration::minutes(1))
            .max_lifetime(None)
            .build()
            .expect("store");
        f(store).await
    })
}

/// Whether the library accepts `token` now (and counts the use).
fn works(db: &TestDb, token: &str) -> bool {
    let token = token.to_owned();
    with_keys(db, async move |store| {
        let found = store.lookup(&token).await.expect("lookup").is_some();
        store.flush_uses().await.expect("flush");
        found
    })
}

fn create(db: &TestDb, args: &[&str]) -> String {
    let out = keys(db).arg("create").args(args).output().expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    assert_eq!(printed.lines().count(), 1, "the token alone: {printed:?}");
    printed.trim().to_owned()
}

/// The `keys list` table row of the key named `name`.
fn row(db: &TestDb, name: &str) -> String {
    let out = keys(db).arg("list").output().expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some(name))
        .unwrap_or_else(|| panic!("no key {name}: {}", stdout(&out)))
        .to_owned()
}

fn id_in(row: &str) -> String {
    row.split_whitespace().next().expect("id").to_owned()
}

fn keys_are_created_listed_suspended_resumed_and_rolled(db: &TestDb) {
    let out = keys(db).arg("migrate").output().expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    let ci = create(
        db,
        &[
            "--user",
            "alice",
            "--name",
            "ci",
            "--scope",
            "me:read",
            "--scope",
            "sessions:write",
            "--expires",
            "never",
        ],
    );
    assert!(ci.starts_with("cli_sk_"));
    let ro = create(
        db,
        &[
            "--user",
            "alice",
            "--name",
            "ro",
            "--scope",
            "me:read",
            "--expires",
            "30d",
        ],
    );
    create(
        db,
        &[
            "--user",
            "bob",
            "--name",
            "all",
            "--scope",
            "*",
            "--expires",
            "2099-01-31",
        ],
    );
    // The expiry is an explicit choice; scopes are checked.
    let out = keys(db)
        .args(["create", "--user", "a", "--name", "x"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let out = keys(db)
        .args([
            "create",
            "--user",
            "a",
            "--name",
            "x",
            "--scope",
            "bad scope!",
            "--expires",
            "30d",
        ])
        .output()
        .expect("run");
    assert_error(&out, 2, "scope");
    let out = keys(db)
        .args(["create", "--user", "a", "--name", "x", "--expires", "soon"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));

    // Uses by the application show up in the list, with the last use.
    assert!(works(db, &ci) && works(db, &ci) && works(db, &ci));
    let line = row(db, "ci");
    assert!(line.contains("me:read,sessions:write"), "{line}");
    assert!(
        line.contains(" valid ") && line.contains(" never "),
        "{line}"
    );
    assert!(
        line.trim_end().ends_with("  3     -"),
        "uses, no hint: {line}"
    );
    assert!(!line.contains("never  3"), "a last use is shown: {line}");
    let out = keys(db)
        .args(["list", "--json", "--user", "alice"])
        .output()
        .expect("run");
    let ci_json: serde_json::Value = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON"))
        .find(|k| k["data"]["name"] == "ci")
        .expect("ci in JSON");
    assert_eq!(ci_json["uses"], 3);
    assert!(ci_json["last_used_at"].is_string());
    let line = row(db, "ro");
    assert!(
        line.contains("(in 29d)") || line.contains("(in 30d)"),
        "{line}"
    );
    assert!(row(db, "all").contains("2099-01-31T00:00:00Z"));
    // By scope, wildcards included.
    let out = keys(db)
        .args(["list", "--scope", "sessions:write"])
        .output()
        .expect("run");
    let listed = stdout(&out);
    assert!(
        listed.contains(" ci ") && listed.contains(" all ") && !listed.contains(" ro "),
        "{listed}"
    );
    let out = keys(db)
        .args(["list", "--json", "--user", "alice"])
        .output()
        .expect("run");
    assert_eq!(stdout(&out).lines().count(), 2);
    assert!(stdout(&out).contains("\"scopes\":[\"me:read\",\"sessions:write\"]"));

    // Suspend: refused at once, listed as suspended; resume: works again.
    let ci_id = id_in(&row(db, "ci"));
    keys(db).args(["suspend", &ci_id]).assert().success();
    assert!(!works(db, &ci));
    assert!(row(db, "ci").contains(" suspended "));
    keys(db).args(["resume", &ci_id]).assert().success();
    assert!(works(db, &ci));
    let unknown = uuid::Uuid::new_v4().to_string();
    for cmd in ["suspend", "resume", "roll"] {
        let out = keys(db).args([cmd, &unknown]).output().expect("run");
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        assert!(stdout(&out).is_empty());
    }
    let out = keys(db).args(["suspend", "nope"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));

    // Roll with a grace period: a new key, the old one "rolled" for an hour.
    let out = keys(db)
        .args(["roll", &ci_id, "--grace", "1h"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    let new = stdout(&out).trim().to_owned();
    assert!(new.starts_with("cli_sk_") && new != ci);
    assert!(works(db, &new) && works(db, &ci));
    let out = keys(db)
        .args(["list", "--user", "alice"])
        .output()
        .expect("run");
    let listed = stdout(&out);
    let old_line = listed
        .lines()
        .find(|l| l.starts_with(&ci_id))
        .expect("old key");
    assert!(
        old_line.contains(" rolled ") && old_line.contains("(in 59m)"),
        "{old_line}"
    );
    assert_eq!(
        listed.matches("me:read,sessions:write").count(),
        2,
        "{listed}"
    );
    // Zero grace: the old one stops at once.
    let new_id = id_in(
        listed
            .lines()
            .find(|l| !l.starts_with(&ci_id) && l.contains(" ci "))
            .expect("new key"),
    );
    let out = keys(db).args(["roll", &new_id]).output().expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!works(db, &new));
    assert!(works(db, stdout(&out).trim()));
    let out = keys(db)
        .args(["roll", &new_id, "--grace", "soon"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    // The other commands still see the table as sessions.
    let out = db
        .cmd()
        .args([
            "count",
            "--table",
            "api_keys",
            "--max-lifetime",
            "none",
            "--user",
            "alice",
        ])
        .output()
        .expect("run");
    assert_eq!(stdout(&out).trim(), "3", "{}", stderr(&out));
    let _ = ro;
}
