//! HubSpot objects ↔ the common data model.
//!
//! Every HubSpot property value is a string (numbers and dates too); a
//! property that is absent, `null` or empty produces no common-model field.

use serde_json::{Map, Value, json};
use switchyard_connector_sdk::{ConnectorError, Subject};

/// The two HubSpot object types this connector moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Contacts,
    Companies,
}

/// Properties requested for contacts (explicitly: the defaults lack most).
pub const CONTACT_PROPERTIES: &[&str] = &[
    "email",
    "firstname",
    "lastname",
    "phone",
    "mobilephone",
    "jobtitle",
    "company",
    "address",
    "city",
    "state",
    "zip",
    "country",
    "lastmodifieddate",
];

/// Properties requested for companies.
pub const COMPANY_PROPERTIES: &[&str] = &[
    "name",
    "domain",
    "website",
    "description",
    "industry",
    "phone",
    "address",
    "city",
    "state",
    "zip",
    "country",
    "hs_lastmodifieddate",
];

impl Kind {
    /// The kind of a common type, or `unsupported`.
    pub fn from_type(endgrate_type: &str) -> Result<Kind, ConnectorError> {
        match endgrate_type {
            "crm-contact" => Ok(Kind::Contacts),
            "crm-company" => Ok(Kind::Companies),
            other => Err(ConnectorError::unsupported(match Subject::parse(other) {
                Subject::Object(name) => format!(
                    "HubSpot has no common model for the object {name}: its records are \
                         read and written as its own properties, and are not linked"
                ),
                Subject::Common(_) => {
                    format!("HubSpot does not support the common type {other}")
                }
            })),
        }
    }

    /// The object type in API paths.
    pub fn path(self) -> &'static str {
        match self {
            Kind::Contacts => "contacts",
            Kind::Companies => "companies",
        }
    }

    /// The common type.
    pub fn endgrate_type(self) -> &'static str {
        match self {
            Kind::Contacts => "crm-contact",
            Kind::Companies => "crm-company",
        }
    }

    /// The type it associates with.
    pub fn other(self) -> Kind {
        match self {
            Kind::Contacts => Kind::Companies,
            Kind::Companies => Kind::Contacts,
        }
    }

    /// The last-modified property, for incremental searches.
    pub fn modified_property(self) -> &'static str {
        match self {
            Kind::Contacts => "lastmodifieddate",
            Kind::Companies => "hs_lastmodifieddate",
        }
    }

    /// The properties every read asks for.
    pub fn properties(self) -> &'static [&'static str] {
        match self {
            Kind::Contacts => CONTACT_PROPERTIES,
            Kind::Companies => COMPANY_PROPERTIES,
        }
    }

    /// HubSpot's default association type id from this kind to the other
    /// (279 contact→company, 280 company→contact).
    pub fn association_type_id(self) -> u32 {
        match self {
            Kind::Contacts => 279,
            Kind::Companies => 280,
        }
    }
}

/// A property's value as text: `None` when absent, `null` or empty.
fn prop(props: &Map<String, Value>, name: &str) -> Option<String> {
    match props.get(name)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The `properties` of a raw HubSpot object; a bare property map is accepted
/// too (for `to-cdm`).
fn properties_of(raw: &Value) -> Option<&Map<String, Value>> {
    raw.get("properties")
        .and_then(Value::as_object)
        .or_else(|| raw.as_object())
}

/// A raw HubSpot object (`{"id","properties",...,"updatedAt"}`) in the common
/// model.
pub fn to_cdm(kind: Kind, raw: &Value) -> Value {
    let props = properties_of(raw);
    let p = |name: &str| props.and_then(|props| prop(props, name));
    let mut out = Map::new();
    let mut put = |field: &str, value: Option<Value>| {
        if let Some(value) = value {
            out.insert(field.to_owned(), value);
        }
    };
    match kind {
        Kind::Contacts => {
            put("first_name", p("firstname").map(Value::from));
            put("last_name", p("lastname").map(Value::from));
            put(
                "email_addresses",
                p("email").map(|e| json!([{ "email_address": e, "email_address_type": "WORK" }])),
            );
            put(
                "phone_numbers",
                phones(&[("phone", "WORK"), ("mobilephone", "MOBILE")], &p),
            );
            put("title", p("jobtitle").map(Value::from));
            put("company_name", p("company").map(Value::from));
        }
        Kind::Companies => {
            put("name", p("name").map(Value::from));
            put("domain", p("domain").map(Value::from));
            put("website", p("website").map(Value::from));
            put("description", p("description").map(Value::from));
            put("industry", p("industry").map(Value::from));
            put("phone_numbers", phones(&[("phone", "WORK")], &p));
        }
    }
    put("addresses", address(&p));
    let updated = p(kind.modified_property()).or_else(|| {
        raw.get("updatedAt")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    });
    put("updated_at", updated.map(Value::from));
    Value::Object(out)
}

fn phones(pairs: &[(&str, &str)], p: &impl Fn(&str) -> Option<String>) -> Option<Value> {
    let list: Vec<Value> = pairs
        .iter()
        .filter_map(|(name, ty)| {
            p(name).map(|n| json!({ "phone_number": n, "phone_number_type": ty }))
        })
        .collect();
    (!list.is_empty()).then_some(Value::Array(list))
}

/// The fields of the common `address`, with their HubSpot properties.
const ADDRESS_FIELDS: &[(&str, &str)] = &[
    ("street_1", "address"),
    ("city", "city"),
    ("state", "state"),
    ("postal_code", "zip"),
    ("country", "country"),
];

fn address(p: &impl Fn(&str) -> Option<String>) -> Option<Value> {
    let mut addr = Map::new();
    for (field, name) in ADDRESS_FIELDS {
        if let Some(value) = p(name) {
            addr.insert((*field).to_owned(), Value::from(value));
        }
    }
    if addr.is_empty() {
        return None;
    }
    addr.insert("address_type".to_owned(), Value::from("PRIMARY"));
    Some(json!([addr]))
}

/// A common-model value as a HubSpot property value: strings as they are,
/// numbers and booleans as text, `null` as `""` (which clears the property on
/// an update). Arrays and objects do not fit.
fn text(field: &str, value: &Value) -> Result<String, ConnectorError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Ok(String::new()),
        _ => Err(ConnectorError::invalid_data(format!(
            "{field} must be a string, not {value}"
        ))),
    }
}

/// The first entry of a list field, preferring one whose `type_key` is one of
/// `preferred`, then any whose type is not in `excluded`.
fn pick<'a>(
    list: &'a [Value],
    type_key: &str,
    preferred: &[&str],
    excluded: &[&str],
) -> Option<&'a Value> {
    let ty = |v: &Value| {
        v.get(type_key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_uppercase()
    };
    list.iter()
        .find(|v| preferred.contains(&ty(v).as_str()))
        .or_else(|| list.iter().find(|v| !excluded.contains(&ty(v).as_str())))
}

fn list<'a>(
    record: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a [Value]>, ConnectorError> {
    match record.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(other) => Err(ConnectorError::invalid_data(format!(
            "{field} must be a list, not {other}"
        ))),
    }
}

/// A common-model record as HubSpot `properties` (only the fields present).
pub fn from_cdm(kind: Kind, record: &Value) -> Result<Map<String, Value>, ConnectorError> {
    let record = record.as_object().ok_or_else(|| {
        ConnectorError::invalid_data(format!("a {} must be a JSON object", kind.endgrate_type()))
    })?;
    let mut props = Map::new();
    let scalars: &[(&str, &str)] = match kind {
        Kind::Contacts => &[
            ("first_name", "firstname"),
            ("last_name", "lastname"),
            ("title", "jobtitle"),
            ("company_name", "company"),
        ],
        Kind::Companies => &[
            ("name", "name"),
            ("domain", "domain"),
            ("website", "website"),
            ("description", "description"),
            ("industry", "industry"),
        ],
    };
    for (field, name) in scalars {
        if let Some(value) = record.get(*field) {
            props.insert((*name).to_owned(), Value::from(text(field, value)?));
        }
    }
    if kind == Kind::Contacts
        && let Some(emails) = list(record, "email_addresses")?
    {
        let email = pick(emails, "email_address_type", &["WORK"], &[])
            .and_then(|e| e.get("email_address"))
            .map(|e| text("email_address", e))
            .transpose()?
            .unwrap_or_default();
        props.insert("email".to_owned(), Value::from(email));
    }
    if let Some(phones) = list(record, "phone_numbers")? {
        let number = |v: Option<&Value>| {
            v.and_then(|p| p.get("phone_number"))
                .map(|n| text("phone_number", n))
                .transpose()
                .map(Option::unwrap_or_default)
        };
        let work = pick(phones, "phone_number_type", &["WORK"], &["MOBILE"]);
        props.insert("phone".to_owned(), Value::from(number(work)?));
        if kind == Kind::Contacts {
            let mobile = phones.iter().find(|p| {
                p.get("phone_number_type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case("MOBILE"))
            });
            props.insert("mobilephone".to_owned(), Value::from(number(mobile)?));
        }
    }
    if let Some(addresses) = list(record, "addresses")? {
        let chosen = pick(addresses, "address_type", &["PRIMARY"], &[]);
        for (field, name) in ADDRESS_FIELDS {
            let value = chosen
                .and_then(|a| a.get(*field))
                .map(|v| text(field, v))
                .transpose()?
                .unwrap_or_default();
            props.insert((*name).to_owned(), Value::from(value));
        }
    }
    Ok(props)
}
