//! `/crm/v3/objects/{type}/batch/{create,update,read,upsert,archive}`: up to
//! 100 inputs; per-input failures come back in `errors` with status 207.

use axum::Json;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::errors::HsError;
use super::model::Kind;
use super::store::Store;
use super::{HsState, batch_answer, empty_map, kind_of, object_field, parse_body};

const MAX_INPUTS: usize = 100;

/// `POST /crm/v3/objects/{type}/batch/{action}`.
pub async fn batch(
    state: HsState,
    Path((object, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let hs = state.0;
    let started = hs.ctx.clock.tick();
    let result = (|| {
        let kind = kind_of(&object)?;
        let input = parse_body(&body)?;
        let inputs = input["inputs"]
            .as_array()
            .ok_or_else(|| HsError::validation("inputs is required and must be an array"))?;
        if inputs.len() > MAX_INPUTS {
            return Err(HsError::validation(format!(
                "Batch input limit exceeded: {} inputs were given, at most {MAX_INPUTS} are allowed.",
                inputs.len()
            )));
        }
        let mut store = hs.store();
        let now = hs.ctx.clock.tick();
        let mut results = Vec::new();
        let mut errors = Vec::new();
        match action.as_str() {
            "create" => {
                for item in inputs {
                    let props = object_field(item, "properties").unwrap_or(empty_map());
                    match store.create(kind, props, item.get("associations"), now) {
                        Ok(n) => results.push(render(&store, kind, n)),
                        Err(e) => errors.push(batch_error(&e)),
                    }
                }
            }
            "update" => {
                for item in inputs {
                    let id = id_of(item);
                    let props = object_field(item, "properties").unwrap_or(empty_map());
                    let found = store.resolve(kind, &id, item["idProperty"].as_str());
                    let outcome = match found {
                        Some(n) => store.update(kind, n, props, now).map(|_| n),
                        None => Err(HsError::NotFound { id: id.clone() }),
                    };
                    match outcome {
                        Ok(n) => results.push(render(&store, kind, n)),
                        Err(e) => errors.push(batch_error(&e)),
                    }
                }
            }
            "read" => {
                let id_property = input["idProperty"].as_str();
                let names: Option<Vec<String>> = input["properties"].as_array().map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                });
                let defaults: Vec<String> =
                    kind.default_props().iter().map(|s| s.to_string()).collect();
                let mut missing = Vec::new();
                for item in inputs {
                    let id = id_of(item);
                    match store.resolve(kind, &id, id_property) {
                        Some(n) => {
                            let o = store.table(kind).live(n).map(|o| {
                                o.render(kind, n, Some(names.as_deref().unwrap_or(&defaults)))
                            });
                            results.extend(o);
                        }
                        None => missing.push(id),
                    }
                }
                if !missing.is_empty() {
                    errors.push(json!({
                        "status": "error",
                        "category": "OBJECT_NOT_FOUND",
                        "message": format!("Could not get some {} objects, they may be deleted or not exist. Check that ids are valid.", kind.singular().to_uppercase()),
                        "context": {"ids": missing},
                    }));
                }
            }
            "upsert" => {
                for item in inputs {
                    let id = id_of(item);
                    let id_property = item["idProperty"].as_str().unwrap_or("hs_object_id");
                    let unique = kind.unique_props().contains(&id_property);
                    if !unique && id_property != "hs_object_id" {
                        return Err(HsError::validation(format!(
                            "{id_property} is not a unique property of {}",
                            kind.name()
                        )));
                    }
                    let props = object_field(item, "properties").unwrap_or(empty_map());
                    let outcome = match store.resolve(kind, &id, Some(id_property)) {
                        Some(n) => store.update(kind, n, props, now).map(|_| (n, false)),
                        None if unique => {
                            let mut with_key = props.clone();
                            with_key.insert(id_property.into(), Value::String(id.clone()));
                            store.create(kind, &with_key, None, now).map(|n| (n, true))
                        }
                        None => Err(HsError::NotFound { id: id.clone() }),
                    };
                    match outcome {
                        Ok((n, created)) => {
                            let mut v = render(&store, kind, n);
                            v["new"] = json!(created);
                            results.push(v);
                        }
                        Err(e) => errors.push(batch_error(&e)),
                    }
                }
            }
            "archive" => {
                for item in inputs {
                    if let Ok(n) = id_of(item).parse::<u64>() {
                        store.archive(kind, n, now);
                    }
                }
                return Ok(None);
            }
            other => {
                return Err(HsError::NotFound {
                    id: other.to_string(),
                });
            }
        }
        let created = action == "create" && errors.is_empty();
        let (status, body) = batch_answer(started, results, errors);
        let status = if created { StatusCode::CREATED } else { status };
        Ok(Some((status, body)))
    })();
    match result {
        Ok(Some((status, body))) => (status, Json(body)).into_response(),
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.respond(&hs.ctx),
    }
}

fn id_of(item: &Value) -> String {
    match &item["id"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

fn render(store: &Store, kind: Kind, n: u64) -> Value {
    store
        .table(kind)
        .live(n)
        .map(|o| o.render(kind, n, None))
        .unwrap_or(Value::Null)
}

fn batch_error(e: &HsError) -> Value {
    let mut v = e.body();
    if let HsError::Conflict { existing, .. } = e {
        v["context"] = json!({"existingId": [existing.to_string()]});
    }
    v
}
