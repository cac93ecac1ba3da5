//! The upsert lookups of a whole push batch (`find-matches`), in as few
//! requests as HubSpot allows. Every item's key sets are asked at once, and
//! each item then takes the first of its key sets that matched:
//! - contacts by email: one batch read by the unique `email` property
//!   (`POST /crm/v3/objects/contacts/batch/read` with `idProperty=email`),
//!   which counts against the general limit, not the search limit;
//! - every other key (a contact's phone or full name, a company's domain or
//!   name): one search for the whole batch, one filter group per property
//!   with the `IN` operator (a full name is looked up by last name and
//!   matched on both names here), paced under the `search` rate class;
//! - an object subject's key set of one property: in the same batch search,
//!   one `IN` filter group per property;
//! - a key set of any other shape: one search per item, as `find-match` does.
//!
//! A request that fails fails only the items that needed its answer.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value, json};
use switchyard_connector_sdk::json::from_json;
use switchyard_connector_sdk::lookups::Lookups;
use switchyard_connector_sdk::prelude::*;

use crate::mapping::Kind;
use crate::objects;
use crate::resource::{Resource, property_name};
use crate::{API, HubSpot, ObjectPage, id_of, key_text, parse};

/// Most ids in one batch read, and values in one `IN` filter.
const MAX_VALUES: usize = 100;
/// Items the host may pass to one `find-matches` call: a search's five
/// filter groups of 100 values cover 500 items on one property, so asking
/// the lookups of five push batches at once takes a fifth of the searches.
pub const MAX_LOOKUP_BATCH: u32 = (MAX_GROUPS * MAX_VALUES) as u32;
/// Most filter groups in one search (HubSpot's limit).
const MAX_GROUPS: usize = 5;
/// Most results one search page returns.
const SEARCH_PAGE: u32 = 200;

/// One key set, by how it is asked.
#[derive(Debug)]
enum Key {
    /// A contact's email: the batch read.
    Email(String),
    /// Any of these properties equal to the value (a phone is `phone` or
    /// `mobilephone`): the batch search.
    AnyOf(Vec<String>, String),
    /// A contact's first and last name: the batch search by last name.
    Name { first: String, last: String },
    /// Anything else: `find-match`'s own search, for this item alone.
    Other(Json),
    /// An empty key: it matches nothing, without asking.
    Nothing,
    /// Nothing HubSpot can match on.
    Unsupported(ConnectorError),
}

type Answer = Result<Option<String>, ConnectorError>;

/// Record ids by what was asked, or why the request failed.
type Ids<K> = Result<HashMap<K, String>, ConnectorError>;

/// What the batch requests found: ids by lowercased value, per property.
#[derive(Default)]
struct Found {
    emails: Option<Ids<String>>,
    by_property: Option<Ids<(String, String)>>,
    names: HashMap<(String, String), String>,
}

pub fn find_matches(conn: &Connection, resource: Resource, items: Vec<Vec<Json>>) -> Vec<Answer> {
    let keys: Vec<Vec<Key>> = items
        .into_iter()
        .map(|sets| {
            sets.into_iter()
                .map(|set| classify(resource, set))
                .collect()
        })
        .collect();
    let found = fetch(resource, &keys);
    keys.iter()
        .map(|key_sets| resolve(conn, resource, key_sets, &found))
        .collect()
}

/// The batch requests for every key of every item.
fn fetch(resource: Resource, keys: &[Vec<Key>]) -> Found {
    let mut emails = BTreeSet::new();
    let mut values: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for key in keys.iter().flatten() {
        match key {
            Key::Email(email) => {
                emails.insert(email.to_lowercase());
            }
            Key::AnyOf(properties, value) => {
                for property in properties {
                    values
                        .entry(property.clone())
                        .or_default()
                        .insert(value.clone());
                }
            }
            Key::Name { last, .. } => {
                values
                    .entry("lastname".to_owned())
                    .or_default()
                    .insert(last.clone());
            }
            Key::Other(_) | Key::Nothing | Key::Unsupported(_) => {}
        }
    }
    let mut found = Found::default();
    if !emails.is_empty() {
        let emails: Vec<String> = emails.into_iter().collect();
        found.emails = Some(read_contacts_by_email(&emails));
    }
    if !values.is_empty() {
        let mut properties: Vec<&str> = values.keys().map(String::as_str).collect();
        if resource == Resource::Common(Kind::Contacts) {
            properties.push("firstname");
        }
        found.by_property = Some(
            search_in(resource.path(), &values, &properties).map(|records| {
                let mut by_property = HashMap::new();
                for record in &records {
                    let Some(id) = record.get("id").and_then(id_of) else {
                        continue;
                    };
                    let property = |name: &str| {
                        record["properties"][name]
                            .as_str()
                            .map(|v| v.trim().to_lowercase())
                    };
                    for name in values.keys() {
                        if let Some(value) = property(name) {
                            by_property
                                .entry((name.clone(), value))
                                .or_insert_with(|| id.clone());
                        }
                    }
                    if let (Some(first), Some(last)) = (property("firstname"), property("lastname"))
                    {
                        found.names.entry((first, last)).or_insert(id);
                    }
                }
                by_property
            }),
        );
    }
    found
}

/// An item's answer: its first key set that matched. A failed request
/// decides only if no earlier key set matched.
fn resolve(conn: &Connection, resource: Resource, key_sets: &[Key], found: &Found) -> Answer {
    let mut lookup = Lookups::new(1);
    for key in key_sets {
        if !lookup.is_open(0) {
            break;
        }
        let outcome = match key {
            Key::Email(email) => match &found.emails {
                Some(Ok(ids)) => Ok(ids.get(&email.to_lowercase()).cloned()),
                Some(Err(e)) => Err(e.clone()),
                None => Ok(None),
            },
            Key::AnyOf(properties, value) => match &found.by_property {
                Some(Ok(ids)) => Ok(properties
                    .iter()
                    .find_map(|p| ids.get(&(p.clone(), value.to_lowercase())).cloned())),
                Some(Err(e)) => Err(e.clone()),
                None => Ok(None),
            },
            Key::Name { first, last } => match &found.by_property {
                Some(Ok(_)) => Ok(found
                    .names
                    .get(&(first.to_lowercase(), last.to_lowercase()))
                    .cloned()),
                Some(Err(e)) => Err(e.clone()),
                None => Ok(None),
            },
            Key::Other(keys) => HubSpot::find_match(conn, &resource.subject(), keys),
            Key::Nothing => Ok(None),
            Key::Unsupported(e) => Err(e.clone()),
        };
        lookup.record(0, outcome);
    }
    lookup.finish().remove(0)
}

/// How a key set (a JSON object of common-model fields, or of an object
/// subject's properties) can be asked.
fn classify(resource: Resource, keys: Json) -> Key {
    let parsed: Result<Map<String, Value>, _> = from_json(&keys);
    let Ok(parsed) = parsed else {
        return Key::Unsupported(ConnectorError::invalid_data(format!(
            "HubSpot: a lookup key is not a JSON object: {keys}"
        )));
    };
    let kind = match resource {
        Resource::Common(kind) => kind,
        Resource::Object(_) => return classify_properties(parsed, keys),
    };
    let text = |field: &str, inner: &str| parsed.get(field).and_then(|v| key_text(v, inner));
    let fields: Vec<&str> = parsed.keys().map(String::as_str).collect();
    let phone_properties = match kind {
        Kind::Contacts => vec!["phone".to_owned(), "mobilephone".to_owned()],
        Kind::Companies => vec!["phone".to_owned()],
    };
    let key = match (kind, fields.as_slice()) {
        (Kind::Contacts, [field @ ("email" | "email_address" | "email_addresses")]) => {
            text(field, "email_address").map(Key::Email)
        }
        (_, [field @ ("phone" | "phone_number" | "phone_numbers")]) => {
            text(field, "phone_number").map(|p| Key::AnyOf(phone_properties, p))
        }
        (Kind::Contacts, ["first_name", "last_name"] | ["last_name", "first_name"]) => {
            match (text("first_name", ""), text("last_name", "")) {
                (Some(first), Some(last)) => Some(Key::Name { first, last }),
                _ => None,
            }
        }
        (Kind::Companies, [field @ ("domain" | "name")]) => {
            text(field, "").map(|v| Key::AnyOf(vec![(*field).to_owned()], v))
        }
        _ => None,
    };
    key.unwrap_or(Key::Other(keys))
}

/// How an object subject's key set (properties and values) can be asked:
/// one property in the batch search, several in a search of their own.
fn classify_properties(parsed: Map<String, Value>, keys: Json) -> Key {
    let mut single: Option<(String, String)> = None;
    for (name, value) in &parsed {
        if let Err(e) = property_name(name) {
            return Key::Unsupported(e);
        }
        match objects::key_value(name, value) {
            Ok(Some(text)) => single = Some((name.clone(), text)),
            Ok(None) => return Key::Nothing,
            Err(e) => return Key::Unsupported(e),
        }
    }
    match single {
        Some((name, text)) if parsed.len() == 1 => Key::AnyOf(vec![name], text),
        None => Key::Nothing,
        Some(_) => Key::Other(keys),
    }
}

/// Contact ids by email (lowercased), in batch reads of 100. Emails HubSpot
/// does not know are simply absent (HubSpot answers `207` with an error
/// listing them).
fn read_contacts_by_email(emails: &[String]) -> Result<HashMap<String, String>, ConnectorError> {
    let mut found = HashMap::new();
    for chunk in emails.chunks(MAX_VALUES) {
        let inputs: Vec<Value> = chunk.iter().map(|e| json!({ "id": e })).collect();
        let body = json!({ "idProperty": "email", "inputs": inputs, "properties": ["email"] });
        let response = API
            .post("/crm/v3/objects/contacts/batch/read")
            .idempotent(true)
            .json_body(&body)?
            .send()?;
        if response.status() == 404 {
            continue;
        }
        let page: ObjectPage = parse(response)?;
        found.extend(page.results.iter().filter_map(|c| {
            let email = c["properties"]["email"].as_str()?.to_lowercase();
            Some((email, id_of(c.get("id")?)?))
        }));
    }
    Ok(found)
}

/// Every record at `path` whose property equals one of the values asked
/// for it: one filter group per property and 100 values, five groups a
/// search, paged. The records carry `properties`.
fn search_in(
    path: &str,
    values: &BTreeMap<String, BTreeSet<String>>,
    properties: &[&str],
) -> Result<Vec<Value>, ConnectorError> {
    let mut groups = Vec::new();
    for (property, values) in values {
        let values: Vec<&String> = values.iter().collect();
        for chunk in values.chunks(MAX_VALUES) {
            groups.push(json!({ "filters": [{ "propertyName": property, "operator": "IN", "values": chunk }] }));
        }
    }
    let mut records = Vec::new();
    for groups in groups.chunks(MAX_GROUPS) {
        let mut after: Option<Value> = None;
        loop {
            let mut body = json!({
                "filterGroups": groups,
                "properties": properties,
                "limit": SEARCH_PAGE,
            });
            if let Some(after) = &after {
                body["after"] = after.clone();
            }
            let mut page: ObjectPage = parse(
                API.post(format!("/crm/v3/objects/{path}/search"))
                    .idempotent(true)
                    .rate_class("search")
                    .json_body(&body)?
                    .send()?,
            )?;
            let more = page.paging.take().and_then(|p| p.next).map(|n| n.after);
            let empty = page.results.is_empty();
            records.append(&mut page.results);
            match more {
                Some(next) if !empty => after = Some(next),
                _ => break,
            }
        }
    }
    Ok(records)
}
