//! Object subjects (`object:p_projects`): a custom object's records as its
//! own properties, through the requests contacts and companies use.
//!
//! - A pull lists `GET /crm/v3/objects/{name}` or, with `since`, searches
//!   on `hs_lastmodifieddate` (see [`read_page`](crate::read_page)); its
//!   `passthrough-fields` are the properties each record's `data` holds,
//!   as HubSpot sends them (text), nulls left out.
//! - A push sends `data`'s properties through the batch create and update
//!   endpoints (see [`push`](crate::push)), values as text.
//! - A lookup's key set is properties and values; a single-property key set
//!   is asked for the whole batch in one `IN` search (see
//!   [`find`](crate::find)), any other with `EQ` filters.

use serde_json::{Map, Value};
use switchyard_connector_sdk::json::from_json;
use switchyard_connector_sdk::prelude::*;

use crate::resource::{OBJECT_MODIFIED, property_name};
use crate::{Listing, is_archived, read_page, record_id, search_eq};

/// The properties a pull of an object asks for, checked and without
/// repeats.
fn asked(req: &PullRequest) -> Result<Vec<String>, ConnectorError> {
    let mut asked: Vec<String> = Vec::with_capacity(req.passthrough_fields.len());
    for name in &req.passthrough_fields {
        property_name(name)?;
        if !asked.contains(name) {
            asked.push(name.clone());
        }
    }
    Ok(asked)
}

/// One page of records of object `name`.
pub fn pull(name: &str, req: &PullRequest) -> Result<Page, ConnectorError> {
    if let Some(other) = req.associations.first() {
        return Err(ConnectorError::unsupported(format!(
            "HubSpot does not link records of the object {name} to {other}"
        )));
    }
    let asked = asked(req)?;
    // The modification time too: an incremental pull's cursor goes on
    // from it.
    let mut properties = asked.clone();
    if !properties.iter().any(|p| p == OBJECT_MODIFIED) {
        properties.push(OBJECT_MODIFIED.to_owned());
    }
    let listing = Listing {
        path: name,
        modified: OBJECT_MODIFIED,
        properties,
        associations: None,
    };
    let (page, next, _) = read_page(&listing, req)?;
    let mut records = Vec::with_capacity(page.results.len());
    for raw in &page.results {
        let id = record_id(raw, name)?;
        if is_archived(raw) {
            records.push(PulledRecord::deleted(id));
            continue;
        }
        records.push(PulledRecord::new(id, &data_of(raw, &asked))?.with_remote(req, raw)?);
    }
    log::debug!("hubspot: pulled {} {name}", records.len());
    Ok(Page::new(records, next))
}

/// The `asked` properties of a raw record, as HubSpot sent them; a
/// property without a value (absent or `null`) is left out.
pub fn data_of(raw: &Value, asked: &[String]) -> Map<String, Value> {
    let Some(properties) = raw.get("properties").and_then(Value::as_object) else {
        return Map::new();
    };
    asked
        .iter()
        .filter_map(|name| {
            let value = properties.get(name).filter(|v| !v.is_null())?;
            Some((name.clone(), value.clone()))
        })
        .collect()
}

/// Every property a written record came back with, nulls left out.
pub fn returned(raw: &Value) -> Map<String, Value> {
    raw.get("properties")
        .and_then(Value::as_object)
        .map(|properties| {
            properties
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// A pushed value as HubSpot stores every value: text. Numbers and
/// booleans are written out, `null` is `""` (which clears the property on
/// an update), a list of values is `;`-separated (a multiple checkbox).
fn text(name: &str, value: Value) -> Result<String, ConnectorError> {
    let scalar = |value: &Value| match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        Value::Array(_) | Value::Object(_) => None,
    };
    let text = match &value {
        Value::Array(values) => values
            .iter()
            .map(scalar)
            .collect::<Option<Vec<String>>>()
            .map(|values| values.join(";")),
        other => scalar(other),
    };
    text.ok_or_else(|| {
        ConnectorError::invalid_data(format!(
            "HubSpot cannot store {value} in the property {name}: values are text, numbers, \
             booleans or lists of them"
        ))
    })
}

/// The properties to write for one item of an object: its `data` (a JSON
/// object of property names and values), then any passthrough values.
pub fn properties(item: &PushItem) -> Result<Map<String, Value>, ConnectorError> {
    let data: Map<String, Value> = item.data_as()?;
    let mut props = Map::new();
    for (name, value) in data.into_iter().chain(item.passthrough_values()?) {
        property_name(&name)?;
        let text = text(&name, value)?;
        props.insert(name, Value::String(text));
    }
    Ok(props)
}

/// A lookup key's value as text: `None` for an empty one (which matches
/// nothing); a list or object is `invalid-data`.
pub fn key_value(name: &str, value: &Value) -> Result<Option<String>, ConnectorError> {
    match value {
        Value::String(s) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        Value::Null => Ok(None),
        other => Err(ConnectorError::invalid_data(format!(
            "HubSpot cannot look records up by {other} in the property {name}"
        ))),
    }
}

/// The id of the record of object `name` matching every property of
/// `keys`: one search with `EQ` filters.
pub fn find_match(name: &str, keys: &str) -> Result<Option<String>, ConnectorError> {
    let keys: Map<String, Value> = from_json(keys)?;
    let mut filters: Vec<(&str, String)> = Vec::with_capacity(keys.len());
    for (property, value) in &keys {
        property_name(property)?;
        match key_value(property, value)? {
            Some(text) => filters.push((property, text)),
            // An empty key matches nothing.
            None => return Ok(None),
        }
    }
    if filters.is_empty() {
        return Ok(None);
    }
    search_eq(name, &[filters])
}
