//! sObject Collections (`/services/data/vXX.X/composite/sobjects`): create
//! (POST), update (PATCH) and delete (DELETE `?ids=`) up to 200 records,
//! answering one `{"id","success","errors"}` per record in order;
//! `allOrNone` rolls everything back when one fails (two records of one
//! request setting the same unique value count as a failure of the later).

use std::collections::{BTreeMap, HashSet};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::errors::SfError;
use super::model::SObject;
use super::store::{self, Store};
use super::{SfState, check_version};
use crate::params::Params;

const MAX_RECORDS: usize = 200;

fn limit_error(n: usize) -> SfError {
    SfError::bad(
        "EXCEEDED_ID_LIMIT",
        format!(
            "record limit reached. cannot submit more than {MAX_RECORDS} records into this call ({n} given)"
        ),
    )
}

fn rolled_back() -> Value {
    json!({"success": false, "errors": [{
        "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
        "fields": [],
    }]})
}

fn failure(e: &SfError) -> Value {
    json!({"success": false, "errors": [e.composite_item()]})
}

/// One planned write, checked before anything is applied.
enum Plan {
    Create(SObject, BTreeMap<String, Value>),
    Update(SObject, u64, BTreeMap<String, Value>),
    Delete(SObject, u64),
}

fn plan_record(store: &Store, record: &Value, updating: bool) -> Result<Plan, SfError> {
    let obj: &Map<String, Value> = record
        .as_object()
        .ok_or_else(|| SfError::bad("JSON_PARSER_ERROR", "each record must be an object"))?;
    let type_name = obj
        .get("attributes")
        .and_then(|a| a["type"].as_str())
        .ok_or_else(|| SfError::bad("INVALID_TYPE", "No type is specified in attributes.type"))?;
    let object = SObject::parse(type_name).ok_or_else(|| {
        SfError::bad(
            "INVALID_TYPE",
            format!("sObject type '{type_name}' is not supported."),
        )
    })?;
    let mut fields = obj.clone();
    if updating {
        let id = fields
            .remove("Id")
            .and_then(|v| v.as_str().map(str::to_string))
            .ok_or_else(|| {
                SfError::bad("MISSING_ARGUMENT", "Id not specified in an update call")
                    .with_fields(&["Id"])
            })?;
        let n = store.find(object, &id).ok_or_else(|| {
            SfError::bad(
                "ENTITY_IS_DELETED",
                format!("entity is deleted or does not exist: {id}"),
            )
        })?;
        Ok(Plan::Update(
            object,
            n,
            store.check(object, &fields, Some(n))?,
        ))
    } else {
        if fields.contains_key("Id") {
            return Err(
                SfError::bad("INVALID_FIELD", "Id cannot be specified on create")
                    .with_fields(&["Id"]),
            );
        }
        Ok(Plan::Create(object, store.check(object, &fields, None)?))
    }
}

fn apply(store: &mut Store, plan: Plan, now: i64) -> Result<String, SfError> {
    match plan {
        Plan::Create(object, fields) => store.create(object, fields, now).map(|n| object.id(n)),
        Plan::Update(object, n, fields) => {
            store.update(object, n, fields, now).map(|_| object.id(n))
        }
        Plan::Delete(object, n) => store.delete(object, n, now).map(|_| object.id(n)),
    }
}

/// Fails the later of two planned writes that set the same unique value.
fn fail_repeats(plans: &mut [Result<Plan, SfError>]) {
    let mut seen: HashSet<(SObject, &'static str, String)> = HashSet::new();
    for plan in plans.iter_mut() {
        let (object, fields) = match &*plan {
            Ok(Plan::Create(o, f) | Plan::Update(o, _, f)) => (*o, f),
            _ => continue,
        };
        let repeat = object
            .external_ids()
            .iter()
            .filter(|f| object.is_unique(f))
            .find(|field| {
                fields
                    .get(**field)
                    .and_then(Value::as_str)
                    .is_some_and(|v| !seen.insert((object, **field, v.to_lowercase())))
            });
        if let Some(field) = repeat {
            // Salesforce cannot name the record of the same request either.
            *plan = Err(store::duplicate(field, "<unknown>"));
        }
    }
}

/// Checks every planned item; with `all_or_none`, applies only if all passed.
fn execute(
    store: &mut Store,
    plans: Vec<Result<Plan, SfError>>,
    all_or_none: bool,
    now: i64,
) -> Vec<Value> {
    if all_or_none && plans.iter().any(Result::is_err) {
        return plans
            .iter()
            .map(|p| match p {
                Err(e) => failure(e),
                Ok(_) => rolled_back(),
            })
            .collect();
    }
    plans
        .into_iter()
        .map(|p| match p.and_then(|plan| apply(store, plan, now)) {
            Ok(id) => json!({"id": id, "success": true, "errors": []}),
            Err(e) => failure(&e),
        })
        .collect()
}

fn body_records(body: &[u8]) -> Result<(bool, Vec<Value>), SfError> {
    let input: Value = serde_json::from_slice(body)
        .map_err(|e| SfError::bad("JSON_PARSER_ERROR", e.to_string()))?;
    let records = input["records"]
        .as_array()
        .cloned()
        .ok_or_else(|| SfError::bad("JSON_PARSER_ERROR", "records is required"))?;
    if records.len() > MAX_RECORDS {
        return Err(limit_error(records.len()));
    }
    Ok((input["allOrNone"].as_bool().unwrap_or(false), records))
}

async fn write(state: SfState, version: String, body: Bytes, updating: bool) -> Response {
    let sf = state.0;
    let result = (|| {
        check_version(&version)?;
        let (all_or_none, records) = body_records(&body)?;
        let now = sf.ctx.clock.tick();
        let mut store = sf.store();
        let mut plans: Vec<_> = records
            .iter()
            .map(|r| plan_record(&store, r, updating))
            .collect();
        fail_repeats(&mut plans);
        Ok::<_, SfError>(execute(&mut store, plans, all_or_none, now))
    })();
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.respond(),
    }
}

/// `POST .../composite/sobjects`.
pub async fn create(state: SfState, Path(version): Path<String>, body: Bytes) -> Response {
    write(state, version, body, false).await
}

/// `PATCH .../composite/sobjects`.
pub async fn update(state: SfState, Path(version): Path<String>, body: Bytes) -> Response {
    write(state, version, body, true).await
}

/// `DELETE .../composite/sobjects?ids=a,b&allOrNone=false`.
pub async fn delete(
    state: SfState,
    Path(version): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let sf = state.0;
    let result = (|| {
        check_version(&version)?;
        let params = Params::parse(raw.as_deref());
        let ids = params.list("ids").unwrap_or_default();
        if ids.len() > MAX_RECORDS {
            return Err(limit_error(ids.len()));
        }
        let now = sf.ctx.clock.tick();
        let mut store = sf.store();
        let plans = ids
            .iter()
            .map(|id| {
                SObject::ALL
                    .into_iter()
                    .find_map(|o| store.find(o, id).map(|n| Plan::Delete(o, n)))
                    .ok_or_else(|| SfError::bad("ENTITY_IS_DELETED", "entity is deleted"))
            })
            .collect();
        Ok(execute(
            &mut store,
            plans,
            params.get("allOrNone") == Some("true"),
            now,
        ))
    })();
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.respond(),
    }
}
