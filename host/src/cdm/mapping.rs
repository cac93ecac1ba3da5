//! A custom schema's field mapping: each of its fields is read from (pull) and
//! written to (push) a path in the common-model record its `endgrate_type`
//! names, e.g. `"work_email" → "email_addresses.0.email_address"`. Fields of
//! the same name map onto each other unless the end user chose otherwise.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FieldMapping(pub BTreeMap<String, String>);

impl FieldMapping {
    /// Same-name fields of the custom schema and the common-model schema.
    pub fn by_name(custom: &[String], common: &[String]) -> Self {
        FieldMapping(
            custom
                .iter()
                .filter(|f| common.contains(f))
                .map(|f| (f.clone(), f.clone()))
                .collect(),
        )
    }

    /// A common-model record in the custom schema's shape.
    pub fn to_custom(&self, common: &Value) -> Value {
        let mut out = Map::new();
        for (field, path) in &self.0 {
            if let Some(value) = get_path(common, path) {
                out.insert(field.clone(), value.clone());
            }
        }
        Value::Object(out)
    }

    /// A custom record as the common-model record a connector writes.
    pub fn to_common(&self, custom: &Value) -> Value {
        let mut out = Value::Object(Map::new());
        for (field, path) in &self.0 {
            if let Some(value) = custom.get(field) {
                set_path(&mut out, path, value.clone());
            }
        }
        out
    }
}

fn get_path<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |v, part| match v {
        Value::Array(items) => items.get(part.parse::<usize>().ok()?),
        Value::Object(fields) => fields.get(part),
        _ => None,
    })
}

fn set_path(root: &mut Value, path: &str, value: Value) {
    let parts: Vec<&str> = path.split('.').collect();
    let mut here = root;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let next_is_index = parts.get(i + 1).is_some_and(|p| p.parse::<usize>().is_ok());
        let empty = || {
            if next_is_index {
                Value::Array(Vec::new())
            } else {
                Value::Object(Map::new())
            }
        };
        here = match (here, part.parse::<usize>()) {
            (Value::Array(items), Ok(index)) => {
                while items.len() <= index {
                    items.push(Value::Object(Map::new()));
                }
                if last {
                    items[index] = value;
                    return;
                }
                &mut items[index]
            }
            (Value::Object(fields), _) => {
                if last {
                    fields.insert((*part).to_owned(), value);
                    return;
                }
                fields.entry((*part).to_owned()).or_insert_with(empty)
            }
            // The path runs through a scalar: nothing sensible to write.
            _ => return,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_both_ways() {
        let mut mapping = FieldMapping::by_name(
            &["first_name".into(), "work_email".into()],
            &["first_name".into(), "email_addresses".into()],
        );
        mapping.0.insert(
            "work_email".into(),
            "email_addresses.0.email_address".into(),
        );
        let common =
            json!({"first_name": "Ann", "email_addresses": [{"email_address": "a@x.com"}]});
        let custom = mapping.to_custom(&common);
        assert_eq!(
            custom,
            json!({"first_name": "Ann", "work_email": "a@x.com"})
        );
        assert_eq!(mapping.to_common(&custom), common);
    }
}
