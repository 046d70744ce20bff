//! Everything the tool prints: session tables, JSON lines, times and counts.
//!
//! Plaintext tokens never pass through here: only `create` prints one, itself. Digests
//! appear only when the caller asked for them (`--show-digest`).

use std::collections::HashMap;
use std::io::{self, Write};

use serde_json::json;
use sqlx_sessions::Session;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// How to print sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// A table for people.
    Table,
    /// One JSON object per line.
    JsonLines,
}

/// Stored digests (lowercase hex) by session id, when `--show-digest` asked for them.
pub(crate) type Digests = HashMap<Uuid, String>;

/// Longest `data` shown in a table cell, in characters.
const DATA_WIDTH: usize = 40;

/// A UTC time to the second, RFC 3339 (`2025-01-31T12:00:00Z`).
pub(crate) fn format_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

fn optional_time(t: Option<OffsetDateTime>, none: &str) -> String {
    t.map_or_else(|| none.to_owned(), format_time)
}

/// `1 session`, `3 sessions`.
pub(crate) fn sessions(n: u64) -> String {
    if n == 1 {
        "1 session".into()
    } else {
        format!("{n} sessions")
    }
}

fn status(s: &Session) -> &'static str {
    if s.is_expired { "expired" } else { "valid" }
}

/// A session as one JSON object: the store's own serialization, plus `digest` when given.
pub(crate) fn session_json(s: &Session, digest: Option<&str>) -> serde_json::Value {
    let mut value = serde_json::to_value(s).unwrap_or_else(|_| json!({ "id": s.id }));
    if let (Some(map), Some(d)) = (value.as_object_mut(), digest) {
        map.insert("digest".into(), json!(d));
    }
    value
}

/// Prints sessions in `format`; `digests` adds a digest column or field.
pub(crate) fn write_sessions(
    out: &mut impl Write,
    sessions: &[Session],
    format: Format,
    digests: Option<&Digests>,
) -> io::Result<()> {
    match format {
        Format::JsonLines => {
            for s in sessions {
                let digest = digests.and_then(|d| d.get(&s.id)).map(String::as_str);
                writeln!(out, "{}", session_json(s, digest))?;
            }
            Ok(())
        }
        Format::Table => write_table(out, sessions, digests),
    }
}

fn write_table(
    out: &mut impl Write,
    sessions: &[Session],
    digests: Option<&Digests>,
) -> io::Result<()> {
    let Some(first) = sessions.first() else {
        return Ok(());
    };
    let extras: Vec<String> = first.extras.iter().map(|(n, _)| n.to_owned()).collect();
    let last_used = sessions.iter().any(|s| s.last_used_at.is_some());
    let hints = sessions.iter().any(|s| s.token_hint.is_some());
    let mut header = vec!["ID".to_owned()];
    header.extend(extras.iter().map(|n| n.to_uppercase()));
    header.extend(["STATUS", "CREATED", "EXPIRES"].map(str::to_owned));
    if last_used {
        header.push("LAST USED".into());
    }
    if hints {
        header.push("HINT".into());
    }
    header.push("DATA".into());
    if digests.is_some() {
        header.push("DIGEST".into());
    }
    let mut rows = vec![header];
    for s in sessions {
        let mut row = vec![s.id.to_string()];
        row.extend(s.extras.iter().map(|(_, v)| v.to_string()));
        row.push(status(s).into());
        row.push(format_time(s.inserted_at));
        row.push(optional_time(s.expires_at, "never"));
        if last_used {
            row.push(optional_time(s.last_used_at, "-"));
        }
        if hints {
            row.push(s.token_hint.clone().unwrap_or_else(|| "-".into()));
        }
        row.push(truncate(s.data.as_json(), DATA_WIDTH));
        if let Some(d) = digests {
            row.push(d.get(&s.id).cloned().unwrap_or_else(|| "-".into()));
        }
        rows.push(row);
    }
    write_columns(out, &rows)
}

/// Prints one session as `field: value` lines.
pub(crate) fn write_session_fields(
    out: &mut impl Write,
    s: &Session,
    digest: Option<&str>,
) -> io::Result<()> {
    let mut fields = vec![("id".to_owned(), s.id.to_string())];
    fields.extend(s.extras.iter().map(|(n, v)| (n.to_owned(), v.to_string())));
    fields.push(("status".into(), status(s).into()));
    fields.push(("created".into(), format_time(s.inserted_at)));
    fields.push(("updated".into(), format_time(s.updated_at)));
    fields.push(("expires".into(), optional_time(s.expires_at, "never")));
    if let Some(t) = s.last_used_at {
        fields.push(("last used".into(), format_time(t)));
    }
    if let Some(h) = &s.token_hint {
        fields.push(("hint".into(), h.clone()));
    }
    fields.push(("data".into(), s.data.as_json().to_owned()));
    if let Some(d) = digest {
        fields.push(("digest".into(), d.to_owned()));
    }
    write_fields(out, &fields)
}

/// Prints `name: value` lines with the values aligned.
pub(crate) fn write_fields(out: &mut impl Write, fields: &[(String, String)]) -> io::Result<()> {
    let width = fields.iter().map(|(n, _)| n.len()).max().unwrap_or(0) + 1;
    for (name, value) in fields {
        writeln!(out, "{:<width$} {value}", format!("{name}:"))?;
    }
    Ok(())
}

/// Prints rows as left-aligned columns separated by two spaces.
fn write_columns(out: &mut impl Write, rows: &[Vec<String>]) -> io::Result<()> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                let pad = widths[c] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// `text` cut to `max` characters, with `…` when cut; line breaks become spaces.
fn truncate(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_long_data() {
        assert_eq!(truncate("{}", 40), "{}");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("a\nb", 4), "a b");
    }

    #[test]
    fn formats_times_to_the_second() {
        let t = time::macros::datetime!(2025-01-31 12:00:00.123456 +02:00);
        assert_eq!(format_time(t), "2025-01-31T10:00:00Z");
    }

    #[test]
    fn aligns_columns() {
        let rows = vec![
            vec!["A".to_owned(), "BB".to_owned(), "C".to_owned()],
            vec!["aaa".to_owned(), "b".to_owned(), "c".to_owned()],
        ];
        let mut out = Vec::new();
        write_columns(&mut out, &rows).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "A    BB  C\naaa  b   c\n");
    }
}
