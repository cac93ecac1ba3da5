//! `GET /services/data/vXX.X/query?q=` (and `queryAll`, which includes deleted
//! rows): runs SOQL, answers `{"totalSize","done","records"}` in batches of
//! up to 2,000 (`Sforce-Query-Options: batchSize=N`), and keeps a cursor so
//! `nextRecordsUrl` (`/query/01g...-2000`) serves the following batches.
//! A URI over Salesforce's 16,384 bytes is refused with `414`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::errors::SfError;
use super::model::{SObject, VERSION};
use super::{Salesforce, SfState, check_version, soql};
use crate::params::Params;

/// Open query cursors kept at once: like Salesforce (10 per user), opening
/// another forgets the oldest, whose `nextRecordsUrl` then answers
/// `INVALID_QUERY_LOCATOR`.
const MAX_CURSORS: usize = 10;

/// The longest request URI Salesforce serves (its cap is 16,384 bytes for
/// the URI and headers together); a longer one is `414 URI Too Long`.
const MAX_URI_BYTES: usize = 16_384;

/// A query's results waiting to be fetched batch by batch.
#[derive(Debug, Clone)]
pub struct Cursor {
    object: SObject,
    fields: Vec<&'static str>,
    ids: Vec<u64>,
    batch: usize,
}

/// Open cursors by locator.
#[derive(Debug, Default)]
pub struct Cursors {
    next: u64,
    open: BTreeMap<u64, Cursor>,
}

fn batch_size(headers: &HeaderMap) -> usize {
    headers
        .get("sforce-query-options")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .find_map(|p| p.trim().strip_prefix("batchSize="))
        })
        .and_then(|n| n.trim().parse::<usize>().ok())
        .map_or(2000, |n| n.clamp(200, 2000))
}

fn page(sf: &Salesforce, locator: u64, cursor: &Cursor, offset: usize) -> Value {
    let store = sf.store();
    let table = store.table(cursor.object);
    let end = offset.saturating_add(cursor.batch).min(cursor.ids.len());
    let records: Vec<Value> = cursor.ids[offset.min(end)..end]
        .iter()
        .filter_map(|n| {
            table
                .get(*n)
                .map(|r| r.render(cursor.object, *n, &cursor.fields))
        })
        .collect();
    let mut body =
        json!({"totalSize": cursor.ids.len(), "done": end >= cursor.ids.len(), "records": records});
    if end < cursor.ids.len() {
        body["nextRecordsUrl"] = json!(format!(
            "/services/data/{VERSION}/query/01g5g00000{locator:08X}-{end}"
        ));
    }
    body
}

fn run(
    sf: &Salesforce,
    version: &str,
    raw: Option<&str>,
    headers: &HeaderMap,
    include_deleted: bool,
) -> Result<Value, SfError> {
    check_version(version)?;
    let uri_bytes = format!("/services/data/{version}/query?").len() + raw.map_or(0, str::len);
    if uri_bytes > MAX_URI_BYTES {
        return Err(SfError::new(
            StatusCode::URI_TOO_LONG,
            "URI_TOO_LONG",
            format!("the request URI is {uri_bytes} bytes, over {MAX_URI_BYTES}"),
        ));
    }
    let params = Params::parse(raw);
    let text = params.get("q").ok_or_else(|| {
        SfError::malformed_query("A query string must be provided in the q parameter")
    })?;
    let q = soql::parse(text)?;
    let ids = {
        let store = sf.store();
        soql::run(&q, store.table(q.object), include_deleted)
    };
    if q.count {
        return Ok(json!({"totalSize": ids.len(), "done": true, "records": []}));
    }
    let cursor = Cursor {
        object: q.object,
        fields: q.fields,
        ids,
        batch: batch_size(headers),
    };
    let locator = {
        let mut cursors = sf.cursors();
        cursors.next += 1;
        let locator = cursors.next;
        cursors.open.insert(locator, cursor.clone());
        while cursors.open.len() > MAX_CURSORS {
            cursors.open.pop_first();
        }
        locator
    };
    Ok(page(sf, locator, &cursor, 0))
}

fn answer(result: Result<Value, SfError>) -> Response {
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.respond(),
    }
}

/// `GET /services/data/{version}/query?q=...`.
pub async fn query(
    state: SfState,
    Path(version): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    answer(run(&state.0, &version, raw.as_deref(), &headers, false))
}

/// `GET /services/data/{version}/queryAll?q=...` (deleted rows too).
pub async fn query_all(
    state: SfState,
    Path(version): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    answer(run(&state.0, &version, raw.as_deref(), &headers, true))
}

/// `GET /services/data/{version}/query/{locator}-{offset}`.
pub async fn next(state: SfState, Path((version, locator)): Path<(String, String)>) -> Response {
    let sf = state.0;
    answer((|| {
        check_version(&version)?;
        let invalid = || SfError::bad("INVALID_QUERY_LOCATOR", "invalid query locator");
        let (loc, offset) = locator.split_once('-').ok_or_else(invalid)?;
        let loc = loc
            .strip_prefix("01g5g00000")
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .ok_or_else(invalid)?;
        let offset: usize = offset.parse().map_err(|_| invalid())?;
        let cursor = sf.cursors().open.get(&loc).cloned().ok_or_else(invalid)?;
        Ok(page(&sf, loc, &cursor, offset))
    })())
}
