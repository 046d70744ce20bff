//! A store for [tower-sessions] (and so for [axum-login]) that keeps this crate's guarantees.
//!
//! [`TowerStore`] implements `tower_sessions_core::session_store::SessionStore` and
//! `ExpiredDeletion` for tower-sessions 0.14 (feature `tower-sessions-014`, what axum-login
//! 0.18 uses) and 0.15 (feature `tower-sessions-015`), on every database of the crate.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # #[cfg(feature = "tower-sessions-014")]
//! # {
//! use sqlx_sessions::{Filter, SessionStore, tower_sessions::TowerStore};
//! use tower_sessions_core_014::session::{Id, Record};
//! use tower_sessions_core_014::session_store::SessionStore as _;
//!
//! let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
//! let store = SessionStore::builder(pool).build()?;
//! store.migrate().await?;
//! let tower = TowerStore::new(store.clone());
//!
//! // What axum-login writes at sign-in.
//! let mut record = Record {
//!     id: Id::default(),
//!     data: [("axum-login.data".to_owned(), serde_json::json!({"user_id": 42}))].into(),
//!     expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
//! };
//! tower.create(&mut record).await?;
//! assert!(tower.load(&record.id).await?.is_some());
//!
//! // The user's devices, and signing out everywhere, through the store itself.
//! assert_eq!(store.count(&Filter::new().eq("user_id", "42")).await?, 1);
//! store.delete_all(&Filter::new().eq("user_id", "42")).await?;
//! assert!(tower.load(&record.id).await?.is_none());
//! # }
//! # Ok(()) }
//! ```
//!
//! ## Coming from tower-sessions
//!
//! The one-line change: where the application builds its session layer, give it a
//! `TowerStore` instead of the sqlx store.
//!
//! ```text
//! - let session_store = SqliteStore::new(pool);
//! + let session_store = TowerStore::new(SessionStore::builder(pool).build()?);
//!   let session_layer = SessionManagerLayer::new(session_store);
//! ```
//!
//! (and `store.migrate().await?` once, or the DDL of [`SessionStore::migration`] in the
//! application's own migrations).
//!
//! What changes for the application:
//! - **Digests, not ids.** The table keeps the digest of the session id (the store's
//!   [`Hashing`](crate::Hashing), salt included), never the id: a dump of the table signs
//!   nobody in.
//! - **No resurrection.** `save` is an `UPDATE` of a valid row, never an upsert: a session
//!   deleted, expired or revoked meanwhile (another device signed out everywhere) stays
//!   gone, whatever a slower request or another tab saves.
//! - **A write throttle.** The data is written only when it changed, and the expiry only when
//!   it moves by more than the store's stale window scaled to the session's span (a store
//!   with a 7-day TTL and a 1-day window gives a 2-hour inactivity session a window of
//!   2/7 hours): with `with_always_save(true)` a session that is only read costs at most one
//!   `UPDATE` per window, not one per request. A store with no
//!   [`extend_stale_time`](crate::StoreBuilder::extend_stale_time) never moves an expiry.
//! - **A user column.** The user id that axum-login keeps in the session data (at the JSON
//!   pointer `/axum-login.data/user_id`, [`DEFAULT_USER_ID_POINTER`]) is copied into the
//!   store's `user_id` column at every write, so [`SessionStore::list`],
//!   [`SessionStore::expire_all`] and [`SessionStore::delete_all`] by user, the command line
//!   tool and an account page see these sessions. Another pointer or column:
//!   [`TowerStore::with_user_id`]. A session without a user keeps `""` in a required text
//!   column, `NULL` in an optional one.
//! - **The store's limits.** `max_lifetime` (30 days unless lifted) caps every expiry;
//!   `max_sessions_per` applies to the sessions tower-sessions creates (on the user column,
//!   the sessions without a user share the owner `""` of a required column: declare the
//!   column optional, whose `NULL` is never capped, when capping by it).
//!
//! What stays: the `Session` API, cookies, `Expiry` (on inactivity, at a date, on session
//! end), `cycle_id` (the old id is deleted before the new one is created, so it is unusable
//! at once), `flush`, and `ExpiredDeletion::delete_expired` (batched, like
//! [`SessionStore::delete_expired`]). Loading never extends a session: the expiry moves when
//! tower-sessions saves it, as before.
//!
//! The store must issue plain tokens (no API-key prefix): the 22-character tower-sessions id
//! is kept under the store's digest like one of its own tokens.
//!
//! [tower-sessions]: https://docs.rs/tower-sessions
//! [axum-login]: https://docs.rs/axum-login

mod imp;

use serde_json::{Map, Value as Json};
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::schema::ColumnType;
use crate::store::{ForeignState, Saved, SessionStore};
use crate::value::Value;

/// Where axum-login keeps the user id in the session data, as a JSON pointer: under its
/// data key `axum-login.data`, the field `user_id`.
pub const DEFAULT_USER_ID_POINTER: &str = "/axum-login.data/user_id";

/// The column the user id is copied into by default.
const DEFAULT_USER_COLUMN: &str = "user_id";

/// How many ids `create` tries when the one it was given is taken.
const CREATE_ATTEMPTS: usize = 8;

/// A tower-sessions store on a [`SessionStore`]: see the [module docs](self). Cheap to clone.
#[derive(Clone, Debug)]
pub struct TowerStore {
    store: SessionStore,
    owner: Option<Owner>,
}

/// The data field copied into an extra column.
#[derive(Clone, Debug)]
struct Owner {
    pointer: String,
    column: String,
    column_type: ColumnType,
    required: bool,
}

impl TowerStore {
    /// A tower-sessions store on `store`, copying axum-login's user id
    /// ([`DEFAULT_USER_ID_POINTER`]) into the `user_id` column when the store declares one.
    pub fn new(store: SessionStore) -> Self {
        let owner = owner(&store, DEFAULT_USER_ID_POINTER, DEFAULT_USER_COLUMN).ok();
        TowerStore { store, owner }
    }

    /// Copies the value at the JSON pointer `pointer` of the session data (such as
    /// `/user_id`, or `/axum-login.data/user_id`) into the extra column `column` at every
    /// write. Refused when the store does not declare `column`.
    pub fn with_user_id(mut self, pointer: &str, column: &str) -> Result<Self> {
        self.owner = Some(owner(&self.store, pointer, column)?);
        Ok(self)
    }

    /// Copies nothing into an extra column (the store's extra columns must then be optional).
    pub fn without_user_id(mut self) -> Self {
        self.owner = None;
        self
    }

    /// The store underneath.
    pub fn store(&self) -> &SessionStore {
        &self.store
    }

    /// The stored session of a tower-sessions id (`Session::id()` as text), if it is valid:
    /// to mark the current device in a list of [`SessionStore::list`], or to read its
    /// columns. Never extends it.
    pub async fn stored(&self, id: &str) -> Result<Option<crate::Session>> {
        self.store.find_foreign(id).await
    }

    /// The data and expiry of the valid session `id` (a tower-sessions id as text).
    async fn load_parts(&self, id: &str) -> Result<Option<(Map<String, Json>, OffsetDateTime)>> {
        let Some(found) = self.stored(id).await? else {
            return Ok(None);
        };
        let data = match found.data.value() {
            Json::Object(map) => map,
            _ => return Err(Error::Refused("the session data is not a JSON object")),
        };
        Ok(Some((data, found.expires_at.unwrap_or(NEVER))))
    }

    async fn create_parts(&self, id: &str, data: Json, expiry: OffsetDateTime) -> Result<()> {
        let state = self.state(data, expiry)?;
        self.store.create_foreign(id, state).await.map(drop)
    }

    async fn save_parts(&self, id: &str, data: Json, expiry: OffsetDateTime) -> Result<Saved> {
        let state = self.state(data, expiry)?;
        self.store.save_foreign(id, state).await
    }

    async fn delete_parts(&self, id: &str) -> Result<()> {
        self.store.delete_foreign(id).await.map(drop)
    }

    /// The state to write: the data, the owner column's value from it, the expiry.
    fn state(&self, data: Json, expires_at: OffsetDateTime) -> Result<ForeignState> {
        let owner = match &self.owner {
            None => None,
            Some(o) => Some((o.column.clone(), o.value(&data)?)),
        };
        Ok(ForeignState {
            data,
            owner,
            expires_at,
        })
    }
}

/// The expiry shown to tower-sessions for a session that never expires.
const NEVER: OffsetDateTime = time::macros::datetime!(9999-12-31 23:59:59 UTC);

fn owner(store: &SessionStore, pointer: &str, column: &str) -> Result<Owner> {
    let col = store
        .spec()
        .extras()
        .iter()
        .find(|c| c.name() == column)
        .ok_or_else(|| Error::UnknownColumn(column.to_owned()))?;
    if !(pointer.is_empty() || pointer.starts_with('/')) {
        return Err(Error::InvalidValue {
            column: column.to_owned(),
            reason: format!("`{pointer}` is not a JSON pointer (it starts with `/`)"),
        });
    }
    Ok(Owner {
        pointer: pointer.to_owned(),
        column: column.to_owned(),
        column_type: col.column_type(),
        required: col.is_required(),
    })
}

impl Owner {
    /// The column's value for `data`: the value at the pointer, converted to the column's
    /// type; without one, `NULL`, or `""` in a required text column.
    fn value(&self, data: &Json) -> Result<Value> {
        let value = match data.pointer(&self.pointer) {
            None | Some(Json::Null) if self.required => Value::Text(String::new()),
            None | Some(Json::Null) => Value::Null,
            Some(Json::String(s)) => Value::Text(s.clone()),
            Some(Json::Bool(b)) => Value::Boolean(*b),
            Some(Json::Number(n)) => match n.as_i64() {
                Some(i) => Value::Integer(i),
                None => Value::Text(n.to_string()),
            },
            Some(other) => Value::Text(other.to_string()),
        };
        value.coerce(&self.column, self.column_type)
    }
}
