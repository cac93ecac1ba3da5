//! CRM v4 associations between contacts and companies: default (unlabelled)
//! associate one or in batch, list, remove. Type 279 is contact→company, 280
//! company→contact; the custom object defines no associations.

use axum::Json;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::errors::HsError;
use super::model::{Association, Kind};
use super::{HsState, batch_answer, kind_of, parse_body};

fn spec(a: Association) -> Value {
    json!({"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": a.type_id})
}

fn pair(from: &str, to: &str, a: Association) -> Value {
    json!({"from": {"id": from}, "to": {"id": to}, "associationSpec": spec(a)})
}

/// The object type associations go from, and the association to `to`.
fn kinds(from: &str, to: &str) -> Result<(Kind, Association), HsError> {
    let from = kind_of(from)?;
    let to = kind_of(to)?;
    match from.association() {
        Some(a) if a.to == to => Ok((from, a)),
        _ => Err(HsError::validation(format!(
            "No association is defined from {} to {}",
            from.name(),
            to.name()
        ))),
    }
}

/// `PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{toId}`.
pub async fn associate(
    state: HsState,
    Path((from, from_id, to, to_id)): Path<(String, String, String, String)>,
) -> Response {
    let hs = state.0;
    let started = hs.ctx.clock.tick();
    let result = (|| {
        let (kind, assoc) = kinds(&from, &to)?;
        let mut store = hs.store();
        let a = store
            .resolve(kind, &from_id, None)
            .ok_or(HsError::NotFound {
                id: from_id.clone(),
            })?;
        let b = store
            .resolve(assoc.to, &to_id, None)
            .ok_or(HsError::NotFound { id: to_id.clone() })?;
        store.link(kind, a, b);
        Ok::<_, HsError>(batch_answer(started, vec![pair(&from_id, &to_id, assoc)], Vec::new()).1)
    })();
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.respond(&hs.ctx),
    }
}

/// `DELETE /crm/v4/objects/{from}/{id}/associations/default/{to}/{toId}`.
pub async fn remove(
    state: HsState,
    Path((from, from_id, to, to_id)): Path<(String, String, String, String)>,
) -> Response {
    let hs = state.0;
    let kind = match kinds(&from, &to) {
        Ok((k, _)) => k,
        Err(e) => return e.respond(&hs.ctx),
    };
    if let (Ok(a), Ok(b)) = (from_id.parse::<u64>(), to_id.parse::<u64>()) {
        hs.store().unlink(kind, a, b);
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /crm/v4/objects/{from}/{id}/associations/{to}`.
pub async fn list(
    state: HsState,
    Path((from, from_id, to)): Path<(String, String, String)>,
) -> Response {
    let hs = state.0;
    let result = (|| {
        let (kind, assoc) = kinds(&from, &to)?;
        let mut store = hs.store();
        let n = store
            .resolve(kind, &from_id, None)
            .ok_or(HsError::NotFound {
                id: from_id.clone(),
            })?;
        let results: Vec<Value> = store
            .associated(kind, n)
            .into_iter()
            .map(|id| {
                json!({
                    "toObjectId": id,
                    "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": assoc.type_id, "label": null}],
                })
            })
            .collect();
        Ok::<_, HsError>(json!({ "results": results }))
    })();
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.respond(&hs.ctx),
    }
}

/// `POST /crm/v4/associations/{from}/{to}/batch/associate/default`.
pub async fn batch_associate(
    state: HsState,
    Path((from, to)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let hs = state.0;
    let started = hs.ctx.clock.tick();
    let result = (|| {
        let (kind, assoc) = kinds(&from, &to)?;
        let input = parse_body(&body)?;
        let inputs = input["inputs"]
            .as_array()
            .ok_or_else(|| HsError::validation("inputs is required"))?;
        if inputs.len() > 2000 {
            return Err(HsError::validation("At most 2000 inputs are allowed."));
        }
        let mut store = hs.store();
        let mut results = Vec::new();
        let mut errors = Vec::new();
        for item in inputs {
            let id = |v: &Value| match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => String::new(),
            };
            let (a_id, b_id) = (id(&item["from"]["id"]), id(&item["to"]["id"]));
            match (
                store.resolve(kind, &a_id, None),
                store.resolve(assoc.to, &b_id, None),
            ) {
                (Some(a), Some(b)) => {
                    store.link(kind, a, b);
                    results.push(pair(&a_id, &b_id, assoc));
                }
                (a, _) => {
                    let missing = if a.is_none() { a_id } else { b_id };
                    errors.push(HsError::NotFound { id: missing }.body());
                }
            }
        }
        Ok::<_, HsError>(batch_answer(started, results, errors))
    })();
    match result {
        Ok((status, v)) => (status, Json(v)).into_response(),
        Err(e) => e.respond(&hs.ctx),
    }
}
