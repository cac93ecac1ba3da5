//! Pulls: pages of QuickBooks queries (`STARTPOSITION`/`MAXRESULTS`), mapped
//! to the common model.
//!
//! - A full pull pages through QuickBooks' default order (ascending `Id`);
//!   its cursor (opaque, see [`Listed`]) holds the next start position and
//!   the last `Id` returned. Positions shift back when records before them
//!   are deleted during the pull, so each page reads from a little before
//!   that position and leaves out the `Id`s already returned; a plain start
//!   position would skip one record per deletion. The page after the last
//!   record is an empty `QueryResponse`, which ends the pull.
//! - An incremental pull (`since`) asks for records with
//!   `Metadata.LastUpdatedTime >= since`, oldest change first. Its cursor
//!   (opaque, see [`Changed`]) restarts the query from the last change time
//!   seen, leaving out by id the records of that second already returned,
//!   instead of counting: a record changed during the pull moves to the end
//!   of that order, and a start position would then skip the record that
//!   slid into its place.
//! - Queries never return deleted invoices, so the last page of an
//!   incremental invoice pull also asks change data capture (`/cdc`) for the
//!   invoices deleted since `since`, returned as `deleted` records.
//!   QuickBooks' CDC looks back 30 days and lists 1000 changes at most: older
//!   or further deletions are not reported (a warning is logged).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchyard_connector_sdk::cursor;
use switchyard_connector_sdk::prelude::*;

use crate::api::{Company, http_error, parse};
use crate::custom_fields;
use crate::mapping::{self, Kind};
use crate::query::{self, MAX_RESULTS};

/// Where an incremental pull resumes: the records changed at or after
/// `after` (the last returned record's time, in whole seconds), except those
/// in `seen`, already returned and changed exactly then, as `Id/SyncToken`
/// (one that changed again since, even in the same second, has a new
/// `SyncToken` and comes again).
///
/// Leaving records out by id, not by position, is what keeps a change
/// during the pull from shifting the position of a record not yet
/// returned. Only when more than a query's worth of records changed in the
/// same second are they skipped by position, `skip` of them, as cursors of
/// earlier versions (without `seen`) also are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changed {
    pub after: String,
    pub skip: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seen: Vec<String>,
}

/// Where a full pull goes on: after the record with `Id` `last`, which is at
/// position `start - 1` unless records before it were deleted since. Cursors
/// of earlier versions are a bare start position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listed {
    pub start: u64,
    pub last: String,
}

/// How many deletions between two pages a full pull's next query absorbs
/// before it has to look further back.
const OVERLAP: u64 = 100;

/// A record's `Id` as a number (QuickBooks' ids are ascending integers).
fn number_of(raw: &Value) -> Option<u64> {
    mapping::id_of(raw)?.parse().ok()
}

/// One page of a full pull, in ascending `Id` order.
fn list(
    company: &Company,
    kind: Kind,
    cursor_text: Option<&str>,
    max: u32,
) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
    let (start, last) = match cursor_text {
        None => (1, None),
        Some(text) if text.bytes().all(|b| b.is_ascii_digit()) => {
            let start = text
                .parse::<u64>()
                .ok()
                .filter(|s| *s >= 1)
                .ok_or_else(|| {
                    ConnectorError::fatal(format!(
                        "the cursor {text:?} was not made by the QuickBooks connector \
                     (a full pull's cursor is a start position)"
                    ))
                })?;
            (start, None)
        }
        Some(text) => {
            let listed = cursor::decode::<Listed>(text)?;
            (listed.start.max(1), Some(listed.last))
        }
    };
    let last_number = last.as_deref().and_then(|l| l.parse::<u64>().ok());
    let mut window = first_window(start, last_number.is_some());
    let (answer, asked) = loop {
        let asked = asked_for(max, start, window);
        let statement = query::pull_statement(kind, None, window, asked)?;
        let answer = company.query(kind.entity(), &statement)?;
        // The window must begin at or before the last record returned, or
        // more records than it spans were deleted: then look further back.
        let reached = match last_number {
            None => true,
            Some(_) if window == 1 => true,
            Some(last) => answer
                .first()
                .is_some_and(|first| number_of(first).is_none_or(|n| n <= last)),
        };
        if reached {
            break (answer, asked);
        }
        window = window.saturating_sub(u64::from(MAX_RESULTS) / 2).max(1);
    };
    let fresh = match last_number {
        Some(last) => answer
            .iter()
            .position(|raw| number_of(raw).is_none_or(|n| n > last))
            .unwrap_or(answer.len()),
        None => 0,
    };
    let end = (fresh + max as usize).min(answer.len());
    let records = answer[fresh..end].to_vec();
    let next = match (records.last(), &last) {
        (Some(raw), _) => Some(Listed {
            start: window + end as u64,
            last: mapping::id_of(raw).unwrap_or_default(),
        }),
        // Only records already returned, and the query was full: go on.
        (None, Some(last)) if answer.len() == asked as usize => Some(Listed {
            start: window + answer.len() as u64,
            last: last.clone(),
        }),
        (None, _) => None,
    };
    // The next page's query is known now: have the host send it while this
    // page is mapped and stored. (Deletions meanwhile can make the next call
    // look further back; then the prefetched answer is just not used.)
    if let Some(next) = &next {
        let window = first_window(next.start, true);
        let statement =
            query::pull_statement(kind, None, window, asked_for(max, next.start, window))?;
        company.prefetch_query(&statement);
    }
    let next = next.map(|n| cursor::encode(&n)).transpose()?;
    Ok((records, next))
}

/// Where a full pull's query for position `start` begins: a little before
/// it after an earlier page (`after_a_page`), so deletions cannot make it skip.
fn first_window(start: u64, after_a_page: bool) -> u64 {
    if after_a_page {
        start.saturating_sub(OVERLAP).max(1)
    } else {
        start
    }
}

/// How many records a query from `window` asks for, to bring `max` past
/// `start`.
fn asked_for(max: u32, start: u64, window: u64) -> u32 {
    (u64::from(max) + (start - window)).min(u64::from(MAX_RESULTS)) as u32
}

/// One page of `req.endgrate_type`.
pub fn pull(company: &Company, kind: Kind, req: &PullRequest) -> Result<Page, ConnectorError> {
    let max = req.page_size.clamp(1, MAX_RESULTS);
    let since = req.since.as_deref().filter(|s| !s.trim().is_empty());
    let cursor_text = req.cursor.as_deref().filter(|c| !c.is_empty());
    let (records, next) = match since {
        None => list(company, kind, cursor_text, max)?,
        Some(since) => {
            let at = match cursor_text {
                None => Changed {
                    after: query::query_time(since)?,
                    skip: 0,
                    seen: Vec::new(),
                },
                Some(text) => cursor::decode::<Changed>(text)?,
            };
            // Room for the records left out, so a page still fills up.
            let asked = (max as usize + at.seen.len()).min(MAX_RESULTS as usize) as u32;
            let statement = query::pull_statement(kind, Some(&at.after), at.skip + 1, asked)?;
            let mut records = company.query(kind.entity(), &statement)?;
            let answered = records.len();
            records.retain(|raw| {
                !(mapping::updated_at(raw).as_deref() == Some(at.after.as_str())
                    && seen_key(raw).is_some_and(|key| at.seen.contains(&key)))
            });
            records.truncate(max as usize);
            // Nothing new: the changes were all returned.
            if records.is_empty() && answered < asked as usize && kind == Kind::Invoice {
                let deleted = deleted_invoices(company, &query::query_time(since)?)?;
                log::debug!(
                    "quickbooks: {} invoices deleted since {since}",
                    deleted.len()
                );
                return Ok(Page::new(
                    deleted.into_iter().map(PulledRecord::deleted).collect(),
                    None,
                ));
            }
            let next = if records.is_empty() && answered < asked as usize {
                None
            } else {
                Some(cursor::encode(&next_changed(&at, &records, answered))?)
            };
            (records, next)
        }
    };
    let with_customer = kind == Kind::Invoice
        && req
            .associations
            .iter()
            .any(|t| t == Kind::Customer.endgrate_type());
    let mut page = Vec::with_capacity(records.len());
    for raw in &records {
        let id = mapping::id_of(raw).ok_or_else(|| {
            ConnectorError::fatal(format!(
                "QuickBooks returned a {} without an Id",
                kind.noun()
            ))
        })?;
        let mut record = PulledRecord::new(&id, &mapping::to_cdm(kind, raw))?
            .with_remote(req, raw)?
            .with_passthrough(req, |name| custom_fields::value_of(raw, name))?;
        if with_customer {
            let ids = mapping::customer_ref(raw).into_iter().collect();
            record = record.with_associations(Kind::Customer.endgrate_type(), ids);
        }
        page.push(record);
    }
    log::debug!("quickbooks: pulled {} {}s", page.len(), kind.noun());
    Ok(Page::new(page, next))
}

/// The most changes one CDC answer lists per entity.
const CDC_MAX: usize = 1000;

/// The ids of the invoices deleted since `since`, from change data capture
/// (`GET /cdc?entities=Invoice&changedSince=`). QuickBooks refuses a
/// `changedSince` more than 30 days back with a 400: then no deletions are
/// reported, with a warning, and the pull still ends normally.
fn deleted_invoices(company: &Company, since: &str) -> Result<Vec<String>, ConnectorError> {
    let response = company
        .get("cdc")
        .query("entities", "Invoice")
        .query("changedSince", since)
        .send()?;
    if response.status() == 400 {
        let why = http_error(response.status(), response.headers(), response.body());
        log::warn!(
            "quickbooks: deleted invoices since {since} cannot be read (QuickBooks keeps \
             30 days of changes): {}",
            why.message()
        );
        return Ok(Vec::new());
    }
    let answer = parse(response)?;
    let changes: Vec<&Value> = answer
        .pointer("/CDCResponse/0/QueryResponse")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|response| response.get("Invoice").and_then(Value::as_array))
        .flatten()
        .collect();
    if changes.len() >= CDC_MAX {
        log::warn!(
            "quickbooks: {} invoice changes since {since}, the most CDC lists: later \
             deletions may be missing",
            changes.len()
        );
    }
    Ok(changes
        .into_iter()
        .filter(|change| {
            change
                .get("status")
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case("Deleted"))
        })
        .filter_map(mapping::id_of)
        .collect())
}

/// How a returned record is remembered in [`Changed::seen`]: `Id/SyncToken`.
fn seen_key(raw: &Value) -> Option<String> {
    let id = mapping::id_of(raw)?;
    let sync = raw.get("SyncToken").and_then(Value::as_str).unwrap_or("");
    Some(format!("{id}/{sync}"))
}

/// The cursor after an incremental page that returned `records`, what was
/// left of `answered` query results once those already seen were left out.
fn next_changed(at: &Changed, records: &[Value], answered: usize) -> Changed {
    let by_position = |skip: u64| Changed {
        after: at.after.clone(),
        skip,
        seen: Vec::new(),
    };
    let last_time = records.last().and_then(mapping::updated_at);
    let Some(last_time) = last_time else {
        // Every result was already seen, or the last has no time to resume
        // from: go on counting from the same instant.
        return by_position(at.skip + answered as u64);
    };
    if last_time == at.after && at.skip > 0 {
        // Going on by position within one second.
        return by_position(at.skip + records.len() as u64);
    }
    let mut seen: Vec<String> = records
        .iter()
        .filter(|raw| mapping::updated_at(raw).as_deref() == Some(last_time.as_str()))
        .filter_map(seen_key)
        .collect();
    if last_time == at.after {
        seen.extend(at.seen.iter().cloned());
    }
    if seen.len() >= MAX_RESULTS as usize {
        // Too many changed in this second to leave out by id.
        return Changed {
            after: last_time,
            skip: seen.len() as u64,
            seen: Vec::new(),
        };
    }
    Changed {
        after: last_time,
        skip: 0,
        seen,
    }
}
