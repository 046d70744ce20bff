//! Where the store reads the time, so tests can set it.

use std::fmt;
use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

/// A source of the current time. The store reads every "now" from its clock.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time in UTC, at microsecond precision or coarser.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock, truncated to microseconds (what both databases store).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        truncate_to_micros(OffsetDateTime::now_utc())
    }
}

/// A clock that stands still until it is told to move: for tests of expiry and extension
/// without sleeping. Clones share the same time.
///
/// ```
/// use sqlx_sessions::{Clock, ManualClock};
/// use time::Duration;
/// let clock = ManualClock::new(time::macros::datetime!(2030-01-01 0:00 UTC));
/// clock.advance(Duration::hours(2));
/// assert_eq!(clock.now(), time::macros::datetime!(2030-01-01 2:00 UTC));
/// ```
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<Mutex<OffsetDateTime>>);

impl ManualClock {
    /// A clock that reads `start` until moved.
    pub fn new(start: OffsetDateTime) -> Self {
        ManualClock(Arc::new(Mutex::new(truncate_to_micros(start))))
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // Saturates at the ends of the calendar rather than panicking.
        let moved = now.checked_add(by).unwrap_or(if by.is_negative() {
            time::PrimitiveDateTime::MIN.assume_utc()
        } else {
            time::PrimitiveDateTime::MAX.assume_utc()
        });
        *now = truncate_to_micros(moved);
    }

    /// Sets the clock to `to`.
    pub fn set(&self, to: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = truncate_to_micros(to);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Drops sub-microsecond precision and converts to UTC.
pub(crate) fn truncate_to_micros(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    let nanos = t.nanosecond();
    t.replace_nanosecond(nanos - nanos % 1_000).unwrap_or(t)
}
