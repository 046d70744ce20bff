//! Everything the tool prints: session tables, JSON lines, times and counts.
//!
//! Plaintext tokens never pass through here: only `create` prints one, itself. Digests
//! appear only when the caller asked for them (`--show-digest`).
//!
//! Text from the database can hold anything, terminal escape sequences included: tables and
//! field lines print it with its control characters escaped ([`escape_control`]), JSON
//! lines with them as `\u` escapes (the same JSON value, nothing a terminal acts on).

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

/// Prints `value` as one JSON line, with DEL, the C1 controls and the bidirectional
/// formatting characters as `\u` escapes (serde_json escapes only C0): the same JSON, and
/// nothing in it that a terminal acts on.
pub(crate) fn write_json(out: &mut impl Write, value: &serde_json::Value) -> io::Result<()> {
    let text = value.to_string();
    let mut line = String::with_capacity(text.len());
    for c in text.chars() {
        if is_terminal_control(c) {
            // Such characters can only occur inside JSON strings, where `\u` is the same.
            line.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            line.push(c);
        }
    }
    writeln!(out, "{line}")
}

/// Characters that a terminal may act on, or that reorder the text around them: C0, DEL,
/// C1, and Unicode's bidirectional formatting characters.
fn is_terminal_control(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every control character (C0, DEL, C1, bidirectional formatting) written as
/// an escape: `\n`, `\r`, `\t`, `\x1b`, `\u{9b}`; a backslash becomes `\\`, so an escape
/// always means a character that was there.
pub(crate) fn escape_control(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x80 && is_terminal_control(c) => {
                out.push_str(&format!("\\x{:02x}", u32::from(c)));
            }
            c if is_terminal_control(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
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
                write_json(out, &session_json(s, digest))?;
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

/// Prints API keys as a table: id, extra columns, name, scopes, status, expiry (with how
/// far from `now`), last use, uses and hint.
pub(crate) fn write_keys(
    out: &mut impl Write,
    keys: &[Session],
    now: OffsetDateTime,
) -> io::Result<()> {
    let Some(first) = keys.first() else {
        return Ok(());
    };
    let mut header = vec!["ID".to_owned()];
    header.extend(first.extras.iter().map(|(n, _)| n.to_uppercase()));
    header.extend(
        [
            "NAME",
            "SCOPES",
            "STATUS",
            "EXPIRES",
            "LAST USED",
            "USES",
            "HINT",
        ]
        .map(str::to_owned),
    );
    let mut rows = vec![header];
    for k in keys {
        let mut row = vec![k.id.to_string()];
        row.extend(k.extras.iter().map(|(_, v)| v.to_string()));
        row.push(k.data.get_str("name").unwrap_or_else(|| "-".into()));
        row.push(if k.scopes.is_empty() {
            "-".into()
        } else {
            k.scopes.join(",")
        });
        row.push(key_status(k).into());
        row.push(match k.expires_at {
            None => "never".into(),
            Some(t) if k.is_expired => format_time(t),
            Some(t) => format!("{} (in {})", format_time(t), span(t - now)),
        });
        row.push(optional_time(k.last_used_at, "never"));
        row.push(k.uses.to_string());
        row.push(k.token_hint.clone().unwrap_or_else(|| "-".into()));
        rows.push(row);
    }
    write_columns(out, &rows)
}

/// `expired`, `suspended`, `rolled` (replaced, in its grace period) or `valid`.
fn key_status(k: &Session) -> &'static str {
    if k.is_expired {
        "expired"
    } else if k.is_suspended() {
        "suspended"
    } else if k.replaced_by.is_some() {
        "rolled"
    } else {
        "valid"
    }
}

/// A span in its largest whole unit: `45s`, `59m`, `23h`, `89d`.
pub(crate) fn span(d: time::Duration) -> String {
    let s = d.whole_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3_600 => format!("{}m", s / 60),
        3_600..86_400 => format!("{}h", s / 3_600),
        _ => format!("{}d", s / 86_400),
    }
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
        let (name, value) = (escape_control(name), escape_control(value));
        writeln!(out, "{:<width$} {value}", format!("{name}:"))?;
    }
    Ok(())
}

/// Prints rows as left-aligned columns separated by two spaces, every cell with its
/// control characters escaped.
fn write_columns(out: &mut impl Write, rows: &[Vec<String>]) -> io::Result<()> {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| escape_control(cell)).collect())
        .collect();
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
    for row in &rows {
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
    fn escapes_control_characters() {
        assert_eq!(escape_control("plain text"), "plain text");
        assert_eq!(
            escape_control("\u{1b}]0;pwned\u{7}\u{1b}[2J"),
            "\\x1b]0;pwned\\x07\\x1b[2J"
        );
        assert_eq!(escape_control("a\nb\tc\r\u{7f}"), "a\\nb\\tc\\r\\x7f");
        assert_eq!(escape_control("\u{9b}2J \u{202e}x"), "\\u{9b}2J \\u{202e}x");
        assert_eq!(escape_control("C:\\x1b"), "C:\\\\x1b");
        assert_eq!(escape_control("日本 é"), "日本 é");
    }

    #[test]
    fn json_lines_escape_what_serde_json_leaves() {
        let value = json!({ "user_id": "\u{1b}[2J\u{9b}\u{7f}\u{202e}é" });
        let mut out = Vec::new();
        write_json(&mut out, &value).unwrap();
        let line = String::from_utf8(out).unwrap();
        assert_eq!(line, "{\"user_id\":\"\\u001b[2J\\u009b\\u007f\\u202eé\"}\n");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&line).unwrap(),
            value
        );
    }

    #[test]
    fn formats_times_to_the_second() {
        let t = time::macros::datetime!(2025-01-31 12:00:00.123456 +02:00);
        assert_eq!(format_time(t), "2025-01-31T10:00:00Z");
    }

    #[test]
    fn spans_in_their_largest_unit() {
        assert_eq!(span(time::Duration::seconds(59)), "59s");
        assert_eq!(span(time::Duration::minutes(59)), "59m");
        assert_eq!(span(time::Duration::hours(25)), "1d");
        assert_eq!(span(time::Duration::seconds(-5)), "0s");
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
