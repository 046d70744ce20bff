//! Every subcommand, run as the real binary on a fresh database, once on SQLite and once
//! on PostgreSQL.

mod common;

use common::{CliDb as _, assert_error, assert_no_panic, stderr, stdout};
use serde_json::Value as Json;
use sqlx_sessions::{NewSession, Pool, SessionStore, Settings};
use sqlx_sessions_test_support::{Backend, TestDb, backend_tests};

backend_tests! {
    blocking:
    migrate_creates_is_idempotent_and_drops,
    migrate_print_shows_ddl_without_running_it,
    create_prints_the_token_alone_on_stdout,
    create_takes_data_ttl_and_extra_columns,
    list_shows_a_table_or_json_lines,
    list_filters_by_user_status_and_limit,
    list_shows_digests_only_when_asked,
    count_prints_a_number,
    get_finds_the_session_of_a_token_on_stdin,
    get_exits_1_when_no_session_matches,
    get_refuses_empty_input,
    expire_by_id_and_by_user,
    revoke_by_id_and_by_user_except_one,
    prune_deletes_more_than_one_batch,
    prune_draws_a_progress_bar_on_a_terminal,
    stats_reports_totals_users_and_times,
    salt_comes_from_the_environment,
    the_apps_salt_variable_finds_the_apps_session,
    legacy_variable_names_still_read_with_a_warning,
    schema_option_per_database,
    control_characters_from_the_database_are_escaped,
}

/// JSON lines of `list --json ...`.
fn list_json(db: &TestDb, args: &[&str]) -> Vec<Json> {
    let out = db
        .cmd()
        .args(["list", "--json"])
        .args(args)
        .output()
        .expect("run");
    assert!(out.status.success(), "list failed: {}", stderr(&out));
    stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect()
}

fn count(db: &TestDb, args: &[&str]) -> u64 {
    let out = db.cmd().arg("count").args(args).output().expect("run");
    assert!(out.status.success(), "count failed: {}", stderr(&out));
    stdout(&out).trim().parse().expect("a number")
}

fn migrate_creates_is_idempotent_and_drops(db: &TestDb) {
    let out = db.cmd().arg("migrate").output().expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("sessions"));
    db.cmd().arg("migrate").assert().success();
    assert_eq!(count(db, &[]), 0);

    db.cmd().args(["migrate", "--down"]).assert().success();
    let out = db.cmd().arg("count").output().expect("run");
    assert_error(&out, 2, "no table");
    // Dropping twice is fine.
    db.cmd().args(["migrate", "--down"]).assert().success();
}

fn migrate_print_shows_ddl_without_running_it(db: &TestDb) {
    let out = db.cmd().args(["migrate", "--print"]).output().expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    // SQLite DDL quotes names with grave accents, PostgreSQL with double quotes.
    let ddl = stdout(&out).replace('`', "\"");
    assert!(
        ddl.contains("CREATE TABLE IF NOT EXISTS \"sessions\""),
        "{ddl}"
    );
    assert!(ddl.contains("\"user_id\""), "{ddl}");
    let digest_type = match db.backend() {
        Backend::Sqlite => "BLOB",
        Backend::Postgres => "bytea",
        Backend::Mysql => "varbinary(1094)",
    };
    assert!(ddl.contains(digest_type), "{ddl}");

    let down = db
        .cmd()
        .args(["migrate", "--print", "--down"])
        .output()
        .expect("run");
    assert!(stdout(&down).contains("DROP TABLE IF EXISTS"));

    // Nothing was run: the table does not exist.
    let out = db.cmd().arg("count").output().expect("run");
    let code = match db.backend() {
        Backend::Sqlite => 3, // not even the file was created
        Backend::Postgres | Backend::Mysql => 2,
    };
    assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
}

fn create_prints_the_token_alone_on_stdout(db: &TestDb) {
    db.migrated();
    let out = db
        .cmd()
        .args(["create", "--user", "42"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "one line: {text:?}");
    assert!(text.ends_with('\n'));
    let token = text.trim_end();
    assert_eq!(token.len(), 64);
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    let err = stderr(&out);
    assert!(err.contains("created session"), "{err}");
    assert!(!err.contains(token), "the token must not be on stderr");

    // The token works, and no other command ever prints it.
    let found = db.with_store(async |s| s.lookup(token).await.expect("lookup"));
    assert_eq!(found.expect("a session").extra_str("user_id"), Some("42"));
    for args in [
        &["list"][..],
        &["list", "--json", "--show-digest"],
        &["stats"],
        &["count"],
    ] {
        let out = db.cmd().args(args).output().expect("run");
        assert!(!stdout(&out).contains(token), "{args:?} printed the token");
        assert!(!stderr(&out).contains(token), "{args:?} printed the token");
    }
    let out = db
        .cmd()
        .args(["get", "--token-stdin"])
        .write_stdin(token)
        .output()
        .expect("run");
    assert!(!stdout(&out).contains(token) && !stderr(&out).contains(token));
}

fn create_takes_data_ttl_and_extra_columns(db: &TestDb) {
    db.migrated();
    db.cmd()
        .args([
            "create",
            "--user",
            "7",
            "--data",
            r#"{"note":"ci key"}"#,
            "--ttl",
            "none",
            "--max-lifetime",
            "none",
        ])
        .assert()
        .success();
    db.cmd()
        .args(["create", "--extra", "user_id=8", "--ttl", "2h"])
        .assert()
        .success();
    let sessions = list_json(db, &[]);
    assert_eq!(sessions.len(), 2);
    let by_user = |u: &str| {
        sessions
            .iter()
            .find(|s| s["extras"]["user_id"] == u)
            .expect("session")
            .clone()
    };
    let never = by_user("7");
    assert_eq!(never["data"]["note"], "ci key");
    assert!(never["expires_at"].is_null());
    let two_hours = by_user("8");
    let expires = time::OffsetDateTime::parse(
        two_hours["expires_at"].as_str().expect("expiry"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("RFC 3339");
    let left = expires - time::OffsetDateTime::now_utc();
    assert!(left > time::Duration::minutes(110) && left <= time::Duration::hours(2));

    // A user is required by the default `user_id:text` column.
    let out = db.cmd().arg("create").output().expect("run");
    assert_error(&out, 2, "user_id");
    assert!(stdout(&out).is_empty());
}

fn list_shows_a_table_or_json_lines(db: &TestDb) {
    db.migrated();
    // An empty list is an answer, not a failure.
    let out = db.cmd().arg("list").output().expect("run");
    assert!(out.status.success());
    assert!(stdout(&out).is_empty());
    assert!(stderr(&out).contains("no sessions"));

    db.cmd()
        .args([
            "create",
            "--user",
            "alice",
            "--data",
            r#"{"user_agent":"curl/8"}"#,
        ])
        .assert()
        .success();
    db.create("bob");
    let out = db.cmd().arg("list").output().expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    for header in ["ID", "USER_ID", "STATUS", "CREATED", "EXPIRES", "DATA"] {
        assert!(lines[0].contains(header), "{table}");
    }
    assert!(!lines[0].contains("DIGEST"));
    // Newest first.
    assert!(
        lines[1].contains("bob") && lines[2].contains("alice"),
        "{table}"
    );
    assert!(
        lines[2].contains("valid") && lines[2].contains("curl/8"),
        "{table}"
    );

    let sessions = list_json(db, &[]);
    assert_eq!(sessions.len(), 2);
    for s in &sessions {
        assert!(s["id"].is_string() && s["inserted_at"].is_string());
        assert_eq!(s["is_expired"], false);
        assert!(s.get("digest").is_none());
    }
}

fn list_filters_by_user_status_and_limit(db: &TestDb) {
    db.migrated();
    for _ in 0..3 {
        db.create("alice");
    }
    db.create("bob");
    db.seed_expired("alice", 2);
    assert_eq!(list_json(db, &["--user", "alice"]).len(), 3);
    assert_eq!(
        list_json(db, &["--user", "alice", "--status", "all"]).len(),
        5
    );
    let expired = list_json(db, &["--status", "expired"]);
    assert_eq!(expired.len(), 2);
    assert!(expired.iter().all(|s| s["is_expired"] == true));
    assert_eq!(list_json(db, &["--status", "all", "--limit", "4"]).len(), 4);
    assert_eq!(list_json(db, &["--where", "user_id=bob"]).len(), 1);
    assert_eq!(list_json(db, &["--user", "carol"]).len(), 0);

    let out = db
        .cmd()
        .args(["list", "--status", "old"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}

fn list_shows_digests_only_when_asked(db: &TestDb) {
    db.migrated();
    let token = db.create("alice");
    let digest = db.with_store(async |s| s.digest_hex(&token).expect("digest"));
    assert_eq!(digest.len(), 64);

    for args in [&["list"][..], &["list", "--json"]] {
        let out = db.cmd().args(args).output().expect("run");
        assert!(!stdout(&out).contains(&digest), "{args:?} printed a digest");
    }
    let out = db
        .cmd()
        .args(["list", "--show-digest"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("DIGEST") && stdout(&out).contains(&digest));
    let sessions = list_json(db, &["--show-digest"]);
    assert_eq!(sessions[0]["digest"], Json::String(digest));

    // With hashing `none` the "digest" is the token itself: refused.
    let out = db
        .cmd()
        .args(["--hashing", "none", "list", "--show-digest"])
        .output()
        .expect("run");
    assert_error(&out, 2, "--show-digest");
}

fn count_prints_a_number(db: &TestDb) {
    db.migrated();
    assert_eq!(count(db, &[]), 0);
    db.create("alice");
    db.create("alice");
    db.create("bob");
    db.seed_expired("alice", 1);
    assert_eq!(count(db, &[]), 3);
    assert_eq!(count(db, &["--user", "alice"]), 2);
    assert_eq!(count(db, &["--user", "alice", "--status", "all"]), 3);
    assert_eq!(count(db, &["--status", "expired"]), 1);
    assert_eq!(count(db, &["--user", "nobody"]), 0);
}

fn get_finds_the_session_of_a_token_on_stdin(db: &TestDb) {
    db.migrated();
    let token = db.create("alice");
    db.create("bob");
    let out = db
        .cmd()
        .args(["get", "--token-stdin"])
        .write_stdin(format!("{token}\n"))
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("user_id:") && text.contains("alice"),
        "{text}"
    );
    assert!(text.contains("status:") && text.contains("valid"), "{text}");

    let out = db
        .cmd()
        .args(["get", "--token-stdin", "--json", "--show-digest"])
        .write_stdin(token.as_str())
        .output()
        .expect("run");
    let session: Json = serde_json::from_str(stdout(&out).trim()).expect("JSON");
    assert_eq!(session["extras"]["user_id"], "alice");
    let digest = db.with_store(async |s| s.digest_hex(&token).expect("digest"));
    assert_eq!(session["digest"], Json::String(digest));

    // Looking a session up for support never extends it, even when it is due.
    let out = db
        .cmd()
        .args(["create", "--user", "carol", "--ttl", "1h"])
        .output()
        .expect("run");
    let due = stdout(&out).trim().to_owned();
    let expiry = || list_json(db, &["--user", "carol"])[0]["expires_at"].clone();
    let before = expiry();
    db.cmd()
        .args(["get", "--token-stdin"])
        .write_stdin(due.as_str())
        .assert()
        .success();
    assert_eq!(expiry(), before);

    // By id too; and an expired session is still found (whose key it was).
    let id = session["id"].as_str().expect("id").to_owned();
    db.cmd().args(["expire", &id]).assert().success();
    let out = db.cmd().args(["get", "--id", &id]).output().expect("run");
    assert!(out.status.success());
    assert!(stdout(&out).contains("expired"));
    let out = db
        .cmd()
        .args(["get", "--token-stdin", "--status", "valid"])
        .write_stdin(token.as_str())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
}

fn get_exits_1_when_no_session_matches(db: &TestDb) {
    db.migrated();
    db.create("alice");
    for input in ["unknown-token-0123456789", "not a token at all!"] {
        let out = db
            .cmd()
            .args(["get", "--token-stdin"])
            .write_stdin(input.replace(' ', "_"))
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stdout(&out).is_empty());
        assert!(stderr(&out).contains("no session"));
        assert!(
            !stderr(&out).contains("unknown-token"),
            "the input is never echoed"
        );
    }
    let out = db
        .cmd()
        .args(["get", "--id", "00000000-0000-0000-0000-000000000000"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
}

fn get_refuses_empty_input(db: &TestDb) {
    db.migrated();
    let out = db
        .cmd()
        .args(["get", "--token-stdin"])
        .write_stdin("  \n")
        .output()
        .expect("run");
    assert_error(&out, 2, "no token on standard input");
    let out = db
        .cmd()
        .args(["get", "--token-stdin"])
        .write_stdin("one two")
        .output()
        .expect("run");
    assert_error(&out, 2, "more than one token");
    // Neither a token nor an id: a usage error.
    let out = db.cmd().arg("get").output().expect("run");
    assert_eq!(out.status.code(), Some(2));
}

fn ids(db: &TestDb, user: &str) -> Vec<String> {
    list_json(db, &["--user", user, "--status", "all"])
        .iter()
        .map(|s| s["id"].as_str().expect("id").to_owned())
        .collect()
}

fn expire_by_id_and_by_user(db: &TestDb) {
    db.migrated();
    for _ in 0..3 {
        db.create("alice");
    }
    db.create("bob");
    let alice = ids(db, "alice");

    let out = db.cmd().args(["expire", &alice[0]]).output().expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "expired 1 session");
    // Already expired: nothing to do, exit 1.
    let out = db.cmd().args(["expire", &alice[0]]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out).trim(), "expired 0 sessions");

    let out = db
        .cmd()
        .args(["expire", "--user", "alice", "--except", &alice[1]])
        .output()
        .expect("run");
    assert_eq!(stdout(&out).trim(), "expired 1 session");
    assert_eq!(count(db, &["--user", "alice"]), 1);
    assert_eq!(count(db, &["--user", "alice", "--status", "expired"]), 2);

    let out = db
        .cmd()
        .args(["expire", "--user", "bob"])
        .output()
        .expect("run");
    assert_eq!(stdout(&out).trim(), "expired 1 session");
    let out = db
        .cmd()
        .args(["expire", "--user", "bob"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    // Rows are kept.
    assert_eq!(count(db, &["--status", "all"]), 4);

    // Bad usage: no target, a malformed id, ids with --user.
    for args in [
        &["expire"][..],
        &["expire", "not-a-uuid"],
        &["expire", &alice[1], "--user", "alice"],
        &["expire", &alice[1], "--except", &alice[2]],
    ] {
        let out = db.cmd().args(args).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_no_panic(&stderr(&out));
    }
}

fn revoke_by_id_and_by_user_except_one(db: &TestDb) {
    db.migrated();
    for _ in 0..3 {
        db.create("alice");
    }
    db.seed_expired("alice", 1);
    db.create("bob");
    let alice = ids(db, "alice");
    assert_eq!(alice.len(), 4);

    let out = db.cmd().args(["revoke", &alice[0]]).output().expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "revoked 1 session");
    let out = db.cmd().args(["revoke", &alice[0]]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out).trim(), "revoked 0 sessions");

    // Sign out every other device: expired sessions go too.
    let out = db
        .cmd()
        .args(["revoke", "--user", "alice", "--except", &alice[1]])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "revoked 2 sessions");
    assert_eq!(ids(db, "alice"), vec![alice[1].clone()]);
    assert_eq!(count(db, &["--user", "bob"]), 1);

    let out = db
        .cmd()
        .args(["revoke", "--user", "carol"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let out = db.cmd().arg("revoke").output().expect("run");
    assert_eq!(out.status.code(), Some(2), "revoke needs a target");
}

fn prune_deletes_more_than_one_batch(db: &TestDb) {
    db.migrated();
    db.seed_expired("alice", 25);
    db.create("alice");
    db.create("bob");
    let out = db
        .cmd()
        .args(["prune", "--batch", "10"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "deleted 25 expired sessions");
    // Not a terminal: plain progress lines, one per batch.
    let err = stderr(&out);
    assert!(err.contains("batch 1: deleted 10 (10 so far)"), "{err}");
    assert!(err.contains("batch 2: deleted 10 (20 so far)"), "{err}");
    assert!(err.contains("batch 3: deleted 5 (25 so far)"), "{err}");
    assert_eq!(count(db, &["--status", "all"]), 2);

    // Nothing left to prune is a success.
    let out = db.cmd().arg("prune").output().expect("run");
    assert!(out.status.success());
    assert_eq!(stdout(&out).trim(), "deleted 0 expired sessions");

    let out = db
        .cmd()
        .args(["prune", "--batch", "0"])
        .output()
        .expect("run");
    assert_error(&out, 2, "prune_batch_size");
}

fn prune_draws_a_progress_bar_on_a_terminal(db: &TestDb) {
    // `script` (util-linux) runs the binary on a pseudo-terminal.
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("note: `script` is not installed; skipping the terminal progress test");
        return;
    }
    db.migrated();
    db.seed_expired("alice", 25);
    let bin = assert_cmd::cargo::cargo_bin("sqlx-sessions");
    let out = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("'{}' prune --batch 10", bin.display()),
            "/dev/null",
        ])
        .env("DATABASE_URL", db.url())
        .output()
        .expect("run script");
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("expired sessions deleted"), "a bar: {text:?}");
    assert!(
        !text.contains("batch 1:"),
        "no plain lines on a terminal: {text:?}"
    );
    assert!(text.contains("deleted 25 expired sessions"), "{text:?}");
    assert_eq!(count(db, &["--status", "all"]), 0);
}

fn stats_reports_totals_users_and_times(db: &TestDb) {
    db.migrated();
    let out = db.cmd().args(["stats", "--json"]).output().expect("run");
    let empty: Json = serde_json::from_str(stdout(&out).trim()).expect("JSON");
    assert_eq!(empty["total"], 0);
    assert!(empty["oldest"].is_null() && empty["newest"].is_null());

    db.create("alice");
    db.create("alice");
    db.create("bob");
    db.seed_expired("carol", 2);
    let out = db.cmd().args(["stats", "--json"]).output().expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    let stats: Json = serde_json::from_str(stdout(&out).trim()).expect("JSON");
    assert_eq!(stats["total"], 5);
    assert_eq!(stats["valid"], 3);
    assert_eq!(stats["expired"], 2);
    assert_eq!(stats["distinct_users"], 3);
    let time = |k: &str| {
        time::OffsetDateTime::parse(
            stats[k].as_str().expect("a time"),
            &time::format_description::well_known::Rfc3339,
        )
        .expect("RFC 3339")
    };
    assert!(time("oldest") <= time("newest"));

    let out = db.cmd().arg("stats").output().expect("run");
    let text = stdout(&out);
    for line in [
        "total:",
        "valid:",
        "expired:",
        "distinct users: 3",
        "oldest:",
        "newest:",
    ] {
        assert!(text.contains(line), "{text}");
    }
}

fn salt_comes_from_the_environment(db: &TestDb) {
    db.migrated();
    let out = db
        .cmd()
        .env(
            "SQLX_SESSIONS_SECRET_SALT",
            "pepper-pepper-pepper-pepper-pepper",
        )
        .args(["create", "--user", "alice"])
        .output()
        .expect("run");
    let token = stdout(&out).trim().to_owned();
    let get = |salt: Option<&str>| {
        let mut cmd = db.cmd();
        if let Some(salt) = salt {
            cmd.env("SQLX_SESSIONS_SECRET_SALT", salt);
        }
        cmd.args(["get", "--token-stdin"])
            .write_stdin(token.as_str())
            .output()
            .expect("run")
            .status
            .code()
    };
    assert_eq!(get(Some("pepper-pepper-pepper-pepper-pepper")), Some(0));
    assert_eq!(get(None), Some(1));
    assert_eq!(get(Some("another-salt-of-at-least-32-bytes")), Some(1));

    // HMAC needs the key; without it, a clear usage error.
    let out = db
        .cmd()
        .args(["--hashing", "hmac_sha256", "count"])
        .output()
        .expect("run");
    assert_error(&out, 2, "secret_salt");
    let out = db
        .cmd()
        .env(
            "SQLX_SESSIONS_SECRET_SALT",
            "an-hmac-key-of-at-least-32-bytes",
        )
        .args(["--hashing", "hmac_sha256", "count"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    // Hashing `none` only from the flag, never from the variable alone.
    let out = db
        .cmd()
        .env("SQLX_SESSIONS_HASHING", "none")
        .args(["count"])
        .output()
        .expect("run");
    assert_error(&out, 2, "SQLX_SESSIONS_HASHING=none");
    // A short salt or key is refused, naming the setting.
    let out = db
        .cmd()
        .env("SQLX_SESSIONS_SECRET_SALT", "pepper")
        .args(["count"])
        .output()
        .expect("run");
    assert_error(&out, 2, "secret_salt");
}

const APP_SALT: &str = "the-apps-salt-of-at-least-32-bytes";

/// The application configures its store from `SQLX_SESSIONS_*`; the operator exports the
/// same variable and the tool finds the application's session.
fn the_apps_salt_variable_finds_the_apps_session(db: &TestDb) {
    db.migrated();
    let token = sqlx_sessions_test_support::block_on(async {
        let settings =
            Settings::from_lookup(|name| (name == "SECRET_SALT").then(|| APP_SALT.to_owned()))
                .expect("settings");
        let pool = Pool::connect(db.url()).await.expect("pool");
        let store = SessionStore::builder(pool.clone())
            .settings(settings)
            .build()
            .expect("store");
        let created = store
            .create(NewSession::new().extra("user_id", "app-user"))
            .await
            .expect("create");
        pool.close().await;
        created.token.into_string()
    });
    let get = |cmd: &mut assert_cmd::Command| {
        cmd.args(["get", "--token-stdin"])
            .write_stdin(token.as_str())
            .output()
            .expect("run")
    };
    let found = get(db.cmd().env("SQLX_SESSIONS_SECRET_SALT", APP_SALT));
    assert!(found.status.success(), "{}", stderr(&found));
    assert!(stdout(&found).contains("app-user"), "{}", stdout(&found));
    assert!(!stderr(&found).contains("warning"), "{}", stderr(&found));
    // Without the salt the digest differs: nobody's token.
    assert_eq!(get(&mut db.cmd()).status.code(), Some(1));
}

/// The tool's earlier `SESSIONS_*` names still work, with a warning naming the new
/// variable; when both are set the new name wins.
fn legacy_variable_names_still_read_with_a_warning(db: &TestDb) {
    db.migrated();
    let created = db
        .cmd()
        .env("SQLX_SESSIONS_SECRET_SALT", APP_SALT)
        .args(["create", "--user", "alice"])
        .output()
        .expect("run");
    let token = stdout(&created).trim().to_owned();
    let get = |cmd: &mut assert_cmd::Command| {
        cmd.args(["get", "--token-stdin"])
            .write_stdin(token.as_str())
            .output()
            .expect("run")
    };
    let legacy = get(db.cmd().env("SESSIONS_SECRET_SALT", APP_SALT));
    assert!(legacy.status.success(), "{}", stderr(&legacy));
    assert!(
        stderr(&legacy).contains(
            "warning: SESSIONS_SECRET_SALT is deprecated: set SQLX_SESSIONS_SECRET_SALT instead"
        ),
        "{}",
        stderr(&legacy)
    );
    let both = get(db
        .cmd()
        .env("SQLX_SESSIONS_SECRET_SALT", APP_SALT)
        .env("SESSIONS_SECRET_SALT", "a-stale-salt-of-at-least-32-bytes"));
    assert!(both.status.success(), "{}", stderr(&both));
    assert!(
        stderr(&both).contains("SESSIONS_SECRET_SALT is ignored: SQLX_SESSIONS_SECRET_SALT is set"),
        "{}",
        stderr(&both)
    );
    let wrong_new = get(db
        .cmd()
        .env(
            "SQLX_SESSIONS_SECRET_SALT",
            "a-stale-salt-of-at-least-32-bytes",
        )
        .env("SESSIONS_SECRET_SALT", APP_SALT));
    assert_eq!(wrong_new.status.code(), Some(1), "{}", stderr(&wrong_new));

    // Options read through clap: the legacy name counts, the new one wins.
    let listed = |cmd: &mut assert_cmd::Command| {
        let out = cmd.args(["count"]).output().expect("run");
        (out.status.code(), stdout(&out), stderr(&out))
    };
    let (code, _, err) = listed(db.cmd().env("SESSIONS_MAX_LIFETIME", "forever"));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "warning: SESSIONS_MAX_LIFETIME is deprecated: set SQLX_SESSIONS_MAX_LIFETIME instead"
        ),
        "{err}"
    );
    let (code, out, err) = listed(
        db.cmd()
            .env("SESSIONS_MAX_LIFETIME", "forever")
            .env("SQLX_SESSIONS_MAX_LIFETIME", "none"),
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.trim(), "1");
    assert!(err.contains("SESSIONS_MAX_LIFETIME is ignored"), "{err}");
    let (code, _, err) = listed(db.cmd().env("SESSIONS_HASHING", "none"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("SESSIONS_HASHING=none is refused"), "{err}");
    assert!(!err.contains("SQLX_SESSIONS_HASHING=none"), "{err}");
}

fn schema_option_per_database(db: &TestDb) {
    // A MySQL schema is a database of the server: one of this test's own.
    let schema = db.schema_name("auth");
    let with_schema = |args: &[&str]| {
        let mut cmd = db.cmd();
        cmd.args(["--schema", &schema, "--table", "api_keys"])
            .args(args);
        cmd.output().expect("run")
    };
    match db.backend() {
        Backend::Sqlite => {
            assert_error(&with_schema(&["migrate"]), 2, "SQLite has no schemas");
        }
        Backend::Postgres | Backend::Mysql => {
            assert!(with_schema(&["migrate"]).status.success());
            let out = with_schema(&["create", "--user", "ci"]);
            assert!(out.status.success(), "{}", stderr(&out));
            let out = with_schema(&["list", "--json", "--show-digest"]);
            assert!(out.status.success(), "{}", stderr(&out));
            let row: Json = serde_json::from_str(stdout(&out).trim()).expect("JSON");
            assert_eq!(row["extras"]["user_id"], "ci");
            assert_eq!(row["digest"].as_str().map(str::len), Some(64));
            // The default table in the default schema was never created.
            assert_error(&db.cmd().arg("count").output().expect("run"), 2, "no table");
            let out = db
                .cmd()
                .args(["--schema", "other", "--table", "api_keys", "count"])
                .output()
                .expect("run");
            assert_error(&out, 2, "no table `other.api_keys`");
        }
    }
}

/// Issue 13, finding 11: a stored value with terminal escape codes (clear the screen, set
/// the title, C1 CSI, DEL, a bidirectional override) is printed escaped in tables and field
/// lines, and as the same JSON value in JSON lines.
fn control_characters_from_the_database_are_escaped(db: &TestDb) {
    db.migrated();
    let user = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}H\u{7f}\u{202e}x";
    let data = r#"{"note":"\u009b2J\u001b[31mred"}"#;
    let out = db
        .cmd()
        .args(["create", "--user", user, "--data", data])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    let token = stdout(&out).trim().to_owned();
    let raw = ['\u{1b}', '\u{7}', '\u{9b}', '\u{7f}', '\u{202e}'];
    let table = db.cmd().arg("list").output().expect("run");
    assert!(table.status.success(), "{}", stderr(&table));
    let fields = db
        .cmd()
        .args(["get", "--token-stdin"])
        .write_stdin(token.as_str())
        .output()
        .expect("run");
    assert!(fields.status.success(), "{}", stderr(&fields));
    for out in [&table, &fields] {
        let text = stdout(out);
        for c in raw {
            assert!(!text.contains(c), "a raw {c:?} in {text:?}");
        }
        assert!(
            text.contains(r"\x1b]0;pwned\x07\x1b[2J\u{9b}H\x7f\u{202e}x"),
            "{text}"
        );
    }
    let json = db
        .cmd()
        .args(["get", "--token-stdin", "--json"])
        .write_stdin(token.as_str())
        .output()
        .expect("run");
    for out in [
        json,
        db.cmd().args(["list", "--json"]).output().expect("run"),
    ] {
        let text = stdout(&out);
        for c in raw {
            assert!(!text.contains(c), "a raw {c:?} in {text:?}");
        }
        let session: Json = serde_json::from_str(text.trim()).expect("exact JSON");
        assert_eq!(session["extras"]["user_id"], user);
        assert_eq!(session["data"]["note"], "\u{9b}2J\u{1b}[31mred");
    }
}
