//! Keeps `switchyard_connector_sdk::cdm` honest against the host's default
//! schemas, the files `host/src/cdm/schemas/*.json` that the host compiles in
//! and serves at `GET /api/schemas/<type>`. It fails when either side changes
//! alone:
//!
//! - every schema file has a struct, and every struct a schema file;
//! - every object in a schema (the record, its `$defs`, inline `items`) has a
//!   struct whose serde field names are exactly its properties;
//! - every enum in a schema has a Rust enum with exactly its values;
//! - a fully filled record serialises to values of the schema's JSON types;
//! - a property may be left out, or be `null`, in the struct exactly when the
//!   schema allows it.
//!
//! Field and variant names come from serde itself (a deserializer that
//! records what `Deserialize` asks for), not from a list kept by hand.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde_json::{Value, json};
use switchyard_connector_sdk::cdm::*;

/// The host's schema files, from the SDK's place in the repository.
fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../host/src/cdm/schemas")
}

fn load_schemas() -> Vec<(String, Value)> {
    let dir = schema_dir();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "cannot read the host's schemas at {}: {e} (this test runs inside the Switchyard repository)",
            dir.display()
        )
    });
    let mut schemas = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "json") {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            let schema = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
            schemas.push((name, schema));
        }
    }
    schemas.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!schemas.is_empty(), "no schemas in {}", dir.display());
    schemas
}

/// What `Deserialize` for a type asks a deserializer for: a struct's field
/// names or an enum's variant names, as they appear in JSON.
fn serde_names<T: DeserializeOwned>() -> BTreeSet<String> {
    let mut names = None;
    let _ = T::deserialize(NameRecorder(&mut names));
    names
        .unwrap_or_else(|| panic!("{} is not a struct or an enum", std::any::type_name::<T>()))
        .iter()
        .map(|n| (*n).to_owned())
        .collect()
}

struct NameRecorder<'a>(&'a mut Option<&'static [&'static str]>);

impl<'de> Deserializer<'de> for NameRecorder<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("only structs and enums are recorded"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = Some(fields);
        Err(de::Error::custom("recorded"))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = Some(variants);
        Err(de::Error::custom("recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map identifier ignored_any
    }
}

/// One top-level type: its struct's fields, a record with every field
/// filled, and a parse of JSON into the struct.
struct Record {
    fields: BTreeSet<String>,
    full: Value,
    parses: fn(Value) -> Result<(), String>,
}

fn record<T: CommonType>(full: T) -> (&'static str, Record) {
    let full = serde_json::to_value(&full).unwrap_or_else(|e| panic!("serialising: {e}"));
    (
        T::ENDGRATE_TYPE,
        Record {
            fields: serde_names::<T>(),
            full,
            parses: |value| {
                serde_json::from_value::<T>(value)
                    .map(drop)
                    .map_err(|e| e.to_string())
            },
        },
    )
}

fn address() -> Address {
    Address {
        address_type: Some(AddressType::Office),
        street_1: Some("1 Main St".into()),
        street_2: Some("Floor 2".into()),
        city: Some("Springfield".into()),
        state: Some("IL".into()),
        postal_code: Some("62701".into()),
        country: Some("US".into()),
    }
}

fn email() -> EmailAddress {
    EmailAddress::new("ada@example.com", EmailAddressType::Work)
}

fn phone() -> PhoneNumber {
    PhoneNumber::new("+1 555 0100", PhoneNumberType::Mobile)
}

/// Every common type with every field filled. Written without
/// `..Default::default()`, so a new field does not compile until it is here.
fn records() -> Vec<(&'static str, Record)> {
    vec![
        record(CrmContact {
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            email_addresses: Some(vec![email()]),
            phone_numbers: Some(vec![phone()]),
            title: Some("Analyst".into()),
            company_name: Some("Engines Ltd".into()),
            addresses: Some(vec![address()]),
            updated_at: Some("2024-05-01T12:00:00Z".into()),
        }),
        record(CrmCompany {
            name: Some("Engines Ltd".into()),
            domain: Some("engines.example".into()),
            website: Some("https://engines.example".into()),
            description: Some("Analytical engines".into()),
            industry: Some("Machinery".into()),
            phone_numbers: Some(vec![phone()]),
            addresses: Some(vec![address()]),
            updated_at: Some("2024-05-01T12:00:00Z".into()),
        }),
        record(AccountingCustomer {
            customer_name: Some("Ada Lovelace".into()),
            company_name: Some("Engines Ltd".into()),
            email_addresses: Some(vec![email()]),
            phone_numbers: Some(vec![phone()]),
            addresses: Some(vec![address()]),
            active: Some(true),
            updated_at: Some("2024-05-01T12:00:00Z".into()),
        }),
        record(AccountingInvoice {
            number: Some("INV-1".into()),
            customer_id: Some("42".into()),
            issue_date: Some("2024-05-01".into()),
            due_date: Some("2024-05-31".into()),
            currency: Some("USD".into()),
            total_amount: Some(150.5),
            balance: Some(0.0),
            status: Some("paid".into()),
            line_items: Some(vec![InvoiceLineItem {
                description: Some("Gears".into()),
                quantity: Some(3.0),
                unit_price: Some(50.0),
                amount: Some(150.5),
            }]),
            updated_at: Some("2024-05-01T12:00:00Z".into()),
        }),
    ]
}

/// The struct of each object a schema nests, by where it sits.
fn nested_struct(pointer: &str) -> Option<BTreeSet<String>> {
    Some(match pointer {
        "/$defs/email_address" => serde_names::<EmailAddress>(),
        "/$defs/phone_number" => serde_names::<PhoneNumber>(),
        "/$defs/address" => serde_names::<Address>(),
        "/properties/line_items/items" => serde_names::<InvoiceLineItem>(),
        _ => return None,
    })
}

/// The Rust enum of each enum property, by property name.
fn enum_variants(property: &str) -> Option<BTreeSet<String>> {
    Some(match property {
        "email_address_type" => serde_names::<EmailAddressType>(),
        "phone_number_type" => serde_names::<PhoneNumberType>(),
        "address_type" => serde_names::<AddressType>(),
        _ => return None,
    })
}

fn properties(node: &Value) -> Vec<(&String, &Value)> {
    node.get("properties")
        .and_then(Value::as_object)
        .map(|p| p.iter().collect())
        .unwrap_or_default()
}

fn required(node: &Value) -> BTreeSet<&str> {
    node.get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// `node`, with a `$ref` into the same schema followed.
fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(reference) => reference
            .strip_prefix('#')
            .and_then(|pointer| root.pointer(pointer))
            .unwrap_or_else(|| panic!("unresolved $ref {reference}")),
        None => node,
    }
}

fn allows_null(node: &Value) -> bool {
    match (node.get("type"), node.get("enum")) {
        (Some(Value::String(t)), _) => t == "null",
        (Some(Value::Array(types)), _) => types.iter().any(|t| t == "null"),
        (None, Some(Value::Array(values))) => values.contains(&Value::Null),
        _ => true,
    }
}

fn has_type(value: &Value, json_type: &str) -> bool {
    match json_type {
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        other => panic!("unknown JSON Schema type {other}"),
    }
}

/// Every object node of a schema, by JSON pointer: the record itself,
/// `$defs`, and inline `items` objects.
fn object_nodes(schema: &Value) -> Vec<(String, &Value)> {
    let mut nodes = vec![(String::new(), schema)];
    if let Some(defs) = schema.get("$defs").and_then(Value::as_object) {
        for (name, def) in defs {
            nodes.push((format!("/$defs/{name}"), def));
        }
    }
    for (name, property) in properties(schema) {
        if let Some(items) = property.get("items")
            && items.get("properties").is_some()
        {
            nodes.push((format!("/properties/{name}/items"), items));
        }
    }
    nodes
}

#[test]
fn every_schema_has_a_struct_and_every_struct_a_schema() {
    let schema_names: BTreeSet<String> = load_schemas().into_iter().map(|(n, _)| n).collect();
    let struct_names: BTreeSet<String> = records().iter().map(|(n, _)| (*n).to_owned()).collect();
    assert_eq!(
        schema_names, struct_names,
        "host/src/cdm/schemas and connectors/sdk/src/cdm.rs list different types"
    );
}

#[test]
fn struct_fields_are_the_schema_properties() {
    let records = records();
    for (name, schema) in load_schemas() {
        for (pointer, node) in object_nodes(&schema) {
            let declared: BTreeSet<String> = properties(node)
                .into_iter()
                .map(|(p, _)| p.clone())
                .collect();
            let fields = if pointer.is_empty() {
                records
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, r)| r.fields.clone())
            } else {
                nested_struct(&pointer)
            };
            let Some(fields) = fields else {
                panic!("{name}{pointer} is an object with no struct in cdm.rs: add one");
            };
            assert_eq!(fields, declared, "{name}{pointer}: struct fields vs schema");
        }
    }
}

#[test]
fn enums_have_the_schema_values() {
    for (name, schema) in load_schemas() {
        for (pointer, node) in object_nodes(&schema) {
            for (property, definition) in properties(node) {
                let Some(values) = definition.get("enum").and_then(Value::as_array) else {
                    continue;
                };
                let declared: BTreeSet<String> = values
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect();
                let Some(variants) = enum_variants(property) else {
                    panic!("{name}{pointer}/properties/{property} is an enum with no Rust enum");
                };
                assert_eq!(variants, declared, "{name}{pointer}/properties/{property}");
            }
        }
    }
}

/// Checks `value` (part of a fully filled record) against `node`, and
/// mutates the whole record at each property to see that leaving it out or
/// making it `null` parses exactly when the schema allows it.
fn check_node(
    root: &Value,
    node: &Value,
    value: &Value,
    path: &str,
    record: &Record,
    failures: &mut Vec<String>,
) {
    let node = resolve(root, node);
    if let Some(values) = node.get("enum").and_then(Value::as_array)
        && !values.contains(value)
    {
        failures.push(format!("{path}: {value} is not one of {values:?}"));
    }
    let types: Vec<&str> = match node.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.iter().any(|t| has_type(value, t)) {
        failures.push(format!("{path}: {value} is not of type {types:?}"));
    }
    if let (Some(items), Some(first)) = (
        node.get("items"),
        value.as_array().and_then(|items| items.first()),
    ) {
        check_node(root, items, first, &format!("{path}/0"), record, failures);
    }
    let Some(object) = value.as_object() else {
        return;
    };
    let required = required(node);
    for (property, definition) in properties(node) {
        let here = format!("{path}/{property}");
        let Some(inner) = object.get(property) else {
            failures.push(format!("{here}: missing from the filled record"));
            continue;
        };
        check_node(root, definition, inner, &here, record, failures);

        let mut without = record.full.clone();
        if let Some(parent) = without.pointer_mut(path).and_then(Value::as_object_mut) {
            parent.remove(property);
        }
        let parsed = (record.parses)(without);
        match (required.contains(property.as_str()), parsed) {
            (true, Ok(())) => failures.push(format!("{here}: required, but parses when absent")),
            (false, Err(e)) => failures.push(format!("{here}: optional, but absent fails: {e}")),
            _ => {}
        }

        let mut null = record.full.clone();
        if let Some(slot) = null.pointer_mut(&here) {
            *slot = Value::Null;
        }
        let parsed = (record.parses)(null);
        match (allows_null(resolve(root, definition)), parsed) {
            (true, Err(e)) => failures.push(format!("{here}: may be null, but null fails: {e}")),
            (false, Ok(())) => failures.push(format!("{here}: may not be null, but null parses")),
            _ => {}
        }
    }
}

#[test]
fn filled_records_fit_the_schemas_and_optional_means_optional() {
    let records = records();
    let mut failures = Vec::new();
    for (name, schema) in load_schemas() {
        let Some((_, record)) = records.iter().find(|(n, _)| *n == name) else {
            continue; // reported by every_schema_has_a_struct_and_every_struct_a_schema
        };
        let mut here = Vec::new();
        check_node(&schema, &schema, &record.full, "", record, &mut here);
        if (record.parses)(json!({})).is_err() {
            here.push("an empty record does not parse".to_owned());
        }
        failures.extend(here.into_iter().map(|f| format!("{name}: {f}")));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
