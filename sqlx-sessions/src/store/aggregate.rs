//! Aggregates for dashboards and operators: distinct values and creation-time range.

use time::OffsetDateTime;

use super::SessionStore;
use crate::backend::On;
use crate::error::Result;
use crate::filter::{Filter, Status};
use crate::query::refuse_paging;
use crate::sql::{StmtBuilder, quote};

impl SessionStore {
    pub(super) async fn count_distinct_on(
        &self,
        on: On<'_, '_>,
        column: &str,
        filter: &Filter,
    ) -> Result<u64> {
        refuse_paging(filter, "count_distinct")?;
        let spec = &self.inner.spec;
        let col = &spec.extras[spec.extra_index(column)?];
        let expiry = self.expiry(self.now());
        let b = StmtBuilder::new(&format!(
            "SELECT COUNT(DISTINCT {}) FROM {}",
            quote(col.name()),
            spec.qualified()
        ));
        let Some(b) = self.with_where(b, filter, Status::Valid, &expiry)? else {
            return Ok(0);
        };
        let n = self.inner.backend.fetch_count(on, b.finish()).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    pub(super) async fn inserted_range_on(
        &self,
        on: On<'_, '_>,
        filter: &Filter,
    ) -> Result<Option<(OffsetDateTime, OffsetDateTime)>> {
        refuse_paging(filter, "inserted_range")?;
        let spec = &self.inner.spec;
        let expiry = self.expiry(self.now());
        let b = StmtBuilder::new(&format!(
            "SELECT MIN(\"inserted_at\"), MAX(\"inserted_at\") FROM {}",
            spec.qualified()
        ));
        let Some(b) = self.with_where(b, filter, Status::Valid, &expiry)? else {
            return Ok(None);
        };
        let times = self.inner.backend.fetch_times(on, b.finish()).await?;
        Ok(match times.as_slice() {
            [Some(oldest), Some(newest)] => Some((*oldest, *newest)),
            _ => None,
        })
    }
}
