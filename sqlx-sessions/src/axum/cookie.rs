//! The session cookie: how it is named and built at sign-in and at sign-out.

use std::borrow::Cow;

use axum::http::header::{CACHE_CONTROL, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, IntoResponseParts, Response, ResponseParts};
use cookie::{Cookie, SameSite};
use time::{Duration, OffsetDateTime};

/// The longest `Max-Age` given to a cookie: 400 days, the limit browsers apply anyway. A
/// session that never expires gets this one.
pub const MAX_COOKIE_AGE: Duration = Duration::days(400);

/// The prefix that makes browsers keep a cookie to the exact host that set it, over HTTPS,
/// for the whole site: a `__Host-` cookie must be `Secure`, have `Path=/` and no `Domain`,
/// so a sibling subdomain or a plain-http page cannot plant or overwrite it.
pub const HOST_PREFIX: &str = "__Host-";
/// The prefix that makes browsers accept a cookie only with `Secure`.
pub const SECURE_PREFIX: &str = "__Secure-";

/// How the session cookie is named and built.
///
/// The defaults are the safe ones: `auth_token`, `HttpOnly` (always), `SameSite=Lax`,
/// `Path=/`, and `Secure`. Turn `Secure` off only for plain-http local development, where a
/// browser would otherwise refuse or withhold the cookie.
///
/// Over HTTPS, [`CookieConfig::host_prefixed`] (`__Host-auth_token`) is recommended: the
/// browser then guarantees the cookie came from this very host, so no other subdomain can
/// plant a session cookie. [`CookieConfig::validate`] (called by
/// [`SessionAuth`](super::SessionAuth) whenever its cookie changes) refuses a prefixed name
/// with attributes its prefix forbids.
///
/// ```
/// use sqlx_sessions::axum::CookieConfig;
/// let config = CookieConfig::host_prefixed();
/// assert_eq!(config.cookie_name(), "__Host-auth_token");
/// assert!(config.validate().is_ok());
/// assert!(config.clone().domain("example.com").validate().is_err());
/// assert!(config.secure(false).validate().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieConfig {
    name: Cow<'static, str>,
    secure: bool,
    path: Cow<'static, str>,
    domain: Option<Cow<'static, str>>,
    same_site: SameSite,
}

impl Default for CookieConfig {
    fn default() -> Self {
        CookieConfig {
            name: Cow::Borrowed("auth_token"),
            secure: true,
            path: Cow::Borrowed("/"),
            domain: None,
            same_site: SameSite::Lax,
        }
    }
}

impl CookieConfig {
    /// The defaults: `auth_token`, `HttpOnly`, `SameSite=Lax`, `Path=/`, `Secure`.
    pub fn new() -> Self {
        Self::default()
    }

    /// `__Host-auth_token`, `Secure`, `Path=/`, no `Domain`: the recommended cookie over
    /// HTTPS (see [`HOST_PREFIX`]).
    pub fn host_prefixed() -> Self {
        Self::default().name(format!("{HOST_PREFIX}auth_token"))
    }

    /// Refuses a configuration browsers would reject or that defeats its name's prefix: a
    /// `__Host-` name needs `Secure`, `Path=/` and no `Domain`; a `__Secure-` name needs
    /// `Secure`; a name must be 1 to 64 letters, digits or `-_.`.
    pub fn validate(&self) -> crate::Result<()> {
        let refuse = |reason: String| Err(crate::Error::config("cookie", reason));
        let name = self.name.as_ref();
        let valid_name = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !valid_name {
            return refuse(format!(
                "`{name}` is not a cookie name: use 1 to 64 letters, digits and `-_.`"
            ));
        }
        let secure_needed = name.starts_with(HOST_PREFIX) || name.starts_with(SECURE_PREFIX);
        if secure_needed && !self.secure {
            return refuse(format!(
                "`{name}` needs `Secure` (browsers drop it otherwise); use a name without the prefix for plain-http development"
            ));
        }
        if name.starts_with(HOST_PREFIX) {
            if self.path != "/" {
                return refuse(format!("`{name}` needs `Path=/`, not `{}`", self.path));
            }
            if self.domain.is_some() {
                return refuse(format!("`{name}` cannot have a `Domain`"));
            }
        }
        Ok(())
    }

    /// The cookie name (default `auth_token`): letters, digits and `-_.` are safe.
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Whether the cookie is `Secure`, sent over HTTPS only (default true).
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// The cookie path (default `/`).
    pub fn path(mut self, path: impl Into<Cow<'static, str>>) -> Self {
        self.path = path.into();
        self
    }

    /// A `Domain` attribute (default none: the cookie goes back to the exact host only).
    pub fn domain(mut self, domain: impl Into<Cow<'static, str>>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// The `SameSite` attribute (default `Lax`, which keeps the cookie off cross-site posts
    /// but lets links from other sites arrive signed in).
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// The cookie name.
    pub fn cookie_name(&self) -> &str {
        &self.name
    }

    /// Whether cookies are `Secure`.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The sign-in cookie holding `token`, with `Max-Age` from `expires_at` seen at `now`
    /// (at most [`MAX_COOKIE_AGE`], which is also what a session that never expires gets).
    ///
    /// Send it with the response that creates the session; this is the only place the
    /// plaintext token goes, and it must never be logged.
    pub fn sign_in(
        &self,
        token: &str,
        expires_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Cookie<'static> {
        let age = expires_at.map_or(MAX_COOKIE_AGE, |at| {
            (at - now).clamp(Duration::ZERO, MAX_COOKIE_AGE)
        });
        // Whole seconds, rounded down, so the cookie never outlives the session.
        let age = Duration::seconds(age.whole_seconds());
        self.base(token.to_owned()).max_age(age).build()
    }

    /// The sign-out cookie: the same name, path and domain, empty, `Max-Age=0`, so the
    /// browser drops it.
    pub fn sign_out(&self) -> Cookie<'static> {
        self.base(String::new()).max_age(Duration::ZERO).build()
    }

    fn base(&self, value: String) -> cookie::CookieBuilder<'static> {
        let mut builder = Cookie::build((self.name.clone(), value))
            .http_only(true)
            .secure(self.secure)
            .same_site(self.same_site)
            .path(self.path.clone());
        if let Some(domain) = &self.domain {
            builder = builder.domain(domain.clone());
        }
        builder
    }
}

/// The `Cache-Control` of a response that sets the session cookie: `no-store`, which
/// keeps the response (and the token in it) out of every cache, shared or the browser's
/// own. `private` would only keep it out of shared caches (RFC 9111 §5.2.2.7); the OWASP
/// Session Management Cheat Sheet asks that session identifiers never be cached.
pub const NO_STORE: &str = "no-store";

/// A session cookie to set, as response parts: `Set-Cookie` and `Cache-Control: no-store`
/// (replacing any other `Cache-Control`, such as a handler's `public`). Its `Debug` output
/// is redacted; the cookie holds the plaintext token at sign-in.
#[derive(Clone)]
pub struct SetSessionCookie(pub(crate) Cookie<'static>);

impl SetSessionCookie {
    /// The cookie.
    pub fn cookie(&self) -> &Cookie<'static> {
        &self.0
    }
}

impl std::fmt::Debug for SetSessionCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetSessionCookie")
            .field("name", &self.0.name())
            .field("value", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl IntoResponseParts for SetSessionCookie {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        // Names and values come from validated settings and URL-safe tokens.
        if let Ok(value) = HeaderValue::from_str(&self.0.to_string()) {
            res.headers_mut().append(SET_COOKIE, value);
        }
        res.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
        Ok(res)
    }
}

impl IntoResponse for SetSessionCookie {
    fn into_response(self) -> Response {
        (self, ()).into_response()
    }
}

/// Sets `Cache-Control: no-store` on response headers that set the cookie `name`.
pub(crate) fn no_store_if_it_sets(name: &str, headers: &mut HeaderMap) {
    if headers
        .get_all(SET_COOKIE)
        .iter()
        .any(|v| sets_cookie(v.as_bytes(), name))
    {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
    }
}

/// Whether a `Set-Cookie` header value sets the cookie `name`.
pub(crate) fn sets_cookie(header: &[u8], name: &str) -> bool {
    header
        .strip_prefix(name.as_bytes())
        .is_some_and(|rest| rest.first() == Some(&b'='))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_cookie_has_safe_attributes() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let c = CookieConfig::new().sign_in("tok", Some(now + Duration::hours(2)), now);
        let text = c.to_string();
        assert!(text.starts_with("auth_token=tok;"), "{text}");
        for part in [
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
            "Max-Age=7200",
        ] {
            assert!(text.contains(part), "{part} missing in {text}");
        }
    }

    #[test]
    fn max_age_is_capped_and_never_negative() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let config = CookieConfig::new().secure(false).name("sid");
        let forever = config.sign_in("t", None, now);
        assert_eq!(forever.max_age(), Some(MAX_COOKIE_AGE));
        assert!(!forever.to_string().contains("Secure"));
        let past = config.sign_in("t", Some(now - Duration::hours(1)), now);
        assert_eq!(past.max_age(), Some(Duration::ZERO));
        let odd = config.sign_in("t", Some(now + Duration::milliseconds(1500)), now);
        assert_eq!(odd.max_age(), Some(Duration::seconds(1)));
    }

    #[test]
    fn prefixed_names_need_their_attributes() {
        let host = CookieConfig::host_prefixed();
        assert!(host.validate().is_ok());
        let text = host
            .sign_in("t", None, OffsetDateTime::UNIX_EPOCH)
            .to_string();
        assert!(text.starts_with("__Host-auth_token=t;"), "{text}");
        assert!(text.contains("Secure") && text.contains("Path=/"), "{text}");
        assert!(!text.contains("Domain"), "{text}");
        for bad in [
            host.clone().secure(false),
            host.clone().path("/app"),
            host.clone().domain("example.com"),
            CookieConfig::new().name("__Secure-sid").secure(false),
            CookieConfig::new().name(""),
            CookieConfig::new().name("a b"),
            CookieConfig::new().name("a;b"),
        ] {
            assert!(
                matches!(
                    bad.validate(),
                    Err(crate::Error::Config {
                        setting: "cookie",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
        assert!(CookieConfig::new().secure(false).validate().is_ok());
        assert!(
            CookieConfig::new()
                .name("__Secure-sid")
                .path("/x")
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn sign_out_cookie_clears() {
        let c = CookieConfig::new().domain("example.com").sign_out();
        let text = c.to_string();
        assert!(text.starts_with("auth_token=;"), "{text}");
        assert!(text.contains("Max-Age=0") && text.contains("Domain=example.com"));
        assert!(sets_cookie(text.as_bytes(), "auth_token"));
        assert!(!sets_cookie(text.as_bytes(), "auth"));
    }
}
