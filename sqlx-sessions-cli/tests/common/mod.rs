//! What the command line tests add to the shared test support: the binary with a clean
//! environment on a test's database, seeding through the library, and output checks.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

use assert_cmd::Command;
use sqlx_sessions::{NewSession, Pool, SessionStore};
use sqlx_sessions_test_support::{TestDb, block_on};
use time::{Duration, OffsetDateTime};

/// The binary and the library on a test's database.
pub trait CliDb {
    /// A directory of this test for scratch files.
    fn scratch(&self) -> PathBuf;
    /// The binary, with `DATABASE_URL` set to this database and no other configuration
    /// inherited from the environment.
    fn cmd(&self) -> Command;
    /// Runs `migrate` and returns the database.
    fn migrated(&self) -> &Self;
    /// Creates a session of `user` with the binary and returns its token.
    fn create(&self, user: &str) -> String;
    /// The library store on this database's default table, for seeding and checks.
    fn with_store<T>(&self, f: impl AsyncFnOnce(SessionStore) -> T) -> T;
    /// Inserts `n` sessions of `user` that expired an hour ago, through the library.
    fn seed_expired(&self, user: &str, n: usize);
}

impl CliDb for TestDb {
    fn scratch(&self) -> PathBuf {
        self.dir()
            .map_or_else(std::env::temp_dir, ToOwned::to_owned)
    }

    fn cmd(&self) -> Command {
        let mut cmd = bin();
        cmd.env("DATABASE_URL", self.url());
        cmd
    }

    fn migrated(&self) -> &Self {
        self.cmd().arg("migrate").assert().success();
        self
    }

    fn create(&self, user: &str) -> String {
        let out = self
            .cmd()
            .args(["create", "--user", user])
            .output()
            .expect("run");
        assert!(out.status.success(), "create failed: {out:?}");
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    }

    fn with_store<T>(&self, f: impl AsyncFnOnce(SessionStore) -> T) -> T {
        block_on(async {
            let pool = Pool::connect(self.url()).await.expect("pool");
            let store = SessionStore::builder(pool).build().expect("store");
            f(store).await
        })
    }

    fn seed_expired(&self, user: &str, n: usize) {
        self.with_store(async |store| {
            let past = OffsetDateTime::now_utc() - Duration::hours(1);
            for _ in 0..n {
                store
                    .create(
                        NewSession::new()
                            .extra("user_id", user)
                            .expires_at(Some(past)),
                    )
                    .await
                    .expect("seed an expired session");
            }
        });
    }
}

/// The binary with a clean environment: no database, salt or token settings inherited,
/// and backtraces requested so a test notices if one is ever printed.
pub fn bin() -> Command {
    let mut cmd = Command::cargo_bin("sqlx-sessions").expect("the binary is built");
    cmd.env_remove("DATABASE_URL");
    for var in [
        "SECRET_SALT",
        "HASHING",
        "TOKEN_PREFIX",
        "TOKEN_LENGTH",
        "MAX_LIFETIME",
    ] {
        // Today's names and the earlier ones without the `SQLX_` prefix.
        cmd.env_remove(format!("SQLX_SESSIONS_{var}"));
        cmd.env_remove(format!("SESSIONS_{var}"));
    }
    cmd.env("RUST_BACKTRACE", "1");
    cmd
}

/// Standard output of a finished command, as text.
pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8 stdout")
}

/// Standard error of a finished command, as text.
pub fn stderr(output: &std::process::Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("utf-8 stderr")
}

/// Asserts a failure with `code` and exactly one line on standard error, which contains
/// `needle` and no trace of a panic.
pub fn assert_error(output: &std::process::Output, code: i32, needle: &str) {
    let err = stderr(output);
    assert_eq!(
        output.status.code(),
        Some(code),
        "exit code; stderr: {err}; stdout: {}",
        stdout(output)
    );
    assert_eq!(err.lines().count(), 1, "one line on stderr, got: {err}");
    assert!(
        err.contains(needle),
        "stderr should mention `{needle}`: {err}"
    );
    assert_no_panic(&err);
}

/// Asserts that no panic or backtrace was printed.
pub fn assert_no_panic(stderr: &str) {
    for sign in ["panicked", "backtrace", "RUST_BACKTRACE"] {
        assert!(!stderr.contains(sign), "looks like a panic: {stderr}");
    }
}
