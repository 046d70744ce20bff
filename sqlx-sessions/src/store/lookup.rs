//! Reading one session, and the single conditional write that may follow it.

use time::OffsetDateTime;
use uuid::Uuid;

use super::SessionStore;
use crate::backend::Fetched;
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

/// Whether the store accepts previous salts (lookups then select the stored digest).
fn rotating(store: &SessionStore) -> bool {
    store.inner.salts.len() > 1
}

impl SessionStore {
    /// The valid session of a plaintext token, extended per the store's settings.
    ///
    /// A missing, empty, malformed or unknown token gives `Ok(None)`; a malformed one costs
    /// no query. This is the per-request path: one indexed `SELECT`, and at most one
    /// conditional `UPDATE` when the session is due for extension (or for its
    /// `last_used_at`, or for re-digesting under the current salt).
    pub async fn lookup(&self, token: &str) -> Result<Option<Session>> {
        self.lookup_with(token, GetOptions::default()).await
    }

    /// [`SessionStore::lookup`] with per-call options.
    pub async fn lookup_with(&self, token: &str, options: GetOptions) -> Result<Option<Session>> {
        let Some(digests) = self.token_digests(token) else {
            return Ok(None);
        };
        let now = self.now();
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
            .fetch_optional(stmt, current.is_some())
            .await?;
        match fetched {
            None => Ok(None),
            Some(f) => self
                .after_read(f, now, self.wants_extension(options), current)
                .await
                .map(Some),
        }
    }

    /// One session matching `filter` (the newest, if several), extended per the store's
    /// settings when it is valid.
    pub async fn get(&self, filter: &Filter) -> Result<Option<Session>> {
        self.get_with(filter, GetOptions::default()).await
    }

    /// [`SessionStore::get`] with per-call options.
    pub async fn get_with(&self, filter: &Filter, options: GetOptions) -> Result<Option<Session>> {
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
            .fetch_optional(b.finish(), rotating)
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
                self.after_read(f, now, extend, current).await.map(Some)
            }
        }
    }

    /// Extends the valid session `id` per the extension rule (whatever `auto_extend` says)
    /// and returns it; `None` when there is no valid session with that id.
    pub async fn extend(&self, id: Uuid) -> Result<Option<Session>> {
        self.get_with(&Filter::new().id(id), GetOptions::extend(true))
            .await
    }

    fn wants_extension(&self, options: GetOptions) -> bool {
        options.extend.unwrap_or(self.inner.settings.auto_extend)
    }

    /// Fills in `is_expired` and performs the one conditional write a read may need:
    /// extension, `last_used_at`, re-digest under the current salt, or all three at once.
    async fn after_read(
        &self,
        fetched: Fetched,
        now: OffsetDateTime,
        extend: bool,
        current_digest: Option<Vec<u8>>,
    ) -> Result<Session> {
        let mut s = fetched.session;
        s.is_expired = self.expiry(now).is_expired(&s);
        if s.is_expired {
            return Ok(s);
        }
        let inner = &self.inner;
        // The write uses a "now" read after the row: a concurrent expire that committed
        // before our read set `expires_at` to a moment no later than this, so the guard
        // `expires_at > now` below refuses to revive it.
        let now = self.now().max(now);
        let new_expires = if extend {
            new_expiry(&inner.settings, s.expires_at, s.inserted_at, now)
        } else {
            None
        };
        let touch = inner.spec.optional.last_used_at
            && s.last_used_at
                .is_none_or(|t| now - t >= inner.settings.touch_interval);
        let redigest = match (&fetched.digest, current_digest) {
            (Some(stored), Some(current)) => (stored != &current).then_some(current),
            _ => None,
        };
        if new_expires.is_none() && !touch && redigest.is_none() {
            return Ok(s);
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
        let written = inner.backend.execute(b.finish()).await? == 1;
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
        Ok(s)
    }
}
