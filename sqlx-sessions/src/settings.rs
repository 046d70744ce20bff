//! Store settings, their defaults, validation and the environment.

use time::Duration;

use crate::digest::{Hashing, Secret};
use crate::error::{Error, Result};
use crate::token::TokenFormat;

/// How a store issues, digests, expires and extends sessions.
///
/// Every field has the default of ecto_sessions but `max_lifetime` (30 days here, none
/// there); [`Settings::validate`] (called when a store is built) refuses bad combinations
/// with an error naming the setting.
///
/// The fields are public to read and to assign; the struct is `#[non_exhaustive]`, so a
/// new setting is not a breaking change: start from [`Settings::default`] or
/// [`Settings::from_env`] (or use the [`StoreBuilder`](crate::StoreBuilder) setters).
///
/// ```
/// use sqlx_sessions::Settings;
///
/// let mut settings = Settings::default();
/// settings.ttl = Some(time::Duration::days(90));
/// settings.max_lifetime = None; // long-lived API keys lift the cap explicitly
/// assert!(settings.validate().is_ok());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Settings {
    /// Random characters in a new token (default 64, at least 22).
    pub token_length: usize,
    /// API-key prefix such as `myapp_sk_`; tokens then carry a checksum (default none).
    pub token_prefix: Option<String>,
    /// The digest algorithm (default SHA-256).
    pub hashing: Hashing,
    /// The current secret salt (pepper) or HMAC key (default none; at least
    /// [`Settings::MIN_SECRET_BYTES`] bytes).
    pub secret_salt: Option<Secret>,
    /// Earlier salts still accepted at lookup; rows found under one are re-digested (any
    /// length, so an application can rotate off a short salt).
    pub previous_salts: Vec<Secret>,
    /// Lifetime given at creation and at each extension (default 7 days; `None`: never expires).
    pub ttl: Option<Duration>,
    /// Extension writes only when `now + ttl > expires_at + extend_stale_time` (default 1 day;
    /// `None`: never extend; zero: at every use).
    pub extend_stale_time: Option<Duration>,
    /// Whether a successful lookup of one session extends it (default true).
    pub auto_extend: bool,
    /// Absolute limit since `inserted_at` that no extension passes (default 30 days, the
    /// periodic re-authentication of ASVS 3.3.2 and NIST SP 800-63B; `None` lifts it). It
    /// caps every session, including one created with an explicit expiry or with no `ttl`:
    /// a store of long-lived API keys lifts it explicitly.
    pub max_lifetime: Option<Duration>,
    /// With a `last_used_at` column: how often a lookup may write it (default 1 hour).
    pub touch_interval: Duration,
    /// Rows deleted per statement when deleting expired sessions (default 5,000).
    pub prune_batch_size: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            token_length: 64,
            token_prefix: None,
            hashing: Hashing::Sha256,
            secret_salt: None,
            previous_salts: Vec::new(),
            ttl: Some(Duration::days(7)),
            extend_stale_time: Some(Duration::days(1)),
            auto_extend: true,
            max_lifetime: Some(Self::DEFAULT_MAX_LIFETIME),
            touch_interval: Duration::hours(1),
            prune_batch_size: 5_000,
        }
    }
}

impl Settings {
    /// The default [`Settings::max_lifetime`]: 30 days.
    pub const DEFAULT_MAX_LIFETIME: Duration = Duration::days(30);

    /// The fewest bytes a current [`Settings::secret_salt`] (salt or HMAC key) may have: 32,
    /// the output size of SHA-256, so the secret is not the weak part. Shorter salts are
    /// accepted among [`Settings::previous_salts`] only, so a table digested under one (an
    /// ecto_sessions app's, say) can rotate onto a long one.
    pub const MIN_SECRET_BYTES: usize = 32;

    /// The prefix of the environment variables read by [`Settings::from_env`].
    pub const ENV_PREFIX: &str = "SQLX_SESSIONS_";

    /// The defaults, overridden by the environment variables that are set:
    ///
    /// | variable | example |
    /// | --- | --- |
    /// | `SQLX_SESSIONS_TOKEN_LENGTH` | `64` |
    /// | `SQLX_SESSIONS_TOKEN_PREFIX` | `myapp_sk_` |
    /// | `SQLX_SESSIONS_HASHING` | `sha256`, `sha3_256`, `hmac_sha256`, ... (not `none`) |
    /// | `SQLX_SESSIONS_SECRET_SALT` | a secret of at least 32 bytes |
    /// | `SQLX_SESSIONS_PREVIOUS_SALTS` | comma-separated secrets |
    /// | `SQLX_SESSIONS_TTL` | `7d`, `12h`, `3600` (seconds), `none` |
    /// | `SQLX_SESSIONS_EXTEND_STALE_TIME` | `1d`, `0`, `none` |
    /// | `SQLX_SESSIONS_AUTO_EXTEND` | `true` / `false` |
    /// | `SQLX_SESSIONS_MAX_LIFETIME` | `30d`, `none` |
    /// | `SQLX_SESSIONS_TOUCH_INTERVAL` | `1h` |
    /// | `SQLX_SESSIONS_PRUNE_BATCH_SIZE` | `5000` |
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(format!("{}{name}", Self::ENV_PREFIX)).ok())
    }

    /// Like [`Settings::from_env`], reading variables through `get` (given names without
    /// the prefix, such as `TTL`).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut s = Settings::default();
        if let Some(v) = get("TOKEN_LENGTH") {
            s.token_length = v.trim().parse().map_err(|_| {
                Error::config("token_length", format!("`{v}` is not a whole number"))
            })?;
        }
        if let Some(v) = get("TOKEN_PREFIX") {
            s.token_prefix = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = get("HASHING") {
            s.hashing = v.parse()?;
            if s.hashing == Hashing::None {
                // One mistyped variable must not put plaintext tokens in the table.
                return Err(Error::config(
                    "hashing",
                    format!(
                        "`none` stores tokens in plaintext and cannot be chosen through {}HASHING; choose it in code (`StoreBuilder::hashing(Hashing::None)`) if you must",
                        Self::ENV_PREFIX
                    ),
                ));
            }
        }
        if let Some(v) = get("SECRET_SALT") {
            s.secret_salt = Some(Secret::from(v)).filter(|v| !v.expose().is_empty());
        }
        if let Some(v) = get("PREVIOUS_SALTS") {
            s.previous_salts = v
                .split(',')
                .filter(|p| !p.is_empty())
                .map(Secret::from)
                .collect();
        }
        if let Some(v) = get("TTL") {
            s.ttl = parse_optional_duration("ttl", &v)?;
        }
        if let Some(v) = get("EXTEND_STALE_TIME") {
            s.extend_stale_time = parse_optional_duration("extend_stale_time", &v)?;
        }
        if let Some(v) = get("AUTO_EXTEND") {
            s.auto_extend = match v.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => true,
                "false" | "0" | "no" | "off" => false,
                _ => {
                    return Err(Error::config(
                        "auto_extend",
                        format!("`{v}` is not a boolean"),
                    ));
                }
            };
        }
        if let Some(v) = get("MAX_LIFETIME") {
            s.max_lifetime = parse_optional_duration("max_lifetime", &v)?;
        }
        if let Some(v) = get("TOUCH_INTERVAL") {
            s.touch_interval = parse_duration("touch_interval", &v)?;
        }
        if let Some(v) = get("PRUNE_BATCH_SIZE") {
            s.prune_batch_size = v.trim().parse().map_err(|_| {
                Error::config("prune_batch_size", format!("`{v}` is not a whole number"))
            })?;
        }
        Ok(s)
    }

    /// Refuses bad combinations, naming the setting and the reason; gives the token format
    /// the settings describe. The only check of the settings: [`StoreBuilder::build`](crate::StoreBuilder::build)
    /// calls it and adds only the checks about the table.
    pub fn validate(&self) -> Result<TokenFormat> {
        let format = self.token_format()?;
        match (self.hashing, &self.secret_salt) {
            (Hashing::None, Some(_)) => {
                return Err(Error::config(
                    "secret_salt",
                    "a salt with hashing `none` is a configuration error",
                ));
            }
            (Hashing::HmacSha256, None) => {
                return Err(Error::config(
                    "secret_salt",
                    "hashing `hmac_sha256` needs a secret key",
                ));
            }
            _ => {}
        }
        if !self.previous_salts.is_empty() && self.hashing == Hashing::None {
            return Err(Error::config(
                "previous_salts",
                "salt rotation needs a hashing algorithm",
            ));
        }
        if !self.previous_salts.is_empty() && self.secret_salt.is_none() {
            return Err(Error::config(
                "previous_salts",
                "previous salts need a current secret_salt to rotate to",
            ));
        }
        if self.previous_salts.iter().any(|s| s.expose().is_empty()) {
            return Err(Error::config("previous_salts", "a salt cannot be empty"));
        }
        if let Some(salt) = &self.secret_salt {
            let len = salt.expose().len();
            if len == 0 {
                return Err(Error::config(
                    "secret_salt",
                    "cannot be empty; leave it unset instead",
                ));
            }
            if len < Self::MIN_SECRET_BYTES {
                return Err(Error::config(
                    "secret_salt",
                    format!(
                        "a salt or HMAC key needs at least {} bytes (this one has {len}); a shorter one may stay among previous_salts while rows move to a long one",
                        Self::MIN_SECRET_BYTES
                    ),
                ));
            }
        }
        if self.previous_salts.len() > 8 {
            return Err(Error::config("previous_salts", "at most 8 previous salts"));
        }
        positive("ttl", self.ttl)?;
        positive("max_lifetime", self.max_lifetime)?;
        if self.extend_stale_time.is_some_and(|s| s.is_negative()) {
            return Err(Error::config("extend_stale_time", "cannot be negative"));
        }
        if self.extend_stale_time.is_some_and(|s| s > MAX_DURATION) {
            return Err(Error::config(
                "extend_stale_time",
                "must be at most 1000 years",
            ));
        }
        if let (Some(ttl), Some(stale)) = (self.ttl, self.extend_stale_time)
            && stale >= ttl
        {
            return Err(Error::config(
                "extend_stale_time",
                "must be shorter than ttl, or sessions expire before they are ever extended",
            ));
        }
        if self.touch_interval.is_negative() || self.touch_interval > MAX_DURATION {
            return Err(Error::config(
                "touch_interval",
                "must be between zero and 1000 years",
            ));
        }
        if !(1..=100_000).contains(&self.prune_batch_size) {
            return Err(Error::config(
                "prune_batch_size",
                "must be between 1 and 100000",
            ));
        }
        Ok(format)
    }

    /// The token format these settings describe.
    pub fn token_format(&self) -> Result<TokenFormat> {
        match &self.token_prefix {
            None => TokenFormat::plain(self.token_length),
            Some(prefix) => TokenFormat::prefixed(prefix, self.token_length),
        }
    }
}

/// The longest duration a setting takes: far beyond any session, short enough that
/// `now + duration` stays inside the calendar.
const MAX_DURATION: Duration = Duration::days(365 * 1_000);

fn positive(setting: &'static str, d: Option<Duration>) -> Result<()> {
    if d.is_some_and(|d| !d.is_positive()) {
        return Err(Error::config(setting, "must be positive (or none)"));
    }
    if d.is_some_and(|d| d > MAX_DURATION) {
        return Err(Error::config(setting, "must be at most 1000 years"));
    }
    Ok(())
}

/// Parses a duration such as `90s`, `15m`, `12h`, `7d`, `2w`, or a bare number of seconds.
///
/// ```
/// use sqlx_sessions::parse_duration;
/// assert_eq!(parse_duration("ttl", "7d").unwrap(), time::Duration::days(7));
/// assert!(parse_duration("ttl", "seven days").is_err());
/// ```
pub fn parse_duration(setting: &'static str, text: &str) -> Result<Duration> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let bad = || {
        Error::config(
            setting,
            format!("`{text}` is not a duration such as 90s, 15m, 12h, 7d or 2w"),
        )
    };
    let n: i64 = digits.parse().map_err(|_| bad())?;
    let secs = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad()),
    };
    n.checked_mul(secs).map(Duration::seconds).ok_or_else(bad)
}

/// Like [`parse_duration`], with `none` (or `never`) meaning `None`.
pub fn parse_optional_duration(setting: &'static str, text: &str) -> Result<Option<Duration>> {
    match text.trim().to_ascii_lowercase().as_str() {
        "none" | "never" => Ok(None),
        _ => parse_duration(setting, text).map(Some),
    }
}
