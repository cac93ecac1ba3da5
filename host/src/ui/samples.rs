//! Example values for the field-mapping page: the items the app pushed with
//! `sample_data: true` for a schema of the session. They are read from the
//! push items as accepted (a sample push is stored when it is accepted, even
//! before the session is configured), newest transfer first.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::store::Db;
use crate::transfer::{Method, Transfer};

/// Items looked at per sample transfer.
const ITEMS_PER_TRANSFER: u64 = 20;

/// For each field of `schema_name`, the first non-empty example value, as
/// short display text.
pub fn sample_values(db: &Db, session_id: &str, schema_name: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let transfers: Vec<Transfer> = crate::transfer::of_session(db, session_id)
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t.method == Method::Push && t.sample_data && t.endgrate_type == schema_name)
        .collect();
    for t in &transfers {
        for index in 0..t.stats.records.min(ITEMS_PER_TRANSFER) {
            let Ok(Some(item)) = crate::transfer::push::item(db, &t.id, index) else {
                continue;
            };
            if let Value::Object(fields) = &item.data {
                for (field, value) in fields {
                    if !out.contains_key(field)
                        && let Some(text) = display(value)
                    {
                        out.insert(field.clone(), text);
                    }
                }
            }
        }
    }
    out
}

/// A value as one short line: scalars as they are, the first element of a
/// list, the first text of an object; `None` for empty values.
pub fn display(value: &Value) -> Option<String> {
    let text = match value {
        Value::Null => return None,
        Value::String(s) if s.trim().is_empty() => return None,
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => return items.iter().find_map(display),
        Value::Object(fields) => return fields.values().find_map(display),
    };
    Some(shorten(&text, 60))
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn displays_the_first_meaningful_value() {
        assert_eq!(display(&json!(null)), None);
        assert_eq!(display(&json!("  ")), None);
        assert_eq!(display(&json!(3.5)), Some("3.5".into()));
        assert_eq!(
            display(&json!([{ "email_address": "a@x.com", "email_address_type": "WORK" }])),
            Some("a@x.com".into())
        );
        assert_eq!(
            display(&json!("x".repeat(100))).unwrap().chars().count(),
            60
        );
    }
}
