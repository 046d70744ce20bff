//! The sliding-expiry rule.

use time::{Duration, OffsetDateTime};

use crate::settings::Settings;

/// The TTL and stale window of a session: its own TTL (`own`) where it has one, with the
/// store's stale window scaled by the same ratio (a 30-day session in a 7-day store with a
/// 1-day window gets a window of 30/7 days), otherwise the store's.
fn window(settings: &Settings, own: Option<Duration>) -> Option<(Duration, Duration)> {
    let stale = settings.extend_stale_time?;
    Some(match (own, settings.ttl) {
        (None, store) => (store?, stale),
        (Some(own), Some(store)) if store.is_positive() => (
            own,
            Duration::seconds_f64(stale.as_seconds_f64() * (own / store)),
        ),
        (Some(own), _) => (own, stale.min(own)),
    })
}

/// The new expiry of a session used at `now`, or `None` when no write is due.
///
/// A write is due when `now + ttl > expires_at + extend_stale_time`: so at most one write
/// per stale window. `ttl` is the session's own (`own_ttl`) or the store's, with its stale
/// window (see [`window`]). Sessions that never expire, stores without a ttl (for sessions
/// without their own) or a stale time, never extend. `max_lifetime` caps the new expiry at
/// `inserted_at + max_lifetime`, and an expiry that would not move later is not written.
pub(crate) fn new_expiry(
    settings: &Settings,
    expires_at: Option<OffsetDateTime>,
    inserted_at: OffsetDateTime,
    now: OffsetDateTime,
    own_ttl: Option<Duration>,
) -> Option<OffsetDateTime> {
    let (ttl, stale) = window(settings, own_ttl)?;
    let current = expires_at?;
    // Checked: an expiry near the end of the calendar (an explicit far-future one) is never
    // due, and must not overflow the arithmetic.
    let mut next = now.checked_add(ttl)?;
    if next <= current.checked_add(stale)? {
        return None;
    }
    if let Some(cap) = settings
        .max_lifetime
        .and_then(|max| inserted_at.checked_add(max))
    {
        next = next.min(cap);
    }
    (next > current).then_some(next)
}

/// The expiry to write when the application asks for `wanted` (a tower-sessions save) on a
/// session that expires at `current`, or `None` when no write is due.
///
/// The span from `now` to `wanted` is the session's TTL, with the store's stale window scaled
/// to it (see [`window`]): a later expiry is written when it passes `current` by more than
/// that window (the extension rule of [`new_expiry`], so at most one write per stale window),
/// an earlier one when it falls short of `current` by more than the window or is not after
/// `now` (the application shortening or ending the session). `max_lifetime` caps it.
#[cfg(any(feature = "tower-sessions-014", feature = "tower-sessions-015"))]
pub(crate) fn requested_expiry(
    settings: &Settings,
    current: Option<OffsetDateTime>,
    inserted_at: OffsetDateTime,
    now: OffsetDateTime,
    wanted: OffsetDateTime,
) -> Option<OffsetDateTime> {
    let cap = settings
        .max_lifetime
        .and_then(|max| inserted_at.checked_add(max));
    let wanted = crate::clock::truncate_to_micros(cap.map_or(wanted, |cap| wanted.min(cap)));
    let Some(current) = current else {
        // A session that never expires gets the application's expiry.
        return Some(wanted);
    };
    if wanted <= now {
        return (current > now).then_some(wanted);
    }
    let span = wanted - now;
    if wanted > current {
        return new_expiry(settings, Some(current), inserted_at, now, Some(span));
    }
    let tolerance = window(settings, Some(span)).map_or(Duration::ZERO, |(_, stale)| stale);
    (current - wanted > tolerance).then_some(wanted)
}

/// The expiry of a session created at `now`, with an optional explicit one and an
/// optional TTL of its own.
pub(crate) fn initial_expiry(
    settings: &Settings,
    explicit: Option<Option<OffsetDateTime>>,
    own_ttl: Option<Duration>,
    now: OffsetDateTime,
) -> Option<OffsetDateTime> {
    let wanted = match explicit {
        Some(at) => at,
        None => own_ttl.or(settings.ttl).map(|ttl| now + ttl),
    };
    match settings.max_lifetime {
        Some(max) => Some(wanted.map_or(now + max, |w| w.min(now + max))),
        None => wanted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::Duration;
    use time::macros::datetime;

    fn settings(ttl: Option<i64>, stale: Option<i64>) -> Settings {
        Settings {
            ttl: ttl.map(Duration::seconds),
            extend_stale_time: stale.map(Duration::seconds),
            ..Settings::default()
        }
    }

    const T0: OffsetDateTime = datetime!(2030-01-01 0:00 UTC);

    #[test]
    fn edges_of_the_stale_window() {
        let s = settings(Some(7 * 86_400), Some(86_400));
        let expires = T0 + Duration::days(7);
        // now + ttl == expires + stale exactly: not yet.
        let at_edge = T0 + Duration::days(1);
        assert_eq!(new_expiry(&s, Some(expires), T0, at_edge, None), None);
        // one microsecond past the edge: extend to now + ttl.
        let past = at_edge + Duration::microseconds(1);
        assert_eq!(
            new_expiry(&s, Some(expires), T0, past, None),
            Some(past + Duration::days(7))
        );
        // just inside the window.
        let inside = at_edge - Duration::microseconds(1);
        assert_eq!(new_expiry(&s, Some(expires), T0, inside, None), None);
    }

    #[test]
    fn no_ttl_no_stale_or_no_expiry_never_extend() {
        let now = T0 + Duration::days(3);
        let e = Some(T0 + Duration::days(7));
        assert_eq!(new_expiry(&settings(None, Some(1)), e, T0, now, None), None);
        assert_eq!(
            new_expiry(&settings(Some(100), None), e, T0, now, None),
            None
        );
        assert_eq!(
            new_expiry(&settings(Some(100), Some(1)), None, T0, now, None),
            None
        );
    }

    #[test]
    fn zero_stale_time_extends_at_every_use() {
        let s = settings(Some(3_600), Some(0));
        let expires = T0 + Duration::hours(1);
        let now = T0 + Duration::microseconds(1);
        assert_eq!(
            new_expiry(&s, Some(expires), T0, now, None),
            Some(now + Duration::hours(1))
        );
        // the same instant as the last write: nothing to move.
        assert_eq!(new_expiry(&s, Some(expires), T0, T0, None), None);
    }

    #[test]
    fn max_lifetime_caps_extension_and_creation() {
        let s = Settings {
            max_lifetime: Some(Duration::days(2)),
            ..settings(Some(86_400), Some(0))
        };
        let cap = T0 + Duration::days(2);
        let now = T0 + Duration::hours(36);
        assert_eq!(new_expiry(&s, Some(now), T0, now, None), Some(cap));
        assert_eq!(
            new_expiry(&s, Some(cap), T0, now + Duration::hours(1), None),
            None
        );
        assert_eq!(initial_expiry(&s, Some(None), None, T0), Some(cap));
        assert_eq!(
            initial_expiry(&s, None, None, T0),
            Some(T0 + Duration::days(1))
        );
    }

    #[test]
    fn a_session_ttl_slides_by_itself_with_a_scaled_window() {
        // Store: 7 days, 1-day window. Session: 28 days, so a 4-day window.
        let s = Settings {
            max_lifetime: None,
            ..settings(Some(7 * 86_400), Some(86_400))
        };
        let own = Some(Duration::days(28));
        let expires = T0 + Duration::days(28);
        let at_edge = T0 + Duration::days(4);
        assert_eq!(new_expiry(&s, Some(expires), T0, at_edge, own), None);
        let past = at_edge + Duration::seconds(1);
        assert_eq!(
            new_expiry(&s, Some(expires), T0, past, own),
            Some(past + Duration::days(28))
        );
        // The store's rule alone would not move a 28-day expiry at all.
        assert_eq!(new_expiry(&s, Some(expires), T0, past, None), None);
        // Created with its own ttl: now + that ttl; an explicit expiry still wins.
        assert_eq!(
            initial_expiry(&s, None, own, T0),
            Some(T0 + Duration::days(28))
        );
        let at = T0 + Duration::hours(2);
        assert_eq!(initial_expiry(&s, Some(Some(at)), own, T0), Some(at));
    }

    #[test]
    fn expiry_at_the_end_of_the_calendar_is_never_due() {
        let s = settings(Some(7 * 86_400), Some(86_400));
        let last = datetime!(9999-12-31 23:59:59.999999 UTC);
        assert_eq!(new_expiry(&s, Some(last), T0, T0, None), None);
        assert_eq!(
            new_expiry(&s, Some(last - Duration::hours(1)), T0, T0, None),
            None
        );
        // `now + ttl` past the calendar: nothing representable to extend to.
        let late = datetime!(9999-12-30 0:00 UTC);
        assert_eq!(new_expiry(&s, Some(late), T0, late, None), None);
        let capped = Settings {
            max_lifetime: Some(Duration::days(3_000_000)),
            ..settings(Some(3_600), Some(0))
        };
        let now = T0 + Duration::hours(2);
        assert_eq!(
            new_expiry(&capped, Some(T0 + Duration::hours(1)), T0, now, None),
            Some(now + Duration::hours(1))
        );
    }

    proptest! {
        #[test]
        fn extension_never_shortens_and_respects_the_rule(
            ttl in 1i64..10_000_000,
            stale_frac in 0.0f64..1.0,
            age in 0i64..20_000_000,
            left in -1_000_000i64..10_000_000,
            cap in proptest::option::of(1i64..30_000_000),
        ) {
            let stale = (ttl as f64 * stale_frac) as i64;
            let s = Settings {
                max_lifetime: cap.map(Duration::seconds),
                ..settings(Some(ttl), Some(stale))
            };
            let now = T0 + Duration::seconds(age);
            let expires = now + Duration::seconds(left);
            match new_expiry(&s, Some(expires), T0, now, None) {
                Some(next) => {
                    prop_assert!(next > expires);
                    prop_assert!(now + Duration::seconds(ttl) > expires + Duration::seconds(stale));
                    prop_assert!(next <= now + Duration::seconds(ttl));
                    if let Some(cap) = cap {
                        prop_assert!(next <= T0 + Duration::seconds(cap));
                    }
                }
                None => {
                    let due = now + Duration::seconds(ttl) > expires + Duration::seconds(stale);
                    let capped = cap.is_some_and(|c| T0 + Duration::seconds(c) <= expires);
                    prop_assert!(!due || capped);
                }
            }
        }
    }
}
