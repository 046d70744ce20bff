//! The real demo binary at start-up: what it refuses and what its log says.

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use common::TestDb;

fn demo() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sqlx-sessions-demo"));
    for name in [
        "DATABASE_URL",
        "PORT",
        "ALLOW_NON_LOOPBACK",
        "ALLOWED_HOSTS",
        "CSRF_SECRET",
    ] {
        cmd.env_remove(name);
    }
    cmd.env("RUST_LOG", "info");
    cmd
}

/// Issue 13, finding 6: a non-loopback `--bind` is refused without the explicit flag.
#[test]
fn a_non_loopback_bind_is_refused_without_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = demo()
        .args(["--bind", "0.0.0.0:0"])
        .env("DATABASE_URL", dir.path().join("demo.db"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--allow-non-loopback"), "{stderr}");
    assert!(
        !dir.path().join("demo.db").exists(),
        "refused before opening the database"
    );
}

/// Issue 13, finding 12: the start-up log names the database without its password, in
/// the user information or in the query string.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_startup_log_shows_no_database_password() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    // The test server trusts loopback connections, so the passwords are never checked:
    // they only have to stay out of the log.
    let url = db
        .url()
        .replacen("://postgres@", "://postgres:userinfo-pw-1@", 1);
    let sep = if url.contains('?') { '&' } else { '?' };
    let url = format!("{url}{sep}password=query-pw-2");
    assert!(
        url.contains("userinfo-pw-1"),
        "PG_TEST_URL names the user postgres: {url}"
    );
    let mut child = demo()
        .args(["--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", &url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let done = line.contains("listening on");
        lines.push(line);
        if done {
            break;
        }
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    let log = lines.join("\n");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(log.contains("listening on"), "{status}: {log}\n{stderr}");
    assert!(log.contains("postgres:***@"), "{log}");
    assert!(log.contains("password=***"), "{log}");
    for secret in ["userinfo-pw-1", "query-pw-2"] {
        assert!(!log.contains(secret), "{log}");
        assert!(!stderr.contains(secret), "{stderr}");
    }
}
