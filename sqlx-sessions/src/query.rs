//! The statements of a store, written once for every backend.
//!
//! Identifiers come from the validated [`TableSpec`]; every value a caller gives is bound
//! as a parameter.

use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::filter::{Filter, Status, TimeBound, TimeColumn};
use crate::schema::TableSpec;
use crate::session::Session;
use crate::sql::{Param, StmtBuilder, quote};
use crate::value::Value;

/// The columns every session query selects, in the order backends decode them.
pub(crate) fn select_list(spec: &TableSpec, with_digest: bool) -> String {
    crate::columns::name_list(&spec.selected_columns(with_digest))
}

/// The SQL of "this row was revoked": [`SessionStore::expire`](crate::SessionStore::expire)
/// writes `expires_at` and `updated_at` from the same instant, and no other write leaves a
/// valid session with `updated_at` at or past its expiry. A revoked row is refused whatever
/// the reading instance's clock says, so a clock that lags the revoker's (or steps back)
/// cannot see it valid and extend it.
pub(crate) const REVOKED: &str = "\"expires_at\" <= \"updated_at\"";
/// The SQL of "not revoked", for a row with an expiry.
pub(crate) const NOT_REVOKED: &str = "\"expires_at\" > \"updated_at\"";

/// The moment before which a session is past its absolute lifetime.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Expiry {
    pub(crate) now: OffsetDateTime,
    pub(crate) lifetime_cutoff: Option<OffsetDateTime>,
}

impl Expiry {
    /// Appends the condition for `status` (nothing for [`Status::All`]). Valid means not
    /// past `expires_at` at `now`, not revoked, and not past the lifetime cutoff; expired is
    /// the rest.
    pub(crate) fn push_status(&self, b: &mut StmtBuilder, status: Status) {
        match status {
            Status::All => {}
            Status::Valid => {
                b.push(" AND (\"expires_at\" IS NULL OR (\"expires_at\" > ")
                    .bind(Param::Time(Some(self.now)))
                    .push(" AND ")
                    .push(NOT_REVOKED)
                    .push("))");
                self.push_lifetime(b, " AND \"inserted_at\" > ");
            }
            Status::Expired => {
                b.push(" AND ((\"expires_at\" IS NOT NULL AND (\"expires_at\" <= ")
                    .bind(Param::Time(Some(self.now)))
                    .push(" OR ")
                    .push(REVOKED)
                    .push("))");
                self.push_lifetime(b, " OR \"inserted_at\" <= ");
                b.push(")");
            }
        }
    }

    /// Appends the condition for rows expired by this clock alone: past `expires_at` at
    /// `now` or past the lifetime cutoff. Pruning uses it (a range on the expiry index; a
    /// revoked row whose expiry is still ahead of this clock goes in a later run), and so
    /// does `expire` to mark the rows it sees expired.
    pub(crate) fn push_expired_by_clock(&self, b: &mut StmtBuilder) {
        b.push(" AND ((\"expires_at\" IS NOT NULL AND \"expires_at\" <= ")
            .bind(Param::Time(Some(self.now)))
            .push(")");
        self.push_lifetime(b, " OR \"inserted_at\" <= ");
        b.push(")");
    }

    fn push_lifetime(&self, b: &mut StmtBuilder, condition: &str) {
        if let Some(cutoff) = self.lifetime_cutoff {
            b.push(condition).bind(Param::Time(Some(cutoff)));
        }
    }

    /// Whether a session read at `now` counts as expired (the Rust side of
    /// [`Status::Expired`]).
    pub(crate) fn is_expired(&self, s: &Session) -> bool {
        s.expires_at
            .is_some_and(|e| e <= self.now || e <= s.updated_at)
            || self.lifetime_cutoff.is_some_and(|c| s.inserted_at <= c)
    }
}

/// Appends ` WHERE ...` for `filter`. `digests` are the stored forms of the filter's token
/// under every accepted salt (empty when the filter has no token).
pub(crate) fn push_where(
    b: &mut StmtBuilder,
    spec: &TableSpec,
    filter: &Filter,
    default_status: Status,
    expiry: &Expiry,
    digests: Vec<Vec<u8>>,
) -> Result<()> {
    b.push(" WHERE 1 = 1");
    expiry.push_status(b, filter.status.unwrap_or(default_status));
    if !digests.is_empty() {
        push_digest_match(b, digests);
    }
    if let Some(id) = filter.id {
        b.push(" AND \"id\" = ").bind(Param::Uuid(id));
    }
    if let Some(id) = filter.except_id {
        b.push(" AND \"id\" <> ").bind(Param::Uuid(id));
    }
    for (name, value) in &filter.columns {
        let i = spec.extra_index(name)?;
        let col = &spec.extras[i];
        let value = value.clone().coerce(col.name(), col.column_type())?;
        b.push(" AND ").push(&quote(col.name()));
        if value.is_null() {
            b.push(" IS NULL");
        } else {
            b.push(" = ").bind(value.into());
        }
    }
    if let Some(ids) = &filter.ids {
        push_in(b, "\"id\"", ids.iter().map(|id| Param::Uuid(*id)).collect());
    }
    for (name, values) in &filter.any_of {
        let col = &spec.extras[spec.extra_index(name)?];
        let mut params = Vec::with_capacity(values.len());
        for v in values {
            match v.clone().coerce(col.name(), col.column_type())? {
                // `x IN (NULL)` is never true: leave it out.
                Value::Null => {}
                v => params.push(v.into()),
            }
        }
        push_in(b, &quote(col.name()), params);
    }
    for (column, bound) in &filter.times {
        push_time_bound(b, spec, *column, *bound)?;
    }
    Ok(())
}

/// Appends ` AND column IN (...)`, or a condition matching nothing for an empty list.
fn push_in(b: &mut StmtBuilder, column: &str, params: Vec<Param>) {
    if params.is_empty() {
        b.push(" AND 1 = 0");
        return;
    }
    b.push(" AND ").push(column).push(" IN (");
    for (i, p) in params.into_iter().enumerate() {
        if i > 0 {
            b.push(", ");
        }
        b.bind(p);
    }
    b.push(")");
}

/// Appends one side of a time range on `column`.
fn push_time_bound(
    b: &mut StmtBuilder,
    spec: &TableSpec,
    column: TimeColumn,
    bound: TimeBound,
) -> Result<()> {
    let expr = match column {
        TimeColumn::InsertedAt => "\"inserted_at\"",
        TimeColumn::ExpiresAt => "\"expires_at\"",
        TimeColumn::LastUsedAt if spec.optional.last_used_at => {
            "COALESCE(\"last_used_at\", \"inserted_at\")"
        }
        TimeColumn::LastUsedAt => {
            return Err(Error::Unsupported {
                operation: "a filter on last use",
                column: column.name(),
            });
        }
    };
    let never_expires = column == TimeColumn::ExpiresAt;
    match bound {
        TimeBound::Before(at) => {
            b.push(" AND ")
                .push(expr)
                .push(" < ")
                .bind(Param::Time(Some(at)));
        }
        TimeBound::AtOrAfter(at) => {
            b.push(" AND (")
                .push(expr)
                .push(" >= ")
                .bind(Param::Time(Some(at)));
            if never_expires {
                b.push(" OR \"expires_at\" IS NULL");
            }
            b.push(")");
        }
    }
    Ok(())
}

/// Appends ` AND "auth_token_digest" = $n` (or `IN (...)` for several salts).
pub(crate) fn push_digest_match(b: &mut StmtBuilder, digests: Vec<Vec<u8>>) {
    push_digest_match_on(b, "\"auth_token_digest\"", digests);
}

/// [`push_digest_match`] on another digest column (quoted), such as `previous_digest`.
pub(crate) fn push_digest_match_on(b: &mut StmtBuilder, column: &str, digests: Vec<Vec<u8>>) {
    b.push(" AND ").push(column);
    if digests.len() == 1 {
        b.push(" = ");
        for d in digests {
            b.bind(Param::Digest(d));
        }
        return;
    }
    b.push(" IN (");
    for (i, d) in digests.into_iter().enumerate() {
        if i > 0 {
            b.push(", ");
        }
        b.bind(Param::Digest(d));
    }
    b.push(")");
}

/// Refuses a limit or offset on operations that do not take one.
pub(crate) fn refuse_paging(filter: &Filter, operation: &'static str) -> Result<()> {
    if filter.limit.is_some() || filter.offset.is_some() {
        return Err(Error::InvalidValue {
            column: "limit".into(),
            reason: format!("`{operation}` does not take a limit or offset"),
        });
    }
    Ok(())
}
