//! Writes through sObject Collections: `POST /composite/sobjects` creates and
//! `PATCH /composite/sobjects` updates up to 200 records with
//! `allOrNone: false`, answering one `{"id","success","errors"}` per record in
//! input order, so each item gets its own result.
//!
//! - A contact's `crm-company` association becomes its `AccountId`; a
//!   company's `crm-contact` associations set those contacts' `AccountId`
//!   after the company is written (a failed link fails the company's item).
//! - Written records are read back with one `SELECT ... WHERE Id IN (...)`
//!   and returned in the common model; if that read fails, the fields sent
//!   are echoed instead (the writes happened, so the items must not fail).
//! - The call fails as a whole only while nothing has been written.
//! - A custom object's items (an object subject) are written as their own
//!   fields, not linked, and not read back: `pushed.data` is the fields
//!   sent (Salesforce answers ids only), so a batch takes one request.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchyard_connector_sdk::prelude::*;

use crate::client::{self, API, Org, SfError, parse};
use crate::mapping::{self, Kind};
use crate::resource::Resource;
use crate::{objects, soql};

/// The most records one collections request takes.
pub const MAX_COLLECTION: usize = 200;

type ItemResult = Result<Pushed, ConnectorError>;

/// One element of a collections answer.
#[derive(Debug, Deserialize)]
struct SaveResult {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    success: bool,
    #[serde(default)]
    errors: Vec<SfError>,
}

/// One record to send: the item it came from, its id for an update, and its
/// Salesforce fields.
struct Write {
    item: usize,
    id: Option<String>,
    fields: Map<String, Value>,
}

/// A per-record failure of a collections request.
fn item_error(errors: &[SfError]) -> ConnectorError {
    let Some(first) = errors.first() else {
        return ConnectorError::invalid_data("Salesforce rejected the record without saying why");
    };
    let described: Vec<String> = errors.iter().map(SfError::describe).collect();
    let message = format!("Salesforce rejected the record: {}", described.join("; "));
    match first.code.as_str() {
        "ENTITY_IS_DELETED" | "NOT_FOUND" => ConnectorError::not_found(message),
        "REQUEST_LIMIT_EXCEEDED" => ConnectorError::rate_limited(None),
        "UNABLE_TO_LOCK_ROW" | "SERVER_UNAVAILABLE" => ConnectorError::transient(message),
        _ => ConnectorError::invalid_data(message),
    }
}

/// Whether a text field value is missing for Salesforce (`null` or blank).
fn blank(value: Option<&Value>) -> bool {
    value.is_none_or(|v| v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty()))
}

/// The Salesforce fields of one item, or why it cannot be written.
fn prepare(resource: Resource, item: &PushItem) -> Result<Map<String, Value>, ConnectorError> {
    let kind = match resource {
        Resource::Common(kind) => kind,
        Resource::Custom(name) => {
            if let Some((other, _)) = item.associations.iter().find(|(_, ids)| !ids.is_empty()) {
                return Err(ConnectorError::unsupported(format!(
                    "Salesforce does not link records of the object {name} to {other}"
                )));
            }
            let mut fields = objects::fields_of(item)?;
            if item.id.is_none() {
                // Nothing to clear on a create.
                fields.retain(|_, v| !blank(Some(v)));
            }
            return Ok(fields);
        }
    };
    let data: Value = item.data_as()?;
    let mut fields = mapping::from_cdm(kind, &data)?;
    // Passthrough fields go as they are: Salesforce types its own values.
    for (name, value) in item.passthrough_values()? {
        fields.insert(name, value);
    }
    if kind == Kind::Contact {
        let accounts = item.associated_ids(Kind::Account.endgrate_type());
        if let Some(account) = accounts.first() {
            if accounts.len() > 1 {
                log::warn!(
                    "salesforce: a contact belongs to one account; linking the first of {}",
                    accounts.len()
                );
            }
            fields.insert("AccountId".to_owned(), Value::from(account.as_str()));
        }
    }
    let (required, common) = kind.required();
    match &item.id {
        None => {
            // Nothing to clear on a create.
            fields.retain(|_, v| !blank(Some(v)));
            if blank(fields.get(required)) {
                return Err(ConnectorError::invalid_data(format!(
                    "Salesforce requires {required} ({common}) to create {}",
                    kind.a_record()
                )));
            }
        }
        Some(_) => {
            if fields.contains_key(required) && blank(fields.get(required)) {
                return Err(ConnectorError::invalid_data(format!(
                    "Salesforce cannot clear the required {required} ({common}) of {}",
                    kind.a_record()
                )));
            }
        }
    }
    Ok(fields)
}

/// Writes `items`; one result per item, in input order.
pub fn push(
    org: &Org,
    resource: Resource,
    items: &[PushItem],
) -> Result<Vec<ItemResult>, ConnectorError> {
    let mut results: Vec<Option<ItemResult>> = (0..items.len()).map(|_| None).collect();
    let mut creates: Vec<Write> = Vec::new();
    let mut updates: Vec<Write> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match prepare(resource, item) {
            Err(err) => results[i] = Some(Err(err)),
            Ok(fields) => {
                let write = Write {
                    item: i,
                    id: item.id.clone(),
                    fields,
                };
                match write.id {
                    None => creates.push(write),
                    Some(_) => updates.push(write),
                }
            }
        }
    }
    // (item, id, created) of every record written.
    let mut written: Vec<(usize, String, bool)> = Vec::new();
    for (batch, creating) in [(&creates, true), (&updates, false)] {
        for chunk in batch.chunks(MAX_COLLECTION) {
            match collection(org, resource.sobject(), chunk, creating) {
                Ok(saved) => {
                    for (write, outcome) in chunk.iter().zip(saved) {
                        match outcome {
                            Ok(id) => written.push((write.item, id, creating)),
                            Err(err) => results[write.item] = Some(Err(err)),
                        }
                    }
                }
                // Nothing is written yet: the whole call fails.
                Err(err) if written.is_empty() => return Err(err),
                Err(err) => {
                    for write in chunk {
                        results[write.item] = Some(Err(err.clone()));
                    }
                }
            }
        }
    }
    let sent: HashMap<usize, &Map<String, Value>> = creates
        .iter()
        .chain(&updates)
        .map(|w| (w.item, &w.fields))
        .collect();
    let kind = match resource {
        Resource::Common(kind) => kind,
        Resource::Custom(_) => {
            for (item, id, created) in written {
                let data: Map<String, Value> = sent
                    .get(&item)
                    .map(|fields| {
                        fields
                            .iter()
                            .filter(|(_, v)| !v.is_null())
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                results[item] = Some(Pushed::new(id, &data, created));
            }
            return Ok(finish(results));
        }
    };
    let mut linked = written;
    if kind == Kind::Account {
        link_contacts(org, items, &mut linked, &mut results);
    }
    let fresh = reread(org, kind, &linked);
    for (item, id, created) in linked {
        let data = match fresh.get(&id) {
            Some(raw) => mapping::to_cdm(kind, raw),
            None => {
                // Echo what was written, with the id.
                let mut raw = sent.get(&item).map(|f| (*f).clone()).unwrap_or_default();
                raw.insert("Id".to_owned(), Value::from(id.as_str()));
                mapping::to_cdm(kind, &Value::Object(raw))
            }
        };
        results[item] = Some(Pushed::new(id, &data, created));
    }
    Ok(finish(results))
}

/// Every item's result; one that has none (which cannot happen) is `fatal`.
fn finish(results: Vec<Option<ItemResult>>) -> Vec<ItemResult> {
    results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| Err(ConnectorError::fatal("Salesforce: an item was not written")))
        })
        .collect()
}

/// One collections request; the outcome of each record, in order. An error
/// means Salesforce refused the request as a whole (nothing was written).
fn collection(
    org: &Org,
    sobject: &str,
    writes: &[Write],
    creating: bool,
) -> Result<Vec<Result<String, ConnectorError>>, ConnectorError> {
    let records: Vec<Value> = writes
        .iter()
        .map(|write| {
            let mut record = Map::new();
            record.insert("attributes".to_owned(), json!({ "type": sobject }));
            if let Some(id) = &write.id {
                record.insert("Id".to_owned(), Value::from(id.as_str()));
            }
            record.extend(write.fields.clone());
            Value::Object(record)
        })
        .collect();
    let body = json!({ "allOrNone": false, "records": records });
    let url = org.data("/composite/sobjects");
    let request = if creating {
        API.post(url)
    } else {
        // Setting the same fields twice has the same effect.
        API.patch(url).idempotent(true)
    };
    let saved: Vec<SaveResult> = parse(request.json_body(&body)?.send()?)?;
    if saved.len() != writes.len() {
        // Something was (maybe) written, but which record is which is unknown.
        let error = ConnectorError::fatal(format!(
            "Salesforce answered {} results for {} records",
            saved.len(),
            writes.len()
        ));
        return Ok(writes.iter().map(|_| Err(error.clone())).collect());
    }
    Ok(writes
        .iter()
        .zip(saved)
        .map(|(write, result)| {
            if !result.success {
                return Err(item_error(&result.errors));
            }
            match result
                .id
                .filter(|id| !id.is_empty())
                .or_else(|| write.id.clone())
            {
                Some(id) => Ok(id),
                None => Err(ConnectorError::fatal(format!(
                    "Salesforce returned a created {sobject} without an id"
                ))),
            }
        })
        .collect())
}

/// Sets `AccountId` on the contacts written accounts are associated with.
/// A link that fails fails its account's item (writing it again is safe).
fn link_contacts(
    org: &Org,
    items: &[PushItem],
    written: &mut Vec<(usize, String, bool)>,
    results: &mut [Option<ItemResult>],
) {
    let mut links: Vec<Write> = Vec::new();
    for (item, account, _) in written.iter() {
        for contact in items[*item].associated_ids(Kind::Contact.endgrate_type()) {
            let mut fields = Map::new();
            fields.insert("AccountId".to_owned(), Value::from(account.as_str()));
            links.push(Write {
                item: *item,
                id: Some(contact.clone()),
                fields,
            });
        }
    }
    for chunk in links.chunks(MAX_COLLECTION) {
        let outcomes = match collection(org, Kind::Contact.sobject(), chunk, false) {
            Ok(outcomes) => outcomes,
            Err(err) => chunk.iter().map(|_| Err(err.clone())).collect(),
        };
        for (link, outcome) in chunk.iter().zip(outcomes) {
            if let Err(err) = outcome
                && results[link.item].is_none()
            {
                results[link.item] = Some(Err(err));
            }
        }
    }
    // Items whose links failed are reported as failed, not as written.
    written.retain(|(item, _, _)| results[*item].is_none());
}

/// The written records as Salesforce now has them, by id. Best effort: an
/// empty map when the read fails.
fn reread(org: &Org, kind: Kind, written: &[(usize, String, bool)]) -> HashMap<String, Value> {
    let mut ids: Vec<&str> = written.iter().map(|(_, id, _)| id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut fresh = HashMap::new();
    for chunk in ids.chunks(MAX_COLLECTION) {
        match client::query_all_pages(org, &soql::by_ids_query(kind, chunk)) {
            Ok(records) => {
                for raw in records {
                    if let Some(id) = client::id_of(&raw) {
                        fresh.insert(id.to_owned(), raw.clone());
                    }
                }
            }
            Err(err) => log::warn!(
                "salesforce: could not read back {} written {} records: {}",
                chunk.len(),
                kind.sobject(),
                err.message()
            ),
        }
    }
    fresh
}
