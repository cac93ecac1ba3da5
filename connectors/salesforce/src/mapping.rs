//! Salesforce sObjects (Contact, Account) ↔ the common data model, and the
//! timestamp conversions between Salesforce's `2024-05-20T20:49:32.000+0000`
//! and RFC 3339.
//!
//! Salesforce field values are JSON strings, numbers, booleans or `null`; a
//! field that is absent, `null` or blank produces no common-model field. On
//! writes, a common field given as `null` (or a list without the entry) sends
//! `null`, which clears the Salesforce field on an update.

use serde_json::{Map, Value, json};
use switchyard_connector_sdk::{ConnectorError, Subject};

/// The two sObject types this connector moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Contact,
    Account,
}

/// Fields read for contacts (SOQL has no `SELECT *`).
pub const CONTACT_FIELDS: &[&str] = &[
    "Id",
    "FirstName",
    "LastName",
    "Email",
    "Phone",
    "MobilePhone",
    "Title",
    "AccountId",
    "MailingStreet",
    "MailingCity",
    "MailingState",
    "MailingPostalCode",
    "MailingCountry",
    "SystemModstamp",
];

/// Fields read for accounts.
pub const ACCOUNT_FIELDS: &[&str] = &[
    "Id",
    "Name",
    "Website",
    "Phone",
    "Industry",
    "Description",
    "BillingStreet",
    "BillingCity",
    "BillingState",
    "BillingPostalCode",
    "BillingCountry",
    "SystemModstamp",
];

impl Kind {
    /// The kind of a common type, or `unsupported`.
    pub fn from_type(endgrate_type: &str) -> Result<Kind, ConnectorError> {
        match endgrate_type {
            "crm-contact" => Ok(Kind::Contact),
            "crm-company" => Ok(Kind::Account),
            other => Err(ConnectorError::unsupported(match Subject::parse(other) {
                Subject::Object(name) => format!(
                    "Salesforce has no common model for the object {name}: its records are \
                         read and written as its own fields, and are not linked"
                ),
                Subject::Common(_) => {
                    format!("Salesforce does not support the common type {other}")
                }
            })),
        }
    }

    /// The sObject name, in paths, SOQL and `attributes.type`.
    pub fn sobject(self) -> &'static str {
        match self {
            Kind::Contact => "Contact",
            Kind::Account => "Account",
        }
    }

    /// The common type.
    pub fn endgrate_type(self) -> &'static str {
        match self {
            Kind::Contact => "crm-contact",
            Kind::Account => "crm-company",
        }
    }

    /// The type it associates with.
    pub fn other(self) -> Kind {
        match self {
            Kind::Contact => Kind::Account,
            Kind::Account => Kind::Contact,
        }
    }

    /// The fields every read selects.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Kind::Contact => CONTACT_FIELDS,
            Kind::Account => ACCOUNT_FIELDS,
        }
    }

    /// The field Salesforce requires on create, and its common-model name.
    pub fn required(self) -> (&'static str, &'static str) {
        match self {
            Kind::Contact => ("LastName", "last_name"),
            Kind::Account => ("Name", "name"),
        }
    }

    /// The sObject with its article, for messages: `a Contact`, `an Account`.
    pub fn a_record(self) -> &'static str {
        match self {
            Kind::Contact => "a Contact",
            Kind::Account => "an Account",
        }
    }

    /// The prefix of the address fields (`MailingStreet`, `BillingCity`, ...).
    fn address_prefix(self) -> &'static str {
        match self {
            Kind::Contact => "Mailing",
            Kind::Account => "Billing",
        }
    }

    /// The common `address_type` of the one address the sObject carries.
    fn address_type(self) -> &'static str {
        match self {
            Kind::Contact => "PRIMARY",
            Kind::Account => "BILLING",
        }
    }
}

/// A field's value as text: `None` when absent, `null` or blank.
pub fn field(raw: &Value, name: &str) -> Option<String> {
    value_text(raw.get(name)?)
}

/// A value as text: `None` when `null`, blank, a list or an object.
pub fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A Salesforce timestamp (`2024-05-20T20:49:32.000+0000`) in RFC 3339
/// (`2024-05-20T20:49:32.000Z`). Text in another shape is returned as it is.
pub fn to_rfc3339(timestamp: &str) -> String {
    let bytes = timestamp.as_bytes();
    let n = bytes.len();
    // `±hhmm` at the end, after the time part.
    let offset = n
        .checked_sub(5)
        .filter(|&at| at > 10 && matches!(bytes[at], b'+' | b'-'))
        .filter(|&at| bytes[at + 1..].iter().all(u8::is_ascii_digit));
    match offset {
        Some(at) if &timestamp[at + 1..] == "0000" => format!("{}Z", &timestamp[..at]),
        Some(at) => format!("{}:{}", &timestamp[..at + 3], &timestamp[at + 3..]),
        None => timestamp.to_owned(),
    }
}

/// A domain from a website: `https://www.Acme.com/about` → `acme.com`.
pub fn domain_of(website: &str) -> Option<String> {
    let text = website.trim();
    let rest = text.split_once("://").map_or(text, |(_, rest)| rest);
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // Drop user info and port.
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.split(':').next().unwrap_or_default();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    (!host.is_empty() && host.contains('.')).then(|| host.to_owned())
}

/// A raw sObject (`{"attributes":{...},"Id",...}`, as SOQL answers) in the
/// common model.
pub fn to_cdm(kind: Kind, raw: &Value) -> Value {
    let f = |name: &str| field(raw, name);
    let mut out = Map::new();
    let mut put = |name: &str, value: Option<Value>| {
        if let Some(value) = value {
            out.insert(name.to_owned(), value);
        }
    };
    match kind {
        Kind::Contact => {
            put("first_name", f("FirstName").map(Value::from));
            put("last_name", f("LastName").map(Value::from));
            put(
                "email_addresses",
                f("Email").map(|e| json!([{ "email_address": e, "email_address_type": "WORK" }])),
            );
            put(
                "phone_numbers",
                phones(&[("Phone", "WORK"), ("MobilePhone", "MOBILE")], &f),
            );
            put("title", f("Title").map(Value::from));
        }
        Kind::Account => {
            let website = f("Website");
            put("name", f("Name").map(Value::from));
            put(
                "domain",
                website.as_deref().and_then(domain_of).map(Value::from),
            );
            put("website", website.map(Value::from));
            put("description", f("Description").map(Value::from));
            put("industry", f("Industry").map(Value::from));
            put("phone_numbers", phones(&[("Phone", "WORK")], &f));
        }
    }
    put("addresses", address(kind, &f));
    let updated = f("SystemModstamp").or_else(|| f("LastModifiedDate"));
    put("updated_at", updated.map(|t| Value::from(to_rfc3339(&t))));
    Value::Object(out)
}

fn phones(pairs: &[(&str, &str)], f: &impl Fn(&str) -> Option<String>) -> Option<Value> {
    let list: Vec<Value> = pairs
        .iter()
        .filter_map(|(name, ty)| {
            f(name).map(|n| json!({ "phone_number": n, "phone_number_type": ty }))
        })
        .collect();
    (!list.is_empty()).then_some(Value::Array(list))
}

/// The address fields after the prefix, with their common names. `Street`
/// is a text area: its first line is `street_1`, the rest `street_2`.
const ADDRESS_FIELDS: &[(&str, &str)] = &[
    ("city", "City"),
    ("state", "State"),
    ("postal_code", "PostalCode"),
    ("country", "Country"),
];

fn address(kind: Kind, f: &impl Fn(&str) -> Option<String>) -> Option<Value> {
    let prefix = kind.address_prefix();
    let mut addr = Map::new();
    if let Some(street) = f(&format!("{prefix}Street")) {
        let street = street.replace("\r\n", "\n");
        let (first, second) = match street.split_once('\n') {
            Some((first, second)) => (first.trim(), Some(second.trim())),
            None => (street.trim(), None),
        };
        if !first.is_empty() {
            addr.insert("street_1".to_owned(), Value::from(first));
        }
        if let Some(second) = second.filter(|s| !s.is_empty()) {
            addr.insert("street_2".to_owned(), Value::from(second));
        }
    }
    for (common, suffix) in ADDRESS_FIELDS {
        if let Some(value) = f(&format!("{prefix}{suffix}")) {
            addr.insert((*common).to_owned(), Value::from(value));
        }
    }
    if addr.is_empty() {
        return None;
    }
    addr.insert("address_type".to_owned(), Value::from(kind.address_type()));
    Some(json!([addr]))
}

/// A common-model value as a Salesforce field value: strings as they are,
/// numbers and booleans as text, `null` as `null` (which clears the field on
/// an update). Arrays and objects do not fit.
fn text(name: &str, value: &Value) -> Result<Value, ConnectorError> {
    match value {
        Value::String(s) => Ok(Value::from(s.as_str())),
        Value::Number(n) => Ok(Value::from(n.to_string())),
        Value::Bool(b) => Ok(Value::from(b.to_string())),
        Value::Null => Ok(Value::Null),
        _ => Err(ConnectorError::invalid_data(format!(
            "{name} must be a string, not {value}"
        ))),
    }
}

/// The type of a list entry, upper-cased (`""` without one).
fn type_of(entry: &Value, type_key: &str) -> String {
    entry
        .get(type_key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_uppercase()
}

/// The first entry whose type is the first of `preferred` found, then the
/// first whose type is not in `excluded`.
fn pick<'a>(
    list: &'a [Value],
    type_key: &str,
    preferred: &[&str],
    excluded: &[&str],
) -> Option<&'a Value> {
    preferred
        .iter()
        .find_map(|want| list.iter().find(|v| type_of(v, type_key) == *want))
        .or_else(|| {
            list.iter()
                .find(|v| !excluded.contains(&type_of(v, type_key).as_str()))
        })
}

fn list<'a>(
    record: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a [Value]>, ConnectorError> {
    match record.get(name) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(&[])),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(other) => Err(ConnectorError::invalid_data(format!(
            "{name} must be a list, not {other}"
        ))),
    }
}

/// The `inner` value of a list entry as a field value (`null` without one).
fn entry_text(entry: Option<&Value>, inner: &str) -> Result<Value, ConnectorError> {
    match entry.and_then(|e| e.get(inner)) {
        Some(value) => text(inner, value),
        None => Ok(Value::Null),
    }
}

/// A common-model record as Salesforce fields (only the fields present; the
/// body of `POST`/`PATCH /sobjects/{type}`).
pub fn from_cdm(kind: Kind, record: &Value) -> Result<Map<String, Value>, ConnectorError> {
    let record = record.as_object().ok_or_else(|| {
        ConnectorError::invalid_data(format!("a {} must be a JSON object", kind.endgrate_type()))
    })?;
    let mut out = Map::new();
    let scalars: &[(&str, &str)] = match kind {
        Kind::Contact => &[
            ("first_name", "FirstName"),
            ("last_name", "LastName"),
            ("title", "Title"),
        ],
        Kind::Account => &[
            ("name", "Name"),
            ("website", "Website"),
            ("description", "Description"),
            ("industry", "Industry"),
        ],
    };
    for (common, name) in scalars {
        if let Some(value) = record.get(*common) {
            out.insert((*name).to_owned(), text(common, value)?);
        }
    }
    // Accounts have no domain field: a domain alone becomes the website.
    if kind == Kind::Account
        && !record.contains_key("website")
        && let Some(domain) = record.get("domain")
    {
        out.insert("Website".to_owned(), text("domain", domain)?);
    }
    if kind == Kind::Contact
        && let Some(emails) = list(record, "email_addresses")?
    {
        let email = pick(emails, "email_address_type", &["WORK"], &[]);
        out.insert("Email".to_owned(), entry_text(email, "email_address")?);
    }
    if let Some(phones) = list(record, "phone_numbers")? {
        match kind {
            Kind::Contact => {
                let work = pick(phones, "phone_number_type", &["WORK"], &["MOBILE"]);
                let mobile = phones
                    .iter()
                    .find(|p| type_of(p, "phone_number_type") == "MOBILE");
                out.insert("Phone".to_owned(), entry_text(work, "phone_number")?);
                out.insert(
                    "MobilePhone".to_owned(),
                    entry_text(mobile, "phone_number")?,
                );
            }
            Kind::Account => {
                let work = pick(phones, "phone_number_type", &["WORK"], &[]);
                out.insert("Phone".to_owned(), entry_text(work, "phone_number")?);
            }
        }
    }
    if let Some(addresses) = list(record, "addresses")? {
        let preferred: &[&str] = match kind {
            Kind::Contact => &["PRIMARY"],
            Kind::Account => &["BILLING", "PRIMARY"],
        };
        let chosen = pick(addresses, "address_type", preferred, &[]);
        let prefix = kind.address_prefix();
        let line = |name: &str| match entry_text(chosen, name)? {
            Value::String(s) if !s.trim().is_empty() => Ok(Some(s)),
            _ => Ok::<_, ConnectorError>(None),
        };
        let street = match (line("street_1")?, line("street_2")?) {
            (Some(first), Some(second)) => Value::from(format!("{first}\n{second}")),
            (Some(only), None) | (None, Some(only)) => Value::from(only),
            (None, None) => Value::Null,
        };
        out.insert(format!("{prefix}Street"), street);
        for (common, suffix) in ADDRESS_FIELDS {
            out.insert(format!("{prefix}{suffix}"), entry_text(chosen, common)?);
        }
    }
    Ok(out)
}
