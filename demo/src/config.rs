//! The demo's settings, from the command line and the environment.

use std::net::SocketAddr;
use std::time::Duration;

use crate::db::DEFAULT_DATABASE;

/// How the demo runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `DATABASE_URL`, or a SQLite file in the working folder.
    pub database_url: String,
    /// `--bind ADDR`, or `127.0.0.1:$PORT`, or `127.0.0.1:4000`.
    pub bind: SocketAddr,
    /// `SECURE_COOKIES=1` (or `--secure-cookies`) behind HTTPS. Off by default: the demo
    /// serves plain http on the loopback.
    pub secure_cookies: bool,
    /// `CSRF_SECRET` (at least 16 bytes), or a random one per start.
    pub csrf_secret: Option<String>,
    /// `--prune-interval` or `PRUNE_INTERVAL` (`90s`, `5m`, ...): how often expired sessions
    /// and keys are deleted (default 60 s).
    pub prune_interval: Duration,
}

/// The `--help` text.
pub const USAGE: &str = "\
sqlx-sessions-demo: sessions, devices and API keys in a small web app

USAGE:
    sqlx-sessions-demo [--bind ADDR] [--database-url URL] [--secure-cookies]
                       [--prune-interval DURATION]

OPTIONS:
    --bind ADDR          listen address (default 127.0.0.1:4000, or 127.0.0.1:$PORT)
    --database-url URL   sqlite:FILE, postgres://... or mysql://... (default $DATABASE_URL, else
                         sqlite:sqlx-sessions-demo.db in the working folder)
    --secure-cookies     mark cookies Secure (serve over HTTPS then)
    --prune-interval D   how often expired sessions are deleted (default 60s; 5m, 2h...)
    -h, --help           this text

ENVIRONMENT:
    DATABASE_URL, PORT, SECURE_COOKIES=1, CSRF_SECRET, PRUNE_INTERVAL, RUST_LOG
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
            secure_cookies: env("SECURE_COOKIES").is_some_and(|v| v == "1" || v == "true"),
            csrf_secret: env("CSRF_SECRET").filter(|v| !v.is_empty()),
            prune_interval: Duration::from_secs(60),
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
                "--database-url" => config.database_url = value()?,
                "--secure-cookies" => config.secure_cookies = true,
                "--prune-interval" => config.prune_interval = prune_interval(&value()?)?,
                other => return Err(format!("unknown argument `{other}` (see --help)")),
            }
        }
        Ok(Some(config))
    }
}

/// A positive duration such as `90s` or `5m`.
fn prune_interval(text: &str) -> Result<Duration, String> {
    let d = sqlx_sessions::settings::parse_duration("prune_interval", text)
        .map_err(|e| e.to_string())?;
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
            &["--bind", "0.0.0.0:5000", "--secure-cookies"],
            &[("PORT", "8080")],
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.bind.to_string(), "0.0.0.0:5000");
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
    }
}
