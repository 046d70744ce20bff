//! Throw-away database servers that a test may stop and start again (the fault tests):
//! PostgreSQL (initdb and pg_ctl from `/usr/lib/postgresql/*/bin`) and MariaDB
//! (`mariadb-install-db` and `mariadbd`), each with its own data directory under `/tmp`, on a
//! free loopback port, run as the unprivileged [`SERVER_USER`] when the tests run as root
//! (as `scripts/test.sh` does), removed when dropped.
//!
//! Without the server binaries [`Server::start`] answers `None` (the test skips with a note),
//! unless CI=true (or the backend's `SQLX_SESSIONS_REQUIRE_*`) makes it fail.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{mysql_required, pg_required};

/// The unprivileged user servers run as when the tests run as root (`scripts/test.sh`
/// creates it).
pub const SERVER_USER: &str = "sqlxsess";

/// Which server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerKind {
    /// PostgreSQL.
    Postgres,
    /// MariaDB (the MySQL backend).
    Mariadb,
}

impl ServerKind {
    fn required(self) -> bool {
        match self {
            ServerKind::Postgres => pg_required(),
            ServerKind::Mariadb => mysql_required(),
        }
    }
}

/// A running (or paused) throw-away server.
#[derive(Debug)]
pub struct Server {
    kind: ServerKind,
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_root: bool,
    /// The MariaDB server process while it runs (PostgreSQL's is pg_ctl's business).
    child: Option<Child>,
}

/// A free TCP port on the loopback interface (free when asked; the servers retry nothing,
/// a clash fails the test with the server's log).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn pg_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|d| d.join("initdb").exists() && d.join("pg_ctl").exists())
        .collect();
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
    });
    dirs.pop()
}

fn mariadb_bin() -> Option<PathBuf> {
    let installer = ["/usr/bin/mariadb-install-db", "/usr/bin/mysql_install_db"]
        .iter()
        .any(|p| Path::new(p).exists());
    let server = ["/usr/sbin/mariadbd", "/usr/sbin/mysqld"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    server.filter(|_| installer)
}

fn succeeded(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Server {
    /// Starts a fresh server, or `None` (skip, with a note) without its binaries outside CI.
    pub fn start(kind: ServerKind) -> Option<Server> {
        let bin = match kind {
            ServerKind::Postgres => pg_bin_dir(),
            ServerKind::Mariadb => mariadb_bin(),
        };
        let Some(bin) = bin else {
            assert!(
                !kind.required(),
                "{kind:?} server binaries are required (CI) but missing"
            );
            eprintln!("note: no {kind:?} server binaries; skipping a fault test");
            return None;
        };
        let as_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        if as_root && !succeeded(Command::new("id").arg(SERVER_USER)) {
            assert!(
                !kind.required(),
                "run as root, the server needs the user {SERVER_USER} (scripts/test.sh creates it)"
            );
            eprintln!("note: no user {SERVER_USER} to run a server as; skipping a fault test");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("sqlx-sessions-faults.")
            .tempdir_in("/tmp")
            .expect("a temporary directory")
            .keep();
        let mut server = Server {
            kind,
            bin,
            dir,
            port: free_port(),
            as_root,
            child: None,
        };
        server.own(&server.dir.clone());
        match kind {
            ServerKind::Postgres => server.init_postgres(),
            ServerKind::Mariadb => server.init_mariadb(),
        }
        server.resume();
        Some(server)
    }

    /// The URL of the server's default database.
    pub fn url(&self) -> String {
        match self.kind {
            ServerKind::Postgres => format!("postgres://postgres@127.0.0.1:{}/postgres", self.port),
            ServerKind::Mariadb => format!("mysql://root@127.0.0.1:{}/mysql", self.port),
        }
    }

    /// Which server this is.
    pub fn kind(&self) -> ServerKind {
        self.kind
    }

    /// Gives `path` to the server's user when running as root.
    fn own(&self, path: &Path) {
        if self.as_root {
            let ok = succeeded(Command::new("chown").arg(SERVER_USER).arg(path));
            assert!(
                ok,
                "chown to {SERVER_USER} (scripts/test.sh creates the user)"
            );
        }
    }

    /// A command for `program`, run as the server's user when running as root.
    fn command(&self, program: &Path) -> Command {
        let mut cmd = if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", SERVER_USER, "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        cmd.current_dir(&self.dir).stdin(Stdio::null());
        cmd
    }

    /// Runs a tool to completion, failing the test with its output when it fails.
    fn run(&self, program: &Path, args: &[&str]) {
        let out = self
            .command(program)
            .args(args)
            .output()
            .expect("run a server tool");
        assert!(
            out.status.success(),
            "{} failed: {}{}",
            program.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn init_postgres(&self) {
        let sock = self.dir.join("sock");
        std::fs::create_dir_all(&sock).expect("socket directory");
        self.own(&sock);
        let initdb = self.bin.join("initdb");
        let data = self.data();
        let args = ["-D", &data, "-A", "trust", "-U", "postgres", "-E", "UTF8"];
        self.run(
            &initdb,
            &[&args[..], &["--no-locale", "--no-sync"]].concat(),
        );
    }

    fn init_mariadb(&self) {
        let installer = ["/usr/bin/mariadb-install-db", "/usr/bin/mysql_install_db"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .expect("checked in start");
        let datadir = format!("--datadir={}", self.data());
        // `normal`: root without a password over TCP, like PostgreSQL's trust.
        self.run(
            &installer,
            &[
                "--no-defaults",
                &datadir,
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
            ],
        );
    }

    /// Starts (or starts again) the server and waits until it accepts connections.
    pub fn resume(&mut self) {
        match self.kind {
            ServerKind::Postgres => {
                let options = format!(
                    "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c max_connections=100",
                    self.port,
                    self.dir.join("sock").display()
                );
                let log = self.dir.join("server.log").display().to_string();
                let data = self.data();
                let args = [
                    "-D", &data, "-l", &log, "-w", "-t", "30", "-o", &options, "start",
                ];
                self.run(&self.bin.join("pg_ctl"), &args);
            }
            ServerKind::Mariadb => self.start_mariadbd(),
        }
    }

    fn start_mariadbd(&mut self) {
        let dir = self.dir.display();
        let args = [
            "--no-defaults".to_owned(),
            format!("--datadir={}", self.data()),
            format!("--port={}", self.port),
            "--bind-address=127.0.0.1".to_owned(),
            format!("--socket={dir}/mysqld.sock"),
            format!("--pid-file={dir}/mysqld.pid"),
            format!("--log-error={dir}/server.log"),
            "--skip-name-resolve".to_owned(),
            "--skip-log-bin".to_owned(),
            "--innodb-flush-log-at-trx-commit=0".to_owned(),
            "--max-connections=200".to_owned(),
        ];
        let child = self
            .command(&self.bin)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mariadbd");
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("mariadbd exited with {status}: {}", self.log());
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "MariaDB did not start in 30 s: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// Stops the server with its clients disconnected, as in an outage or a restart, and
    /// waits until it has gone.
    pub fn pause(&mut self) {
        match self.kind {
            ServerKind::Postgres => {
                let data = self.data();
                let args = ["-D", &data, "-m", "fast", "-w", "stop"];
                self.run(&self.bin.join("pg_ctl"), &args);
            }
            ServerKind::Mariadb => self.stop_mariadbd("TERM"),
        }
    }

    /// Signals mariadbd by its pid file (so `runuser` exits with it) and waits for it.
    fn stop_mariadbd(&mut self, signal: &str) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = std::fs::read_to_string(self.dir.join("mysqld.pid"))
            .ok()
            .map(|p| p.trim().to_owned());
        match pid {
            Some(pid) => {
                succeeded(Command::new("kill").args([&format!("-{signal}"), &pid]));
            }
            None => {
                let _ = child.kill();
            }
        }
        let started = Instant::now();
        while child.try_wait().ok().flatten().is_none() {
            if started.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        match self.kind {
            ServerKind::Postgres => {
                let data = self.data();
                let _ = self
                    .command(&self.bin.join("pg_ctl"))
                    .args(["-D", &data, "-m", "immediate", "stop"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
            ServerKind::Mariadb => self.stop_mariadbd("KILL"),
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
