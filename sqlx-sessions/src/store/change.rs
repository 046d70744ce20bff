//! Changing a session in place: its data and extra columns, its expiry, its token. Each is
//! one guarded statement.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{SessionStore, has_nul};
use crate::backend::On;
use crate::error::{Error, Result};
use crate::filter::{Filter, Status};
use crate::session::{CreatedSession, Session};
use crate::sql::{Param, StmtBuilder, quote};
use crate::update::{DataChange, SessionUpdate};
use crate::value::Value;

impl SessionStore {
    pub(super) async fn update_on(
        &self,
        on: On<'_, '_>,
        id: Uuid,
        change: SessionUpdate,
    ) -> Result<Option<Session>> {
        self.update_where(on, &Filter::new().id(id), change, None)
            .await
    }

    pub(super) async fn update_token_on(
        &self,
        on: On<'_, '_>,
        token: &str,
        change: SessionUpdate,
    ) -> Result<Option<Session>> {
        self.update_where(on, &Filter::new().token(token), change, None)
            .await
    }

    /// `UPDATE ... SET data, extras, updated_at WHERE <valid> AND <filter> RETURNING ...`:
    /// the valid-only guard means a session expired, revoked or deleted before (or while)
    /// the statement runs is left alone, and `updated_at` (written only on a valid row,
    /// before its expiry) keeps the revocation marker meaningful. `expires_at`, when given,
    /// is written too (a tower-sessions save that also slides the expiry).
    pub(super) async fn update_where(
        &self,
        on: On<'_, '_>,
        filter: &Filter,
        change: SessionUpdate,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<Option<Session>> {
        let spec = &self.inner.spec;
        change.data.check()?;
        let now = self.now();
        let expiry = self.expiry(now);
        let mut b = StmtBuilder::new("\"updated_at\" = ");
        b.bind(Param::Time(Some(now)));
        if let Some(at) = expires_at {
            b.push(", \"expires_at\" = ").bind(Param::Time(Some(at)));
        }
        match &change.data {
            DataChange::Keep | DataChange::NotAnObject => {}
            DataChange::Replace(data) => {
                refuse_nul(data)?;
                b.push(", \"data\" = ")
                    .bind(Param::Json(serde_json::to_string(data)?));
            }
            DataChange::Merge { set, remove } => {
                refuse_nul(&serde_json::Value::Object(set.clone()))?;
                b.push(", \"data\" = ");
                self.inner.backend.push_data_merge(&mut b, set, remove);
            }
        }
        for (name, value) in change.extras {
            let col = &spec.extras[spec.extra_index(&name)?];
            let value = value.coerce(col.name(), col.column_type())?;
            b.push(", ").push(&quote(col.name())).push(" = ");
            match value {
                Value::Null if col.is_required() => {
                    return Err(Error::MissingColumn(col.name().to_owned()));
                }
                Value::Null => b.bind(Param::Null(col.column_type())),
                v => b.bind(v.into()),
            };
        }
        let set_end = b.len();
        let valid = filter.clone().status(Status::Valid);
        let Some(b) = self.with_where(b, &valid, Status::Valid, &expiry)? else {
            return Ok(None);
        };
        let updated = self.change(on, b, Some(set_end)).await?;
        tracing::debug!(updated = updated.len(), table = %spec.table, "session updated");
        Ok(updated.into_iter().next())
    }

    pub(super) async fn set_expiry_on(
        &self,
        mut on: On<'_, '_>,
        id: Uuid,
        at: Option<OffsetDateTime>,
    ) -> Result<Option<Session>> {
        let spec = &self.inner.spec;
        // `inserted_at` never changes, so the cap read here still holds when the update runs.
        let all = Filter::new().id(id).status(Status::All);
        let b = StmtBuilder::new(&self.inner.select);
        let now = self.now();
        let expiry = self.expiry(now);
        let Some(b) = self.with_where(b, &all, Status::All, &expiry)? else {
            return Ok(None);
        };
        let Some(found) = self
            .inner
            .backend
            .fetch_optional(on.as_deref_mut(), b.finish(), false)
            .await?
        else {
            return Ok(None);
        };
        let cap = self
            .inner
            .settings
            .max_lifetime
            .and_then(|max| found.session.inserted_at.checked_add(max));
        let at = match (at, cap) {
            (Some(at), Some(cap)) => Some(crate::clock::truncate_to_micros(at.min(cap))),
            (None, Some(cap)) => Some(cap),
            (at, None) => at.map(crate::clock::truncate_to_micros),
        };
        // `updated_at` is written before the new expiry (now, when that is later), so a
        // future expiry makes the row valid again and a past one leaves it revoked.
        let mut b = StmtBuilder::new("\"expires_at\" = ");
        b.bind(Param::Time(at))
            .push(", \"updated_at\" = ")
            .bind(Param::Time(Some(now)));
        let set_end = b.len();
        b.push(" WHERE \"id\" = ").bind(Param::Uuid(id));
        let mut updated = self.change(on, b, Some(set_end)).await?;
        for s in &mut updated {
            s.is_expired = expiry.is_expired(s);
        }
        tracing::debug!(session_id = %id, table = %spec.table, "session expiry set");
        Ok(updated.into_iter().next())
    }

    pub(super) async fn rotate_on(
        &self,
        on: On<'_, '_>,
        id: Uuid,
    ) -> Result<Option<CreatedSession>> {
        self.rotate_where(on, &Filter::new().id(id)).await
    }

    pub(super) async fn rotate_token_on(
        &self,
        on: On<'_, '_>,
        token: &str,
    ) -> Result<Option<CreatedSession>> {
        self.rotate_where(on, &Filter::new().token(token)).await
    }

    /// One `UPDATE` replacing the digest of the valid session matching `filter`: once it
    /// commits, the old token matches no row.
    async fn rotate_where(
        &self,
        on: On<'_, '_>,
        filter: &Filter,
    ) -> Result<Option<CreatedSession>> {
        let inner = &self.inner;
        let spec = &inner.spec;
        let token = inner.format.generate()?;
        let digest = self.stored_digest(inner.salts[0].as_ref(), token.expose())?;
        let now = self.now();
        let expiry = self.expiry(now);
        // The previous digest first: MySQL assigns left to right, so it still reads the
        // old one (PostgreSQL and SQLite read the old row throughout).
        let mut b = StmtBuilder::new(if spec.optional.previous_digest {
            "\"previous_digest\" = \"auth_token_digest\", \"auth_token_digest\" = "
        } else {
            "\"auth_token_digest\" = "
        });
        b.bind(Param::Digest(digest))
            .push(", \"updated_at\" = ")
            .bind(Param::Time(Some(now)));
        if spec.optional.salt_id
            && let Some(salt) = &inner.current_salt_id
        {
            b.push(", \"salt_id\" = ").bind(Param::Text(salt.clone()));
        }
        let hint = if spec.optional.token_hint {
            inner.format.hint(&token)
        } else {
            None
        };
        if let Some(hint) = &hint {
            b.push(", \"token_hint\" = ")
                .bind(Param::Text(hint.clone()));
        }
        let set_end = b.len();
        let valid = filter.clone().status(Status::Valid);
        let Some(b) = self.with_where(b, &valid, Status::Valid, &expiry)? else {
            return Ok(None);
        };
        let rotated = self.change(on, b, Some(set_end)).await?;
        Ok(rotated.into_iter().next().map(|session| {
            tracing::debug!(session_id = %session.id, table = %spec.table, "session token rotated");
            CreatedSession { session, token }
        }))
    }
}

/// Refuses JSON holding NUL: PostgreSQL's jsonb cannot store it; refused on every database alike.
pub(super) fn refuse_nul(data: &serde_json::Value) -> Result<()> {
    if has_nul(data) {
        return Err(Error::InvalidValue {
            column: "data".into(),
            reason: "contains a NUL character".into(),
        });
    }
    Ok(())
}
