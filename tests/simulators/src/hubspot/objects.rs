//! `/crm/v3/objects/{type}` (contacts, companies and the custom object):
//! list with `after` paging (no `paging` on the last page), read one, create,
//! update and archive; and `/crm/v3/properties/{type}`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::errors::HsError;
use super::model::{Association, Kind};
use super::{HsState, empty_map, kind_of, object_field, parse_body};
use crate::params::Params;

/// The v3 `associations` block of an object.
pub fn association_block(a: Association, linked: &[u64]) -> Value {
    let results: Vec<Value> = linked
        .iter()
        .map(|id| json!({"id": id.to_string(), "type": a.label}))
        .collect();
    json!({ a.to.name(): { "results": results } })
}

/// The association the `associations` parameter asks for, if `kind` has it.
fn wanted_association(kind: Kind, p: &Params) -> Option<Association> {
    let a = kind.association()?;
    p.list("associations")?
        .iter()
        .any(|t| Kind::parse(t) == Some(a.to))
        .then_some(a)
}

/// `GET /crm/v3/objects/{type}?limit&after&properties&associations&archived`.
pub async fn list(state: HsState, Path(object): Path<String>, RawQuery(q): RawQuery) -> Response {
    let hs = state.0;
    match list_page(&hs, &object, &Params::parse(q.as_deref())) {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.respond(&hs.ctx),
    }
}

fn list_page(hs: &super::HubSpot, object: &str, p: &Params) -> Result<Value, HsError> {
    let kind = kind_of(object)?;
    let limit = match p.get("limit") {
        None => 10,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=100).contains(l))
            .ok_or_else(|| {
                HsError::validation(format!("limit must be between 1 and 100, got {s}"))
            })?,
    };
    let after = match p.get("after") {
        None | Some("") => 0,
        Some(s) => s
            .parse::<u64>()
            .map_err(|_| HsError::validation(format!("Invalid 'after' value: {s}")))?,
    };
    let archived = p.get("archived") == Some("true");
    let props = p.list("properties");
    let with_assoc = wanted_association(kind, p);
    let store = hs.store();
    let table = store.table(kind);
    // Generated rows are never archived: an archived listing only looks at
    // written ones, without deriving the rest.
    let mut rows = table.numbers_from(after).filter_map(|n| {
        if archived {
            table
                .written(n)
                .filter(|o| o.archived_ms.is_some())
                .map(|o| (n, std::borrow::Cow::Borrowed(o)))
        } else {
            table.live(n).map(|o| (n, o))
        }
    });
    let mut results = Vec::with_capacity(limit);
    for (n, o) in rows.by_ref().take(limit) {
        let mut v = o.render(
            kind,
            n,
            Some(props.as_deref().unwrap_or(&owned(kind.default_props()))),
        );
        if let Some(a) = with_assoc {
            let linked = store.associated(kind, n);
            if !linked.is_empty() {
                v["associations"] = association_block(a, &linked);
            }
        }
        results.push(v);
    }
    let mut body = json!({ "results": results });
    if let Some((next, _)) = rows.next() {
        let mut link = format!(
            "{}/crm/v3/objects/{}?after={next}&limit={limit}",
            hs.ctx.base_url,
            kind.path()
        );
        if let Some(props) = &props {
            link.push_str(&format!("&properties={}", props.join(",")));
        }
        body["paging"] = json!({"next": {"after": next.to_string(), "link": link}});
    }
    Ok(body)
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// `GET /crm/v3/objects/{type}/{id}?properties&idProperty&associations`.
pub async fn read(
    state: HsState,
    Path((object, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    let hs = state.0;
    let p = Params::parse(q.as_deref());
    let result = (|| {
        let kind = kind_of(&object)?;
        let mut store = hs.store();
        let n = store
            .resolve(kind, &id, p.get("idProperty"))
            .ok_or(HsError::NotFound { id: id.clone() })?;
        let props = p
            .list("properties")
            .unwrap_or_else(|| owned(kind.default_props()));
        let mut v = store
            .table(kind)
            .live(n)
            .map(|o| o.render(kind, n, Some(&props)))
            .ok_or(HsError::NotFound { id: id.clone() })?;
        if let Some(a) = wanted_association(kind, &p) {
            let linked = store.associated(kind, n);
            if !linked.is_empty() {
                v["associations"] = association_block(a, &linked);
            }
        }
        Ok::<_, HsError>(v)
    })();
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.respond(&hs.ctx),
    }
}

/// `POST /crm/v3/objects/{type}` `{"properties":{...},"associations":[...]}`.
pub async fn create(state: HsState, Path(object): Path<String>, body: Bytes) -> Response {
    let hs = state.0;
    let result = (|| {
        let kind = kind_of(&object)?;
        let input = parse_body(&body)?;
        let props = object_field(&input, "properties").unwrap_or(empty_map());
        let now = hs.ctx.clock.tick();
        let mut store = hs.store();
        let n = store.create(kind, props, input.get("associations"), now)?;
        let v = store.table(kind).live(n).map(|o| o.render(kind, n, None));
        Ok::<_, HsError>(v.unwrap_or(Value::Null))
    })();
    match result {
        Ok(v) => (StatusCode::CREATED, Json(v)).into_response(),
        Err(e) => e.respond(&hs.ctx),
    }
}

/// `PATCH /crm/v3/objects/{type}/{id}` `{"properties":{...}}`.
pub async fn update(
    state: HsState,
    Path((object, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let hs = state.0;
    let p = Params::parse(q.as_deref());
    let result = (|| {
        let kind = kind_of(&object)?;
        let input = parse_body(&body)?;
        let props = object_field(&input, "properties").unwrap_or(empty_map());
        let now = hs.ctx.clock.tick();
        let mut store = hs.store();
        let n = store
            .resolve(kind, &id, p.get("idProperty"))
            .ok_or(HsError::NotFound { id: id.clone() })?;
        store.update(kind, n, props, now)?;
        let v = store.table(kind).live(n).map(|o| o.render(kind, n, None));
        Ok::<_, HsError>(v.unwrap_or(Value::Null))
    })();
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.respond(&hs.ctx),
    }
}

/// `DELETE /crm/v3/objects/{type}/{id}`: archives; 204 even when absent.
pub async fn archive(state: HsState, Path((object, id)): Path<(String, String)>) -> Response {
    let hs = state.0;
    let kind = match kind_of(&object) {
        Ok(k) => k,
        Err(e) => return e.respond(&hs.ctx),
    };
    let now = hs.ctx.clock.tick();
    if let Ok(n) = id.parse::<u64>() {
        hs.store().archive(kind, n, now);
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /crm/v3/properties/{objectType}`: the object type's property
/// definitions, custom ones included.
pub async fn properties(state: HsState, Path(object): Path<String>) -> Response {
    let hs = state.0;
    match kind_of(&object) {
        Ok(kind) => {
            Json(json!({ "results": super::properties::definitions(kind) })).into_response()
        }
        Err(e) => e.respond(&hs.ctx),
    }
}
