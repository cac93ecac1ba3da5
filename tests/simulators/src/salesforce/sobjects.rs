//! `/services/data/vXX.X/sobjects/{Contact|Account|Project__c}`: create
//! (201 with `{"id","success","errors"}`), read, update (204), delete (204),
//! upsert by external id (201 created / 200 updated), and the
//! deleted-records feed.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::errors::SfError;
use super::model::SObject;
use super::{SfState, check_version};
use crate::clock;
use crate::params::Params;

/// The sObject type of a path, or Salesforce's 404.
pub fn object(version: &str, name: &str) -> Result<SObject, SfError> {
    check_version(version)?;
    SObject::parse(name).ok_or_else(|| {
        SfError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!(
                "The requested resource does not exist: sObject type '{name}' is not supported."
            ),
        )
    })
}

/// A JSON object body, or Salesforce's parse error.
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, SfError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(SfError::bad(
            "JSON_PARSER_ERROR",
            "The request body must be a JSON object",
        )),
        Err(e) => Err(SfError::bad(
            "JSON_PARSER_ERROR",
            format!(
                "Unexpected character at [line:{},column:{}]: {e}",
                e.line(),
                e.column()
            ),
        )),
    }
}

/// `POST .../sobjects/{type}`.
pub async fn create(
    state: SfState,
    Path((version, name)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let sf = state.0;
    let result = (|| {
        let object = object(&version, &name)?;
        let input = parse_object(&body)?;
        let now = sf.ctx.clock.tick();
        let mut store = sf.store();
        let fields = store.check(object, &input, None)?;
        Ok::<_, SfError>(object.id(store.create(object, fields, now)?))
    })();
    match result {
        Ok(id) => (
            StatusCode::CREATED,
            Json(json!({"id": id, "success": true, "errors": []})),
        )
            .into_response(),
        Err(e) => e.respond(),
    }
}

/// `GET .../sobjects/{type}/{id}[?fields=a,b]`.
pub async fn read(
    state: SfState,
    Path((version, name, id)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let sf = state.0;
    let result = (|| {
        let object = object(&version, &name)?;
        let params = Params::parse(raw.as_deref());
        let fields = match params.list("fields") {
            Some(names) => names
                .iter()
                .map(|f| {
                    object.field(f).ok_or_else(|| {
                        SfError::bad(
                            "INVALID_FIELD",
                            format!("No such column '{f}' on sobject of type {}", object.name()),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => object.fields(),
        };
        let store = sf.store();
        let n = store.find(object, &id).ok_or_else(SfError::not_found)?;
        let row = store.table(object).get(n).ok_or_else(SfError::not_found)?;
        Ok::<_, SfError>(row.render(object, n, &fields))
    })();
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.respond(),
    }
}

/// `PATCH .../sobjects/{type}/{id}`.
pub async fn update(
    state: SfState,
    Path((version, name, id)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let sf = state.0;
    let result = (|| {
        let object = object(&version, &name)?;
        let input = parse_object(&body)?;
        let now = sf.ctx.clock.tick();
        let mut store = sf.store();
        let n = object
            .number(&id)
            .filter(|n| store.table(object).get(*n).is_some())
            .ok_or_else(SfError::not_found)?;
        let fields = store.check(object, &input, Some(n))?;
        store.update(object, n, fields, now)
    })();
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.respond(),
    }
}

/// `DELETE .../sobjects/{type}/{id}`.
pub async fn delete(
    state: SfState,
    Path((version, name, id)): Path<(String, String, String)>,
) -> Response {
    let sf = state.0;
    let result = (|| {
        let object = object(&version, &name)?;
        let now = sf.ctx.clock.tick();
        let mut store = sf.store();
        let n = object
            .number(&id)
            .filter(|n| store.table(object).get(*n).is_some())
            .ok_or_else(SfError::not_found)?;
        store.delete(object, n, now)
    })();
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.respond(),
    }
}

/// `PATCH .../sobjects/{type}/{externalIdField}/{value}`.
pub async fn upsert(
    state: SfState,
    Path((version, name, field, value)): Path<(String, String, String, String)>,
    body: Bytes,
) -> Response {
    let sf = state.0;
    let result = (|| {
        let object = object(&version, &name)?;
        let input = parse_object(&body)?;
        let now = sf.ctx.clock.tick();
        let mut store = sf.store();
        let done = store.upsert(object, &field, &value, &input, now)?;
        Ok::<_, SfError>((object.id(done.n), done.created))
    })();
    match result {
        Ok((id, created)) => {
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (
                status,
                Json(json!({"id": id, "success": true, "errors": [], "created": created})),
            )
                .into_response()
        }
        Err(e) => e.respond(),
    }
}

/// `GET .../sobjects/{type}/deleted/?start=&end=`.
pub async fn deleted(
    state: SfState,
    Path((version, name)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let sf = state.0;
    let result = (|| {
        let object = object(&version, &name)?;
        let params = Params::parse(raw.as_deref());
        let bound = |k: &str| {
            params.get(k).and_then(clock::parse).ok_or_else(|| {
                SfError::bad(
                    "MISSING_ARGUMENT",
                    format!("{k} is missing or not a valid dateTime"),
                )
            })
        };
        let (start, end) = (bound("start")?, bound("end")?);
        let store = sf.store();
        let table = store.table(object);
        let records: Vec<Value> = table
            .by_updated_from((start, 0))
            .take_while(|(t, _)| *t <= end)
            .filter(|(_, n)| table.written(*n).is_some_and(|r| r.deleted))
            .map(|(t, n)| json!({"id": object.id(n), "deletedDate": clock::salesforce(t)}))
            .collect();
        Ok::<_, SfError>(json!({
            "deletedRecords": records,
            "earliestDateAvailable": clock::salesforce(crate::data::EPOCH_MS),
            "latestDateCovered": clock::salesforce(end),
        }))
    })();
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.respond(),
    }
}
