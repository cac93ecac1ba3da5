//! Writes: batch create and update, mapped back to the input order.
//!
//! HubSpot does not promise that batch results come back in input order, and
//! its per-input errors do not say which input failed. So:
//!
//! - created records are matched to inputs by the properties sent (every
//!   non-empty property sent must come back equal, case-insensitively);
//! - updated records are matched by id, and `OBJECT_NOT_FOUND` errors by the
//!   id in their context;
//! - whatever is still unplaced is written one by one (`POST` or `PATCH` of a
//!   single object), which gives each item its own answer. A whole batch
//!   rejected with 400/409/422 (HubSpot validates the batch as a unit) is
//!   written one by one too, so one bad record fails alone.
//!
//! Once anything may have been written, every later failure is reported per
//! item, never for the whole call.
//!
//! Contacts and companies are mapped from the common model and linked to
//! each other; an object subject's items are written as their own
//! properties and are not linked (see [`objects`](crate::objects)).

use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchyard_connector_sdk::http::encode;
use switchyard_connector_sdk::prelude::*;

use crate::mapping::{self, Kind};
use crate::resource::Resource;
use crate::{API, id_of, objects, parse};

/// A batch answer (`200`, `201` or `207` with `errors`).
#[derive(Debug, Deserialize)]
struct BatchAnswer {
    #[serde(default)]
    results: Vec<Value>,
    #[serde(default)]
    errors: Vec<Value>,
}

type ItemResult = Result<Pushed, ConnectorError>;

/// Statuses with which HubSpot rejects a whole batch for its content.
fn rejects_content(status: u16) -> bool {
    matches!(status, 400 | 409 | 422)
}

/// The HubSpot properties of one item, or why it cannot be written.
fn properties(resource: Resource, item: &PushItem) -> Result<Map<String, Value>, ConnectorError> {
    let kind = match resource {
        Resource::Common(kind) => kind,
        Resource::Object(name) => {
            if let Some((other, _)) = item.associations.iter().find(|(_, ids)| !ids.is_empty()) {
                return Err(ConnectorError::unsupported(format!(
                    "HubSpot does not link records of the object {name} to {other}"
                )));
            }
            return objects::properties(item);
        }
    };
    let data = item.data_as::<Value>()?;
    let mut props = mapping::from_cdm(kind, &data)?;
    // Passthrough fields go as HubSpot stores every value: text.
    for (name, value) in item.passthrough_values()? {
        let text = match value {
            Value::String(s) => s,
            Value::Null => String::new(),
            other => other.to_string(),
        };
        props.insert(name, Value::String(text));
    }
    Ok(props)
}

/// Writes `items`; one result per item, in input order.
pub fn push(resource: Resource, items: Vec<PushItem>) -> Result<Vec<ItemResult>, ConnectorError> {
    let mut results: Vec<Option<ItemResult>> = (0..items.len()).map(|_| None).collect();
    let mut creates: Vec<(usize, Map<String, Value>)> = Vec::new();
    let mut updates: Vec<(usize, String, Map<String, Value>)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match (properties(resource, item), &item.id) {
            (Err(err), _) => results[i] = Some(Err(err)),
            (Ok(props), None) => {
                // An empty value means nothing on a create.
                let props = props
                    .into_iter()
                    .filter(|(_, v)| v.as_str() != Some(""))
                    .collect();
                creates.push((i, props));
            }
            (Ok(props), Some(id)) => updates.push((i, id.clone(), props)),
        }
    }
    if !creates.is_empty() {
        create(resource, &items, &creates, &mut results)?;
    }
    if !updates.is_empty() {
        update(resource, &items, &updates, &mut results);
    }
    Ok(results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| Err(ConnectorError::fatal("HubSpot: an item was not written")))
        })
        .collect())
}

/// The result of a written object: in the common model, or an object's
/// properties as HubSpot returned them.
fn pushed(resource: Resource, raw: &Value, created: bool) -> ItemResult {
    let id = raw.get("id").and_then(id_of).ok_or_else(|| {
        ConnectorError::fatal(format!(
            "HubSpot returned a written {} without an id",
            resource.path()
        ))
    })?;
    match resource {
        Resource::Common(kind) => Pushed::new(id, &mapping::to_cdm(kind, raw), created),
        Resource::Object(_) => Pushed::new(id, &objects::returned(raw), created),
    }
}

/// A per-input error of a batch answer.
fn batch_error(error: &Value) -> ConnectorError {
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("no message");
    let message = format!("HubSpot rejected the record: {message}");
    match error.get("category").and_then(Value::as_str) {
        Some("OBJECT_NOT_FOUND") => ConnectorError::not_found(message),
        Some("RATE_LIMITS") => ConnectorError::rate_limited(None),
        _ => ConnectorError::invalid_data(message),
    }
}

/// The v3 inline associations of a new object (none for an object
/// subject's).
fn inline_associations(resource: Resource, item: &PushItem) -> Vec<Value> {
    let Resource::Common(kind) = resource else {
        return Vec::new();
    };
    item.associated_ids(kind.other().endgrate_type())
        .iter()
        .map(|to| {
            json!({
                "to": {"id": to},
                "types": [{
                    "associationCategory": "HUBSPOT_DEFINED",
                    "associationTypeId": kind.association_type_id(),
                }],
            })
        })
        .collect()
}

fn create_input(resource: Resource, item: &PushItem, props: &Map<String, Value>) -> Value {
    let mut input = json!({ "properties": props });
    let associations = inline_associations(resource, item);
    if !associations.is_empty() {
        input["associations"] = Value::Array(associations);
    }
    input
}

/// Whether `raw` is the object created from `props`.
fn fits(props: &Map<String, Value>, raw: &Value) -> bool {
    let Some(have) = raw.get("properties").and_then(Value::as_object) else {
        return false;
    };
    props.iter().all(|(name, sent)| match sent.as_str() {
        Some(sent) if !sent.trim().is_empty() => have
            .get(name)
            .and_then(Value::as_str)
            .is_some_and(|got| got.trim().eq_ignore_ascii_case(sent.trim())),
        _ => true,
    })
}

/// Batch create; a failure before anything was written fails the call.
fn create(
    resource: Resource,
    items: &[PushItem],
    creates: &[(usize, Map<String, Value>)],
    results: &mut [Option<ItemResult>],
) -> Result<(), ConnectorError> {
    let inputs: Vec<Value> = creates
        .iter()
        .map(|(i, props)| create_input(resource, &items[*i], props))
        .collect();
    let response = API
        .post(format!("/crm/v3/objects/{}/batch/create", resource.path()))
        .json_body(&json!({ "inputs": inputs }))?
        .send()?;
    if rejects_content(response.status()) {
        // Nothing was written: give every item its own answer.
        for (i, props) in creates {
            results[*i] = Some(create_one(resource, &items[*i], props));
        }
        return Ok(());
    }
    let answer: BatchAnswer = parse(response)?;
    let mut pending: Vec<usize> = (0..creates.len()).collect();
    let mut unplaced: Vec<Value> = Vec::new();
    for raw in answer.results {
        match pending.iter().position(|&c| fits(&creates[c].1, &raw)) {
            Some(at) => {
                let c = pending.remove(at);
                results[creates[c].0] = Some(pushed(resource, &raw, true));
            }
            None => unplaced.push(raw),
        }
    }
    if pending.is_empty() {
        return Ok(());
    }
    if unplaced.len() == pending.len() && answer.errors.is_empty() {
        // Every input succeeded; HubSpot normalised what it stored. Keep order.
        for (c, raw) in pending.into_iter().zip(&unplaced) {
            results[creates[c].0] = Some(pushed(resource, raw, true));
        }
        return Ok(());
    }
    if unplaced.is_empty() && pending.len() == 1 && answer.errors.len() == 1 {
        results[creates[pending[0]].0] = Some(Err(batch_error(&answer.errors[0])));
        return Ok(());
    }
    if !unplaced.is_empty() {
        log::warn!(
            "hubspot: {} created {} could not be matched to their inputs",
            unplaced.len(),
            resource.path()
        );
    }
    // In doubt: write the unplaced inputs one by one; a record that failed in
    // the batch fails again with its own error.
    for c in pending {
        let (i, props) = &creates[c];
        results[*i] = Some(create_one(resource, &items[*i], props));
    }
    Ok(())
}

/// `POST /crm/v3/objects/{type}` for one item.
fn create_one(resource: Resource, item: &PushItem, props: &Map<String, Value>) -> ItemResult {
    let response = API
        .post(format!("/crm/v3/objects/{}", resource.path()))
        .json_body(&create_input(resource, item, props))?
        .send()?;
    let raw: Value = parse(response)?;
    pushed(resource, &raw, true)
}

/// `PATCH /crm/v3/objects/{type}/{id}` for one item.
fn update_one(resource: Resource, id: &str, props: &Map<String, Value>) -> ItemResult {
    let response = API
        .patch(format!(
            "/crm/v3/objects/{}/{}",
            resource.path(),
            encode(id)
        ))
        .json_body(&json!({ "properties": props }))?
        .send()?;
    let raw: Value = parse(response)?;
    pushed(resource, &raw, false)
}

/// Batch update, then links; every failure is per item.
fn update(
    resource: Resource,
    items: &[PushItem],
    updates: &[(usize, String, Map<String, Value>)],
    results: &mut [Option<ItemResult>],
) {
    let mut ids: Vec<&str> = updates.iter().map(|(_, id, _)| id.as_str()).collect();
    ids.sort_unstable();
    let duplicates = ids.windows(2).any(|w| w[0] == w[1]);
    let mut pending: Vec<usize> = (0..updates.len()).collect();
    if !duplicates {
        match update_batch(resource, updates) {
            Ok(Some(answer)) => {
                for raw in &answer.results {
                    let id = raw.get("id").and_then(id_of);
                    if let Some(at) = pending
                        .iter()
                        .position(|&u| id.as_deref() == Some(updates[u].1.as_str()))
                    {
                        let u = pending.remove(at);
                        results[updates[u].0] = Some(pushed(resource, raw, false));
                    }
                }
                for error in &answer.errors {
                    let missing: Vec<String> = error
                        .pointer("/context/id")
                        .and_then(Value::as_array)
                        .map(|ids| ids.iter().filter_map(id_of).collect())
                        .unwrap_or_default();
                    pending.retain(|&u| {
                        let (i, id, _) = &updates[u];
                        if missing.contains(id) {
                            results[*i] = Some(Err(batch_error(error)));
                            false
                        } else {
                            true
                        }
                    });
                }
            }
            // Rejected as a whole: nothing was written, go one by one.
            Ok(None) => {}
            Err(err) => {
                for (i, _, _) in updates {
                    results[*i] = Some(Err(err.clone()));
                }
                return;
            }
        }
    }
    for u in pending {
        let (i, id, props) = &updates[u];
        results[*i] = Some(update_one(resource, id, props));
    }
    if let Resource::Common(kind) = resource {
        link_updated(kind, items, updates, results);
    }
}

/// `POST .../batch/update`; `None` when HubSpot rejected the batch's content.
fn update_batch(
    resource: Resource,
    updates: &[(usize, String, Map<String, Value>)],
) -> Result<Option<BatchAnswer>, ConnectorError> {
    let inputs: Vec<Value> = updates
        .iter()
        .map(|(_, id, props)| json!({ "id": id, "properties": props }))
        .collect();
    let response = API
        .post(format!("/crm/v3/objects/{}/batch/update", resource.path()))
        .json_body(&json!({ "inputs": inputs }))?
        .send()?;
    if rejects_content(response.status()) {
        return Ok(None);
    }
    parse(response).map(Some)
}

/// Links updated items to the records their `associations` name: one batch
/// associate, and one `PUT` per pair if that did not fully succeed. A link
/// that fails fails its item (an update is safe to repeat).
fn link_updated(
    kind: Kind,
    items: &[PushItem],
    updates: &[(usize, String, Map<String, Value>)],
    results: &mut [Option<ItemResult>],
) {
    let other = kind.other();
    let mut pairs: Vec<(usize, String, String)> = Vec::new();
    for (i, _, _) in updates {
        if let Some(Ok(written)) = &results[*i] {
            for to in items[*i].associated_ids(other.endgrate_type()) {
                pairs.push((*i, written.id.clone(), to.clone()));
            }
        }
    }
    if pairs.is_empty() {
        return;
    }
    let inputs: Vec<Value> = pairs
        .iter()
        .map(|(_, from, to)| json!({"from": {"id": from}, "to": {"id": to}}))
        .collect();
    let batch = API
        .post(format!(
            "/crm/v4/associations/{}/{}/batch/associate/default",
            kind.path(),
            other.path()
        ))
        .idempotent(true)
        .json_body(&json!({ "inputs": inputs }))
        .and_then(|request| request.send())
        .and_then(parse::<BatchAnswer>);
    if matches!(&batch, Ok(answer) if answer.errors.is_empty()) {
        return;
    }
    for (i, from, to) in pairs {
        if let Err(err) = associate_one(kind, &from, &to)
            && matches!(results[i], Some(Ok(_)))
        {
            results[i] = Some(Err(err));
        }
    }
}

/// `PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{toId}`.
pub fn associate_one(from: Kind, from_id: &str, to_id: &str) -> Result<(), ConnectorError> {
    API.put(format!(
        "/crm/v4/objects/{}/{}/associations/default/{}/{}",
        from.path(),
        encode(from_id),
        from.other().path(),
        encode(to_id)
    ))
    .send()?
    .error_for_status()?;
    Ok(())
}
