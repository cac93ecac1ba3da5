//! Pipedrive persons and organizations ↔ the common data model.
//!
//! Pipedrive API v2 records are plain JSON objects: a person has `name`,
//! `first_name`, `last_name`, `org_id` and labelled `emails`/`phones` lists;
//! an organization has `name` and an `address` object. Organizations have no
//! website field of their own: the account keeps it in a custom field
//! ([`WebsiteField`], found by [`crate::fields`]).

use serde_json::{Map, Value, json};
use switchyard_connector_sdk::ConnectorError;

/// The two Pipedrive entity types this connector moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Persons,
    Organizations,
}

impl Kind {
    /// The fields (discovery's keys) this connector carries in the common
    /// model; the others can come along as passthrough fields.
    pub fn mapped_fields(self) -> &'static [&'static str] {
        match self {
            Kind::Persons => &[
                "id",
                "name",
                "first_name",
                "last_name",
                "email",
                "phone",
                "org_id",
                "update_time",
            ],
            Kind::Organizations => &["id", "name", "address", "update_time"],
        }
    }

    /// The kind of a common type, or `unsupported`.
    pub fn from_type(endgrate_type: &str) -> Result<Kind, ConnectorError> {
        match endgrate_type {
            "crm-contact" => Ok(Kind::Persons),
            "crm-company" => Ok(Kind::Organizations),
            other => Err(ConnectorError::unsupported(format!(
                "Pipedrive does not support the common type {other}"
            ))),
        }
    }

    /// The entity type in API paths (`/api/v2/persons`).
    pub fn path(self) -> &'static str {
        match self {
            Kind::Persons => "persons",
            Kind::Organizations => "organizations",
        }
    }

    /// The common type.
    pub fn endgrate_type(self) -> &'static str {
        match self {
            Kind::Persons => "crm-contact",
            Kind::Organizations => "crm-company",
        }
    }

    /// The type it associates with.
    pub fn other(self) -> Kind {
        match self {
            Kind::Persons => Kind::Organizations,
            Kind::Organizations => Kind::Persons,
        }
    }

    /// One record, as messages say it.
    pub fn singular(self) -> &'static str {
        match self {
            Kind::Persons => "person",
            Kind::Organizations => "organization",
        }
    }
}

/// Where an account keeps an organization's website.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebsiteField {
    /// A custom field: `custom_fields.<40-character hash>`.
    Custom(String),
    /// A field at the top level of the record (a standard field).
    Standard(String),
}

impl WebsiteField {
    /// The field behind an `organizationFields` key: Pipedrive's custom field
    /// keys are 40 hexadecimal characters, anything else is a standard field.
    pub fn from_key(key: &str) -> WebsiteField {
        if key.len() == 40 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
            WebsiteField::Custom(key.to_owned())
        } else {
            WebsiteField::Standard(key.to_owned())
        }
    }

    /// The field's value in a raw organization.
    pub fn read(&self, raw: &Value) -> Option<String> {
        let value = match self {
            WebsiteField::Custom(key) => raw.get("custom_fields")?.get(key)?,
            WebsiteField::Standard(key) => raw.get(key)?,
        };
        field_text(value)
    }

    /// Writes `value` into a write body.
    fn write(&self, body: &mut Map<String, Value>, value: String) {
        match self {
            WebsiteField::Custom(key) => {
                let custom = body
                    .entry("custom_fields")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(custom) = custom {
                    custom.insert(key.clone(), Value::from(value));
                }
            }
            WebsiteField::Standard(key) => {
                body.insert(key.clone(), Value::from(value));
            }
        }
    }
}

/// A field value as text: strings (trimmed, non-empty), numbers, and v2's
/// `{"value": ...}` objects of custom fields with subfields.
fn field_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(inner) => field_text(inner.get("value")?),
        _ => None,
    }
}

/// A Pipedrive id (a number; strings accepted) as text.
pub fn id_of(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        // v1 and search answers nest related records: `{"value": 5}` / `{"id": 5}`.
        Value::Object(inner) => inner
            .get("value")
            .or_else(|| inner.get("id"))
            .and_then(id_of),
        _ => None,
    }
}

/// The organization a person belongs to (`org_id`), if any.
pub fn org_id_of(person: &Value) -> Option<String> {
    person.get("org_id").and_then(id_of)
}

/// The host of a website (`https://www.acme.com/about` → `acme.com`), the
/// common model's `domain`. `None` when there is no dotted host.
pub fn domain_of(website: &str) -> Option<String> {
    let text = website.trim();
    let rest = text.split_once("://").map_or(text, |(_, rest)| rest);
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, host)| host);
    let host = host.split(':').next().unwrap_or_default();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_owned();
    (host.contains('.') && !host.starts_with('.')).then_some(host)
}

/// A raw Pipedrive record (a bare record, or an API answer `{"data": {...}}`)
/// in the common model. `website` says where organizations keep theirs.
pub fn to_cdm(kind: Kind, raw: &Value, website: Option<&WebsiteField>) -> Value {
    let raw = match raw.get("data") {
        Some(data) if data.is_object() && raw.get("id").is_none() => data,
        _ => raw,
    };
    match kind {
        Kind::Persons => person_to_cdm(raw),
        Kind::Organizations => organization_to_cdm(raw, website),
    }
}

/// `text` with runs of whitespace as one space.
fn normal_spaces(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A top-level text field.
fn text_at(raw: &Value, name: &str) -> Option<String> {
    match raw.get(name)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

fn person_to_cdm(raw: &Value) -> Value {
    let mut out = Map::new();
    let mut first = text_at(raw, "first_name");
    let mut last = text_at(raw, "last_name");
    // `name` is what writes set; the parts are derived from it. When they
    // are missing or disagree with it, `name` wins, split at the first space
    // as Pipedrive does.
    if let Some(name) = text_at(raw, "name") {
        let parts: Vec<&str> = [first.as_deref(), last.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if normal_spaces(&parts.join(" ")) != normal_spaces(&name) {
            let (f, l) = name.split_once(' ').unwrap_or((name.as_str(), ""));
            first = Some(f.to_owned());
            last = Some(l.trim().to_owned()).filter(|l| !l.is_empty());
        }
    }
    if let Some(first) = first {
        out.insert("first_name".to_owned(), Value::from(first));
    }
    if let Some(last) = last {
        out.insert("last_name".to_owned(), Value::from(last));
    }
    let emails = labelled(
        raw,
        "emails",
        "email_address",
        "email_address_type",
        |label| match label {
            "" | "work" => "WORK",
            "home" | "personal" => "PERSONAL",
            _ => "OTHER",
        },
    );
    if let Some(emails) = emails {
        out.insert("email_addresses".to_owned(), emails);
    }
    let phones = labelled(
        raw,
        "phones",
        "phone_number",
        "phone_number_type",
        |label| match label {
            "" | "work" => "WORK",
            "mobile" | "cell" => "MOBILE",
            "home" => "HOME",
            _ => "OTHER",
        },
    );
    if let Some(phones) = phones {
        out.insert("phone_numbers".to_owned(), phones);
    }
    if let Some(updated) = text_at(raw, "update_time") {
        out.insert("updated_at".to_owned(), Value::from(updated));
    }
    Value::Object(out)
}

/// A Pipedrive `[{value, label, primary}]` list as common-model entries
/// `[{<value_key>, <type_key>}]`, the primary entry first; entries without a
/// value are skipped.
fn labelled(
    raw: &Value,
    list: &str,
    value_key: &str,
    type_key: &str,
    kind_of: impl Fn(&str) -> &'static str,
) -> Option<Value> {
    let items = raw.get(list)?.as_array()?;
    let mut entries: Vec<(bool, Value)> = items
        .iter()
        .filter_map(|item| {
            let value = field_text(item.get("value")?)?;
            let label = item
                .get("label")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            let primary = item.get("primary").and_then(Value::as_bool) == Some(true);
            Some((
                primary,
                json!({ value_key: value, type_key: kind_of(&label) }),
            ))
        })
        .collect();
    // Stable: the primary entry moves to the front, the rest keep their order.
    entries.sort_by_key(|(primary, _)| !primary);
    let entries: Vec<Value> = entries.into_iter().map(|(_, v)| v).collect();
    (!entries.is_empty()).then_some(Value::Array(entries))
}

fn organization_to_cdm(raw: &Value, website: Option<&WebsiteField>) -> Value {
    let mut out = Map::new();
    if let Some(name) = text_at(raw, "name") {
        out.insert("name".to_owned(), Value::from(name));
    }
    // Without a known field, a top-level `website` (should Pipedrive add a
    // standard one) is used.
    let site = website
        .and_then(|field| field.read(raw))
        .or_else(|| text_at(raw, "website"));
    if let Some(site) = site {
        if let Some(domain) = domain_of(&site) {
            out.insert("domain".to_owned(), Value::from(domain));
        }
        out.insert("website".to_owned(), Value::from(site));
    }
    if let Some(address) = raw.get("address").and_then(address_to_cdm) {
        out.insert("addresses".to_owned(), json!([address]));
    }
    if let Some(updated) = text_at(raw, "update_time") {
        out.insert("updated_at".to_owned(), Value::from(updated));
    }
    Value::Object(out)
}

/// Pipedrive's `address` object as a common `address`.
fn address_to_cdm(address: &Value) -> Option<Value> {
    let part = |name: &str| address.get(name).and_then(field_text);
    let mut out = Map::new();
    let street: Vec<String> = [part("street_number"), part("route")]
        .into_iter()
        .flatten()
        .collect();
    let components = [
        ("street_1", (!street.is_empty()).then(|| street.join(" "))),
        ("street_2", part("subpremise")),
        ("city", part("locality")),
        ("state", part("admin_area_level_1")),
        ("postal_code", part("postal_code")),
        ("country", part("country")),
    ];
    for (field, value) in components {
        if let Some(value) = value {
            out.insert(field.to_owned(), Value::from(value));
        }
    }
    if out.is_empty() {
        // Only the text the user typed: keep it whole.
        let value = part("value").or_else(|| part("formatted_address"))?;
        out.insert("street_1".to_owned(), Value::from(value));
    }
    out.insert("address_type".to_owned(), Value::from("PRIMARY"));
    Some(Value::Object(out))
}

/// A common-model value as text: strings as they are, numbers and booleans
/// as text, `null` as `""`. Arrays and objects do not fit.
fn text(field: &str, value: &Value) -> Result<String, ConnectorError> {
    match value {
        Value::String(s) => Ok(s.trim().to_owned()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Ok(String::new()),
        _ => Err(ConnectorError::invalid_data(format!(
            "{field} must be a string, not {value}"
        ))),
    }
}

fn list<'a>(
    record: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a [Value]>, ConnectorError> {
    match record.get(field) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(&[])),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(other) => Err(ConnectorError::invalid_data(format!(
            "{field} must be a list, not {other}"
        ))),
    }
}

fn object(kind: Kind, record: &Value) -> Result<&Map<String, Value>, ConnectorError> {
    record.as_object().ok_or_else(|| {
        ConnectorError::invalid_data(format!("a {} must be a JSON object", kind.endgrate_type()))
    })
}

/// Whether writing `record` over an existing person needs its current name:
/// one name part is given and the other is not (Pipedrive only takes the
/// whole `name`).
pub fn needs_current_name(record: &Value) -> bool {
    let has = |field: &str| record.get(field).is_some();
    has("first_name") != has("last_name")
}

/// A common-model contact as a Pipedrive person write body (only the fields
/// present). `current` is the stored person, for updates that change one name
/// part only.
pub fn person_from_cdm(
    record: &Value,
    current: Option<&Value>,
) -> Result<Map<String, Value>, ConnectorError> {
    let record = object(Kind::Persons, record)?;
    let mut body = Map::new();
    let first = record.get("first_name");
    let last = record.get("last_name");
    if first.is_some() || last.is_some() {
        let part = |given: Option<&Value>, field: &str| -> Result<String, ConnectorError> {
            match given {
                Some(value) => text(field, value),
                None => Ok(current
                    .map(person_to_cdm)
                    .and_then(|c| c.get(field).and_then(Value::as_str).map(str::to_owned))
                    .unwrap_or_default()),
            }
        };
        let parts = [part(first, "first_name")?, part(last, "last_name")?];
        let name: Vec<&str> = parts
            .iter()
            .map(String::as_str)
            .filter(|p| !p.is_empty())
            .collect();
        body.insert("name".to_owned(), Value::from(name.join(" ")));
    }
    if let Some(emails) = list(record, "email_addresses")? {
        let entries = labelled_from_cdm(
            emails,
            "email_address",
            "email_address_type",
            |ty| match ty {
                "WORK" => Some("work"),
                "PERSONAL" | "HOME" => Some("home"),
                "OTHER" => Some("other"),
                _ => None,
            },
        )?;
        body.insert("emails".to_owned(), Value::Array(entries));
    }
    if let Some(phones) = list(record, "phone_numbers")? {
        let entries =
            labelled_from_cdm(phones, "phone_number", "phone_number_type", |ty| match ty {
                "WORK" => Some("work"),
                "MOBILE" => Some("mobile"),
                "HOME" => Some("home"),
                "OTHER" => Some("other"),
                _ => None,
            })?;
        body.insert("phones".to_owned(), Value::Array(entries));
    }
    Ok(body)
}

/// Common-model entries as Pipedrive's `[{value, primary, label}]`: the first
/// entry is primary; entries without a value are skipped; a missing or
/// unknown type leaves the label to Pipedrive.
fn labelled_from_cdm(
    entries: &[Value],
    value_key: &str,
    type_key: &str,
    label_of: impl Fn(&str) -> Option<&'static str>,
) -> Result<Vec<Value>, ConnectorError> {
    let mut out = Vec::new();
    for entry in entries {
        let value = match entry {
            // A bare string is taken as the value.
            Value::String(_) => text(value_key, entry)?,
            Value::Object(fields) => fields
                .get(value_key)
                .map(|v| text(value_key, v))
                .transpose()?
                .unwrap_or_default(),
            other => {
                return Err(ConnectorError::invalid_data(format!(
                    "each {value_key} entry must be an object, not {other}"
                )));
            }
        };
        if value.is_empty() {
            continue;
        }
        let mut item = Map::new();
        item.insert("value".to_owned(), Value::from(value));
        item.insert("primary".to_owned(), Value::from(out.is_empty()));
        let ty = entry
            .get(type_key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_ascii_uppercase();
        if let Some(label) = label_of(&ty) {
            item.insert("label".to_owned(), Value::from(label));
        }
        out.push(Value::Object(item));
    }
    Ok(out)
}

/// A common-model company as a Pipedrive organization write body (only the
/// fields present). `website` (or, without it, `domain` as
/// `https://<domain>`) goes to the account's website field; with none known
/// it is left out and reported back as the second value.
pub fn organization_from_cdm(
    record: &Value,
    website: Option<&WebsiteField>,
) -> Result<(Map<String, Value>, bool), ConnectorError> {
    let record = object(Kind::Organizations, record)?;
    let mut body = Map::new();
    if let Some(name) = record.get("name") {
        body.insert("name".to_owned(), Value::from(text("name", name)?));
    }
    let site = match (record.get("website"), record.get("domain")) {
        (Some(site), _) => Some(text("website", site)?),
        (None, Some(domain)) => {
            let domain = text("domain", domain)?;
            Some(if domain.is_empty() {
                domain
            } else {
                format!("https://{domain}")
            })
        }
        (None, None) => None,
    };
    let mut dropped_website = false;
    if let Some(site) = site {
        match website {
            Some(field) => field.write(&mut body, site),
            None => dropped_website = !site.is_empty(),
        }
    }
    if let Some(addresses) = list(record, "addresses")? {
        let chosen = addresses
            .iter()
            .find(|a| {
                a.get("address_type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case("PRIMARY"))
            })
            .or_else(|| addresses.first());
        let address = chosen.map(address_from_cdm).transpose()?.flatten();
        body.insert("address".to_owned(), address.unwrap_or(Value::Null));
    }
    Ok((body, dropped_website))
}

/// A common `address` as Pipedrive's `address` object: the components, and
/// `value`, the whole address as one line (what Pipedrive shows). `None`
/// when it holds nothing.
fn address_from_cdm(address: &Value) -> Result<Option<Value>, ConnectorError> {
    let Value::Object(fields) = address else {
        return Err(ConnectorError::invalid_data(format!(
            "an address must be an object, not {address}"
        )));
    };
    let part = |field: &str| -> Result<String, ConnectorError> {
        fields
            .get(field)
            .map(|v| text(field, v))
            .transpose()
            .map(Option::unwrap_or_default)
    };
    let street_1 = part("street_1")?;
    let street_2 = part("street_2")?;
    let city = part("city")?;
    let state = part("state")?;
    let postal_code = part("postal_code")?;
    let country = part("country")?;
    let state_zip = [state.as_str(), postal_code.as_str()]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let line = [
        street_1.as_str(),
        street_2.as_str(),
        city.as_str(),
        state_zip.as_str(),
        country.as_str(),
    ]
    .into_iter()
    .filter(|p| !p.is_empty())
    .collect::<Vec<_>>()
    .join(", ");
    if line.is_empty() {
        return Ok(None);
    }
    let mut out = Map::new();
    out.insert("value".to_owned(), Value::from(line));
    let components = [
        ("route", street_1),
        ("subpremise", street_2),
        ("locality", city),
        ("admin_area_level_1", state),
        ("postal_code", postal_code),
        ("country", country),
    ];
    for (name, value) in components {
        if !value.is_empty() {
            out.insert(name.to_owned(), Value::from(value));
        }
    }
    Ok(Some(Value::Object(out)))
}

/// Leaves out of a create body what means nothing there: empty strings,
/// `null`, empty lists and empty custom fields.
pub fn drop_empty(body: &mut Map<String, Value>) {
    fn empty(value: &Value) -> bool {
        match value {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Array(items) => items.is_empty(),
            Value::Object(fields) => fields.is_empty(),
            _ => false,
        }
    }
    if let Some(Value::Object(custom)) = body.get_mut("custom_fields") {
        custom.retain(|_, v| !empty(v));
    }
    body.retain(|_, v| !empty(v));
}
