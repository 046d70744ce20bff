//! The sessions the feed reported revoked, kept for as long as their access tokens can
//! live, for the `access` module's verifier.
//!
//! A gap in the feed (its first round, a reconnection, a gap in the change log, a
//! `TRUNCATE`, or more revocations than the set holds) means revocations may have been
//! missed: every token issued up to that moment is then refused until one token lifetime
//! has passed ([`RevokedSessions::refuses`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::clock::Clock;

/// The most revoked sessions kept; past it the set reports a gap instead.
const MAX_REVOKED: usize = 100_000;

#[derive(Debug, Default)]
struct State {
    /// When each session was heard revoked.
    revoked: HashMap<Uuid, OffsetDateTime>,
    /// The last moment up to which revocations may have been missed.
    gap: Option<OffsetDateTime>,
    /// How long entries are kept: the longest token lifetime of any follower (zero: no
    /// follower, nothing kept).
    keep: Duration,
}

/// The revoked sessions of one store's feed. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct RevokedSessions {
    state: Arc<Mutex<State>>,
    clock: Arc<dyn Clock>,
}

impl RevokedSessions {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Self {
        RevokedSessions {
            state: Arc::default(),
            clock,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[cfg(feature = "access-tokens")]
    /// Keeps entries for at least `lifetime` from now on. A follower that joins late has
    /// missed what came before: that is a gap.
    pub(crate) fn keep_for(&self, lifetime: Duration) {
        let now = self.clock.now();
        let mut state = self.lock();
        if lifetime > state.keep {
            state.keep = lifetime;
            state.gap = Some(state.gap.map_or(now, |g| g.max(now)));
        }
    }

    /// Records the revocation of `id`, now.
    pub(crate) fn insert(&self, id: Uuid) {
        let now = self.clock.now();
        let mut state = self.lock();
        if state.keep <= Duration::ZERO {
            return;
        }
        let cutoff = now - state.keep;
        if state.revoked.len() >= MAX_REVOKED {
            state.revoked.retain(|_, at| *at > cutoff);
        }
        if state.revoked.len() >= MAX_REVOKED {
            state.revoked.clear();
            state.gap = Some(now);
        } else {
            state.revoked.insert(id, now);
        }
    }

    /// Records that revocations up to now may have been missed.
    pub(crate) fn gap(&self) {
        let now = self.clock.now();
        let mut state = self.lock();
        state.gap = Some(now);
        state.revoked.clear();
    }

    #[cfg(feature = "access-tokens")]
    /// Whether a token of session `sid` issued at `issued_at` (Unix seconds) must be
    /// refused: its session was heard revoked within the kept lifetime, or it was issued
    /// in or before the second of a gap that is less than one lifetime old.
    pub(crate) fn refuses(&self, sid: Uuid, issued_at: i64) -> bool {
        let now = self.clock.now();
        let state = self.lock();
        if let Some(gap) = state.gap
            && now < gap + state.keep
            && issued_at <= gap.unix_timestamp()
        {
            return true;
        }
        state
            .revoked
            .get(&sid)
            .is_some_and(|at| now < *at + state.keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn revoked_ids_and_gaps_are_refused_for_one_lifetime() {
        let clock = ManualClock::new(time::macros::datetime!(2030-01-01 0:00 UTC));
        let set = RevokedSessions::new(Arc::new(clock.clone()));
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        // Nobody follows: nothing is kept.
        set.insert(a);
        let t0 = clock.now().unix_timestamp();
        assert!(!set.refuses(a, t0 + 1));
        // A follower joining is a gap: tokens issued up to this second are refused.
        set.keep_for(Duration::minutes(5));
        assert!(set.refuses(b, t0));
        assert!(set.refuses(b, t0 - 100));
        assert!(!set.refuses(b, t0 + 1));
        clock.advance(Duration::seconds(10));
        set.insert(a);
        let t1 = clock.now().unix_timestamp();
        assert!(set.refuses(a, t1 + 1), "revoked, whenever issued");
        assert!(!set.refuses(b, t1));
        // One lifetime later both the gap and the revocation are forgotten.
        clock.advance(Duration::minutes(5));
        assert!(!set.refuses(a, t0));
        assert!(!set.refuses(b, t0));
        // A later gap refuses again, and clears nothing it should keep.
        set.gap();
        let t2 = clock.now().unix_timestamp();
        assert!(set.refuses(b, t2) && !set.refuses(b, t2 + 1));
    }
}
