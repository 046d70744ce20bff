//! Scopes (abilities) of a session or API key: what they may look like, the wildcard rule,
//! and how a set of them is stored so that every database can match one with `LIKE`.
//!
//! A scope is 1 to [`MAX_SCOPE_CHARS`] characters: ASCII letters, digits and `: . - _ /`,
//! made of segments separated by `:` (`orders:read`, `billing:invoices:write`). A granted
//! scope whose last segment is `*` grants every scope under its other segments, and `*`
//! alone grants everything:
//!
//! | granted | grants `orders:read` | grants `orders:*` | grants `billing:read` |
//! | --- | --- | --- | --- |
//! | `orders:read` | yes | no | no |
//! | `orders:*` | yes | yes | no |
//! | `*` | yes | yes | yes |
//!
//! `*` is allowed only as a whole last segment (`orders:*`, not `orders:re*`).

use crate::error::{Error, Result};

/// The longest scope, in characters.
pub const MAX_SCOPE_CHARS: usize = 100;
/// The most scopes one session carries.
pub const MAX_SCOPES: usize = 64;

/// Checks one scope (see the [module docs](self) for what is allowed).
pub(crate) fn check(scope: &str) -> Result<()> {
    let invalid = |reason: &str| {
        Err(Error::InvalidValue {
            column: "scopes".into(),
            reason: format!("{scope:?} {reason}"),
        })
    };
    if scope.is_empty() || scope.len() > MAX_SCOPE_CHARS {
        return invalid("is not 1 to 100 characters");
    }
    let mut segments = scope.split(':').peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        let ok = if segment == "*" {
            last
        } else {
            !segment.is_empty()
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
        };
        if !ok {
            return invalid(
                "is not a scope: non-empty segments of letters, digits and `. _ - /` separated by `:`, with `*` only as a whole last segment",
            );
        }
    }
    Ok(())
}

/// The scopes given, checked, sorted and without duplicates.
pub(crate) fn normalize<S: AsRef<str>>(scopes: impl IntoIterator<Item = S>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for s in scopes {
        let s = s.as_ref();
        check(s)?;
        out.push(s.to_owned());
    }
    out.sort();
    out.dedup();
    if out.len() > MAX_SCOPES {
        return Err(Error::InvalidValue {
            column: "scopes".into(),
            reason: format!("at most {MAX_SCOPES} scopes, got {}", out.len()),
        });
    }
    Ok(out)
}

/// Every granted scope that grants `wanted`: itself, then `a:b:*`, `a:*`, `*` for
/// `a:b:c`. `None` when `wanted` is not a scope (nothing grants it).
pub(crate) fn grantors(wanted: &str) -> Option<Vec<String>> {
    check(wanted).ok()?;
    let segments: Vec<&str> = wanted.split(':').collect();
    let mut out = vec![wanted.to_owned()];
    for k in (0..segments.len()).rev() {
        let mut g = segments[..k].join(":");
        g.push_str(if k == 0 { "*" } else { ":*" });
        if g != wanted {
            out.push(g);
        }
    }
    Some(out)
}

/// Whether `granted` grants `wanted` under the wildcard rule.
pub(crate) fn grants(granted: &[String], wanted: &str) -> bool {
    grantors(wanted).is_some_and(|g| g.iter().any(|s| granted.contains(s)))
}

/// The stored form of a set of scopes: `" a b "` (each scope between spaces, so a `LIKE`
/// on `"% a %"` finds one), or `NULL` for none.
pub(crate) fn encode(scopes: &[String]) -> Option<String> {
    if scopes.is_empty() {
        return None;
    }
    Some(format!(" {} ", scopes.join(" ")))
}

/// The scopes of a stored value.
pub(crate) fn decode(stored: Option<&str>) -> Vec<String> {
    stored
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The `LIKE` pattern (with `!` as the escape character) that finds `scope` in a stored
/// value.
pub(crate) fn like_pattern(scope: &str) -> String {
    let mut p = String::from("% ");
    for c in scope.chars() {
        if matches!(c, '%' | '_' | '!') {
            p.push('!');
        }
        p.push(c);
    }
    p.push_str(" %");
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(s: &[&str]) -> Vec<String> {
        normalize(s.iter().copied()).unwrap()
    }

    #[test]
    fn wildcards_grant_what_they_cover() {
        let granted = set(&["orders:*", "me:read"]);
        assert!(grants(&granted, "orders:read"));
        assert!(grants(&granted, "orders:items:write"));
        assert!(grants(&granted, "orders:*"));
        assert!(grants(&granted, "me:read"));
        assert!(!grants(&granted, "me:write"));
        assert!(!grants(&granted, "orders"));
        assert!(!grants(&granted, "*"));
        assert!(grants(&set(&["*"]), "anything:at:all"));
        assert!(!grants(&set(&["orders:read"]), "orders:*"));
        assert!(!grants(&granted, "not a scope"));
    }

    #[test]
    fn grantors_walk_up_the_segments() {
        assert_eq!(
            grantors("a:b:c").unwrap(),
            ["a:b:c", "a:b:*", "a:*", "*"].map(String::from)
        );
        assert_eq!(grantors("a:*").unwrap(), ["a:*", "*"].map(String::from));
        assert_eq!(grantors("*").unwrap(), ["*"].map(String::from));
    }

    #[test]
    fn malformed_scopes_are_refused() {
        for bad in [
            "",
            " ",
            "a b",
            "a::b",
            ":a",
            "a:",
            "a*",
            "*:a",
            "a%",
            "é",
            &"x".repeat(101),
        ] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
        for good in ["a", "orders:read", "a.b-c_d/e:*", "*"] {
            check(good).unwrap();
        }
    }

    #[test]
    fn stored_form_round_trips_and_escapes() {
        let s = set(&["b", "a", "b"]);
        assert_eq!(encode(&s).as_deref(), Some(" a b "));
        assert_eq!(decode(encode(&s).as_deref()), s);
        assert_eq!(encode(&[]), None);
        assert!(decode(None).is_empty());
        assert_eq!(like_pattern("a_b"), "% a!_b %");
    }
}
