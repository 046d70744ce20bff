//! Expiring, deleting, pruning and re-authenticating sessions.

use uuid::Uuid;

use super::SessionStore;
use crate::backend::{Change, On};
use crate::error::{Error, Result};
use crate::filter::{Filter, Status};
use crate::query::{NOT_REVOKED, push_where, refuse_paging, select_list};
use crate::session::Session;
use crate::sql::{Param, Stmt, StmtBuilder};

impl SessionStore {
    pub(super) async fn expire_on(&self, on: On<'_, '_>, id: Uuid) -> Result<bool> {
        Ok(!self
            .expire_all_on(on, &Filter::new().id(id))
            .await?
            .is_empty())
    }

    pub(super) async fn expire_all_on(
        &self,
        mut on: On<'_, '_>,
        filter: &Filter,
    ) -> Result<Vec<Session>> {
        refuse_paging(filter, "expire_all")?;
        let now = self.now();
        let expiry = self.expiry(now);
        let spec = &self.inner.spec;
        let at = || Param::Time(Some(now));
        let mut b = StmtBuilder::new(&format!("UPDATE {} SET ", spec.qualified()));
        // First the sessions expired by this clock but not yet revoked: `updated_at` moves
        // to now and `expires_at` to the earlier of itself and now, so an expired one keeps
        // the moment it really expired. Done before the valid ones, so a session that a
        // lagging instance extends in between is caught by the second statement.
        b.push("\"updated_at\" = ").bind(at());
        b.push(", \"expires_at\" = CASE WHEN \"expires_at\" IS NOT NULL AND \"expires_at\" <= ")
            .bind(at())
            .push(" THEN \"expires_at\" ELSE ")
            .bind(at())
            .push(" END");
        if let Some(mut b) =
            self.with_where(b, &filter.clone().status(Status::All), Status::All, &expiry)?
        {
            expiry.push_expired_by_clock(&mut b);
            b.push(" AND (\"expires_at\" IS NULL OR ")
                .push(NOT_REVOKED)
                .push(")");
            self.inner
                .backend
                .execute(on.as_deref_mut(), b.finish())
                .await?;
        }
        // Then the valid ones: both columns from the same instant.
        let mut b = StmtBuilder::new("\"expires_at\" = ");
        b.bind(at()).push(", \"updated_at\" = ").bind(at());
        let set_end = b.len();
        let valid = filter.clone().status(Status::Valid);
        let Some(b) = self.with_where(b, &valid, Status::Valid, &expiry)? else {
            return Ok(Vec::new());
        };
        let mut sessions = self.change(on, b, Some(set_end)).await?;
        for s in &mut sessions {
            s.is_expired = true;
        }
        tracing::debug!(count = sessions.len(), table = %spec.table, "sessions expired");
        Ok(sessions)
    }

    pub(super) async fn delete_on(&self, on: On<'_, '_>, id: Uuid) -> Result<bool> {
        Ok(!self
            .delete_all_on(on, &Filter::new().id(id).status(Status::All))
            .await?
            .is_empty())
    }

    pub(super) async fn delete_all_on(
        &self,
        on: On<'_, '_>,
        filter: &Filter,
    ) -> Result<Vec<Session>> {
        refuse_paging(filter, "delete_all")?;
        let expiry = self.expiry(self.now());
        let spec = &self.inner.spec;
        let b = StmtBuilder::new("");
        let Some(b) = self.with_where(b, filter, Status::All, &expiry)? else {
            return Ok(Vec::new());
        };
        let mut sessions = self.change(on, b, None).await?;
        for s in &mut sessions {
            s.is_expired = expiry.is_expired(s);
        }
        tracing::debug!(count = sessions.len(), table = %spec.table, "sessions deleted");
        Ok(sessions)
    }

    /// Deletes expired sessions in batches of `prune_batch_size` rows, so no statement
    /// holds a long lock, pausing after each batch as long as it took, and returns how many
    /// it deleted.
    pub async fn delete_expired(&self) -> Result<u64> {
        let batch = u64::from(self.inner.settings.prune_batch_size);
        let mut total = 0;
        loop {
            let started = std::time::Instant::now();
            let n = self.delete_expired_batch().await?;
            total += n;
            if n < batch {
                return Ok(total);
            }
            // Give the database back as much time as the batch took, so requests running
            // meanwhile keep most of it.
            tokio::time::sleep(started.elapsed().min(std::time::Duration::from_secs(1))).await;
        }
    }

    /// Deletes at most one batch (`prune_batch_size` rows) of expired sessions.
    pub async fn delete_expired_batch(&self) -> Result<u64> {
        let now = self.now();
        let expiry = self.expiry(now);
        let mut b = StmtBuilder::new(" WHERE 1 = 1");
        expiry.push_expired_by_clock(&mut b);
        // In expiry order, so the expiry index serves the scan and each batch starts where
        // the last one ended.
        b.push(" ORDER BY \"expires_at\" LIMIT ")
            .bind(Param::Int(self.inner.settings.prune_batch_size.into()));
        let tail = b.finish();
        let sql = self
            .inner
            .backend
            .bounded_delete(&self.inner.spec.qualified(), &tail.sql);
        let result = self
            .inner
            .backend
            .execute(
                None,
                Stmt {
                    sql: sql.into(),
                    params: tail.params,
                },
            )
            .await;
        self.invalidate_after_write().await;
        result
    }

    pub(super) async fn mark_authenticated_on(
        &self,
        on: On<'_, '_>,
        id: Uuid,
    ) -> Result<Option<Session>> {
        let spec = &self.inner.spec;
        if !spec.optional.authenticated_at {
            return Err(Error::Unsupported {
                operation: "mark_authenticated",
                column: "authenticated_at",
            });
        }
        let now = self.now();
        let expiry = self.expiry(now);
        let mut b = StmtBuilder::new("\"authenticated_at\" = ");
        b.bind(Param::Time(Some(now)))
            .push(", \"updated_at\" = ")
            .bind(Param::Time(Some(now)));
        let set_end = b.len();
        push_where(
            &mut b,
            spec,
            &Filter::new().id(id),
            Status::Valid,
            &expiry,
            Vec::new(),
        )?;
        Ok(self.change(on, b, Some(set_end)).await?.into_iter().next())
    }

    /// Runs the `UPDATE` (assignments up to `set_end`, then the filter) or `DELETE` (the
    /// filter alone) written in `b` on `on`, returning the rows it changed; a read cache
    /// forgets them before this returns.
    pub(super) async fn change(
        &self,
        on: On<'_, '_>,
        b: StmtBuilder,
        set_end: Option<usize>,
    ) -> Result<Vec<Session>> {
        let spec = &self.inner.spec;
        let stmt = b.finish();
        let (set, filter) = match set_end {
            Some(end) => (Some(stmt.sql[..end].to_owned()), stmt.sql[end..].to_owned()),
            None => (None, stmt.sql.to_string()),
        };
        let change = Change {
            table: spec.qualified(),
            set,
            filter,
            params: stmt.params,
            returning: select_list(spec, false),
        };
        let result = self.inner.backend.change_returning(on, change).await;
        // Whatever the outcome, the change may have committed: no cached copy survives it.
        self.invalidate_after_write().await;
        result
    }

    /// How many rows are still digested under a previous salt (or were written before salt
    /// tracking). Needs the `salt_id` column
    /// ([`StoreBuilder::track_salt`](crate::StoreBuilder::track_salt)). Once it reaches
    /// zero, the oldest salts can be retired.
    pub async fn count_on_previous_salts(&self) -> Result<u64> {
        let spec = &self.inner.spec;
        let current = match (&self.inner.current_salt_id, spec.optional.salt_id) {
            (Some(id), true) => id.clone(),
            _ => {
                return Err(Error::Unsupported {
                    operation: "count_on_previous_salts",
                    column: "salt_id",
                });
            }
        };
        let mut b = StmtBuilder::new(&format!(
            "SELECT COUNT(*) FROM {} WHERE \"salt_id\" IS NULL OR \"salt_id\" <> ",
            spec.qualified()
        ));
        b.bind(Param::Text(current));
        let n = self.inner.backend.fetch_count(None, b.finish()).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
