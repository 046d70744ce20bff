//! Database URLs without their passwords, for log lines and error messages.
//!
//! ```
//! use sqlx_sessions::redact::{redact_password, redact_url};
//! assert_eq!(
//!     redact_url("postgres://app:hunter2@db/app?sslmode=require"),
//!     "postgres://app:***@db/app?sslmode=require"
//! );
//! assert_eq!(
//!     redact_url("postgres://app@db/app?password=hunter2"),
//!     "postgres://app@db/app?password=***"
//! );
//! let url = "postgres://app:hunter2@db/app";
//! assert_eq!(
//!     redact_password("cannot use hunter2 here", url),
//!     "cannot use *** here"
//! );
//! ```

/// Query parameters that carry a password (compared without case).
const PASSWORD_PARAMS: [&str; 2] = ["password", "sslpassword"];

/// `url` with the password of its `user:password@` part and of any `password=` query
/// parameter replaced by `***`; anything else unchanged (a URL without a password, or text
/// that is not a URL, comes back as it is).
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = String::with_capacity(url.len());
    match userinfo_password(base) {
        Some((start, end)) => {
            out.push_str(&base[..start]);
            out.push_str("***");
            out.push_str(&base[end..]);
        }
        None => out.push_str(base),
    }
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if is_password_param(name) => format!("{name}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out
}

/// `text` with every password of the database URL `url` (as written and percent-decoded)
/// replaced by `***`: for messages that might quote it, such as an error from a driver.
pub fn redact_password(text: &str, url: &str) -> String {
    let mut out = text.to_owned();
    for password in passwords(url) {
        if !password.is_empty() {
            out = out.replace(&password, "***");
        }
    }
    out
}

/// The passwords of `url`, as written and percent-decoded, longest first (so a decoded
/// password that contains the written one is replaced whole).
fn passwords(url: &str) -> Vec<String> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, query),
        None => (url, ""),
    };
    let mut raw: Vec<&str> = Vec::new();
    if let Some((start, end)) = userinfo_password(base) {
        raw.push(&base[start..end]);
    }
    raw.extend(query.split('&').filter_map(|pair| {
        pair.split_once('=')
            .filter(|(name, _)| is_password_param(name))
            .map(|(_, value)| value)
    }));
    let mut all: Vec<String> = Vec::new();
    for p in raw {
        all.push(p.to_owned());
        all.push(percent_decode(p));
    }
    all.sort_by_key(|p| std::cmp::Reverse(p.len()));
    all.dedup();
    all
}

/// The byte range of the password in `scheme://user:password@host...`.
fn userinfo_password(base: &str) -> Option<(usize, usize)> {
    let authority_start = base.find("://")? + 3;
    let authority_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let authority = &base[authority_start..authority_end];
    // The last `@` ends the user information (a password may hold an unencoded `@`).
    let at = authority.rfind('@')?;
    let colon = authority[..at].find(':')?;
    Some((authority_start + colon + 1, authority_start + at))
}

fn is_password_param(name: &str) -> bool {
    PASSWORD_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(name))
}

/// `%41` → `A`; `+` is left as it is (not a query-string form), bad escapes too.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_userinfo_and_query_passwords() {
        let cases = [
            ("postgres://u:pw@h:5432/db", "postgres://u:***@h:5432/db"),
            ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),
            ("postgres://u@h/db", "postgres://u@h/db"),
            (
                "postgres://h/db?password=pw",
                "postgres://h/db?password=***",
            ),
            (
                "postgres://u:a@h/db?sslmode=require&PassWord=b&sslpassword=c",
                "postgres://u:***@h/db?sslmode=require&PassWord=***&sslpassword=***",
            ),
            ("sqlite:sessions.db", "sqlite:sessions.db"),
            ("sqlite://data/x.db?mode=rwc", "sqlite://data/x.db?mode=rwc"),
            (
                "postgres://u:pw@h/db/with:colon@x",
                "postgres://u:***@h/db/with:colon@x",
            ),
            ("", ""),
        ];
        for (url, redacted) in cases {
            assert_eq!(redact_url(url), redacted, "{url}");
        }
    }

    #[test]
    fn redacts_passwords_quoted_in_text() {
        let url = "postgres://u:s3cr%65t@h/db?password=other";
        let text = "failed: s3cr%65t, s3cret and other";
        assert_eq!(redact_password(text, url), "failed: ***, *** and ***");
        assert_eq!(
            redact_password("no password", "postgres://u@h/db"),
            "no password"
        );
    }
}
