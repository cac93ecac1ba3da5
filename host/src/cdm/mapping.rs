//! A custom schema's field mapping: each of its fields is read from (pull) and
//! written to (push) a path in the common-model record its `endgrate_type`
//! names, e.g. `"work_email" → "email_addresses.0.email_address"`, or a
//! provider field outside the common model (a custom field), by the
//! provider's name under [`PROVIDER_FIELDS`]: `"color" →
//! "$provider.favorite_color"`. Fields of the same name map onto each other
//! unless the end user chose otherwise.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FieldMapping(pub BTreeMap<String, String>);

/// The member of a common-model record that holds provider fields' values
/// while a mapping reads or writes them (never stored, never sent as such).
pub const PROVIDER_FIELDS: &str = "$provider";

/// The mapping path of provider field `name`.
pub fn provider_path(name: &str) -> String {
    format!("{PROVIDER_FIELDS}.{name}")
}

impl FieldMapping {
    /// The provider fields it maps custom fields to, by the provider's names.
    pub fn provider_fields(&self) -> impl Iterator<Item = &str> {
        self.0.values().filter_map(|path| {
            path.strip_prefix(PROVIDER_FIELDS)
                .and_then(|rest| rest.strip_prefix('.'))
        })
    }

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

/// A path's steps: dot-separated, except that a provider field's name is
/// one step whatever it holds (QuickBooks names such as `P.O. Number`).
fn steps(path: &str) -> Vec<&str> {
    match path
        .strip_prefix(PROVIDER_FIELDS)
        .and_then(|rest| rest.strip_prefix('.'))
    {
        Some(name) => vec![PROVIDER_FIELDS, name],
        None => path.split('.').collect(),
    }
}

fn get_path<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    steps(path).into_iter().try_fold(value, |v, part| match v {
        Value::Array(items) => items.get(part.parse::<usize>().ok()?),
        Value::Object(fields) => fields.get(part),
        _ => None,
    })
}

fn set_path(root: &mut Value, path: &str, value: Value) {
    let parts = steps(path);
    let mut here = root;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let next_is_index = *part != PROVIDER_FIELDS
            && parts.get(i + 1).is_some_and(|p| p.parse::<usize>().is_ok());
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

    #[test]
    fn provider_fields_are_read_and_written_by_their_whole_name() {
        let mapping = FieldMapping(BTreeMap::from([
            ("color".to_owned(), provider_path("favorite_color")),
            ("po".to_owned(), provider_path("P.O. Number")),
            ("name".to_owned(), "first_name".to_owned()),
        ]));
        let mut provider: Vec<&str> = mapping.provider_fields().collect();
        provider.sort();
        assert_eq!(provider, ["P.O. Number", "favorite_color"]);
        let custom = json!({ "color": "red", "po": "4411", "name": "Ada" });
        let common = mapping.to_common(&custom);
        assert_eq!(
            common,
            json!({ "first_name": "Ada", "$provider": { "favorite_color": "red", "P.O. Number": "4411" } })
        );
        assert_eq!(mapping.to_custom(&common), custom);
    }
}
