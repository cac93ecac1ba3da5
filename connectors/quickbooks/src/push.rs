//! Writes, results mapped back to the input order: one by one with
//! QuickBooks' `requestid` for items that carry an idempotency key (every
//! item the host pushes), through the batch endpoint for those that do not.
//!
//! QuickBooks has no upsert and locks records optimistically: an update must
//! carry the record's current `SyncToken`. So a push
//!
//! 1. maps every item to a Customer or Invoice body (an item that does not
//!    map fails alone);
//! 2. reads the current `SyncToken` of every record to update, with one
//!    query (`Id IN (...)`); an id QuickBooks does not know fails alone as
//!    `not-found`;
//! 3. sends an item with an idempotency key as its own `POST /customer` or
//!    `POST /invoice` with `?requestid=<key>`: QuickBooks makes the write
//!    once however often that request comes, and answers a repeat with the
//!    first answer, so a create whose answer was lost can be sent again
//!    (the manifest says `idempotent-creates`). A batch cannot do this per
//!    item: its `requestid` covers the whole batch, which the host may not
//!    send again with the same items;
//! 4. sends the items without a key in one `POST /batch` of at most 30
//!    `BatchItemRequest`s (creates, and sparse updates), each tagged with its
//!    input index as `bId`, and matches the `BatchItemResponse`s back by
//!    `bId`. A `Fault` fails its item alone (a duplicate `DisplayName`, fault
//!    6240, is `invalid-data`);
//! 5. retries the updates that failed with a stale `SyncToken` (fault 5010,
//!    someone changed the record in between) once, after reading the tokens
//!    again; a keyed update's retry carries a `requestid` of its own (the
//!    key's answers the fault).
//!
//! The call fails as a whole only before any write was confirmed; after
//! that, every failure is reported per item. One by one, a write that was
//! throttled, cut off or refused as a whole stops the rest, which fail with
//! the same error, so the host tries them again later.

use serde_json::{Map, Value, json};
use switchyard_connector_sdk::prelude::*;

use crate::api::{Company, Fault, parse};
use crate::custom_fields;
use crate::mapping::{self, Kind};
use crate::query;

/// The most items QuickBooks takes in one batch request.
pub const MAX_BATCH: usize = 30;

type ItemResult = Result<Pushed, ConnectorError>;

/// The longest `requestid` QuickBooks takes on an entity write.
const MAX_REQUEST_ID: usize = 50;

/// One item ready to send: its input index, the body, for an update the
/// record id, and the item's idempotency key when it has one.
#[derive(Debug, Clone)]
struct Write {
    index: usize,
    id: Option<String>,
    body: Map<String, Value>,
    key: Option<String>,
}

/// Writes `items`; one result per item, in input order.
pub fn push(
    company: &Company,
    kind: Kind,
    items: &[PushItem],
) -> Result<Vec<ItemResult>, ConnectorError> {
    let mut results: Vec<Option<ItemResult>> = (0..items.len()).map(|_| None).collect();
    // Custom field values are written by definition id: read once, when needed.
    let definitions = if items.iter().any(|i| i.passthrough.is_some()) {
        custom_fields::definitions(company)?
    } else {
        Vec::new()
    };
    let mut writes = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match body_of(company, kind, item, &definitions) {
            Ok(body) => writes.push(Write {
                index,
                id: item.id.clone(),
                body,
                key: Some(item.idempotency_key.trim())
                    .filter(|key| !key.is_empty())
                    .map(str::to_owned),
            }),
            Err(err) => results[index] = Some(Err(err)),
        }
    }
    let (keyed, keyless): (Vec<Write>, Vec<Write>) =
        writes.into_iter().partition(|write| write.key.is_some());
    let chunks = keyed
        .chunks(MAX_BATCH)
        .map(|chunk| (chunk, true))
        .chain(keyless.chunks(MAX_BATCH).map(|chunk| (chunk, false)));
    let mut written = false;
    for (chunk, one_by_one) in chunks {
        let outcome = if one_by_one {
            write_each(company, kind, chunk, &mut results)
        } else {
            write_chunk(company, kind, chunk, &mut results)
        };
        match outcome {
            Ok(()) => written = true,
            // Nothing of this chunk was written: with nothing written before,
            // the whole call fails and the host may retry it.
            Err(err) if !written => return Err(err),
            Err(err) => {
                for write in chunk {
                    results[write.index] = Some(Err(err.clone()));
                }
            }
        }
    }
    Ok(results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| Err(ConnectorError::fatal("QuickBooks: an item was not written")))
        })
        .collect())
}

/// The QuickBooks body of one item (without `Id`/`SyncToken`).
fn body_of(
    company: &Company,
    kind: Kind,
    item: &PushItem,
    definitions: &[(String, String)],
) -> Result<Map<String, Value>, ConnectorError> {
    if let Some(id) = &item.id {
        query::literal(id).map_err(|_| {
            ConnectorError::invalid_data(format!("{id:?} is not a QuickBooks {} Id", kind.noun()))
        })?;
    }
    let data: Value = item.data_as()?;
    let mut body = match kind {
        Kind::Customer => mapping::customer_from_cdm(&data)?,
        Kind::Invoice => mapping::invoice_from_cdm(&data, &company.default_item_id)?,
    };
    let custom = item.passthrough_values()?;
    if !custom.is_empty() {
        if kind != Kind::Invoice {
            return Err(ConnectorError::invalid_data(
                "QuickBooks customers have no custom fields",
            ));
        }
        body.insert(
            "CustomField".to_owned(),
            Value::Array(custom_fields::entries(definitions, &custom)?),
        );
    }
    if kind == Kind::Invoice {
        // The customer the host linked the invoice to is its CustomerRef.
        if let Some(customer) = item.associated_ids(Kind::Customer.endgrate_type()).first() {
            body.insert("CustomerRef".to_owned(), json!({ "value": customer }));
        }
        if item.id.is_none() && !body.contains_key("CustomerRef") {
            return Err(ConnectorError::invalid_data(
                "a QuickBooks invoice needs a customer: give customer_id, \
                 or an accounting-customer association",
            ));
        }
    }
    Ok(match item.id {
        None => mapping::without_empty(body),
        Some(_) => body,
    })
}

/// Reads, writes and retries one batch; `Err` only when nothing of it was
/// written.
fn write_chunk(
    company: &Company,
    kind: Kind,
    chunk: &[Write],
    results: &mut [Option<ItemResult>],
) -> Result<(), ConnectorError> {
    let mut tokens = sync_tokens(company, kind, chunk)?;
    let mut sendable = Vec::with_capacity(chunk.len());
    for write in chunk {
        match &write.id {
            Some(id) if !tokens.iter().any(|(known, _)| known == id) => {
                results[write.index] = Some(Err(ConnectorError::not_found(format!(
                    "QuickBooks has no {} with Id {id}",
                    kind.noun()
                ))));
            }
            _ => sendable.push(write.clone()),
        }
    }
    if sendable.is_empty() {
        return Ok(());
    }
    let stale = send_batch(company, kind, &sendable, &tokens, results)?;
    if stale.is_empty() {
        return Ok(());
    }
    // Someone changed these records since their tokens were read: read them
    // again and retry once. Failures from here on are per item.
    log::info!(
        "quickbooks: retrying {} {} update(s) with a stale SyncToken",
        stale.len(),
        kind.noun()
    );
    let retry: Vec<Write> = stale.into_iter().map(|i| sendable[i].clone()).collect();
    let outcome = sync_tokens(company, kind, &retry).and_then(|fresh| {
        tokens = fresh;
        send_batch(company, kind, &retry, &tokens, results)
    });
    match outcome {
        Ok(still_stale) => {
            for i in still_stale {
                let write = &retry[i];
                results[write.index] = Some(Err(stale_again(kind, write)));
            }
        }
        Err(err) => {
            for write in &retry {
                results[write.index] = Some(Err(err.clone()));
            }
        }
    }
    Ok(())
}

/// Writes `chunk` one request per item, each with its `requestid`; `Err`
/// only when no write of it was confirmed.
fn write_each(
    company: &Company,
    kind: Kind,
    chunk: &[Write],
    results: &mut [Option<ItemResult>],
) -> Result<(), ConnectorError> {
    let tokens = sync_tokens(company, kind, chunk)?;
    let mut confirmed = false;
    for (position, write) in chunk.iter().enumerate() {
        if let Some(id) = &write.id
            && !tokens.iter().any(|(known, _)| known == id)
        {
            results[write.index] = Some(Err(ConnectorError::not_found(format!(
                "QuickBooks has no {} with Id {id}",
                kind.noun()
            ))));
            continue;
        }
        match write_one(company, kind, write, &tokens) {
            Ok(result) => {
                results[write.index] = Some(result);
                confirmed = true;
            }
            Err(err) if !confirmed => return Err(err),
            // Throttled, cut off or refused: the rest waits for a later try.
            Err(err) => {
                for rest in &chunk[position..] {
                    if results[rest.index].is_none() {
                        results[rest.index] = Some(Err(err.clone()));
                    }
                }
                return Ok(());
            }
        }
    }
    Ok(())
}

/// One keyed write, and its one retry after a stale `SyncToken`. `Err` when
/// the request as a whole failed (throttled, cut off, a 5xx, the token).
fn write_one(
    company: &Company,
    kind: Kind,
    write: &Write,
    tokens: &[(String, String)],
) -> Result<ItemResult, ConnectorError> {
    if let Sent::Answered(result) = send_one(company, kind, write, tokens, request_id(write, 1))? {
        return Ok(result);
    }
    log::info!(
        "quickbooks: retrying a {} update with a stale SyncToken",
        kind.noun()
    );
    let fresh = sync_tokens(company, kind, std::slice::from_ref(write))?;
    match send_one(company, kind, write, &fresh, request_id(write, 2))? {
        Sent::Answered(result) => Ok(result),
        Sent::Stale => Ok(Err(stale_again(kind, write))),
    }
}

/// What one keyed write came back with.
enum Sent {
    Answered(ItemResult),
    /// An update refused for a stale `SyncToken` (fault 5010).
    Stale,
}

/// The `requestid` of a keyed write's `attempt`: the key itself, then the
/// key with `-<attempt>` (within QuickBooks' 50 characters), since
/// QuickBooks answers a `requestid` it has seen with its first answer, the
/// stale fault included.
fn request_id(write: &Write, attempt: u32) -> Option<String> {
    let key = write.key.as_deref()?;
    if attempt <= 1 {
        return Some(key.to_owned());
    }
    let suffix = format!("-{attempt}");
    let kept: String = key
        .chars()
        .take(MAX_REQUEST_ID.saturating_sub(suffix.len()))
        .collect();
    Some(kept + &suffix)
}

/// `POST /v3/company/{realm}/customer|invoice?requestid=...` of one write.
fn send_one(
    company: &Company,
    kind: Kind,
    write: &Write,
    tokens: &[(String, String)],
    request_id: Option<String>,
) -> Result<Sent, ConnectorError> {
    let mut request = company.post(kind.path());
    if let Some(request_id) = request_id {
        // The same requestid writes once: safe for the host to send again.
        request = request.query("requestid", request_id).idempotent(true);
    }
    let response = request.json_body(&request_body(write, tokens))?.send()?;
    let fault = match response.status() {
        400 => serde_json::from_slice::<Value>(response.body())
            .ok()
            .and_then(|body| Fault::from_json(&body)),
        _ => None,
    };
    if let Some(fault) = fault {
        if fault.is_stale() && write.id.is_some() {
            return Ok(Sent::Stale);
        }
        return Ok(Sent::Answered(Err(item_error(kind, write, &fault))));
    }
    let answer = match parse(response) {
        Ok(answer) => answer,
        Err(
            err @ (ConnectorError::RateLimited(_)
            | ConnectorError::Transient(_)
            | ConnectorError::Unauthorized(_)),
        ) => return Err(err),
        Err(err) => return Ok(Sent::Answered(Err(err))),
    };
    Ok(Sent::Answered(match answer.get(kind.entity()) {
        Some(raw) => pushed(kind, raw, write.id.is_none()),
        None => Err(ConnectorError::fatal(format!(
            "QuickBooks answered a {} write without the {}",
            kind.noun(),
            kind.entity()
        ))),
    }))
}

/// The body QuickBooks gets for `write`: as mapped for a create; with `Id`,
/// the current `SyncToken` and `sparse` for an update.
fn request_body(write: &Write, tokens: &[(String, String)]) -> Map<String, Value> {
    let mut body = write.body.clone();
    if let Some(id) = &write.id {
        let token = tokens
            .iter()
            .find(|(known, _)| known == id)
            .map(|(_, token)| token.as_str())
            .unwrap_or("0");
        body.insert("Id".to_owned(), Value::from(id.as_str()));
        body.insert("SyncToken".to_owned(), Value::from(token));
        body.insert("sparse".to_owned(), Value::from(true));
    }
    body
}

fn stale_again(kind: Kind, write: &Write) -> ConnectorError {
    ConnectorError::transient(format!(
        "QuickBooks rejected the {} update of Id {} twice with a stale SyncToken \
         (fault 5010): the record kept changing while it was written, try again later",
        kind.noun(),
        write.id.as_deref().unwrap_or_default()
    ))
}

/// The current `SyncToken` of every record `writes` update, by id.
fn sync_tokens(
    company: &Company,
    kind: Kind,
    writes: &[Write],
) -> Result<Vec<(String, String)>, ConnectorError> {
    let mut ids: Vec<&str> = writes.iter().filter_map(|w| w.id.as_deref()).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let quoted = ids
        .iter()
        .map(|id| query::literal(id))
        .collect::<Result<Vec<_>, _>>()?;
    let statement = query::lookup_statement(
        kind,
        &[format!("Id IN ({})", quoted.join(", "))],
        ids.len() as u32,
    );
    let records = company.query(kind.entity(), &statement)?;
    Ok(records
        .iter()
        .filter_map(|raw| {
            let id = mapping::id_of(raw)?;
            let token = match raw.get("SyncToken")? {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Some((id, token))
        })
        .collect())
}

/// Sends one batch and records each item's result. Returns the positions in
/// `writes` of the updates rejected for a stale `SyncToken` (their results
/// are left unset). `Err` when the batch as a whole failed.
fn send_batch(
    company: &Company,
    kind: Kind,
    writes: &[Write],
    tokens: &[(String, String)],
    results: &mut [Option<ItemResult>],
) -> Result<Vec<usize>, ConnectorError> {
    let requests: Vec<Value> = writes
        .iter()
        .map(|write| {
            let operation = match &write.id {
                None => "create",
                Some(_) => "update",
            };
            json!({
                "bId": write.index.to_string(),
                "operation": operation,
                kind.entity(): request_body(write, tokens),
            })
        })
        .collect();
    let answer = parse(
        company
            .post("batch")
            .json_body(&json!({ "BatchItemRequest": requests }))?
            .send()?,
    )?;
    let responses = answer
        .get("BatchItemResponse")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            ConnectorError::fatal("QuickBooks answered a batch without a BatchItemResponse list")
        })?;
    let mut stale = Vec::new();
    for (position, write) in writes.iter().enumerate() {
        let bid = write.index.to_string();
        let response = responses.iter().find(|r| match r.get("bId") {
            Some(Value::String(s)) => *s == bid,
            Some(Value::Number(n)) => n.to_string() == bid,
            _ => false,
        });
        let result = match response {
            None => Err(ConnectorError::fatal(format!(
                "QuickBooks answered the batch without a result for item {} (bId {bid})",
                write.index
            ))),
            Some(response) => match (response.get(kind.entity()), Fault::from_json(response)) {
                (Some(raw), _) => pushed(kind, raw, write.id.is_none()),
                (None, Some(fault)) if fault.is_stale() && write.id.is_some() => {
                    stale.push(position);
                    continue;
                }
                (None, Some(fault)) => Err(item_error(kind, write, &fault)),
                (None, None) => Err(ConnectorError::fatal(format!(
                    "QuickBooks answered batch item {bid} with neither a {} nor a Fault",
                    kind.entity()
                ))),
            },
        };
        results[write.index] = Some(result);
    }
    Ok(stale)
}

/// The error of a batch item's fault.
fn item_error(kind: Kind, write: &Write, fault: &Fault) -> ConnectorError {
    let mut prefix = format!("QuickBooks rejected the {}", kind.noun());
    if let Some(id) = &write.id {
        prefix.push_str(&format!(" with Id {id}"));
    }
    if fault.code == crate::api::DUPLICATE_NAME {
        let name = match write.body.get("DisplayName").and_then(Value::as_str) {
            Some(name) => format!("the name {name:?}"),
            None => "its name".to_owned(),
        };
        return ConnectorError::invalid_data(format!(
            "{prefix}: {name} is already used by another customer, vendor or employee \
             (DisplayName must be unique): {}",
            fault.text
        ));
    }
    fault.error(&prefix, None)
}

/// The result of a written record.
fn pushed(kind: Kind, raw: &Value, created: bool) -> ItemResult {
    let id = mapping::id_of(raw).ok_or_else(|| {
        ConnectorError::fatal(format!(
            "QuickBooks returned a written {} without an Id",
            kind.noun()
        ))
    })?;
    Pushed::new(id, &mapping::to_cdm(kind, raw), created)
}
