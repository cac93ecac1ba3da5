//! Writes: one request per item (Pipedrive has no batch or upsert endpoint),
//! `POST /api/v2/{persons|organizations}` to create and `PATCH .../{id}` to
//! update, and links between persons and organizations through the person's
//! `org_id`.
//!
//! Every failure is reported for its own item, never for the whole call,
//! since earlier items may already be written. After an `unauthorized` or
//! `rate-limited` answer the remaining items are not sent: they fail with the
//! same error.

use serde_json::{Value, json};
use switchyard_connector_sdk::http::encode;
use switchyard_connector_sdk::prelude::*;

use crate::api::{Target, read, unexpected};
use crate::fields;
use crate::mapping::{self, Kind, WebsiteField};

type ItemResult = Result<Pushed, ConnectorError>;

/// Writes `items`; one result per item, in input order.
pub fn push(
    target: &Target,
    kind: Kind,
    items: &[PushItem],
) -> Result<Vec<ItemResult>, ConnectorError> {
    // Before anything is written, so a failure here fails the call.
    let website = match kind {
        Kind::Organizations if !items.is_empty() => fields::website_field(target)?,
        _ => None,
    };
    let mut results: Vec<ItemResult> = Vec::with_capacity(items.len());
    let mut stop: Option<ConnectorError> = None;
    for item in items {
        if let Some(err) = &stop {
            results.push(Err(err.clone()));
            continue;
        }
        let result = push_one(target, kind, website.as_ref(), item);
        if let Err(err @ (ConnectorError::Unauthorized(_) | ConnectorError::RateLimited(_))) =
            &result
        {
            stop = Some(err.clone());
        }
        results.push(result);
    }
    Ok(results)
}

/// The path of one record.
fn record_path(kind: Kind, id: &str) -> String {
    format!("/api/v2/{}/{}", kind.path(), encode(id))
}

/// A Pipedrive id for a JSON body: v2 takes numbers only.
pub fn numeric_id(kind: Kind, id: &str) -> Result<Value, ConnectorError> {
    id.trim().parse::<u64>().map(Value::from).map_err(|_| {
        ConnectorError::invalid_data(format!(
            "Pipedrive {} ids are numbers, not {id:?}",
            kind.singular()
        ))
    })
}

/// Creates or updates one item.
fn push_one(
    target: &Target,
    kind: Kind,
    website: Option<&WebsiteField>,
    item: &PushItem,
) -> ItemResult {
    let data: Value = item.data_as()?;
    let id = item
        .id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty());
    let mut body = match kind {
        Kind::Persons => {
            // Checked before anything is sent.
            let mut body = mapping::person_from_cdm(&data, None)?;
            let org = linked_organization(item)?;
            if let Some(id) = id
                && mapping::needs_current_name(&data)
            {
                let current = fetch(target, kind, id)?;
                body = mapping::person_from_cdm(&data, Some(&current))?;
            }
            if let Some(org) = org {
                body.insert("org_id".to_owned(), org);
            }
            body
        }
        Kind::Organizations => {
            // The persons to link are checked before anything is sent.
            for person in item.associated_ids(Kind::Persons.endgrate_type()) {
                numeric_id(Kind::Persons, person)?;
            }
            let (body, dropped_website) = mapping::organization_from_cdm(&data, website)?;
            if dropped_website {
                log::warn!(
                    "pipedrive: the account has no website organization field; website not written"
                );
            }
            body
        }
    };
    // Passthrough fields: the company's own under `custom_fields` (only
    // those given change), the others beside the mapped ones.
    for (key, value) in item.passthrough_values()? {
        if crate::fields::is_custom_key(&key) {
            let custom = body
                .entry("custom_fields")
                .or_insert_with(|| Value::Object(Default::default()));
            if let Value::Object(custom) = custom {
                custom.insert(key, value);
            }
        } else {
            body.insert(key, value);
        }
    }
    let (request, created) = match id {
        None => {
            mapping::drop_empty(&mut body);
            (target.post(&format!("/api/v2/{}", kind.path())), true)
        }
        Some(id) => (target.patch(&record_path(kind, id)), false),
    };
    let raw = read(request.json_body(&body)?.send()?)?.record()?;
    let written = raw
        .get("id")
        .and_then(mapping::id_of)
        .ok_or_else(|| unexpected(&format!("a written {} has no id", kind.singular())))?;
    if kind == Kind::Organizations {
        for person in item.associated_ids(Kind::Persons.endgrate_type()) {
            link(target, person, &written).map_err(|err| {
                with_context(
                    err,
                    &format!(
                        "organization {written} was written, but linking person {person} failed"
                    ),
                )
            })?;
        }
    }
    Pushed::new(written, &mapping::to_cdm(kind, &raw, website), created)
}

/// `GET /api/v2/{kind}/{id}`.
fn fetch(target: &Target, kind: Kind, id: &str) -> Result<Value, ConnectorError> {
    read(target.get(&record_path(kind, id)).send()?)?.record()
}

/// The `org_id` of a person item: its `crm-company` association (a person
/// belongs to one organization; the first is used).
fn linked_organization(item: &PushItem) -> Result<Option<Value>, ConnectorError> {
    let ids = item.associated_ids(Kind::Organizations.endgrate_type());
    let Some(first) = ids.first() else {
        return Ok(None);
    };
    if ids.iter().any(|id| id != first) {
        log::warn!(
            "pipedrive: a person belongs to one organization; linking {first} of {}",
            ids.len()
        );
    }
    numeric_id(Kind::Organizations, first).map(Some)
}

/// Puts person `person` in organization `organization`:
/// `PATCH /api/v2/persons/{person}` with `org_id`.
pub fn link(target: &Target, person: &str, organization: &str) -> Result<(), ConnectorError> {
    numeric_id(Kind::Persons, person)?;
    let body = json!({ "org_id": numeric_id(Kind::Organizations, organization)? });
    read(
        target
            .patch(&record_path(Kind::Persons, person))
            .json_body(&body)?
            .send()?,
    )?;
    Ok(())
}

/// The same error with `context` in front of its message.
fn with_context(err: ConnectorError, context: &str) -> ConnectorError {
    let say = |message: String| format!("{context}: {message}");
    match err {
        ConnectorError::Unauthorized(m) => ConnectorError::Unauthorized(say(m)),
        ConnectorError::InvalidData(m) => ConnectorError::InvalidData(say(m)),
        ConnectorError::NotFound(m) => ConnectorError::NotFound(say(m)),
        ConnectorError::Transient(m) => ConnectorError::Transient(say(m)),
        ConnectorError::Unsupported(m) => ConnectorError::Unsupported(say(m)),
        ConnectorError::Fatal(m) => ConnectorError::Fatal(say(m)),
        ConnectorError::RateLimited(wait) => ConnectorError::RateLimited(wait),
    }
}
