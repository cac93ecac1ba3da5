//! The `params` of a pull: filters on the schema's fields, applied by the host
//! to every record (a connector may also narrow its provider query, but the
//! host's check is the one that counts).
//!
//! `{"last_name": "Doe"}` keeps equal values; a list accepts any of its
//! values; an object matches nested fields (inside arrays, any element may
//! match); `"<field>__range": [min, max]` is inclusive, for numbers and dates,
//! and `null` leaves a side open.

use std::cmp::Ordering;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    conditions: Vec<(String, Condition)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Condition {
    Equals(Value),
    AnyOf(Vec<Value>),
    Nested(Filter),
    Range(Value, Value),
}

/// A `params` entry that cannot be used, with the field it names.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidFilter {
    pub field: String,
    pub message: String,
}

const RANGE_SUFFIX: &str = "__range";

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty()
    }

    /// Parses `params`; `known_fields` (the schema's top-level fields) when
    /// the schema declares any.
    pub fn parse(
        params: &Map<String, Value>,
        known_fields: &[String],
    ) -> Result<Self, InvalidFilter> {
        Self::parse_at("params", params, known_fields)
    }

    fn parse_at(
        at: &str,
        params: &Map<String, Value>,
        known_fields: &[String],
    ) -> Result<Self, InvalidFilter> {
        let mut conditions = Vec::new();
        for (name, value) in params {
            let path = format!("{at}.{name}");
            let invalid = |message: String| InvalidFilter {
                field: path.clone(),
                message,
            };
            let (field, condition) = if let Some(field) = name.strip_suffix(RANGE_SUFFIX) {
                let bounds = value
                    .as_array()
                    .filter(|b| b.len() == 2)
                    .ok_or_else(|| invalid("a range is a list of two bounds, [min, max]".into()))?;
                for bound in bounds {
                    if !(bound.is_number() || bound.is_string() || bound.is_null()) {
                        return Err(invalid("range bounds are numbers, dates or null".into()));
                    }
                }
                (
                    field,
                    Condition::Range(bounds[0].clone(), bounds[1].clone()),
                )
            } else {
                let condition = match value {
                    Value::Array(options) => Condition::AnyOf(options.clone()),
                    Value::Object(nested) => Condition::Nested(Self::parse_at(&path, nested, &[])?),
                    other => Condition::Equals(other.clone()),
                };
                (name.as_str(), condition)
            };
            if !known_fields.is_empty() && !known_fields.iter().any(|f| f == field) {
                return Err(invalid(format!(
                    "`{field}` is not a field of this schema (fields: {})",
                    known_fields.join(", ")
                )));
            }
            conditions.push((field.to_owned(), condition));
        }
        Ok(Filter { conditions })
    }

    pub fn matches(&self, record: &Value) -> bool {
        self.conditions.iter().all(|(field, condition)| {
            let value = record.get(field).unwrap_or(&Value::Null);
            condition.matches(value)
        })
    }
}

impl Condition {
    fn matches(&self, value: &Value) -> bool {
        // An array field matches when any of its elements does.
        if let Value::Array(items) = value {
            return items.iter().any(|item| self.matches(item));
        }
        match (self, value) {
            (Condition::Equals(expected), _) => same(expected, value),
            (Condition::AnyOf(options), _) => options.iter().any(|o| same(o, value)),
            (Condition::Nested(filter), Value::Object(_)) => filter.matches(value),
            (Condition::Nested(_), _) => false,
            (Condition::Range(min, max), _) => {
                !value.is_null()
                    && (min.is_null()
                        || compare(min, value).is_some_and(|o| o != Ordering::Greater))
                    && (max.is_null()
                        || compare(value, max).is_some_and(|o| o != Ordering::Greater))
            }
        }
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        // Providers often send numbers as text.
        (Value::Number(x), Value::String(s)) | (Value::String(s), Value::Number(x)) => {
            s.trim().parse::<f64>().ok() == x.as_f64()
        }
        _ => a == b,
    }
}

/// Orders two numbers, two dates, or two strings.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => match (date(x), date(y)) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => Some(x.as_str().cmp(y.as_str())),
        },
        (Value::Number(x), Value::String(s)) => x.as_f64()?.partial_cmp(&s.trim().parse().ok()?),
        (Value::String(s), Value::Number(y)) => {
            s.trim().parse::<f64>().ok()?.partial_cmp(&y.as_f64()?)
        }
        _ => None,
    }
}

fn date(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn filter(params: Value) -> Filter {
        Filter::parse(params.as_object().unwrap(), &[]).unwrap()
    }

    #[test]
    fn values_lists_nested_and_ranges() {
        let bob = json!({
            "first_name": "John", "last_name": "Doe", "age": 40,
            "email_addresses": [{"email_address": "j@x.com", "email_address_type": "WORK"}],
            "updated_at": "2024-05-01T10:00:00Z",
        });
        assert!(filter(json!({"last_name": "Doe"})).matches(&bob));
        assert!(!filter(json!({"last_name": "Roe"})).matches(&bob));
        assert!(filter(json!({"first_name": ["John", "Jane"]})).matches(&bob));
        assert!(!filter(json!({"first_name": ["Jim"]})).matches(&bob));
        assert!(filter(json!({"email_addresses": {"email_address_type": "WORK"}})).matches(&bob));
        assert!(!filter(json!({"email_addresses": {"email_address_type": "OTHER"}})).matches(&bob));
        assert!(filter(json!({"age__range": [40, 50]})).matches(&bob));
        assert!(!filter(json!({"age__range": [41, null]})).matches(&bob));
        assert!(
            filter(
                json!({"updated_at__range": ["2024-05-01T09:00:00+00:00", "2024-05-01T10:00:00Z"]})
            )
            .matches(&bob)
        );
        assert!(!filter(json!({"updated_at__range": ["2024-06-01", null]})).matches(&bob));
        assert!(!filter(json!({"missing__range": [null, null]})).matches(&bob));
    }

    #[test]
    fn unknown_fields_and_bad_ranges_are_named() {
        let fields = vec!["first_name".to_owned()];
        let err = Filter::parse(json!({"nope": 1}).as_object().unwrap(), &fields).unwrap_err();
        assert_eq!(err.field, "params.nope");
        let err = Filter::parse(
            json!({"first_name__range": [1]}).as_object().unwrap(),
            &fields,
        )
        .unwrap_err();
        assert_eq!(err.field, "params.first_name__range");
    }
}
