//! The QuickBooks API handlers under `/v3/company/{realmId}`: query, change
//! data capture, entity read and write (create, update, `operation=delete`),
//! batch, company info. Every handler checks the realm and notes requests
//! without `?minorversion=`; writes honour `?requestid=` (see
//! [`request_id`](super::request_id)).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::errors::{Fault, now};
use super::model::Entity;
use super::query;
use super::request_id;
use super::{QbState, QuickBooks};
use crate::clock;
use crate::params::Params;

/// Batches hold at most this many items.
const MAX_BATCH: usize = 30;
/// Change data capture looks back at most 30 days.
const CDC_WINDOW_MS: i64 = 30 * 86_400_000;

/// Checks the realm and notes a missing `minorversion`.
fn enter(qb: &QuickBooks, realm: &str, params: &Params) -> Result<(), Fault> {
    if params.get("minorversion").is_none() {
        qb.ctx.count("quickbooks: request without minorversion");
    }
    if realm != qb.ctx.realm_id {
        return Err(Fault {
            status: StatusCode::FORBIDDEN,
            kind: "AuthorizationFault",
            code: "3100",
            message: "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403"
                .into(),
            detail: format!("The token is not authorized for company {realm}"),
            element: None,
        });
    }
    Ok(())
}

fn answer(result: Result<Value, Fault>) -> Response {
    match result {
        Ok(v) => Json(v).into_response(),
        Err(f) => f.respond(),
    }
}

fn parse_json(body: &[u8]) -> Result<Value, Fault> {
    serde_json::from_slice(body).map_err(|e| {
        Fault::validation(
            "2500",
            "Invalid Request",
            format!("Request is not valid JSON: {e}"),
        )
    })
}

fn run_query(qb: &QuickBooks, text: &str) -> Result<Value, Fault> {
    let q = query::parse(text)?;
    let store = qb.store();
    query::run(&q, store.table(q.entity))
}

/// `GET /v3/company/{realm}/query?query=...`.
pub async fn query_get(
    state: QbState,
    Path(realm): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let qb = state.0;
    let params = Params::parse(raw.as_deref());
    answer((|| {
        enter(&qb, &realm, &params)?;
        let text = params
            .get("query")
            .ok_or_else(|| Fault::parse_error("Encountered <EOF>: no query given".into()))?;
        Ok(json!({"QueryResponse": run_query(&qb, text)?, "time": now()}))
    })())
}

/// `POST /v3/company/{realm}/query` with the query as the body (`application/text`).
pub async fn query_post(
    state: QbState,
    Path(realm): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let qb = state.0;
    let params = Params::parse(raw.as_deref());
    answer((|| {
        enter(&qb, &realm, &params)?;
        let text = String::from_utf8_lossy(&body);
        Ok(json!({"QueryResponse": run_query(&qb, &text)?, "time": now()}))
    })())
}

/// `GET /v3/company/{realm}/cdc?entities=Customer,Invoice&changedSince=...`.
pub async fn cdc(state: QbState, Path(realm): Path<String>, RawQuery(raw): RawQuery) -> Response {
    let qb = state.0;
    let params = Params::parse(raw.as_deref());
    answer((|| {
        enter(&qb, &realm, &params)?;
        let entities = params.list("entities").ok_or_else(|| {
            Fault::validation(
                "2020",
                "Required param missing, need to supply the required value for the API",
                "Required parameter entities is missing in the request".into(),
            )
        })?;
        let since_text = params.get("changedSince").unwrap_or_default();
        let since = clock::parse(since_text).ok_or_else(|| {
            Fault::validation(
                "2020",
                "Required param missing, need to supply the required value for the API",
                "Required parameter changedSince is missing or invalid".into(),
            )
        })?;
        if since < clock::now_ms() - CDC_WINDOW_MS {
            return Err(Fault::validation(
                "2010",
                "Invalid request parameter",
                "changedSince must be within the last 30 days".into(),
            ));
        }
        let store = qb.store();
        let mut responses = Vec::new();
        for name in entities {
            let entity = Entity::parse(&name).ok_or_else(|| {
                Fault::validation(
                    "2010",
                    "Invalid request parameter",
                    format!("Unsupported entity {name}"),
                )
            })?;
            let table = store.table(entity);
            let rows: Vec<Value> = table
                .by_updated_from((since + 1, 0))
                .take(1000)
                .filter_map(|(_, n)| table.get(n))
                .map(|row| {
                    if row.deleted {
                        json!({"domain": "QBO", "status": "Deleted", "Id": n_of(&row.body), "MetaData": {"LastUpdatedTime": clock::quickbooks(row.updated_ms)}})
                    } else {
                        row.body.clone()
                    }
                })
                .collect();
            let count = rows.len();
            responses.push(if count == 0 {
                json!({})
            } else {
                json!({ entity.name(): rows, "startPosition": 1, "maxResults": count, "totalCount": count })
            });
        }
        Ok(json!({"CDCResponse": [{"QueryResponse": responses}], "time": now()}))
    })())
}

fn n_of(body: &Value) -> Value {
    body["Id"].clone()
}

/// `GET /v3/company/{realm}/{entity}/{id}`.
pub async fn read(
    state: QbState,
    Path((realm, entity, id)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let qb = state.0;
    let params = Params::parse(raw.as_deref());
    answer((|| {
        enter(&qb, &realm, &params)?;
        let entity = Entity::parse(&entity).ok_or_else(|| Fault::not_found(&entity, &id))?;
        let store = qb.store();
        let row = id
            .parse::<u64>()
            .ok()
            .and_then(|n| store.table(entity).live(n))
            .ok_or_else(|| Fault::not_found(entity.name(), &id))?;
        Ok(json!({ entity.name(): row.body, "time": now() }))
    })())
}

/// `POST /v3/company/{realm}/{entity}[?operation=delete]`.
pub async fn write(
    state: QbState,
    Path((realm, entity)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let qb = state.0;
    let params = Params::parse(raw.as_deref());
    answer((|| {
        enter(&qb, &realm, &params)?;
        let entity = Entity::parse(&entity).ok_or_else(|| Fault::not_found(&entity, ""))?;
        qb.answered
            .once(&qb, &realm, &params, request_id::MAX_LEN, || {
                let input = parse_json(&body)?;
                let now_ms = qb.ctx.clock.tick();
                let mut store = qb.store();
                let out = if params.get("operation") == Some("delete") {
                    store.delete(entity, &input, now_ms)?
                } else {
                    store.write(entity, &input, now_ms)?
                };
                Ok(json!({ entity.name(): out, "time": now() }))
            })
    })())
}

/// `POST /v3/company/{realm}/batch` `{"BatchItemRequest":[...]}` (max 30).
pub async fn batch(
    state: QbState,
    Path(realm): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let qb = state.0;
    let params = Params::parse(raw.as_deref());
    answer((|| {
        enter(&qb, &realm, &params)?;
        qb.answered
            .once(&qb, &realm, &params, request_id::MAX_BATCH_LEN, || {
                run_batch(&qb, &params, &body)
            })
    })())
}

/// The items of one batch, each processed on its own.
fn run_batch(qb: &QuickBooks, params: &Params, body: &[u8]) -> Result<Value, Fault> {
    let input = parse_json(body)?;
    let items = input["BatchItemRequest"].as_array().ok_or_else(|| {
        Fault::validation(
            "2020",
            "Required param missing, need to supply the required value for the API",
            "Required parameter BatchItemRequest is missing in the request".into(),
        )
    })?;
    if items.len() > MAX_BATCH {
        return Err(Fault::validation(
            "2010",
            "Invalid request parameter",
            format!(
                "Batch size {} exceeds the maximum of {MAX_BATCH} items",
                items.len()
            ),
        ));
    }
    if params.get("requestid").is_some_and(|id| !id.is_empty()) {
        let long = items.iter().find_map(|item| {
            let bid = match &item["bId"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (bid.chars().count() > request_id::MAX_BID_LEN).then_some(bid)
        });
        if let Some(bid) = long {
            return Err(Fault::validation(
                "2010",
                "Invalid request parameter",
                format!(
                    "bId {bid} is longer than {} characters, the most a batch with a \
                     requestid allows",
                    request_id::MAX_BID_LEN
                ),
            ));
        }
    }
    let mut out = Vec::new();
    for item in items {
        let bid = item["bId"].clone();
        let result = batch_item(qb, item);
        out.push(match result {
            Ok((key, v)) => json!({"bId": bid, key: v}),
            Err(f) => json!({"bId": bid, "Fault": f.body()}),
        });
    }
    Ok(json!({"BatchItemResponse": out, "time": now()}))
}

fn batch_item(qb: &QuickBooks, item: &Value) -> Result<(String, Value), Fault> {
    if let Some(q) = item["Query"].as_str() {
        return Ok(("QueryResponse".into(), run_query(qb, q)?));
    }
    let (entity, body) = [Entity::Customer, Entity::Invoice]
        .into_iter()
        .find_map(|e| item.get(e.name()).map(|b| (e, b)))
        .ok_or_else(|| {
            Fault::validation(
                "2010",
                "Invalid request parameter",
                "Batch item names no supported entity".into(),
            )
        })?;
    let now_ms = qb.ctx.clock.tick();
    let mut store = qb.store();
    let v = match item["operation"].as_str().unwrap_or("create") {
        "delete" => store.delete(entity, body, now_ms)?,
        "create" if body.get("Id").is_some() => {
            return Err(Fault::validation(
                "2010",
                "Invalid request parameter",
                "Id must not be given on create".into(),
            ));
        }
        "create" | "update" => store.write(entity, body, now_ms)?,
        other => {
            return Err(Fault::validation(
                "2010",
                "Invalid request parameter",
                format!("Unsupported operation {other}"),
            ));
        }
    };
    Ok((entity.name().to_string(), v))
}

/// `GET /v3/company/{realm}/companyinfo/{realm}`.
pub async fn company_info(
    state: QbState,
    Path((realm, _id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let qb = state.0;
    let params = Params::parse(raw.as_deref());
    answer((|| {
        enter(&qb, &realm, &params)?;
        Ok(json!({
            "CompanyInfo": {
                "Id": "1",
                "SyncToken": "0",
                "CompanyName": "Switchyard Sandbox Company",
                "LegalName": "Switchyard Sandbox Company",
                "Country": "US",
                "domain": "QBO",
                "sparse": false,
            },
            "time": now(),
        }))
    })())
}

/// `GET /v3/company/{realm}/preferences`.
pub async fn preferences(
    state: QbState,
    Path(realm): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let qb = state.0;
    let params = Params::parse(raw.as_deref());
    answer((|| {
        enter(&qb, &realm, &params)?;
        Ok(json!({ "Preferences": super::model::preferences(), "time": now() }))
    })())
}
