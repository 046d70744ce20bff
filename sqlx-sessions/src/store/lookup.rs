//! Reading one session, and the single conditional write that may follow it.

use time::OffsetDateTime;
use uuid::Uuid;

use super::SessionStore;
use crate::backend::Fetched;
use crate::backend::On;
use crate::error::Result;
use crate::extend::new_expiry;
use crate::filter::{Filter, Status};
use crate::query::NOT_REVOKED;
use crate::session::Session;
use crate::sql::{Param, StmtBuilder};

/// Per-call options of [`SessionStore::get_with`].
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct GetOptions {
    /// Overrides the store's `auto_extend` for this call.
    pub extend: Option<bool>,
}

impl GetOptions {
    /// Options that extend (or not) regardless of the store's `auto_extend`.
    pub fn extend(extend: bool) -> Self {
        GetOptions {
            extend: Some(extend),
        }
    }
}

/// What a lookup found, and whether it extended it
/// ([`SessionStore::lookup_outcome`]).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Lookup {
    /// The valid session.
    pub session: Session,
    /// True when this lookup wrote a new expiry (its `UPDATE` changed the row, so the
    /// stored session now expires at `session.expires_at`): a cookie carrying the old
    /// expiry is due for a refresh. False when nothing was due, or when a concurrent
    /// write made the compare-and-set a no-op.
    pub extended: bool,
}

/// Whether the store accepts previous salts (lookups then select the stored digest).
fn rotating(store: &SessionStore) -> bool {
    store.inner.salts.len() > 1
}

impl SessionStore {
    pub(super) async fn lookup_on(&self, on: On<'_, '_>, token: &str) -> Result<Option<Session>> {
        self.lookup_with_on(on, token, GetOptions::default()).await
    }

    pub(super) async fn lookup_with_on(
        &self,
        on: On<'_, '_>,
        token: &str,
        options: GetOptions,
    ) -> Result<Option<Session>> {
        Ok(self
            .lookup_outcome_on(on, token, options)
            .await?
            .map(|found| found.session))
    }

    pub(super) async fn lookup_outcome_on(
        &self,
        mut on: On<'_, '_>,
        token: &str,
        options: GetOptions,
    ) -> Result<Option<Lookup>> {
        let Some(digests) = self.token_digests(token) else {
            return Ok(None);
        };
        let now = self.now();
        let extend = self.wants_extension(options);
        // The cache is keyed by the digest under the current salt; it is not used on a
        // caller's transaction, whose reads may not be committed yet.
        #[cfg(feature = "cache")]
        let cache = if on.is_none() { self.cache() } else { None };
        #[cfg(feature = "cache")]
        let ticket = match cache {
            Some(cache) => match cache.get(&digests[0], |s| self.servable(s, now, extend)) {
                Ok(session) => {
                    return Ok(Some(Lookup {
                        session,
                        extended: false,
                    }));
                }
                Err(ticket) => Some((cache, ticket, digests[0].clone())),
            },
            None => None,
        };
        let expiry = self.expiry(now);
        // With several salts, the current one's digest (the first) is kept to re-digest a
        // row found under an old salt, rather than hashing the token again.
        let current = rotating(self).then(|| digests[0].clone());
        let mut b = StmtBuilder::params_only();
        super::write_lookup(&mut b, digests, &expiry);
        let stmt = b.finish_prepared(self.inner.lookup.clone());
        let fetched = self
            .inner
            .backend
            .fetch_optional(on.as_deref_mut(), stmt, current.is_some())
            .await?;
        let Some(fetched) = fetched else {
            return Ok(None);
        };
        // A row found under a previous salt is cached only once re-digested.
        #[cfg(feature = "cache")]
        let stored_current = match (&fetched.digest, &current) {
            (Some(stored), Some(current)) => stored == current,
            _ => true,
        };
        let on_pool = on.is_none();
        let (found, wrote) = self.after_read(on, fetched, now, extend, current).await?;
        #[cfg(feature = "cache")]
        if let Some((cache, ticket, key)) = ticket {
            if wrote {
                cache.invalidate(&key);
            } else if stored_current && !found.session.is_expired {
                cache.fill(ticket, &key, &found.session);
            }
        }
        if wrote && !on_pool {
            self.invalidate_after_write().await;
        }
        Ok(Some(found))
    }

    pub(super) async fn get_on(&self, on: On<'_, '_>, filter: &Filter) -> Result<Option<Session>> {
        self.get_with_on(on, filter, GetOptions::default()).await
    }

    pub(super) async fn get_with_on(
        &self,
        mut on: On<'_, '_>,
        filter: &Filter,
        options: GetOptions,
    ) -> Result<Option<Session>> {
        if let Some(token) = filter.only_token() {
            // The same question as a lookup's: its prebuilt statement answers it.
            return self.lookup_with_on(on, token, options).await;
        }
        let now = self.now();
        let expiry = self.expiry(now);
        let rotating = rotating(self);
        let b = StmtBuilder::new(&self.inner.select);
        let Some(mut b) = self.with_where(b, filter, Status::Valid, &expiry)? else {
            return Ok(None);
        };
        b.push(" ORDER BY \"inserted_at\" DESC, \"id\" LIMIT 1");
        let fetched = self
            .inner
            .backend
            .fetch_optional(on.as_deref_mut(), b.finish(), rotating)
            .await?;
        match fetched {
            None => Ok(None),
            Some(f) => {
                let extend = self.wants_extension(options);
                let current = match &filter.token {
                    Some(token) if rotating => {
                        Some(self.stored_digest(self.inner.salts[0].as_ref(), token)?)
                    }
                    _ => None,
                };
                let (found, wrote) = self.after_read(on, f, now, extend, current).await?;
                if wrote {
                    self.invalidate_after_write().await;
                }
                Ok(Some(found.session))
            }
        }
    }

    pub(super) async fn extend_on(&self, on: On<'_, '_>, id: Uuid) -> Result<Option<Session>> {
        self.get_with_on(on, &Filter::new().id(id), GetOptions::extend(true))
            .await
    }

    fn wants_extension(&self, options: GetOptions) -> bool {
        options.extend.unwrap_or(self.inner.settings.auto_extend)
    }

    /// The writes a read of `s` at `now` calls for: a new expiry (when `extend`) and a
    /// `last_used_at` touch.
    fn writes_due(
        &self,
        s: &Session,
        now: OffsetDateTime,
        extend: bool,
    ) -> (Option<OffsetDateTime>, bool) {
        let inner = &self.inner;
        let new_expires = if extend {
            new_expiry(&inner.settings, s.expires_at, s.inserted_at, now, s.ttl)
        } else {
            None
        };
        let touch = inner.spec.optional.last_used_at
            && s.last_used_at
                .is_none_or(|t| now - t >= inner.settings.touch_interval);
        (new_expires, touch)
    }

    /// Whether a cached session may answer a lookup at `now`: valid as a row read now would
    /// be (not past `expires_at` or `max_lifetime`, not revoked) and due for no write.
    #[cfg(feature = "cache")]
    fn servable(&self, s: &Session, now: OffsetDateTime, extend: bool) -> bool {
        let (new_expires, touch) = self.writes_due(s, now, extend);
        !self.expiry(now).is_expired(s) && new_expires.is_none() && !touch
    }

    /// Fills in `is_expired` and performs the one conditional write a read may need:
    /// extension, `last_used_at`, re-digest under the current salt, or all three at once.
    /// Also says whether it attempted the write.
    async fn after_read(
        &self,
        on: On<'_, '_>,
        fetched: Fetched,
        now: OffsetDateTime,
        extend: bool,
        current_digest: Option<Vec<u8>>,
    ) -> Result<(Lookup, bool)> {
        let mut s = fetched.session;
        s.is_expired = self.expiry(now).is_expired(&s);
        let unwritten = |session| Lookup {
            session,
            extended: false,
        };
        if s.is_expired {
            return Ok((unwritten(s), false));
        }
        let inner = &self.inner;
        // The write uses a "now" read after the row: a concurrent expire that committed
        // before our read set `expires_at` to a moment no later than this, so the guard
        // `expires_at > now` below refuses to revive it.
        let now = self.now().max(now);
        let (new_expires, touch) = self.writes_due(&s, now, extend);
        let redigest = match (&fetched.digest, current_digest) {
            (Some(stored), Some(current)) => (stored != &current).then_some(current),
            _ => None,
        };
        if new_expires.is_none() && !touch && redigest.is_none() {
            return Ok((unwritten(s), false));
        }
        let mut b = StmtBuilder::new(&format!("UPDATE {} SET ", inner.spec.qualified()));
        b.push("\"updated_at\" = ").bind(Param::Time(Some(now)));
        if let Some(at) = new_expires {
            b.push(", \"expires_at\" = ").bind(Param::Time(Some(at)));
        }
        if touch {
            b.push(", \"last_used_at\" = ").bind(Param::Time(Some(now)));
        }
        if let Some(digest) = &redigest {
            b.push(", \"auth_token_digest\" = ")
                .bind(Param::Digest(digest.clone()));
            if inner.spec.optional.salt_id
                && let Some(id) = &inner.current_salt_id
            {
                b.push(", \"salt_id\" = ").bind(Param::Text(id.clone()));
            }
        }
        // Compare-and-set on the expiry that was read: a concurrent expire, delete or
        // extension makes this a no-op, so nothing expired or deleted comes back. A revoked
        // row is refused by its own columns, whatever this clock says (an expire at exactly
        // the expiry read would otherwise pass the comparison); `expires_at > now` keeps
        // the `updated_at` written here before the expiry.
        push_expiry_unchanged(&mut b, &s, now);
        let written = inner.backend.execute(on, b.finish()).await? == 1;
        if written {
            s.updated_at = now;
            if let Some(at) = new_expires {
                s.expires_at = Some(at);
            }
            if touch {
                s.last_used_at = Some(now);
            }
            tracing::trace!(session_id = %s.id, extended = new_expires.is_some(), touched = touch, redigested = redigest.is_some(), "session written after lookup");
        }
        Ok((
            Lookup {
                session: s,
                extended: written && new_expires.is_some(),
            },
            true,
        ))
    }
}

/// ` WHERE` the row is `s` with the expiry it was read with, still valid at `now` and not
/// revoked: the compare-and-set guard of a write that moves an expiry.
pub(super) fn push_expiry_unchanged(b: &mut StmtBuilder, s: &Session, now: OffsetDateTime) {
    b.push(" WHERE \"id\" = ").bind(Param::Uuid(s.id));
    match s.expires_at {
        None => b.push(" AND \"expires_at\" IS NULL"),
        Some(at) => b
            .push(" AND \"expires_at\" = ")
            .bind(Param::Time(Some(at)))
            .push(" AND \"expires_at\" > ")
            .bind(Param::Time(Some(now)))
            .push(" AND ")
            .push(NOT_REVOKED),
    };
}
