//! Values of the extra columns an application declares.

use std::fmt;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::clock::truncate_to_micros;
use crate::error::{Error, Result};
use crate::schema::ColumnType;

/// The value of one extra column.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Value {
    /// SQL `NULL` (only for optional columns).
    Null,
    /// A text value.
    Text(String),
    /// A 64-bit integer.
    Integer(i64),
    /// A boolean.
    Boolean(bool),
    /// A UUID.
    Uuid(Uuid),
    /// A UTC timestamp (microsecond precision).
    #[serde(with = "time::serde::rfc3339")]
    Timestamp(OffsetDateTime),
}

impl Value {
    /// The text, if this is a text value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an integer value.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// Whether this is SQL `NULL`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Converts the value to the column's declared type, parsing text where the type is
    /// not text (so `"42"` fits an integer column and a hyphenated string a uuid column).
    pub(crate) fn coerce(self, column: &str, ty: ColumnType) -> Result<Value> {
        let invalid = |reason: String| Error::InvalidValue {
            column: column.to_owned(),
            reason,
        };
        Ok(match (ty, self) {
            (_, Value::Null) => Value::Null,
            (_, Value::Text(s)) if s.contains('\0') => {
                // PostgreSQL refuses NUL in text; refuse it on every database alike.
                return Err(invalid("contains a NUL character".into()));
            }
            (ColumnType::Text, Value::Text(s)) => Value::Text(s),
            // Lossless and what an integer id means as text: `42` is stored as `"42"`.
            (ColumnType::Text, Value::Integer(i)) => Value::Text(i.to_string()),
            (ColumnType::Integer, Value::Integer(i)) => Value::Integer(i),
            (ColumnType::Integer, Value::Text(s)) => Value::Integer(
                s.trim()
                    .parse()
                    .map_err(|_| invalid(format!("`{s}` is not an integer")))?,
            ),
            (ColumnType::Boolean, Value::Boolean(b)) => Value::Boolean(b),
            (ColumnType::Boolean, Value::Text(s)) => match s.trim() {
                "true" | "1" => Value::Boolean(true),
                "false" | "0" => Value::Boolean(false),
                _ => return Err(invalid(format!("`{s}` is not a boolean"))),
            },
            (ColumnType::Uuid, Value::Uuid(u)) => Value::Uuid(u),
            (ColumnType::Uuid, Value::Text(s)) => Value::Uuid(
                Uuid::try_parse(s.trim()).map_err(|_| invalid("not a valid uuid".into()))?,
            ),
            (ColumnType::Timestamp, Value::Timestamp(t)) => Value::Timestamp(truncate_to_micros(t)),
            (ColumnType::Timestamp, Value::Text(s)) => Value::Timestamp(truncate_to_micros(
                OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
                    .map_err(|_| invalid("not an RFC 3339 timestamp".into()))?,
            )),
            (ty, other) => {
                return Err(invalid(format!(
                    "{column} is {} {ty} column; got {}",
                    article(&ty.to_string()),
                    other.kind_with_article()
                )));
            }
        })
    }

    /// What the value is, as an error message names it.
    fn kind_with_article(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Text(_) => "a text",
            Value::Integer(_) => "an integer",
            Value::Boolean(_) => "a boolean",
            Value::Uuid(_) => "a uuid",
            Value::Timestamp(_) => "a timestamp",
        }
    }
}

/// `a` or `an` before a column type's name.
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Text(s) => f.write_str(s),
            Value::Integer(i) => write!(f, "{i}"),
            Value::Boolean(b) => write!(f, "{b}"),
            Value::Uuid(u) => write!(f, "{u}"),
            Value::Timestamp(t) => match t.format(&time::format_description::well_known::Rfc3339) {
                Ok(s) => f.write_str(&s),
                Err(_) => write!(f, "{t}"),
            },
        }
    }
}

macro_rules! value_from {
    ($($ty:ty => $variant:ident $(via $conv:expr)?),* $(,)?) => {$(
        impl From<$ty> for Value {
            fn from(v: $ty) -> Self {
                Value::$variant($($conv)?(v))
            }
        }
    )*};
}

value_from! {
    String => Text,
    &str => Text via str::to_owned,
    &String => Text via String::clone,
    i64 => Integer,
    i32 => Integer via i64::from,
    u32 => Integer via i64::from,
    bool => Boolean,
    Uuid => Uuid,
    OffsetDateTime => Timestamp,
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}
