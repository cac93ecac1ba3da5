//! `/api/v2/{persons,organizations}`: list with cursor paging
//! (`additional_data.next_cursor`), `updated_since`/`updated_until`, sorting by
//! id, update_time or add_time; read, create, update (PATCH) and delete.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::errors::PdError;
use super::model::Kind;
use super::{PdState, Pipedrive};
use crate::clock;
use crate::params::Params;

const MAX_LIMIT: usize = 500;

fn kind_of(name: &str) -> Result<Kind, PdError> {
    Kind::parse(name).ok_or_else(|| PdError::not_found("Resource"))
}

fn ok(data: Value, next_cursor: Option<String>) -> Response {
    Json(json!({"success": true, "data": data, "additional_data": {"next_cursor": next_cursor}}))
        .into_response()
}

fn answer(result: Result<Response, PdError>) -> Response {
    result.unwrap_or_else(|e| e.respond())
}

/// The sort order of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    Id,
    UpdateTime,
    AddTime,
}

fn encode_cursor(key: i64, n: u64) -> String {
    STANDARD.encode(format!("{key}:{n}"))
}

fn decode_cursor(s: &str) -> Option<(i64, u64)> {
    let text = String::from_utf8(STANDARD.decode(s).ok()?).ok()?;
    let (k, n) = text.split_once(':')?;
    Some((k.parse().ok()?, n.parse().ok()?))
}

/// `GET /api/v2/{kind}`.
pub async fn list(state: PdState, Path(kind): Path<String>, RawQuery(raw): RawQuery) -> Response {
    let pd = state.0;
    answer(list_page(&pd, &kind, &Params::parse(raw.as_deref())))
}

fn list_page(pd: &Pipedrive, kind: &str, p: &Params) -> Result<Response, PdError> {
    let kind = kind_of(kind)?;
    let limit = match p.get("limit") {
        None => 100,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| PdError::bad(format!("Validation failed: limit: Parameter 'limit' must be an integer between 1 and {MAX_LIMIT}")))?,
    };
    let sort = match p.get("sort_by").unwrap_or("id") {
        "id" => Sort::Id,
        "update_time" => Sort::UpdateTime,
        "add_time" => Sort::AddTime,
        other => {
            return Err(PdError::bad(format!(
                "Validation failed: sort_by: must be one of id, update_time, add_time (got {other})"
            )));
        }
    };
    let descending = match p.get("sort_direction").unwrap_or("asc") {
        "asc" => false,
        "desc" => true,
        other => {
            return Err(PdError::bad(format!(
                "Validation failed: sort_direction: must be asc or desc (got {other})"
            )));
        }
    };
    let time = |name: &str| -> Result<Option<i64>, PdError> {
        p.get(name)
            .map(|s| {
                clock::parse(s).ok_or_else(|| {
                    PdError::bad(format!(
                        "Validation failed: {name}: must be an RFC 3339 date-time"
                    ))
                })
            })
            .transpose()
    };
    let since = time("updated_since")?;
    let until = time("updated_until")?;
    let after = match p.get("cursor") {
        None | Some("") => None,
        Some(c) => Some(decode_cursor(c).ok_or_else(|| PdError::bad("Invalid cursor"))?),
    };
    let org = p
        .get("org_id")
        .map(|s| {
            s.parse::<u64>()
                .map_err(|_| PdError::bad("Validation failed: org_id: must be an integer"))
        })
        .transpose()?;
    let ids: Option<Vec<u64>> = p
        .list("ids")
        .map(|l| l.iter().filter_map(|s| s.parse().ok()).collect());

    let store = pd.store();
    let table = store.table(kind);
    // Candidates as (sort key, number), in order.
    let keys: Box<dyn Iterator<Item = (i64, u64)> + '_> = match (sort, descending) {
        (Sort::Id, false) => Box::new(
            table
                .numbers_from(after.map_or(1, |(_, n)| n + 1))
                .map(|n| (n as i64, n)),
        ),
        (Sort::UpdateTime, false) => {
            let from = match after {
                Some((t, n)) => (t, n + 1),
                None => (since.unwrap_or(i64::MIN), 0),
            };
            Box::new(table.by_updated_from(from))
        }
        _ => {
            let mut all: Vec<(i64, u64)> = table
                .numbers_from(1)
                .filter_map(|n| {
                    let r = table.get(n)?;
                    let key = match sort {
                        Sort::Id => n as i64,
                        Sort::UpdateTime => r.updated_ms,
                        Sort::AddTime => r.added_ms,
                    };
                    Some((key, n))
                })
                .collect();
            all.sort();
            if descending {
                all.reverse();
            }
            let start = after.map_or(0, |cur| {
                all.iter()
                    .position(|k| *k == cur)
                    .map_or(all.len(), |i| i + 1)
            });
            Box::new(all.into_iter().skip(start))
        }
    };
    let mut rows = keys.filter_map(|(key, n)| {
        // Time filters first: they need no derived row.
        let updated = table.updated_ms(n)?;
        if since.is_some_and(|s| updated < s) || until.is_some_and(|u| updated >= u) {
            return None;
        }
        let row = table.live(n)?;
        let keep = org.is_none_or(|o| row.body["org_id"].as_u64() == Some(o))
            && ids.as_ref().is_none_or(|ids| ids.contains(&n));
        keep.then(|| (key, n, row.render(n)))
    });
    let page: Vec<(i64, u64, Value)> = rows.by_ref().take(limit).collect();
    let more = rows.next().is_some();
    let next = page
        .last()
        .filter(|_| more)
        .map(|(k, n, _)| encode_cursor(*k, *n));
    Ok(ok(
        json!(page.into_iter().map(|(_, _, v)| v).collect::<Vec<_>>()),
        next,
    ))
}

fn number(kind: Kind, id: &str) -> Result<u64, PdError> {
    id.parse().map_err(|_| PdError::not_found(kind.singular()))
}

/// `GET /api/v2/{kind}/{id}`.
pub async fn read(state: PdState, Path((kind, id)): Path<(String, String)>) -> Response {
    let pd = state.0;
    answer((|| {
        let kind = kind_of(&kind)?;
        let n = number(kind, &id)?;
        let store = pd.store();
        let row = store
            .table(kind)
            .live(n)
            .ok_or_else(|| PdError::not_found(kind.singular()))?;
        Ok(ok(row.render(n), None))
    })())
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, PdError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(PdError::bad(
            "Validation failed: the request body must be a JSON object",
        )),
        Err(e) => Err(PdError::bad(format!("Invalid JSON in request body: {e}"))),
    }
}

/// `POST /api/v2/{kind}`.
pub async fn create(state: PdState, Path(kind): Path<String>, body: Bytes) -> Response {
    let pd = state.0;
    answer((|| {
        let kind = kind_of(&kind)?;
        let input = parse_object(&body)?;
        let now = pd.ctx.clock.tick();
        let mut store = pd.store();
        let n = store.create(kind, &input, now)?;
        let row = store
            .table(kind)
            .live(n)
            .map(|r| r.render(n))
            .unwrap_or(Value::Null);
        Ok(ok(row, None))
    })())
}

/// `PATCH /api/v2/{kind}/{id}`.
pub async fn update(
    state: PdState,
    Path((kind, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let pd = state.0;
    answer((|| {
        let kind = kind_of(&kind)?;
        let n = number(kind, &id)?;
        let input = parse_object(&body)?;
        let now = pd.ctx.clock.tick();
        let mut store = pd.store();
        store.update(kind, n, &input, now)?;
        let row = store
            .table(kind)
            .live(n)
            .map(|r| r.render(n))
            .unwrap_or(Value::Null);
        Ok(ok(row, None))
    })())
}

/// `DELETE /api/v2/{kind}/{id}`.
pub async fn delete(state: PdState, Path((kind, id)): Path<(String, String)>) -> Response {
    let pd = state.0;
    answer((|| {
        let kind = kind_of(&kind)?;
        let n = number(kind, &id)?;
        let now = pd.ctx.clock.tick();
        pd.store().delete(kind, n, now)?;
        Ok(ok(json!({"id": n}), None))
    })())
}
