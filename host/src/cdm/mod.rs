//! The common data model: the default JSON Schemas (`crm-contact`,
//! `crm-company`, `accounting-customer`, `accounting-invoice`), the categories
//! that group them, validation of records against a session's schema, and the
//! keys a push upserts on.
//!
//! - [`filter`]: the `params` filters of a pull.
//! - [`mapping`]: custom schemas mapped field by field onto a default one.

pub mod filter;
pub mod mapping;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value, json};

/// Every default schema, by `endgrate_type`.
const DEFAULTS: &[(&str, &str)] = &[
    ("crm-contact", include_str!("schemas/crm-contact.json")),
    ("crm-company", include_str!("schemas/crm-company.json")),
    (
        "accounting-customer",
        include_str!("schemas/accounting-customer.json"),
    ),
    (
        "accounting-invoice",
        include_str!("schemas/accounting-invoice.json"),
    ),
];

/// The default schema of `endgrate_type`.
pub fn default_schema(endgrate_type: &str) -> Option<&'static Value> {
    static PARSED: OnceLock<BTreeMap<&'static str, Value>> = OnceLock::new();
    PARSED
        .get_or_init(|| {
            DEFAULTS
                .iter()
                .filter_map(|(name, text)| Some((*name, serde_json::from_str(text).ok()?)))
                .collect()
        })
        .get(endgrate_type)
}

pub fn default_types() -> impl Iterator<Item = &'static str> {
    DEFAULTS.iter().map(|(name, _)| *name)
}

/// The default types of a category (`crm`, `accounting`): those named
/// `<category>-<resource>`.
pub fn category_types(category: &str) -> Vec<&'static str> {
    default_types()
        .filter(|t| {
            t.split_once('-')
                .is_some_and(|(c, _)| c.eq_ignore_ascii_case(category))
        })
        .collect()
}

/// A compiled schema that validates records.
#[derive(Clone)]
pub struct Validator(Arc<jsonschema::Validator>);

/// One reason a record does not fit its schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// Where in the record, as a JSON pointer (`/email_addresses/0`).
    pub path: String,
    pub message: String,
}

impl Validator {
    /// Compiles `schema`. `pattern`s run on a linear-time engine (the `regex`
    /// crate: no look-around or back-references), so no record can make a
    /// match take exponential time.
    pub fn compile(schema: &Value) -> Result<Self, String> {
        jsonschema::options()
            .with_pattern_options(jsonschema::PatternOptions::regex())
            .build(schema)
            .map(|v| Validator(Arc::new(v)))
            .map_err(|e| e.to_string())
    }

    /// The validator of a default type, compiled once.
    pub fn for_default(endgrate_type: &str) -> Option<Self> {
        static COMPILED: OnceLock<BTreeMap<&'static str, Validator>> = OnceLock::new();
        COMPILED
            .get_or_init(|| {
                default_types()
                    .filter_map(|t| Some((t, Validator::compile(default_schema(t)?).ok()?)))
                    .collect()
            })
            .get(endgrate_type)
            .cloned()
    }

    pub fn validate(&self, record: &Value) -> Result<(), Vec<Violation>> {
        let violations: Vec<Violation> = self
            .0
            .iter_errors(record)
            .map(|e| Violation {
                path: e.instance_path.to_string(),
                message: e.to_string(),
            })
            .collect();
        if violations.is_empty() {
            Ok(())
        } else {
            Err(violations)
        }
    }
}

/// The field names a schema declares at its top level.
pub fn schema_fields(schema: &Value) -> Vec<String> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// Tidies a record pushed in a default type before it is validated:
/// Endgrate's own quick start pushes a `crm-company` with `company_name`, so
/// that is read as `name`; a company with a website but no domain gets the
/// website's domain (the first key it is upserted on).
pub fn normalize_push(endgrate_type: &str, data: &mut Value) {
    let Some(fields) = data.as_object_mut() else {
        return;
    };
    if endgrate_type == "crm-company" {
        if !has_text(fields, "name")
            && let Some(name) = fields.remove("company_name")
        {
            fields.insert("name".into(), name);
        }
        if !has_text(fields, "domain")
            && let Some(domain) = fields
                .get("website")
                .and_then(Value::as_str)
                .and_then(domain_of)
        {
            fields.insert("domain".into(), Value::String(domain));
        }
    }
}

fn has_text(fields: &Map<String, Value>, name: &str) -> bool {
    fields
        .get(name)
        .and_then(Value::as_str)
        .is_some_and(|s| !s.trim().is_empty())
}

/// `https://www.Example.com/about` → `example.com`.
pub fn domain_of(website: &str) -> Option<String> {
    let text = website.trim();
    let with_scheme = if text.contains("://") {
        text.to_owned()
    } else {
        format!("https://{text}")
    };
    let host = url::Url::parse(&with_scheme)
        .ok()?
        .host_str()?
        .to_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_owned();
    (!host.is_empty()).then_some(host)
}

/// The keys a push looks for an existing record by, most specific first
/// (`crm-contact`: email, then phone, then full name; `crm-company`: domain,
/// then name). Each is a JSON object of common-model fields, as a
/// connector's `find-match` takes them; keys the record has no value for are
/// left out.
pub fn upsert_keys(endgrate_type: &str, data: &Value) -> Vec<Value> {
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let first_in = |field: &str, inner: &str| {
        data.get(field)
            .and_then(Value::as_array)
            .and_then(|items| items.iter().find_map(|i| text(i.get(inner))))
    };
    let mut keys = Vec::new();
    match endgrate_type {
        "crm-contact" => {
            if let Some(email) = first_in("email_addresses", "email_address") {
                keys.push(json!({ "email_addresses": email }));
            }
            if let Some(phone) = first_in("phone_numbers", "phone_number") {
                keys.push(json!({ "phone_numbers": phone }));
            }
            if let (Some(first), Some(last)) =
                (text(data.get("first_name")), text(data.get("last_name")))
            {
                keys.push(json!({ "first_name": first, "last_name": last }));
            }
        }
        "crm-company" => {
            if let Some(domain) = text(data.get("domain")) {
                keys.push(json!({ "domain": domain }));
            }
            if let Some(name) = text(data.get("name")) {
                keys.push(json!({ "name": name }));
            }
        }
        "accounting-customer" => {
            if let Some(email) = first_in("email_addresses", "email_address") {
                keys.push(json!({ "email_addresses": email }));
            }
            if let Some(name) = text(data.get("customer_name")) {
                keys.push(json!({ "customer_name": name }));
            }
        }
        _ => {}
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_schema_parses_and_compiles() {
        for t in default_types() {
            assert!(default_schema(t).is_some(), "{t}");
            assert!(Validator::for_default(t).is_some(), "{t}");
        }
        assert_eq!(category_types("crm"), vec!["crm-contact", "crm-company"]);
        assert_eq!(
            category_types("accounting"),
            vec!["accounting-customer", "accounting-invoice"]
        );
        assert!(category_types("hris").is_empty());
    }

    #[test]
    fn validation_names_the_field() {
        let v = Validator::for_default("crm-contact").unwrap();
        assert!(
            v.validate(&json!({"first_name": "Bob", "extra": 1}))
                .is_ok()
        );
        let errors = v
            .validate(
                &json!({"first_name": 5, "email_addresses": [{"email_address_type": "WORK"}]}),
            )
            .unwrap_err();
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert!(paths.contains(&"/first_name"), "{errors:?}");
        assert!(paths.contains(&"/email_addresses/0"), "{errors:?}");
    }

    #[test]
    fn quick_start_company_is_read_as_name_and_domain() {
        let mut data = json!({"company_name": "Endgrate", "website": "https://www.endgrate.com/x"});
        normalize_push("crm-company", &mut data);
        assert_eq!(data["name"], "Endgrate");
        assert_eq!(data["domain"], "endgrate.com");
        assert_eq!(
            upsert_keys("crm-company", &data),
            vec![
                json!({"domain": "endgrate.com"}),
                json!({"name": "Endgrate"})
            ]
        );
    }

    #[test]
    fn contact_keys_in_order() {
        let data = json!({
            "first_name": "Bob", "last_name": "Smith",
            "email_addresses": [{"email_address": " "}, {"email_address": "bob@x.com"}],
            "phone_numbers": [{"phone_number": "+1 555"}],
        });
        assert_eq!(
            upsert_keys("crm-contact", &data),
            vec![
                json!({"email_addresses": "bob@x.com"}),
                json!({"phone_numbers": "+1 555"}),
                json!({"first_name": "Bob", "last_name": "Smith"}),
            ]
        );
        assert!(upsert_keys("crm-contact", &json!({"first_name": "Bob"})).is_empty());
    }
}
