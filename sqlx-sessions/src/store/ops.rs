//! Every operation on sessions, twice: on the store's pool, and `*_in` on a connection the
//! caller holds (an open transaction), through one [`Conn`]. Their bodies live in the
//! files of their kind (`lookup`, `write`, `change`, ...) as `*_on`.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{GetOptions, Lookup, SessionStore};
use crate::backend::Conn;
use crate::error::Result;
use crate::filter::Filter;
use crate::session::{CreatedSession, NewSession, Session};
use crate::update::SessionUpdate;

/// Defines `name` (on the pool) and `name_in` (on the caller's connection) for each
/// `name_on` body.
macro_rules! operations {
    ($(
        $(#[doc = $doc:expr])*
        fn $name:ident / $name_in:ident => $on:ident ($($arg:ident: $ty:ty),*) -> $ret:ty;
    )*) => {
        impl SessionStore {$(
            $(#[doc = $doc])*
            pub async fn $name(&self, $($arg: $ty),*) -> $ret {
                self.$on(None, $($arg),*).await
            }

            #[doc = concat!("[`SessionStore::", stringify!($name), "`] on a connection the caller holds, such as `&mut *tx` of an open transaction (see [`Conn`]).")]
            pub async fn $name_in<'c>(&self, conn: impl Into<Conn<'c>>, $($arg: $ty),*) -> $ret {
                self.$on(Some(&mut conn.into()), $($arg),*).await
            }
        )*}
    };
}

operations! {
    /// Creates a session and returns it with its plaintext token, the only time it is seen.
    fn create / create_in => create_on(new: NewSession) -> Result<CreatedSession>;

    /// The valid session of a plaintext token, extended per the store's settings.
    ///
    /// A missing, empty, malformed or unknown token gives `Ok(None)`; a malformed one costs
    /// no query. This is the per-request path: one indexed `SELECT`, and at most one
    /// conditional `UPDATE` when the session is due for extension (or for its
    /// `last_used_at`, or for re-digesting under the current salt).
    fn lookup / lookup_in => lookup_on(token: &str) -> Result<Option<Session>>;

    /// [`SessionStore::lookup`] with per-call options.
    fn lookup_with / lookup_with_in => lookup_with_on(token: &str, options: GetOptions) -> Result<Option<Session>>;

    /// [`SessionStore::lookup_with`], also saying whether the lookup extended the session
    /// (what the axum layer refreshes the cookie from).
    fn lookup_outcome / lookup_outcome_in => lookup_outcome_on(token: &str, options: GetOptions) -> Result<Option<Lookup>>;

    /// One session matching `filter` (the newest, if several), extended per the store's
    /// settings when it is valid.
    fn get / get_in => get_on(filter: &Filter) -> Result<Option<Session>>;

    /// [`SessionStore::get`] with per-call options.
    fn get_with / get_with_in => get_with_on(filter: &Filter, options: GetOptions) -> Result<Option<Session>>;

    /// Extends the valid session `id` per the extension rule (whatever `auto_extend` says)
    /// and returns it; `None` when there is no valid session with that id.
    fn extend / extend_in => extend_on(id: Uuid) -> Result<Option<Session>>;

    /// Sessions matching `filter`, newest first, each with `is_expired`. Never extends.
    fn list / list_in => list_on(filter: &Filter) -> Result<Vec<Session>>;

    /// The number of sessions matching `filter` (valid ones unless it says otherwise).
    fn count / count_in => count_on(filter: &Filter) -> Result<u64>;

    /// The number of distinct non-`NULL` values of the extra column `column` among sessions
    /// matching `filter` (for example distinct users with valid sessions).
    fn count_distinct / count_distinct_in => count_distinct_on(column: &str, filter: &Filter) -> Result<u64>;

    /// The creation times of the oldest and newest sessions matching `filter`, or `None`
    /// when none matches.
    fn inserted_range / inserted_range_in => inserted_range_on(filter: &Filter) -> Result<Option<(OffsetDateTime, OffsetDateTime)>>;

    /// Expires the valid session `id` now. Returns whether there was one (see
    /// [`SessionStore::expire_all`] for what holds across instances).
    fn expire / expire_in => expire_on(id: Uuid) -> Result<bool>;

    /// Expires every valid session matching `filter` (for example a user's, or "all of this
    /// user's but this one" with [`Filter::except_id`]) and returns them, so an app can close
    /// their websockets or notify their owner.
    ///
    /// The revocation holds whatever the clocks of other instances say: `expires_at` and
    /// `updated_at` are written from the same instant, and no lookup, filter or extension
    /// accepts a row whose expiry is not after its last write. Matching sessions this
    /// store's clock already sees expired (which an instance whose clock lags could still
    /// see valid) are marked the same way, keeping their own expiry, and are not returned.
    fn expire_all / expire_all_in => expire_all_on(filter: &Filter) -> Result<Vec<Session>>;

    /// Deletes the session `id`, whatever its status. Returns whether it existed.
    fn delete / delete_in => delete_on(id: Uuid) -> Result<bool>;

    /// Deletes every session matching `filter` (all statuses unless it says otherwise:
    /// "sign out everywhere") and returns what it deleted.
    fn delete_all / delete_all_in => delete_all_on(filter: &Filter) -> Result<Vec<Session>>;

    /// Records that the user of the valid session `id` just proved who they are (for
    /// [`SessionStore::is_fresh`]). Needs the `authenticated_at` column
    /// ([`StoreBuilder::track_authentication`](crate::StoreBuilder::track_authentication)).
    fn mark_authenticated / mark_authenticated_in => mark_authenticated_on(id: Uuid) -> Result<Option<Session>>;


    /// Changes the valid session `id` (its data, merged or replaced, and extra columns) in
    /// one statement, and returns it as written; `None` when there is no valid session with
    /// that id.
    ///
    /// The statement writes only a row that is valid when it runs: a session expired,
    /// revoked or deleted before it (or concurrently) is never brought back, and a merge is
    /// computed by the database from the row as it is then, so concurrent merges of
    /// different keys all survive. Never extends the session. Refused: undeclared columns,
    /// values that do not fit their column, `NULL` for a required column, a merge of
    /// something that is not a JSON object, keys holding `"` or NUL in a merge.
    fn update / update_in => update_on(id: Uuid, change: SessionUpdate) -> Result<Option<Session>>;
    /// [`SessionStore::update`] for the valid session of a plaintext token ("the current
    /// session"); a malformed or unknown token gives `None`.
    fn update_token / update_token_in => update_token_on(token: &str, change: SessionUpdate) -> Result<Option<Session>>;
    /// Sets the expiry of the session `id` (`None`: never expires), whatever its status, and
    /// returns it with `is_expired` as it now stands; `None` when there is no such row.
    ///
    /// This is the one way back for an expired or revoked session: a future expiry makes it
    /// valid again; an expiry at or before now revokes it. `updated_at` is written as now,
    /// before the new expiry, so the revocation marker reads right on every instance.
    /// `max_lifetime` still caps it: an expiry past `inserted_at + max_lifetime` (and
    /// `None`) is cut to that moment, and a session already past its absolute lifetime
    /// stays expired. A per-session TTL is kept: later extensions slide by it again.
    fn set_expiry / set_expiry_in => set_expiry_on(id: Uuid, at: Option<OffsetDateTime>) -> Result<Option<Session>>;
    /// Gives the valid session `id` a new token and returns it once, like
    /// [`SessionStore::create`]: same id, data, extra columns and `inserted_at` (so the same
    /// `max_lifetime`), a new digest. One statement: from the moment it returns, the old
    /// token matches nothing. `None` when there is no valid session with that id. For a
    /// privilege change (sign-in, re-authentication, new role), as OWASP asks.
    fn rotate / rotate_in => rotate_on(id: Uuid) -> Result<Option<CreatedSession>>;
    /// [`SessionStore::rotate`] for the valid session of a plaintext token.
    fn rotate_token / rotate_token_in => rotate_token_on(token: &str) -> Result<Option<CreatedSession>>;

    /// Suspends the valid key `id`: from the moment this returns, every lookup of its token
    /// (and every operation by its token) finds nothing, on every instance and through
    /// the read cache, until [`SessionStore::resume`]. The row, its scopes, expiry, uses
    /// and history stay as they are; suspending a suspended key keeps its first
    /// `suspended_at`. Returns the key as written; `None` when there is no valid key `id`.
    /// Needs the key lifecycle columns
    /// ([`StoreBuilder::key_lifecycle`](crate::StoreBuilder::key_lifecycle)).
    fn suspend / suspend_in => suspend_on(id: Uuid) -> Result<Option<Session>>;
    /// Lifts the suspension of the valid key `id` (its token works again, with everything
    /// it had); `None` when there is no valid key `id`.
    fn resume / resume_in => resume_on(id: Uuid) -> Result<Option<Session>>;
    /// Issues a new key replacing the valid key `id` and returns it with its token, once:
    /// the same extra columns (owner), data (name), scopes and TTL, and an expiry as far
    /// from now as the old key's was from its creation ("never" stays never). The old key
    /// keeps working for `grace` (or until its own expiry, when sooner), is never extended
    /// again and records its successor in [`Session::replaced_by`]; zero grace revokes it at
    /// once (an immediate rotation). Not counted against
    /// [`StoreBuilder::max_sessions_per`](crate::StoreBuilder::max_sessions_per): it
    /// replaces a key.
    ///
    /// Atomic on SQLite and PostgreSQL (one transaction under a lock on the key); on MySQL
    /// on the store's pool the new key is inserted first and deleted again if the old one
    /// was expired, suspended or rolled meanwhile (pass a transaction with
    /// [`SessionStore::roll_in`] for atomicity there). `None` when `id` is not a valid,
    /// unsuspended key that was not rolled already. Needs the key lifecycle columns.
    fn roll / roll_in => roll_on(id: Uuid, grace: time::Duration) -> Result<Option<CreatedSession>>;
}
