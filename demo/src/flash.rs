//! One-shot messages after an action ("Device renamed."), carried across the redirect in a
//! short-lived cookie. The cookie holds a code from a fixed list, never text from the
//! request, so nothing a client sends is echoed into a page; the page that shows the
//! message clears it.

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderName};

/// The cookie that carries the message.
pub const COOKIE_NAME: &str = "flash";

/// The cookie that keeps the last signed-in user id, to pre-fill the sign-in form.
pub const LAST_USER_COOKIE: &str = "last_user_id";

/// A message about the last action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flash {
    /// A new session was created for this browser.
    SignedIn,
    /// This browser's session ended.
    SignedOut,
    /// Every session of the user ended.
    SignedOutEverywhere,
    /// One of the user's other sessions was expired.
    Expired,
    /// One of the user's other sessions was deleted.
    Deleted,
    /// A device got a new name.
    Renamed,
    /// The user proved who they are again and the session got a new token.
    Reauthenticated,
    /// A re-authentication with the wrong secret.
    WrongSecret,
}

const ALL: [(Flash, &str, &str); 8] = [
    (
        Flash::SignedIn,
        "signed-in",
        "Signed in. Your other devices stay signed in.",
    ),
    (Flash::SignedOut, "signed-out", "Signed out."),
    (
        Flash::SignedOutEverywhere,
        "signed-out-all",
        "Signed out of all devices.",
    ),
    (Flash::Expired, "expired", "The session was expired."),
    (Flash::Deleted, "deleted", "The session was deleted."),
    (Flash::Renamed, "renamed", "Device renamed."),
    (
        Flash::Reauthenticated,
        "reauthenticated",
        "Confirmed. This browser has a new session token; the old one no longer works.",
    ),
    (
        Flash::WrongSecret,
        "wrong-secret",
        "That is not your sign-in secret.",
    ),
];

impl Flash {
    fn code(self) -> &'static str {
        ALL.iter().find(|(f, ..)| *f == self).map_or("", |e| e.1)
    }

    /// What the page says.
    pub fn message(self) -> &'static str {
        ALL.iter().find(|(f, ..)| *f == self).map_or("", |e| e.2)
    }

    /// Whether it reports a failure.
    pub fn is_error(self) -> bool {
        self == Flash::WrongSecret
    }

    /// The `Set-Cookie` header that carries it to the next page.
    pub fn set(self) -> (HeaderName, String) {
        (
            SET_COOKIE,
            format!(
                "{COOKIE_NAME}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age=60",
                self.code()
            ),
        )
    }

    /// The message a request carries, if any (an unknown code is none).
    pub fn read(headers: &HeaderMap) -> Option<Flash> {
        let code = cookie(headers, COOKIE_NAME)?;
        ALL.iter().find(|e| e.1 == code).map(|e| e.0)
    }

    /// The `Set-Cookie` header that clears the message once shown.
    pub fn clear() -> (HeaderName, String) {
        (
            SET_COOKIE,
            format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
        )
    }
}

/// The `Set-Cookie` header remembering `user_id` for the sign-in form (a year). The id
/// alone signs no one in: the secret is still needed.
pub fn remember_user(user_id: uuid::Uuid) -> (HeaderName, String) {
    (
        SET_COOKIE,
        format!("{LAST_USER_COOKIE}={user_id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000"),
    )
}

/// The last signed-in user id this browser remembers (only a well-formed one).
pub fn last_user(headers: &HeaderMap) -> Option<uuid::Uuid> {
    cookie(headers, LAST_USER_COOKIE).and_then(|v| uuid::Uuid::parse_str(v).ok())
}

/// The value of the cookie `name` in the request's `Cookie` headers.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_ones_are_ignored() {
        for (flash, ..) in ALL {
            let (_, set) = flash.set();
            let value = set.split(';').next().unwrap().to_owned();
            let mut headers = HeaderMap::new();
            headers.insert(COOKIE, format!("a=b; {value}").parse().unwrap());
            assert_eq!(Flash::read(&headers), Some(flash));
        }
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, "flash=<script>".parse().unwrap());
        assert_eq!(Flash::read(&headers), None);
        headers.insert(COOKIE, "last_user_id=1; flash=".parse().unwrap());
        assert_eq!(last_user(&headers), None);
    }
}
