//! The session cookie: how it is named and built at sign-in and at sign-out.

use std::borrow::Cow;

use cookie::{Cookie, SameSite};
use time::{Duration, OffsetDateTime};

/// The longest `Max-Age` given to a cookie: 400 days, the limit browsers apply anyway. A
/// session that never expires gets this one.
pub const MAX_COOKIE_AGE: Duration = Duration::days(400);

/// How the session cookie is named and built.
///
/// The defaults are the safe ones: `auth_token`, `HttpOnly` (always), `SameSite=Lax`,
/// `Path=/`, and `Secure`. Turn `Secure` off only for plain-http local development, where a
/// browser would otherwise refuse or withhold the cookie.
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
    fn sign_out_cookie_clears() {
        let c = CookieConfig::new().domain("example.com").sign_out();
        let text = c.to_string();
        assert!(text.starts_with("auth_token=;"), "{text}");
        assert!(text.contains("Max-Age=0") && text.contains("Domain=example.com"));
        assert!(sets_cookie(text.as_bytes(), "auth_token"));
        assert!(!sets_cookie(text.as_bytes(), "auth"));
    }
}
