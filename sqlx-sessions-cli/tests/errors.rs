//! Exit codes and error messages: bad usage and input (2), an unreachable or failing
//! database (3), help and version (0). One line on stderr, never a panic or a backtrace.

mod common;

use common::{CliDb as _, assert_error, bin, stderr, stdout};
use sqlx_sessions_test_support::{Backend, TestDb, backend_tests};

backend_tests! {
    blocking:
    unknown_columns_are_bad_usage,
    a_table_without_the_declared_column_is_bad_usage,
    a_missing_table_is_bad_usage,
    malformed_json_data_is_bad_input,
    bad_values_are_bad_usage,
    a_failing_database_exits_3,
}

const SUBCOMMANDS: [&str; 9] = [
    "migrate", "create", "list", "count", "get", "expire", "revoke", "prune", "stats",
];

#[test]
fn every_subcommand_has_help() {
    let out = bin().arg("--help").output().expect("run");
    assert!(out.status.success());
    let help = stdout(&out);
    for sub in SUBCOMMANDS {
        assert!(help.contains(sub), "{sub} missing from --help");
    }
    assert!(help.contains("SQLX_SESSIONS_SECRET_SALT") && help.contains("Exit codes"));
    for sub in SUBCOMMANDS {
        let out = bin().args([sub, "--help"]).output().expect("run");
        assert!(out.status.success(), "{sub} --help");
        let help = stdout(&out);
        assert!(help.contains("Usage: sqlx-sessions"), "{sub}: {help}");
        assert!(
            help.contains("--database-url"),
            "{sub}: global options in help"
        );
    }
    bin()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicates::str::starts_with("sqlx-sessions "));
}

#[test]
fn help_never_shows_the_database_url_from_the_environment() {
    let out = bin()
        .env("DATABASE_URL", "postgres://user:hunter2@db/app")
        .arg("--help")
        .output()
        .expect("run");
    assert!(!stdout(&out).contains("hunter2"));
}

/// Issue 13, finding 12: the help prefers `DATABASE_URL` from the environment, and no
/// error shows a password of the URL, written in the user information or the query string.
#[test]
fn database_passwords_never_appear_and_the_help_prefers_the_environment() {
    let help = bin().arg("--help").output().expect("run");
    let help = stdout(&help);
    assert!(
        help.contains("Prefer the environment variable DATABASE_URL"),
        "{help}"
    );
    assert!(help.contains("export DATABASE_URL="), "{help}");
    for url in [
        "postgres://u:pw-in-userinfo@127.0.0.1:99999/db",
        "postgres://u:pw-in-userinfo@127.0.0.1:1/db",
        "postgres://u:pw-in-userinfo@[bad/db",
        "postgres://u:pw-in-userinfo@127.0.0.1/db?sslmode=bogus&password=pw-in-query",
        "postgres://u@127.0.0.1:1/db?password=pw-in-query",
        "sqlite://u:pw-in-userinfo@/nonexistent/dir/x.db",
        "mysql://u:pw-in-userinfo@127.0.0.1/db",
    ] {
        for flag in [true, false] {
            let mut cmd = bin();
            if flag {
                cmd.args(["--database-url", url]);
            } else {
                cmd.env("DATABASE_URL", url);
            }
            let out = cmd
                .args(["--connect-timeout", "2s", "count"])
                .output()
                .expect("run");
            assert!(!out.status.success(), "{url}");
            let text = format!("{}{}", stdout(&out), stderr(&out));
            assert!(text.contains("error:"), "{text}");
            for secret in ["pw-in-userinfo", "pw-in-query"] {
                assert!(!text.contains(secret), "{url}: {text}");
            }
        }
    }
}

#[test]
fn the_salt_is_never_a_flag() {
    let out = bin()
        .args(["--secret-salt", "x", "count"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_missing_database_url_is_bad_usage() {
    let out = bin().arg("count").output().expect("run");
    assert_error(&out, 2, "--database-url");
}

#[test]
fn bad_urls_are_bad_usage() {
    for (url, needle) in [
        ("redis://localhost/0", "unsupported scheme `redis`"),
        ("postgres://user@host:notaport/db", "--database-url"),
        ("sqlite://sessions.db?mode=sideways", "--database-url"),
    ] {
        let out = bin()
            .args(["--database-url", url, "count"])
            .output()
            .expect("run");
        assert_error(&out, 2, needle);
    }
}

#[test]
fn an_unknown_subcommand_or_flag_is_bad_usage() {
    for args in [&["frobnicate"][..], &["list", "--colour"], &[]] {
        let out = bin().args(args).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        common::assert_no_panic(&common::stderr(&out));
    }
}

#[test]
fn an_unreachable_postgres_server_exits_3() {
    // Port 1 on localhost: nothing listens there.
    let out = bin()
        .args([
            "--database-url",
            "postgres://nobody@127.0.0.1:1/app",
            "--connect-timeout",
            "1s",
            "count",
        ])
        .output()
        .expect("run");
    assert_error(&out, 3, "unreachable");
}

#[test]
fn a_sqlite_file_that_cannot_be_opened_exits_3() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!(
        "sqlite:{}",
        dir.path().join("missing/sessions.db").display()
    );
    let out = bin()
        .args(["--database-url", &url, "list"])
        .output()
        .expect("run");
    assert_error(&out, 3, "unable to open database file");
    // `list` never creates a database file.
    let url = format!("sqlite:{}", dir.path().join("absent.db").display());
    let out = bin()
        .args(["--database-url", &url, "list"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3));
    assert!(!dir.path().join("absent.db").exists());
}

fn unknown_columns_are_bad_usage(db: &TestDb) {
    db.migrated();
    db.create("alice");
    let out = db
        .cmd()
        .args(["list", "--where", "tenant=acme"])
        .output()
        .expect("run");
    assert_error(&out, 2, "unknown column `tenant`");
    let out = db
        .cmd()
        .args(["create", "--user", "a", "--extra", "tenant=acme"])
        .output()
        .expect("run");
    assert_error(&out, 2, "unknown column `tenant`");
    assert!(stdout(&out).is_empty(), "no token for a refused session");
    let out = db
        .cmd()
        .args(["revoke", "--where", "tenant=tenant"])
        .output()
        .expect("run");
    assert_error(&out, 2, "unknown column `tenant`");
    assert_eq!(
        stdout(&db.cmd().arg("count").output().expect("run")).trim(),
        "1"
    );
}

fn a_table_without_the_declared_column_is_bad_usage(db: &TestDb) {
    db.migrated();
    db.create("alice");
    // The options declare `tenant`, the table has only `user_id`. On SQLite a quoted
    // unknown name reads as a string literal: this must fail, not match every row.
    for args in [
        &["--extra-column", "tenant:text", "count"][..],
        &["--extra-column", "tenant:text", "list"],
        &[
            "--extra-column",
            "tenant:text",
            "revoke",
            "--where",
            "tenant=tenant",
        ],
    ] {
        let out = db.cmd().args(args).output().expect("run");
        assert_error(&out, 2, "tenant");
    }
    assert_eq!(
        stdout(&db.cmd().arg("count").output().expect("run")).trim(),
        "1"
    );
}

fn a_missing_table_is_bad_usage(db: &TestDb) {
    db.migrated();
    let out = db
        .cmd()
        .args(["--table", "sesions", "count"])
        .output()
        .expect("run");
    assert_error(&out, 2, "no table `sesions`");
    let out = db
        .cmd()
        .args(["--table", "Bad-Name", "count"])
        .output()
        .expect("run");
    assert_error(&out, 2, "not a valid name");
}

fn malformed_json_data_is_bad_input(db: &TestDb) {
    db.migrated();
    let out = db
        .cmd()
        .args(["create", "--user", "alice", "--data", "{\"unclosed\": "])
        .output()
        .expect("run");
    assert_error(&out, 2, "--data is not valid JSON");
    assert!(stdout(&out).is_empty());
    assert_eq!(
        stdout(&db.cmd().arg("count").output().expect("run")).trim(),
        "0"
    );
}

fn bad_values_are_bad_usage(db: &TestDb) {
    db.migrated();
    let cases: [(&[&str], &str); 6] = [
        (&["create", "--user", "a", "--ttl", "seven days"], "--ttl"),
        (&["create", "--user", "a", "--ttl", "0"], "--ttl"),
        (&["--hashing", "md5", "count"], "unknown algorithm"),
        (
            &["--extra-column", "user_id:blob", "count"],
            "unknown column type",
        ),
        (&["--extra-column", "user_id", "count"], "NAME:TYPE"),
        (&["list", "--limit", "many"], "--limit"),
    ];
    for (args, needle) in cases {
        let out = db.cmd().args(args).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = common::stderr(&out);
        assert!(err.contains(needle), "{args:?}: {err}");
        common::assert_no_panic(&err);
    }
    // Integer extra columns check their values.
    db.cmd()
        .args([
            "--table",
            "keys",
            "--extra-column",
            "account:integer",
            "migrate",
        ])
        .assert()
        .success();
    let out = db
        .cmd()
        .args([
            "--table",
            "keys",
            "--extra-column",
            "account:integer",
            "count",
            "--user",
            "abc",
        ])
        .output()
        .expect("run");
    assert_error(&out, 2, "not an integer");
}

fn a_failing_database_exits_3(db: &TestDb) {
    let url = match db.backend() {
        Backend::Sqlite => {
            // Not a database at all.
            let path = db.scratch().join("garbage.db");
            std::fs::write(&path, vec![0x5a; 8192]).expect("write");
            format!("sqlite:{}", path.display())
        }
        // A database that does not exist on a reachable server.
        Backend::Postgres | Backend::Mysql => {
            let base = db.url().rsplit_once('/').expect("a path").0;
            format!("{base}/no_such_database_here")
        }
    };
    for sub in ["count", "list", "stats", "prune"] {
        let out = db
            .cmd()
            .args(["--database-url", &url, sub])
            .output()
            .expect("run");
        assert_error(&out, 3, "database");
    }
}
