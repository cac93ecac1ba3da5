//! Pulls: pages of QuickBooks queries (`STARTPOSITION`/`MAXRESULTS`), mapped
//! to the common model.
//!
//! - A full pull pages through QuickBooks' default order (ascending `Id`);
//!   its cursor is the next start position, e.g. `"101"`. The page after the
//!   last record is an empty `QueryResponse`, which ends the pull.
//! - An incremental pull (`since`) asks for records with
//!   `Metadata.LastUpdatedTime >= since`, oldest change first. Its cursor
//!   (opaque, see [`Changed`]) restarts the query from the last change time
//!   seen instead of counting from `since`: a record changed during the pull
//!   moves to the end of that order, and a plain start position would then
//!   skip the record that slid into its place.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchyard_connector_sdk::cursor;
use switchyard_connector_sdk::prelude::*;

use crate::api::Company;
use crate::mapping::{self, Kind};
use crate::query::{self, MAX_RESULTS};

/// Where an incremental pull resumes: the records changed at or after
/// `after`, skipping the first `skip` of them (those already returned, which
/// all changed exactly at `after`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changed {
    pub after: String,
    pub skip: u64,
}

/// One page of `req.endgrate_type`.
pub fn pull(company: &Company, kind: Kind, req: &PullRequest) -> Result<Page, ConnectorError> {
    let max = req.page_size.clamp(1, MAX_RESULTS);
    let since = req.since.as_deref().filter(|s| !s.trim().is_empty());
    let cursor_text = req.cursor.as_deref().filter(|c| !c.is_empty());
    let (records, next) = match since {
        None => {
            let start = match cursor_text {
                None => 1,
                Some(text) => text
                    .parse::<u64>()
                    .ok()
                    .filter(|s| *s >= 1)
                    .ok_or_else(|| {
                        ConnectorError::fatal(format!(
                            "the cursor {text:?} was not made by the QuickBooks connector \
                         (a full pull's cursor is a start position)"
                        ))
                    })?,
            };
            let statement = query::pull_statement(kind, None, start, max)?;
            let records = company.query(kind.entity(), &statement)?;
            let next = (!records.is_empty()).then(|| (start + records.len() as u64).to_string());
            (records, next)
        }
        Some(since) => {
            let at = match cursor_text {
                None => Changed {
                    after: query::query_time(since)?,
                    skip: 0,
                },
                Some(text) => cursor::decode::<Changed>(text)?,
            };
            let statement = query::pull_statement(kind, Some(&at.after), at.skip + 1, max)?;
            let records = company.query(kind.entity(), &statement)?;
            let next = next_changed(&at, &records)
                .map(|next| cursor::encode(&next))
                .transpose()?;
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
        let mut record = PulledRecord::new(&id, &mapping::to_cdm(kind, raw))?;
        if with_customer {
            let ids = mapping::customer_ref(raw).into_iter().collect();
            record = record.with_associations(Kind::Customer.endgrate_type(), ids);
        }
        page.push(record);
    }
    log::debug!("quickbooks: pulled {} {}s", page.len(), kind.noun());
    Ok(Page::new(page, next))
}

/// The cursor after an incremental page; `None` after an empty one.
fn next_changed(at: &Changed, records: &[Value]) -> Option<Changed> {
    let last = records.last()?;
    let count = records.len() as u64;
    let Some(last_time) = mapping::updated_at(last) else {
        // No time to resume from: go on counting from the same instant.
        return Some(Changed {
            after: at.after.clone(),
            skip: at.skip + count,
        });
    };
    if last_time == at.after {
        // The whole page changed at the instant it started from.
        return Some(Changed {
            after: last_time,
            skip: at.skip + count,
        });
    }
    let same = records
        .iter()
        .rev()
        .take_while(|raw| mapping::updated_at(raw).as_deref() == Some(last_time.as_str()))
        .count() as u64;
    Some(Changed {
        after: last_time,
        skip: same,
    })
}
