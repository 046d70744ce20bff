//! The lifecycle of an API key beyond what every session has: suspend and resume, and a
//! roll to a new key with a grace period for the old one.

use time::Duration;
use uuid::Uuid;

use super::SessionStore;
use crate::backend::On;
use crate::error::{Error, Result};
use crate::filter::{Filter, Status};
use crate::session::{CreatedSession, NewSession, Session};
use crate::sql::{Param, StmtBuilder};

impl SessionStore {
    /// Refuses `operation` in a store without the key lifecycle columns.
    fn needs_lifecycle(&self, operation: &'static str) -> Result<()> {
        if self.inner.spec.optional.key_lifecycle {
            Ok(())
        } else {
            Err(Error::Unsupported {
                operation,
                column: "suspended_at",
            })
        }
    }

    pub(super) async fn suspend_on(&self, on: On<'_, '_>, id: Uuid) -> Result<Option<Session>> {
        self.set_suspended(on, id, true).await
    }

    pub(super) async fn resume_on(&self, on: On<'_, '_>, id: Uuid) -> Result<Option<Session>> {
        self.set_suspended(on, id, false).await
    }

    /// One `UPDATE` of the valid row `id`: `suspended_at` set (kept when already set) or
    /// cleared, `updated_at` now (before the expiry of a valid row, so the revocation marker
    /// is untouched). Through [`SessionStore::change`], so no cached copy survives it.
    async fn set_suspended(
        &self,
        on: On<'_, '_>,
        id: Uuid,
        suspend: bool,
    ) -> Result<Option<Session>> {
        self.needs_lifecycle(if suspend { "suspend" } else { "resume" })?;
        let now = self.now();
        let mut b = StmtBuilder::new("\"suspended_at\" = ");
        if suspend {
            b.push("COALESCE(\"suspended_at\", ")
                .bind(Param::Time(Some(now)))
                .push(")");
        } else {
            b.bind(Param::Time(None));
        }
        b.push(", \"updated_at\" = ").bind(Param::Time(Some(now)));
        let set_end = b.len();
        let expiry = self.expiry(now);
        let Some(b) = self.with_where(b, &Filter::new().id(id), Status::Valid, &expiry)? else {
            return Ok(None);
        };
        let changed = self.change(on, b, Some(set_end)).await?;
        tracing::debug!(session_id = %id, suspend, changed = changed.len(), "key suspension set");
        Ok(changed.into_iter().next())
    }

    pub(super) async fn roll_on(
        &self,
        on: On<'_, '_>,
        id: Uuid,
        grace: Duration,
    ) -> Result<Option<CreatedSession>> {
        self.needs_lifecycle("roll")?;
        if grace.is_negative() {
            return Err(Error::InvalidValue {
                column: "expires_at".into(),
                reason: format!("a grace period is zero or more, got {grace}"),
            });
        }
        let backend = &self.inner.backend;
        if !backend.locks_per_key() {
            // No transaction to hold both writes (MySQL on the store's pool): the new key
            // is inserted first and taken back if the old one can no longer be rolled.
            return self.roll_steps(on, id, grace).await;
        }
        let mut locked = backend.begin_locked(on, &format!("roll:{id}")).await?;
        let mut conn = locked.conn();
        let result = match self.roll_steps(Some(&mut conn), id, grace).await {
            Ok(rolled) => locked.commit().await.map(|()| rolled),
            Err(e) => Err(e),
        };
        // The old key's new expiry is visible from the commit: no cached copy outlives it.
        self.invalidate_after_write().await;
        result
    }

    /// Inserts the successor of the valid, unsuspended, not yet rolled key `id`, then gives
    /// the old one its last expiry (`now + grace`, or its own when sooner) and its
    /// successor's id; takes the new key back when the old one changed in between.
    async fn roll_steps(
        &self,
        mut on: On<'_, '_>,
        id: Uuid,
        grace: Duration,
    ) -> Result<Option<CreatedSession>> {
        let found = self
            .list_on(on.as_deref_mut(), &Filter::new().id(id))
            .await?;
        let Some(old) = found.into_iter().next() else {
            return Ok(None);
        };
        if old.suspended_at.is_some() || old.replaced_by.is_some() {
            return Ok(None);
        }
        let now = self.now();
        let grace_end = now.checked_add(grace).ok_or_else(|| Error::InvalidValue {
            column: "expires_at".into(),
            reason: format!("a grace period of {grace} ends past the last representable time"),
        })?;
        let token = self.inner.format.generate()?;
        let (created, insert) = self.prepare_insert(successor(&old, self), token)?;
        self.inner
            .backend
            .execute(on.as_deref_mut(), insert)
            .await?;
        let mut b = StmtBuilder::new(
            "\"expires_at\" = CASE WHEN \"expires_at\" IS NOT NULL AND \"expires_at\" < ",
        );
        b.bind(Param::Time(Some(grace_end)))
            .push(" THEN \"expires_at\" ELSE ")
            .bind(Param::Time(Some(grace_end)))
            .push(" END, \"updated_at\" = ")
            .bind(Param::Time(Some(now)))
            .push(", \"replaced_by\" = ")
            .bind(Param::Uuid(created.session.id));
        let set_end = b.len();
        let expiry = self.expiry(now);
        let Some(mut b) = self.with_where(b, &Filter::new().id(id), Status::Valid, &expiry)? else {
            return Ok(None);
        };
        b.push(" AND \"replaced_by\" IS NULL AND \"suspended_at\" IS NULL");
        let replaced = self.change(on.as_deref_mut(), b, Some(set_end)).await?;
        if replaced.is_empty() {
            self.delete_on(on, created.session.id).await?;
            return Ok(None);
        }
        tracing::debug!(old = %id, new = %created.session.id, grace = %grace, "key rolled");
        Ok(Some(created))
    }
}

/// The new key of a roll: the old one's extra columns (its owner), data (its name), scopes
/// and TTL, and an expiry as far from now as the old one's was from its creation.
fn successor(old: &Session, store: &SessionStore) -> NewSession {
    let data = serde_json::from_str(old.data.as_json()).unwrap_or_else(|_| serde_json::json!({}));
    let mut new = NewSession::new().data(data);
    for (name, value) in old.extras.iter() {
        new = new.extra(name, value.clone());
    }
    if store.inner.spec.optional.scopes {
        new = new.scopes(old.scopes.iter().cloned());
    }
    if let Some(ttl) = old.ttl {
        new = new.ttl(ttl);
    }
    match old.expires_at {
        None => new.expires_at(None),
        Some(at) => new.expires_in((at - old.inserted_at).max(Duration::SECOND)),
    }
}
