//! Where a request carries its token, and reading it without trusting the request.

use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::{HeaderMap, HeaderName};

/// The most bytes of `Cookie` header (all of them together) that are read; a request with
/// more is refused as malformed, without a query.
pub const MAX_COOKIE_HEADER_BYTES: usize = 8 * 1024;
/// The most bytes of a token header (`X-Auth-Token`, `Authorization`) or token cookie that
/// are read; a longer one is refused as malformed, without a query.
pub const MAX_TOKEN_BYTES: usize = 2 * 1024;

/// A place in a request where a token may be.
///
/// [`SessionAuth`](super::SessionAuth) tries its sources in order and uses the first one
/// that is present: an absent source lets the next one speak; a present but malformed one
/// ends the search with "no session", so a request never gets a second try with another
/// credential. [`CurrentSession::source`](super::CurrentSession::source) says which one
/// a session came from, so CSRF checks can apply to cookie requests only.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenSource {
    /// The session cookie (`auth_token` unless [`CookieConfig::name`](super::CookieConfig::name)
    /// says otherwise). An empty cookie counts as absent; two or more cookies of that name
    /// in one request (one planted by a sibling subdomain, say) are refused, never resolved
    /// by their order.
    Cookie,
    /// A header holding the bare token, such as `X-Auth-Token`. Exactly one is accepted.
    Header(HeaderName),
    /// `Authorization: Bearer <token>` (the scheme in any case). Another scheme, such as
    /// `Basic`, counts as absent.
    Bearer,
}

impl TokenSource {
    /// The `X-Auth-Token` header.
    pub fn x_auth_token() -> Self {
        TokenSource::Header(HeaderName::from_static("x-auth-token"))
    }

    /// The default sources, in order: `X-Auth-Token`, `Authorization: Bearer`, then the
    /// cookie. A token the client sends itself wins over a cookie, which a sibling
    /// subdomain may have planted.
    pub fn defaults() -> Vec<TokenSource> {
        vec![
            TokenSource::x_auth_token(),
            TokenSource::Bearer,
            TokenSource::Cookie,
        ]
    }

    /// Whether this is the cookie: a browser sends it on its own, so requests
    /// authenticated by it need CSRF protection.
    pub fn is_cookie(&self) -> bool {
        *self == TokenSource::Cookie
    }
}

/// A token found in a request, and where.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found<'h, 's> {
    pub(crate) token: &'h str,
    pub(crate) source: &'s TokenSource,
}

impl std::fmt::Debug for Found<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Found")
            .field("token", &"<redacted>")
            .field("source", &self.source)
            .finish()
    }
}

/// What one source holds.
#[derive(Debug, PartialEq, Eq)]
enum Presence<'a> {
    Absent,
    Malformed,
    Token(&'a str),
}

/// The token of the first present source; `None` when every source is absent or the first
/// present one is malformed.
pub(crate) fn find_token<'h, 's>(
    sources: &'s [TokenSource],
    cookie_name: &str,
    headers: &'h HeaderMap,
) -> Option<Found<'h, 's>> {
    for source in sources {
        let presence = match source {
            TokenSource::Cookie => read_cookie(headers, cookie_name),
            TokenSource::Header(name) => read_header(headers, name),
            TokenSource::Bearer => read_bearer(headers),
        };
        match presence {
            Presence::Absent => continue,
            Presence::Malformed => return None,
            Presence::Token(token) => return Some(Found { token, source }),
        }
    }
    None
}

/// The one value of header `name` as text, or why not.
fn single_value<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Presence<'a> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Presence::Absent;
    };
    if values.next().is_some() || value.len() > MAX_TOKEN_BYTES {
        return Presence::Malformed;
    }
    match value.to_str() {
        Ok(text) => Presence::Token(text),
        Err(_) => Presence::Malformed,
    }
}

fn read_header<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Presence<'a> {
    match single_value(headers, name) {
        Presence::Token(text) => token_text(text.trim()),
        other => other,
    }
}

fn read_bearer(headers: &HeaderMap) -> Presence<'_> {
    let text = match single_value(headers, &AUTHORIZATION) {
        Presence::Token(text) => text.trim(),
        other => return other,
    };
    let (scheme, rest) = text.split_once(' ').unwrap_or((text, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Presence::Absent;
    }
    match token_text(rest.trim()) {
        Presence::Absent => Presence::Malformed, // `Bearer` with nothing after it
        other => other,
    }
}

fn read_cookie<'a>(headers: &'a HeaderMap, cookie_name: &str) -> Presence<'a> {
    let mut total = 0;
    let mut found = None;
    for value in headers.get_all(COOKIE) {
        total += value.len();
        if total > MAX_COOKIE_HEADER_BYTES {
            return Presence::Malformed;
        }
        let Ok(text) = value.to_str() else {
            return Presence::Malformed;
        };
        let named = text
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(name, _)| name.trim() == cookie_name)
            .map(|(_, value)| value.trim());
        for value in named {
            if found.is_some() {
                // Two cookies of that name: one may be planted (another path, a sibling
                // subdomain), and the order says nothing about which. Refuse both.
                return Presence::Malformed;
            }
            found = Some(value);
        }
    }
    match found {
        None => Presence::Absent,
        Some(value) => {
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            token_text(value)
        }
    }
}

/// A candidate token: empty is absent; too long or containing whitespace is malformed. The
/// store checks the rest of its shape (also without a query).
fn token_text(text: &str) -> Presence<'_> {
    if text.is_empty() {
        Presence::Absent
    } else if text.len() > MAX_TOKEN_BYTES || text.bytes().any(|b| b.is_ascii_whitespace()) {
        Presence::Malformed
    } else {
        Presence::Token(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        map
    }

    fn find(h: &HeaderMap) -> Option<(&str, bool)> {
        find_token(&TokenSource::defaults(), "auth_token", h)
            .map(|f| (f.token, f.source.is_cookie()))
    }

    #[test]
    fn each_source_in_order() {
        let h = headers(&[
            ("cookie", b"theme=dark; auth_token=from-cookie; x=1"),
            ("x-auth-token", b"from-header"),
            ("authorization", b"Bearer from-bearer"),
        ]);
        assert_eq!(find(&h), Some(("from-header", false)));
        let h = headers(&[
            ("cookie", b"auth_token=from-cookie"),
            ("authorization", b"Bearer from-bearer"),
        ]);
        assert_eq!(find(&h), Some(("from-bearer", false)));
        let h = headers(&[("cookie", b"theme=dark; auth_token=from-cookie; x=1")]);
        assert_eq!(find(&h), Some(("from-cookie", true)));
        let h = headers(&[
            ("x-auth-token", b" from-header "),
            ("authorization", b"Bearer from-bearer"),
        ]);
        assert_eq!(find(&h), Some(("from-header", false)));
        let h = headers(&[("authorization", b"bEaReR   from-bearer")]);
        assert_eq!(find(&h), Some(("from-bearer", false)));
        let only_bearer = [TokenSource::Bearer];
        let h = headers(&[("cookie", b"auth_token=c"), ("authorization", b"Bearer b")]);
        assert_eq!(
            find_token(&only_bearer, "auth_token", &h).map(|f| f.token),
            Some("b")
        );
    }

    #[test]
    fn absent_sources_let_the_next_one_speak() {
        let h = headers(&[
            ("cookie", b"auth_token=; other=1"),
            ("authorization", b"Basic dXNlcjpwYXNz"),
            ("x-auth-token", b"t"),
        ]);
        assert_eq!(find(&h), Some(("t", false)));
        assert_eq!(find(&HeaderMap::new()), None);
        let h = headers(&[("cookie", b"\"quoted\"=1; auth_token=\"q\"")]);
        assert_eq!(find(&h), Some(("q", true)));
    }

    #[test]
    fn malformed_ends_the_search() {
        let long = vec![b'a'; MAX_TOKEN_BYTES + 1];
        let big_cookie = [
            b"auth_token=x; pad=".as_slice(),
            &[b'p'; MAX_COOKIE_HEADER_BYTES],
        ]
        .concat();
        for h in [
            headers(&[("x-auth-token", &long), ("authorization", b"Bearer ok")]),
            headers(&[("x-auth-token", b"a"), ("x-auth-token", b"b")]),
            headers(&[("x-auth-token", b"a b")]),
            headers(&[("x-auth-token", b"caf\xc3\xa9")]),
            headers(&[("authorization", b"Bearer")]),
            headers(&[("authorization", b"Bearer a b")]),
            headers(&[("cookie", &big_cookie)]),
            headers(&[("cookie", b"auth_token=\xff\xfe")]),
            // Two session cookies, in one header or in two, even with the same value.
            headers(&[("cookie", b"auth_token=a; auth_token=b")]),
            headers(&[
                ("cookie", b"auth_token=a"),
                ("cookie", b"x=1; auth_token=b"),
            ]),
            headers(&[("cookie", b"auth_token=a; auth_token=a")]),
            headers(&[("cookie", b"auth_token=a; auth_token=")]),
        ] {
            assert_eq!(find(&h), None, "{h:?}");
        }
    }
}
