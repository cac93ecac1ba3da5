//! SOQL text: the pull queries, string literals escaped as Salesforce
//! documents (`\'`, `\\`, ...), `LIKE` patterns, and RFC 3339 instants
//! turned into SOQL's unquoted datetime literals.

use crate::mapping::Kind;
use crate::resource::is_identifier;

/// `SELECT <fields> FROM <sObject> [WHERE SystemModstamp >= <since>] ORDER BY
/// SystemModstamp`, `since` being a SOQL datetime literal. With
/// `include_deleted` (incremental pulls, which run through `queryAll` and so
/// see deleted records too) it also selects `IsDeleted`.
///
/// One sort key only: the pages come from one server-side cursor
/// (`nextRecordsUrl`), so records sharing a `SystemModstamp` can be neither
/// skipped nor repeated, and the local simulator accepts a single key.
///
/// `fields` are selected first (a common type's mapped fields, or a custom
/// object's `Id, SystemModstamp`), then `extra` (the session's passthrough
/// fields, or the fields a custom object's records carry); names that are
/// not SOQL identifiers, and fields already selected, are left out.
pub fn pull_query(
    sobject: &str,
    fields: &[&str],
    since: Option<&str>,
    include_deleted: bool,
    extra: &[String],
) -> String {
    let mut selected: Vec<&str> = fields.to_vec();
    for name in extra {
        let repeated = selected.iter().any(|f| f.eq_ignore_ascii_case(name))
            || (include_deleted && name.eq_ignore_ascii_case("IsDeleted"));
        if is_identifier(name) && !repeated {
            selected.push(name);
        }
    }
    if include_deleted {
        selected.push("IsDeleted");
    }
    let filter = since
        .map(|since| format!(" WHERE SystemModstamp >= {since}"))
        .unwrap_or_default();
    format!(
        "SELECT {} FROM {sobject}{filter} ORDER BY SystemModstamp ASC",
        selected.join(", ")
    )
}

/// `SELECT <fields> FROM <sObject> WHERE Id IN (...)`: the re-read after a
/// write.
pub fn by_ids_query(kind: Kind, ids: &[&str]) -> String {
    let ids: Vec<String> = ids.iter().map(|id| quote(id)).collect();
    format!(
        "SELECT {} FROM {} WHERE Id IN ({})",
        kind.fields().join(", "),
        kind.sobject(),
        ids.join(", ")
    )
}

/// A SOQL string literal: `O'Brien` → `'O\'Brien'`.
pub fn quote(text: &str) -> String {
    format!("'{}'", escape(text, false))
}

/// A `LIKE` pattern matching values that contain `text`: `%` and `_` in the
/// text itself are escaped so they match only themselves.
pub fn contains_pattern(text: &str) -> String {
    format!("'%{}%'", escape(text, true))
}

fn escape(text: &str, like: bool) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '%' | '_' if like => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// An RFC 3339 instant as a SOQL datetime literal, which is unquoted and
/// has whole seconds: `2024-05-01T10:00:00.250+02:00` →
/// `2024-05-01T10:00:00+02:00`, `...Z`/`+00:00`/`+0000` → `...Z`, a bare date
/// → its midnight UTC. The fraction is cut, never rounded up, so a `>=`
/// filter still includes the instant itself.
///
/// The literal is rebuilt from the digits parsed, so nothing else can reach
/// the query.
pub fn datetime_literal(instant: &str) -> Option<String> {
    let s = instant.trim().as_bytes();
    let digits = |from: usize, len: usize| -> Option<&str> {
        let part = s.get(from..from + len)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| std::str::from_utf8(part).ok())
            .flatten()
    };
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    if s.get(4) != Some(&b'-') || s.get(7) != Some(&b'-') {
        return None;
    }
    let in_range = |text: &str, low: u32, high: u32| {
        text.parse::<u32>().is_ok_and(|n| (low..=high).contains(&n))
    };
    if !in_range(month, 1, 12) || !in_range(day, 1, 31) {
        return None;
    }
    let date = format!("{year}-{month}-{day}");
    if s.len() == 10 {
        return Some(format!("{date}T00:00:00Z"));
    }
    if !matches!(s.get(10), Some(b'T' | b't' | b' ')) || s.get(13) != Some(&b':') {
        return None;
    }
    let (hour, minute) = (digits(11, 2)?, digits(14, 2)?);
    let (second, mut pos) = if s.get(16) == Some(&b':') {
        (digits(17, 2)?, 19)
    } else {
        ("00", 16)
    };
    if !in_range(hour, 0, 23) || !in_range(minute, 0, 59) || !in_range(second, 0, 60) {
        return None;
    }
    if s.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while s.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        if pos == start {
            return None;
        }
    }
    let zone = match s.get(pos) {
        // RFC 3339 requires a zone; read a missing one as UTC.
        None => "Z".to_owned(),
        Some(b'Z' | b'z') if s.len() == pos + 1 => "Z".to_owned(),
        Some(sign @ (b'+' | b'-')) => {
            let oh = digits(pos + 1, 2)?;
            let om_at = if s.get(pos + 3) == Some(&b':') {
                pos + 4
            } else {
                pos + 3
            };
            let om = digits(om_at, 2)?;
            if s.len() != om_at + 2 || !in_range(oh, 0, 23) || !in_range(om, 0, 59) {
                return None;
            }
            if oh == "00" && om == "00" {
                "Z".to_owned()
            } else {
                format!("{}{oh}:{om}", char::from(*sign))
            }
        }
        _ => return None,
    };
    Some(format!("{date}T{hour}:{minute}:{second}{zone}"))
}
