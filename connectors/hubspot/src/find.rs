//! The upsert lookups of a whole push batch (`find-matches`), in as few
//! requests as HubSpot allows:
//! - contacts by email: one batch read by the unique `email` property
//!   (`POST /crm/v3/objects/contacts/batch/read` with `idProperty=email`),
//!   which counts against the general limit, not the search limit;
//! - other single-property keys (a company's domain or name): one search
//!   per property with the `IN` operator, for every item at once;
//! - anything else (a full name, a phone): one search per item, as
//!   `find-match` does.
//!
//! An item tries its key sets in priority order: every item's first key set
//! is asked in one round, the next key set of those still unmatched in the
//! next round, and so on. A request that fails fails only the items it
//! asked about.

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use switchyard_connector_sdk::json::from_json;
use switchyard_connector_sdk::prelude::*;

use crate::mapping::Kind;
use crate::{API, HubSpot, ObjectPage, id_of, key_text, parse};

/// Most ids in one batch read, and values in one `IN` filter.
const MAX_BATCH: usize = 100;
/// Most results one search page returns.
const SEARCH_PAGE: u32 = 200;

/// One key set, sorted by how it can be asked.
enum Key {
    /// A contact's email: the batch read.
    Email(String),
    /// One property equal to a value: an `IN` search.
    Property(&'static str, String),
    /// Anything else: `find-match`'s own search.
    Other(Json),
    /// Nothing HubSpot can match on.
    Unsupported(ConnectorError),
}

type Answer = Result<Option<String>, ConnectorError>;

pub fn find_matches(conn: &Connection, kind: Kind, items: Vec<Vec<Json>>) -> Vec<Answer> {
    let keys: Vec<Vec<Key>> = items
        .into_iter()
        .map(|sets| sets.into_iter().map(|set| classify(kind, set)).collect())
        .collect();
    let mut answers: Vec<Option<Answer>> = keys.iter().map(|_| None).collect();
    let mut asked = vec![false; keys.len()];
    let mut unsupported: Vec<Option<ConnectorError>> = keys.iter().map(|_| None).collect();
    let rounds = keys.iter().map(Vec::len).max().unwrap_or(0);
    for round in 0..rounds {
        // This round's question of each item still unanswered.
        let open: Vec<(usize, &Key)> = (0..keys.len())
            .filter(|&i| answers[i].is_none())
            .filter_map(|i| keys[i].get(round).map(|key| (i, key)))
            .collect();
        let mut emails = Vec::new();
        let mut properties: HashMap<&'static str, Vec<(usize, &str)>> = HashMap::new();
        for (i, key) in open {
            match key {
                Key::Email(email) => emails.push((i, email.as_str())),
                Key::Property(name, value) => properties
                    .entry(name)
                    .or_default()
                    .push((i, value.as_str())),
                Key::Other(keys) => match HubSpot::find_match(conn, kind.endgrate_type(), keys) {
                    Ok(None) => asked[i] = true,
                    Err(e @ ConnectorError::Unsupported(_)) => unsupported[i] = Some(e),
                    answer => answers[i] = Some(answer),
                },
                Key::Unsupported(e) => unsupported[i] = Some(e.clone()),
            }
        }
        let mut settle =
            |asking: &[(usize, &str)], found: Result<HashMap<String, String>, ConnectorError>| {
                for &(i, value) in asking {
                    match &found {
                        Ok(ids) => match ids.get(&value.to_lowercase()) {
                            Some(id) => answers[i] = Some(Ok(Some(id.clone()))),
                            None => asked[i] = true,
                        },
                        Err(e) => answers[i] = Some(Err(e.clone())),
                    }
                }
            };
        for chunk in emails.chunks(MAX_BATCH) {
            let values: Vec<&str> = chunk.iter().map(|(_, v)| *v).collect();
            settle(chunk, read_contacts_by_email(&values));
        }
        for (property, asking) in properties {
            for chunk in asking.chunks(MAX_BATCH) {
                let values: Vec<&str> = chunk.iter().map(|(_, v)| *v).collect();
                settle(chunk, search_in(kind, property, &values));
            }
        }
    }
    answers
        .into_iter()
        .enumerate()
        .map(|(i, answer)| match answer {
            Some(answer) => answer,
            None => match unsupported[i].take() {
                Some(e) if !asked[i] => Err(e),
                _ => Ok(None),
            },
        })
        .collect()
}

/// How a key set (a JSON object of common-model fields) can be asked.
fn classify(kind: Kind, keys: Json) -> Key {
    let parsed: Result<Map<String, Value>, _> = from_json(&keys);
    let Ok(parsed) = parsed else {
        return Key::Unsupported(ConnectorError::invalid_data(format!(
            "HubSpot: a lookup key is not a JSON object: {keys}"
        )));
    };
    if parsed.len() != 1 {
        return Key::Other(keys);
    }
    let Some((field, value)) = parsed.iter().next() else {
        return Key::Other(keys);
    };
    let single = |property: &'static str, inner: &str| match key_text(value, inner) {
        Some(text) => Key::Property(property, text),
        None => Key::Other(keys.clone()),
    };
    match (kind, field.as_str()) {
        (Kind::Contacts, "email" | "email_address" | "email_addresses") => {
            match key_text(value, "email_address") {
                Some(email) => Key::Email(email),
                None => Key::Other(keys.clone()),
            }
        }
        (Kind::Companies, "domain") => single("domain", ""),
        (Kind::Companies, "name") => single("name", ""),
        _ => Key::Other(keys.clone()),
    }
}

/// Contact ids by email (lowercased), in one batch read. Emails HubSpot
/// does not know are simply absent (HubSpot answers `207` with an error
/// listing them).
fn read_contacts_by_email(emails: &[&str]) -> Result<HashMap<String, String>, ConnectorError> {
    let inputs: Vec<Value> = emails.iter().map(|e| json!({ "id": e })).collect();
    let body = json!({ "idProperty": "email", "inputs": inputs, "properties": ["email"] });
    let response = API
        .post("/crm/v3/objects/contacts/batch/read")
        .idempotent(true)
        .json_body(&body)?
        .send()?;
    if response.status() == 404 {
        return Ok(HashMap::new());
    }
    let page: ObjectPage = parse(response)?;
    Ok(page
        .results
        .iter()
        .filter_map(|c| {
            let email = c["properties"]["email"].as_str()?.to_lowercase();
            Some((email, id_of(c.get("id")?)?))
        })
        .collect())
}

/// Record ids by the value (lowercased) of `property`, for every value at
/// once: an `IN` search, paged. The first record found for a value wins.
fn search_in(
    kind: Kind,
    property: &str,
    values: &[&str],
) -> Result<HashMap<String, String>, ConnectorError> {
    let mut found = HashMap::new();
    let mut after: Option<Value> = None;
    loop {
        let mut body = json!({
            "filterGroups": [{ "filters": [{ "propertyName": property, "operator": "IN", "values": values }] }],
            "properties": [property],
            "limit": SEARCH_PAGE,
        });
        if let Some(after) = &after {
            body["after"] = after.clone();
        }
        let page: ObjectPage = parse(
            API.post(format!("/crm/v3/objects/{}/search", kind.path()))
                .idempotent(true)
                .rate_class("search")
                .json_body(&body)?
                .send()?,
        )?;
        for record in &page.results {
            let value = record["properties"][property]
                .as_str()
                .map(str::to_lowercase);
            if let (Some(value), Some(id)) = (value, record.get("id").and_then(id_of)) {
                found.entry(value).or_insert(id);
            }
        }
        match page.paging.and_then(|p| p.next).map(|n| n.after) {
            Some(next) if !page.results.is_empty() => after = Some(next),
            _ => return Ok(found),
        }
    }
}
