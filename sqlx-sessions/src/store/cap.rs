//! A cap on the valid sessions of one owner (`max_sessions_per("user_id", n)`), enforced
//! at creation under a lock on that owner, so concurrent sign-ins never pass it.

use super::SessionStore;
use crate::backend::On;
use crate::error::{Error, Result};
use crate::filter::{Filter, Status};
use crate::sql::{Param, Stmt, StmtBuilder};
use crate::value::Value;

/// What creating a session does when its owner already has the most valid sessions the
/// store allows ([`StoreBuilder::max_sessions_per`](crate::StoreBuilder::max_sessions_per)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OverCap {
    /// Delete the owner's oldest valid sessions to make room (the default): signing in on
    /// a new device signs the oldest one out.
    #[default]
    EvictOldest,
    /// Refuse the creation with [`Error::TooManySessions`].
    Refuse,
}

/// The cap a store enforces.
#[derive(Clone, Debug)]
pub(crate) struct Cap {
    /// The position of the owner column among the extra columns.
    pub(crate) column: usize,
    pub(crate) limit: u32,
    pub(crate) over: OverCap,
}

impl SessionStore {
    /// Runs `insert` for a session of `owner` under the owner's lock, after making room
    /// (or refusing) as the cap says. A `NULL` owner is not capped.
    pub(super) async fn insert_capped(
        &self,
        on: On<'_, '_>,
        cap: &Cap,
        owner: &Value,
        insert: Stmt,
    ) -> Result<()> {
        let inner = &self.inner;
        let col = &inner.spec.extras[cap.column];
        if owner.is_null() {
            return inner.backend.execute(on, insert).await.map(drop);
        }
        let mut locked = inner.backend.begin_locked(on, &owner.to_string()).await?;
        let mut conn = locked.conn();
        let owned = Filter::new().eq(col.name(), owner.clone());
        match cap.over {
            OverCap::Refuse => {
                let n = self.count_on(Some(&mut conn), &owned).await?;
                if n >= u64::from(cap.limit) {
                    return Err(Error::TooManySessions {
                        column: col.name().to_owned(),
                        limit: cap.limit,
                    });
                }
            }
            OverCap::EvictOldest => {
                // Every valid session of the owner but the newest `limit - 1`.
                let expiry = self.expiry(self.now());
                let valid = owned.status(Status::Valid);
                let b = StmtBuilder::new("");
                if let Some(mut b) = self.with_where(b, &valid, Status::Valid, &expiry)? {
                    b.push(" ORDER BY \"inserted_at\" DESC, \"id\" LIMIT ")
                        .bind(Param::Int(i64::MAX))
                        .push(" OFFSET ")
                        .bind(Param::Int(i64::from(cap.limit) - 1));
                    let tail = b.finish();
                    let sql = inner
                        .backend
                        .bounded_delete(&inner.spec.qualified(), &tail.sql);
                    let stmt = Stmt {
                        sql: sql.into(),
                        params: tail.params,
                    };
                    let evicted = inner.backend.execute(Some(&mut conn), stmt).await?;
                    tracing::debug!(evicted, table = %inner.spec.table, "oldest sessions evicted at the cap");
                }
            }
        }
        let inserted = inner.backend.execute(Some(&mut conn), insert).await;
        let result = match inserted {
            Ok(_) => locked.commit().await,
            Err(e) => Err(e),
        };
        // The eviction may have committed: no cached copy of an evicted session survives.
        if matches!(cap.over, OverCap::EvictOldest) {
            self.invalidate_after_write().await;
        }
        result
    }
}
