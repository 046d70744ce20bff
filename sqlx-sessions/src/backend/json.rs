//! The JSON of the `data` column where backends share it: reading sqlx's `Json` and
//! merging keys by path (SQLite and MySQL have the same functions under other names).

use crate::error::Result;
use crate::sql::{Param, StmtBuilder};

/// The text of a JSON value read as sqlx's `Json<Box<RawValue>>` (PostgreSQL, MySQL).
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
pub(crate) fn raw_json(
    json: sqlx::types::Json<Box<serde_json::value::RawValue>>,
) -> Result<String> {
    Ok(Box::<str>::from(json.0).into_string())
}

/// The top-level keys of a JSON object and their values.
pub(crate) type Object = serde_json::Map<String, serde_json::Value>;

/// What differs between SQLite and MySQL in a merge by JSON path (both have `json_set`
/// and `json_remove`).
#[cfg_attr(not(any(feature = "sqlite", feature = "mysql")), allow(dead_code))]
pub(crate) struct PathMerge {
    /// The `data` column, or `{}` where it holds no object.
    pub(crate) object: &'static str,
    /// What goes before and after a bound JSON text to make it a JSON value.
    pub(crate) value: (&'static str, &'static str),
}

/// Appends `data` with the top-level keys of `set` added or overwritten and the keys
/// `remove` taken out, by path (a quoted label addresses any key without `"`), as
/// [`Backend::push_data_merge`](super::Backend::push_data_merge) writes it.
#[cfg_attr(not(any(feature = "sqlite", feature = "mysql")), allow(dead_code))]
pub(crate) fn push_path_merge(b: &mut StmtBuilder, set: &Object, remove: &[String], f: &PathMerge) {
    let path = |key: &str| Param::Text(format!("$.\"{key}\""));
    if !set.is_empty() {
        b.push("json_set(");
    }
    if !remove.is_empty() {
        b.push("json_remove(");
    }
    b.push(f.object);
    for key in remove {
        b.push(", ").bind(path(key));
    }
    if !remove.is_empty() {
        b.push(")");
    }
    for (key, value) in set {
        b.push(", ").bind(path(key)).push(", ").push(f.value.0);
        b.bind(Param::Json(value.to_string())).push(f.value.1);
    }
    if !set.is_empty() {
        b.push(")");
    }
}
