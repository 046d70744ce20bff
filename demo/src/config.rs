//! The demo's settings, from the command line and the environment.

use std::net::SocketAddr;
use std::time::Duration;

use crate::db::DEFAULT_DATABASE;

/// How the demo runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `DATABASE_URL`, or a SQLite file in the working folder.
    pub database_url: String,
    /// `--bind ADDR`, or `127.0.0.1:$PORT`, or `127.0.0.1:4000`. A loopback address unless
    /// `allow_non_loopback`.
    pub bind: SocketAddr,
    /// `--allow-non-loopback` or `ALLOW_NON_LOOPBACK=1`: listen on another address (this is
    /// a demo: anyone who can reach it can sign up).
    pub allow_non_loopback: bool,
    /// `--allowed-host NAME` (repeatable) or `ALLOWED_HOSTS=a,b`: `Host` names answered
    /// besides the loopback names and the bound address.
    pub allowed_hosts: Vec<String>,
    /// `SECURE_COOKIES=1` (or `--secure-cookies`) behind HTTPS. Off by default: the demo
    /// serves plain http on the loopback.
    pub secure_cookies: bool,
    /// `CSRF_SECRET` (at least 16 bytes), or a random one per start.
    pub csrf_secret: Option<String>,
    /// `--prune-interval` or `PRUNE_INTERVAL` (`90s`, `5m`, ...): how often expired sessions
    /// and keys are deleted (default 60 s).
    pub prune_interval: Duration,
    /// `--cache` or `CACHE=1`: answer lookups from a read cache that the database keeps
    /// current (changes made elsewhere, such as the CLI's `expire`, are seen within its
    /// bound: 100 ms on PostgreSQL, 1 s on SQLite and MySQL/MariaDB).
    pub cache: bool,
}

/// The `--help` text.
pub const USAGE: &str = "\
sqlx-sessions-demo: sessions, devices and API keys in a small web app

USAGE:
    sqlx-sessions-demo [--bind ADDR] [--allow-non-loopback] [--allowed-host NAME]
                       [--secure-cookies] [--prune-interval DURATION] [--cache]

This is a demo: run it on your own machine, not as a service.

OPTIONS:
    --bind ADDR          listen address (default 127.0.0.1:4000, or 127.0.0.1:$PORT);
                         a loopback address unless --allow-non-loopback
    --allow-non-loopback listen on a non-loopback address (anyone who reaches it can
                         sign up)
    --allowed-host NAME  also answer to this Host name (repeatable); the loopback names
                         and the bound address are always allowed
    --database-url URL   sqlite:FILE, postgres://... or mysql://... (prefer $DATABASE_URL: a flag is
                         visible to other users in `ps`; default
                         sqlite:sqlx-sessions-demo.db in the working folder)
    --secure-cookies     mark cookies Secure (serve over HTTPS then)
    --prune-interval D   how often expired sessions are deleted (default 60s; 5m, 2h...)
    --cache              answer lookups from a read cache kept current by the database
                         (revocations seen within 100 ms on PostgreSQL, 1 s elsewhere)
    -h, --help           this text

ENVIRONMENT:
    DATABASE_URL, PORT, SECURE_COOKIES=1, CSRF_SECRET, PRUNE_INTERVAL, CACHE=1,
    ALLOW_NON_LOOPBACK=1, ALLOWED_HOSTS=name1,name2, RUST_LOG
";

impl Config {
    /// Reads the arguments (without the program name) and the environment through `env`.
    /// `Ok(None)` means `--help` was asked for.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Config>, String> {
        let mut config = Config {
            database_url: env("DATABASE_URL")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| DEFAULT_DATABASE.to_owned()),
            bind: SocketAddr::from(([127, 0, 0, 1], 4000)),
            allow_non_loopback: env("ALLOW_NON_LOOPBACK").is_some_and(|v| v == "1" || v == "true"),
            allowed_hosts: env("ALLOWED_HOSTS")
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|h| !h.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            secure_cookies: env("SECURE_COOKIES").is_some_and(|v| v == "1" || v == "true"),
            csrf_secret: env("CSRF_SECRET").filter(|v| !v.is_empty()),
            prune_interval: Duration::from_secs(60),
            cache: env("CACHE").is_some_and(|v| v == "1" || v == "true"),
        };
        if let Some(v) = env("PRUNE_INTERVAL").filter(|v| !v.is_empty()) {
            config.prune_interval = prune_interval(&v)?;
        }
        if let Some(port) = env("PORT").filter(|v| !v.is_empty()) {
            let port: u16 = port
                .parse()
                .map_err(|_| format!("PORT must be a port number, not `{port}`"))?;
            config.bind.set_port(port);
        }
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
                _ => (arg.clone(), None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            match flag.as_str() {
                "-h" | "--help" => return Ok(None),
                "--bind" => {
                    let v = value()?;
                    config.bind = v.parse().map_err(|_| {
                        format!("--bind needs an address like 127.0.0.1:4000, not `{v}`")
                    })?;
                }
                "--allow-non-loopback" => config.allow_non_loopback = true,
                "--allowed-host" => config.allowed_hosts.push(value()?),
                "--database-url" => config.database_url = value()?,
                "--secure-cookies" => config.secure_cookies = true,
                "--cache" => config.cache = true,
                "--prune-interval" => config.prune_interval = prune_interval(&value()?)?,
                other => return Err(format!("unknown argument `{other}` (see --help)")),
            }
        }
        if !config.bind.ip().is_loopback() && !config.allow_non_loopback {
            return Err(format!(
                "refusing to listen on {}: this demo lets anyone who reaches it sign up; \
                 use a loopback address, or pass --allow-non-loopback \
                 (ALLOW_NON_LOOPBACK=1) if you mean it",
                config.bind
            ));
        }
        Ok(Some(config))
    }
}

/// A positive duration such as `90s` or `5m`.
fn prune_interval(text: &str) -> Result<Duration, String> {
    let d = sqlx_sessions::parse_duration("prune_interval", text).map_err(|e| e.to_string())?;
    u64::try_from(d.whole_seconds())
        .ok()
        .filter(|&s| s > 0)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("the prune interval must be positive, not `{text}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Option<Config>, String> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::parse(args.iter().map(|s| s.to_string()), move |k| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_env_and_flags() {
        let c = parse(&[], &[]).unwrap().unwrap();
        assert_eq!(c.bind.to_string(), "127.0.0.1:4000");
        assert_eq!(c.database_url, DEFAULT_DATABASE);
        assert!(!c.secure_cookies);
        let c = parse(&[], &[("PORT", "8080"), ("DATABASE_URL", "postgres://x/y")])
            .unwrap()
            .unwrap();
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url, "postgres://x/y");
        let c = parse(
            &["--bind", "[::1]:5000", "--secure-cookies"],
            &[("PORT", "8080")],
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.bind.to_string(), "[::1]:5000");
        assert!(c.secure_cookies);
        let c = parse(&["--database-url=sqlite:x.db"], &[])
            .unwrap()
            .unwrap();
        assert_eq!(c.database_url, "sqlite:x.db");
        assert_eq!(parse(&["--help"], &[]).unwrap(), None);
        assert!(parse(&["--bind"], &[]).is_err());
        assert!(parse(&["--bind", "nope"], &[]).is_err());
        assert!(parse(&["--frobnicate"], &[]).is_err());
        assert!(parse(&[], &[("PORT", "x")]).is_err());
        assert_eq!(
            parse(&[], &[]).unwrap().unwrap().prune_interval,
            Duration::from_secs(60)
        );
        let c = parse(&["--prune-interval", "5m"], &[("PRUNE_INTERVAL", "2s")])
            .unwrap()
            .unwrap();
        assert_eq!(c.prune_interval, Duration::from_secs(300));
        let c = parse(&[], &[("PRUNE_INTERVAL", "2s")]).unwrap().unwrap();
        assert_eq!(c.prune_interval, Duration::from_secs(2));
        assert!(parse(&["--prune-interval", "0s"], &[]).is_err());
        assert!(parse(&["--prune-interval", "soon"], &[]).is_err());
        assert!(!parse(&[], &[]).unwrap().unwrap().cache);
        assert!(parse(&["--cache"], &[]).unwrap().unwrap().cache);
        assert!(parse(&[], &[("CACHE", "1")]).unwrap().unwrap().cache);
        assert!(!parse(&[], &[("CACHE", "0")]).unwrap().unwrap().cache);
    }

    #[test]
    fn non_loopback_binds_need_the_explicit_flag() {
        for bind in ["0.0.0.0:5000", "192.0.2.7:4000", "[::]:4000"] {
            let refused = parse(&["--bind", bind], &[]).unwrap_err();
            assert!(refused.contains("--allow-non-loopback"), "{refused}");
            let c = parse(&["--bind", bind, "--allow-non-loopback"], &[])
                .unwrap()
                .unwrap();
            assert_eq!(c.bind.to_string(), bind);
            assert!(
                parse(&["--bind", bind], &[("ALLOW_NON_LOOPBACK", "1")])
                    .unwrap()
                    .is_some()
            );
        }
        let c = parse(
            &["--allowed-host", "demo.test", "--allowed-host=other.test"],
            &[("ALLOWED_HOSTS", "a.test, b.test")],
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            c.allowed_hosts,
            ["a.test", "b.test", "demo.test", "other.test"]
        );
    }
}
