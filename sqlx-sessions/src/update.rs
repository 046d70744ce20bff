//! What [`SessionStore::update`](crate::SessionStore::update) changes in a session.

use serde_json::{Map, Value as Json};

use crate::error::{Error, Result};
use crate::value::Value;

/// Changes to a session's data and extra columns, applied in one statement by
/// [`SessionStore::update`](crate::SessionStore::update).
///
/// The data is either replaced whole ([`SessionUpdate::replace_data`]) or merged key by key
/// in the database ([`SessionUpdate::set`], [`SessionUpdate::merge`],
/// [`SessionUpdate::remove`]): top-level keys are added, overwritten or removed, and the
/// other keys are left as the row holds them, so two updates of different keys made at
/// the same time both survive. A merge into data that is not a JSON object starts from
/// `{}`.
///
/// ```
/// use sqlx_sessions::SessionUpdate;
/// let change = SessionUpdate::new()
///     .set("device_name", "Work laptop")
///     .remove("cart")
///     .extra("user_id", "42");
/// ```
#[derive(Clone, Debug, Default)]
pub struct SessionUpdate {
    pub(crate) data: DataChange,
    pub(crate) extras: Vec<(String, Value)>,
    pub(crate) scopes: Option<Vec<String>>,
}

/// How the data changes.
#[derive(Clone, Debug, Default)]
pub(crate) enum DataChange {
    /// Left as it is.
    #[default]
    Keep,
    /// Replaced by this JSON.
    Replace(Json),
    /// Top-level keys set (in order) and removed.
    Merge {
        set: Map<String, Json>,
        remove: Vec<String>,
    },
    /// A merge of something that is not an object: refused by the store, whatever follows.
    NotAnObject,
}

impl SessionUpdate {
    /// No change yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the whole data (any JSON value). Later [`SessionUpdate::set`] or
    /// [`SessionUpdate::remove`] calls apply to this new data.
    pub fn replace_data(mut self, data: Json) -> Self {
        self.data = DataChange::Replace(data);
        self
    }

    /// Sets the top-level key `key` to `value` (a JSON `null` keeps the key, set to null;
    /// use [`SessionUpdate::remove`] to take it out).
    pub fn set(mut self, key: impl Into<String>, value: impl Into<Json>) -> Self {
        let (key, value) = (key.into(), value.into());
        match &mut self.data {
            DataChange::Replace(Json::Object(map)) => {
                map.insert(key, value);
            }
            DataChange::Replace(other) => {
                *other = Json::Object(Map::from_iter([(key, value)]));
            }
            DataChange::NotAnObject => {}
            DataChange::Keep => {
                self.data = DataChange::Merge {
                    set: Map::from_iter([(key, value)]),
                    remove: Vec::new(),
                };
            }
            DataChange::Merge { set, remove } => {
                remove.retain(|k| *k != key);
                set.insert(key, value);
            }
        }
        self
    }

    /// Sets every top-level key of `patch` (a JSON object; anything else is refused by
    /// [`SessionStore::update`](crate::SessionStore::update)).
    pub fn merge(mut self, patch: Json) -> Self {
        match patch {
            Json::Object(map) => {
                for (k, v) in map {
                    self = self.set(k, v);
                }
            }
            _ => self.data = DataChange::NotAnObject,
        }
        self
    }

    /// Removes the top-level key `key` (nothing happens when it is absent).
    pub fn remove(mut self, key: impl Into<String>) -> Self {
        let key = key.into();
        match &mut self.data {
            DataChange::Replace(Json::Object(map)) => {
                map.remove(&key);
            }
            DataChange::Replace(_) | DataChange::NotAnObject => {}
            DataChange::Keep => {
                self.data = DataChange::Merge {
                    set: Map::new(),
                    remove: vec![key],
                };
            }
            DataChange::Merge { set, remove } => {
                set.remove(&key);
                if !remove.contains(&key) {
                    remove.push(key);
                }
            }
        }
        self
    }

    /// Sets the extra column `column` (it must be declared by the store; `NULL` only for an
    /// optional one). The value is converted to the column's type as at creation.
    pub fn extra(mut self, column: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extras.push((column.into(), value.into()));
        self
    }

    /// Replaces the session's scopes (a store with a `scopes` column; an empty list
    /// leaves none). Each is checked against the [scope rules](crate::scope).
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// Whether the update changes nothing.
    pub fn is_empty(&self) -> bool {
        matches!(self.data, DataChange::Keep) && self.extras.is_empty() && self.scopes.is_none()
    }
}

impl DataChange {
    /// Refuses what no database can apply alike: a merge of a non-object, and keys that
    /// hold a double quote or NUL (SQLite's JSON paths cannot address them).
    pub(crate) fn check(&self) -> Result<()> {
        let (set, remove) = match self {
            DataChange::NotAnObject => return Err(invalid("a merge takes a JSON object".into())),
            DataChange::Merge { set, remove } => (set, remove),
            DataChange::Keep | DataChange::Replace(_) => return Ok(()),
        };
        for key in set.keys().chain(remove) {
            if key.contains(['"', '\0']) {
                return Err(invalid(format!(
                    "the key {key:?} holds a double quote or NUL, which cannot be merged; replace the data instead"
                )));
            }
        }
        Ok(())
    }
}

fn invalid(reason: String) -> Error {
    Error::InvalidValue {
        column: "data".into(),
        reason,
    }
}
