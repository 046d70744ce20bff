//! The pages: askama templates (checked at compile time, under `templates/`) and the rows
//! they show.

use askama::Template;
use sqlx_sessions::Session;
use time::OffsetDateTime;
use time::macros::format_description;
use uuid::Uuid;

/// `2030-01-01 12:00 UTC`.
pub fn when(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.format(format_description!(
        "[year]-[month]-[day] [hour]:[minute] UTC"
    ))
    .unwrap_or_else(|_| t.to_string())
}

/// The home page: sign up, or sign in with the user id and sign-in secret.
#[derive(Debug, Template)]
#[template(path = "index.html")]
pub struct IndexPage {
    /// The CSRF token of the forms.
    pub csrf_token: String,
    /// The signed-in user, if any.
    pub user_id: Option<Uuid>,
    /// A message about the last attempt (a failed sign-in, say).
    pub error: Option<String>,
    /// The message of the last action (signed out, say).
    pub flash: Option<crate::flash::Flash>,
    /// The user id last signed in from this browser, to pre-fill the form.
    pub last_user_id: Option<Uuid>,
}

/// The page after sign-up: the new user id and sign-in secret, shown once. Its `Debug`
/// output hides the secret.
#[derive(Template)]
#[template(path = "signed_up.html")]
pub struct SignedUpPage {
    /// The new user's id.
    pub user_id: Uuid,
    /// The sign-in secret.
    pub secret: String,
}

impl std::fmt::Debug for SignedUpPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedUpPage")
            .field("user_id", &self.user_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// One session (device) of the account page.
#[derive(Debug)]
pub struct DeviceRow {
    /// The session id.
    pub id: String,
    /// The name the user gave the device, or a short one from its user agent (`Chrome 156
    /// on Linux`).
    pub label: String,
    /// The name the user gave it (empty without one).
    pub name: String,
    /// The browser's user agent, as it said at sign-in.
    pub user_agent: String,
    /// The client address at sign-in.
    pub ip: String,
    /// When it was created.
    pub created: String,
    /// When it expires (or expired).
    pub expires: String,
    /// Whether it is this browser's session.
    pub current: bool,
    /// Whether it has expired.
    pub expired: bool,
}

impl DeviceRow {
    /// The row of `session`; `current` is this request's session id.
    pub fn new(session: &Session, current: uuid::Uuid) -> DeviceRow {
        let user_agent = session
            .data
            .get_str("user_agent")
            .unwrap_or_else(|| "unknown".into());
        let name = session.data.get_str("name").unwrap_or_default();
        DeviceRow {
            id: session.id.to_string(),
            label: if name.is_empty() {
                device_label(&user_agent)
            } else {
                name.clone()
            },
            name,
            user_agent,
            ip: session
                .data
                .get_str("ip")
                .unwrap_or_else(|| "unknown".into()),
            created: when(session.inserted_at),
            expires: session.expires_at.map_or_else(|| "never".into(), when),
            current: session.id == current,
            expired: session.is_expired,
        }
    }
}

/// A short name for a user agent: the browser (or tool) and its major version, and the
/// operating system, such as `Chrome 156 on Linux` or `curl 8`.
pub fn device_label(user_agent: &str) -> String {
    const BROWSERS: [(&str, &str); 8] = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("HeadlessChrome/", "Headless Chrome"),
        ("Chrome/", "Chrome"),
        ("Version/", "Safari"),
        ("curl/", "curl"),
        ("reqwest", "reqwest"),
    ];
    const SYSTEMS: [(&str, &str); 6] = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ];
    let browser = BROWSERS.iter().find_map(|(marker, name)| {
        let at = user_agent.find(marker)?;
        let major: String = user_agent[at + marker.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        Some(if major.is_empty() {
            (*name).to_owned()
        } else {
            format!("{name} {major}")
        })
    });
    let system = SYSTEMS
        .iter()
        .find(|(marker, _)| user_agent.contains(marker))
        .map(|(_, name)| *name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b,
        (None, Some(s)) => format!("A browser on {s}"),
        (None, None) => user_agent.chars().take(40).collect(),
    }
}

/// One API key of the account page.
#[derive(Debug)]
pub struct KeyRow {
    /// The key's session id.
    pub id: String,
    /// The name its owner gave it.
    pub name: String,
    /// The displayable start of the key (`demo_sk_AbCd`).
    pub hint: String,
    /// When it was created.
    pub created: String,
    /// When it was last used.
    pub last_used: String,
    /// When it expires (or expired), or `never`.
    pub expires: String,
    /// Its scopes, comma-separated.
    pub scopes: String,
    /// Its uses (flushed and still counted in memory).
    pub uses: u64,
    /// `active`, `suspended`, or `rolled` (replaced, working until it expires).
    pub status: &'static str,
}

impl KeyRow {
    /// The row of an API key, with `pending` uses not yet flushed to its row.
    pub fn new(key: &Session, pending: u64) -> KeyRow {
        KeyRow {
            scopes: key.scopes.join(", "),
            uses: key.uses + pending,
            status: if key.is_suspended() {
                "suspended"
            } else if key.replaced_by.is_some() {
                "rolled"
            } else {
                "active"
            },
            id: key.id.to_string(),
            name: key.data.get_str("name").unwrap_or_else(|| "unnamed".into()),
            hint: key.token_hint.clone().unwrap_or_default(),
            created: when(key.inserted_at),
            last_used: key.last_used_at.map_or_else(|| "never".into(), when),
            expires: key.expires_at.map_or_else(|| "never".into(), when),
        }
    }
}

/// A key just created: shown once. Its `Debug` output hides the key.
pub struct NewKey {
    /// Its name.
    pub name: String,
    /// The plaintext key.
    pub token: String,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("name", &self.name)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// The account page: the user's devices and API keys.
#[derive(Debug, Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    /// The CSRF token of the forms.
    pub csrf_token: String,
    /// The user.
    pub user_id: Uuid,
    /// When the user signed up.
    pub member_since: String,
    /// The sessions, newest first.
    pub devices: Vec<DeviceRow>,
    /// The API keys, newest first.
    pub keys: Vec<KeyRow>,
    /// A key created by this request, shown once.
    pub new_key: Option<NewKey>,
    /// A message about the last form.
    pub notice: Option<&'static str>,
    /// Whether creating a key needs the sign-in secret (the sign-in is not fresh).
    pub needs_secret: bool,
    /// The base URL for the `curl` line.
    pub base_url: String,
    /// The message of the last action.
    pub flash: Option<crate::flash::Flash>,
}

pub use sqlx_sessions::cache::CacheStats;

/// The numbers of `/stats`.
#[derive(Debug, serde::Serialize)]
pub struct Counts {
    /// Every row.
    pub total: u64,
    /// Not expired.
    pub active: u64,
    /// Expired, not yet pruned.
    pub expired: u64,
}

/// The stats page.
#[derive(Debug, Template)]
#[template(path = "stats.html")]
pub struct StatsPage {
    /// The signed-in user (for the navigation).
    pub user_id: Uuid,
    /// Users.
    pub users: i64,
    /// Sessions.
    pub sessions: Counts,
    /// API keys.
    pub api_keys: Counts,
    /// The read caches' counters (sessions, then API keys); empty without `--cache`.
    pub caches: Vec<CacheCard>,
}

/// One store's read cache on `/stats`.
#[derive(Debug)]
pub struct CacheCard {
    /// The heading.
    pub name: &'static str,
    /// The prefix of the element ids.
    pub id: &'static str,
    /// The counters.
    pub stats: CacheStats,
}

/// An error page.
#[derive(Debug, Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    /// The HTTP status.
    pub status: u16,
    /// Its reason phrase.
    pub reason: &'static str,
    /// What to tell the user.
    pub message: &'static str,
}

#[cfg(test)]
mod tests {
    use super::device_label;

    #[test]
    fn device_labels() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";
        assert_eq!(device_label(chrome), "Chrome 156 on Linux");
        let firefox =
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(device_label(firefox), "Firefox 128 on Windows");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
        assert_eq!(device_label(safari), "Safari 17 on iOS");
        assert_eq!(device_label("curl/8.5.0"), "curl 8");
        assert_eq!(device_label("unknown"), "unknown");
    }
}
