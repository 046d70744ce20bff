//! Recognising a token that a rotation already replaced, and revoking its session.

use uuid::Uuid;

use super::SessionStore;
use crate::error::{Error, Result};
use crate::filter::Status;
use crate::query::push_digest_match_on;
use crate::sql::{Param, StmtBuilder};

impl SessionStore {
    /// Revokes the valid session whose token was rotated away from `token` (its
    /// `previous_digest`, [`StoreBuilder::detect_token_reuse`](crate::StoreBuilder::detect_token_reuse))
    /// and returns its id; `None` when no valid session had that token before its last
    /// rotation. One guarded `UPDATE`, both columns from the same instant, as
    /// [`SessionStore::expire`] writes them.
    pub async fn revoke_rotated_away(&self, token: &str) -> Result<Option<Uuid>> {
        if !self.inner.spec.optional.previous_digest {
            return Err(Error::Unsupported {
                operation: "revoke_rotated_away",
                column: "previous_digest",
            });
        }
        let Some(digests) = self.token_digests(token) else {
            return Ok(None);
        };
        let now = self.now();
        let expiry = self.expiry(now);
        let mut b = StmtBuilder::new("\"expires_at\" = ");
        b.bind(Param::Time(Some(now)))
            .push(", \"updated_at\" = ")
            .bind(Param::Time(Some(now)));
        let set_end = b.len();
        b.push(" WHERE 1 = 1");
        push_digest_match_on(&mut b, "\"previous_digest\"", digests);
        expiry.push_status(&mut b, Status::Valid);
        let revoked = self.change(None, b, Some(set_end)).await?;
        let id = revoked.first().map(|s| s.id);
        if let Some(id) = id {
            tracing::warn!(session_id = %id, table = %self.inner.spec.table, "a rotated-away token was presented again: session revoked");
        }
        Ok(id)
    }
}
