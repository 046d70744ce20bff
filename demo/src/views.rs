//! The pages: askama templates (checked at compile time, under `templates/`) and the rows
//! they show.

use askama::Template;
use sqlx_sessions::Session;
use time::OffsetDateTime;
use time::macros::format_description;

/// `2030-01-01 12:00 UTC`.
pub fn when(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.format(format_description!(
        "[year]-[month]-[day] [hour]:[minute] UTC"
    ))
    .unwrap_or_else(|_| t.to_string())
}

/// The home page: sign up, or sign in by user id.
#[derive(Debug, Template)]
#[template(path = "index.html")]
pub struct IndexPage {
    /// The CSRF token of the forms.
    pub csrf_token: String,
    /// The signed-in user, if any.
    pub user_id: Option<i64>,
    /// A message about the last attempt (unknown user id, say).
    pub error: Option<String>,
}

/// One session (device) of the account page.
#[derive(Debug)]
pub struct DeviceRow {
    /// The session id.
    pub id: String,
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
        DeviceRow {
            id: session.id.to_string(),
            user_agent: session
                .data
                .get_str("user_agent")
                .unwrap_or_else(|| "unknown".into()),
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
}

impl KeyRow {
    /// The row of an API key.
    pub fn new(key: &Session) -> KeyRow {
        KeyRow {
            id: key.id.to_string(),
            name: key.data.get_str("name").unwrap_or_else(|| "unnamed".into()),
            hint: key.token_hint.clone().unwrap_or_default(),
            created: when(key.inserted_at),
            last_used: key.last_used_at.map_or_else(|| "never".into(), when),
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
    pub user_id: i64,
    /// When the user signed up.
    pub member_since: String,
    /// The sessions, newest first.
    pub devices: Vec<DeviceRow>,
    /// The API keys, newest first.
    pub keys: Vec<KeyRow>,
    /// A key created by this request, shown once.
    pub new_key: Option<NewKey>,
    /// The base URL for the `curl` line.
    pub base_url: String,
}

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
    /// The signed-in user, if any (for the navigation).
    pub user_id: Option<i64>,
    /// Users.
    pub users: i64,
    /// Sessions.
    pub sessions: Counts,
    /// API keys.
    pub api_keys: Counts,
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
