//! The upsert lookups of a whole push batch (`find-matches`), in as few
//! queries as QuickBooks' query language allows: a key set of one field
//! QuickBooks can filter on (a customer's email, `DisplayName` or
//! `CompanyName`; an invoice's `DocNumber` or customer) is asked for every
//! item at once, with one `IN (...)` query per field. Anything else (several
//! fields together, a phone number to compare) is asked item by item, as
//! `find-match` does.
//!
//! An item tries its key sets in priority order: every item's first key set
//! is asked in one round, the next key set of those still unmatched in the
//! next round, and so on. A value matches records whose field equals it
//! case-insensitively, as QuickBooks compares; the record with the lowest
//! `Id` wins, as `find-match`'s first result does. A query that fails fails
//! only the items it asked about.

use std::collections::HashMap;

use serde_json::{Map, Value};
use switchyard_connector_sdk::json::from_json;
use switchyard_connector_sdk::lookups::Lookups;
use switchyard_connector_sdk::prelude::*;

use crate::api::Company;
use crate::mapping::{self, Kind};
use crate::{QuickBooks, key_text, query};

/// Most values in one `IN` list, so the query stays a modest URL.
const MAX_VALUES: usize = 50;
/// Items the host may pass to one `find-matches` call: three `IN` lists of
/// 50 answer the lookups of five push batches of 30, so a push asks a
/// field once for 150 items instead of once per batch.
pub const MAX_LOOKUP_BATCH: u32 = 3 * MAX_VALUES as u32;

/// A field QuickBooks can filter on with `IN`, and where a record holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Field {
    /// The name in a query, e.g. `PrimaryEmailAddr`.
    property: &'static str,
    /// JSON pointer to the value in a record, e.g. `/PrimaryEmailAddr/Address`.
    pointer: &'static str,
}

const EMAIL: Field = Field {
    property: "PrimaryEmailAddr",
    pointer: "/PrimaryEmailAddr/Address",
};
const DISPLAY_NAME: Field = Field {
    property: "DisplayName",
    pointer: "/DisplayName",
};
const COMPANY_NAME: Field = Field {
    property: "CompanyName",
    pointer: "/CompanyName",
};
const DOC_NUMBER: Field = Field {
    property: "DocNumber",
    pointer: "/DocNumber",
};
const CUSTOMER_REF: Field = Field {
    property: "CustomerRef",
    pointer: "/CustomerRef/value",
};

/// One key set, sorted by how it can be asked.
enum Key {
    /// One field equal to a value (its query literal ready): an `IN` query.
    Field(Field, String),
    /// Anything else: `find-match`'s own query.
    Other(Json),
    /// Not a key set QuickBooks can match on.
    Unsupported(ConnectorError),
}

type Answer = Result<Option<String>, ConnectorError>;

pub fn find_matches(
    conn: &Connection,
    company: &Company,
    kind: Kind,
    items: Vec<Vec<Json>>,
) -> Vec<Answer> {
    let keys: Vec<Vec<Key>> = items
        .into_iter()
        .map(|sets| sets.into_iter().map(|set| classify(kind, set)).collect())
        .collect();
    let mut lookups = Lookups::new(keys.len());
    let rounds = keys.iter().map(Vec::len).max().unwrap_or(0);
    for round in 0..rounds {
        // This round's question of each item still unanswered, by field.
        let mut by_field: Vec<(Field, Vec<(usize, &str)>)> = Vec::new();
        let open: Vec<usize> = (0..keys.len()).filter(|&i| lookups.is_open(i)).collect();
        for i in open {
            match keys[i].get(round) {
                None => {}
                Some(Key::Field(field, value)) => {
                    match by_field.iter_mut().find(|(f, _)| f == field) {
                        Some((_, asking)) => asking.push((i, value.as_str())),
                        None => by_field.push((*field, vec![(i, value.as_str())])),
                    }
                }
                Some(Key::Other(keys)) => {
                    lookups.record(i, QuickBooks::find_match(conn, kind.endgrate_type(), keys))
                }
                Some(Key::Unsupported(e)) => lookups.record(i, Err(e.clone())),
            }
        }
        for (field, asking) in by_field {
            for chunk in asking.chunks(MAX_VALUES) {
                let found = query_in(company, kind, field, chunk);
                for &(i, value) in chunk {
                    let outcome = match &found {
                        Ok(ids) => Ok(ids.get(&folded(value)).cloned()),
                        Err(e) => Err(e.clone()),
                    };
                    lookups.record(i, outcome);
                }
            }
        }
    }
    lookups.finish()
}

/// How a key set (a JSON object of common-model fields) can be asked.
fn classify(kind: Kind, keys: Json) -> Key {
    let parsed: Result<Map<String, Value>, _> = from_json(&keys);
    let Ok(parsed) = parsed else {
        return Key::Unsupported(ConnectorError::invalid_data(format!(
            "QuickBooks: a lookup key is not a JSON object: {keys}"
        )));
    };
    let single = match parsed.iter().next() {
        Some((field, value)) if parsed.len() == 1 => Some((field.as_str(), value)),
        _ => None,
    };
    let Some((name, value)) = single else {
        return Key::Other(keys);
    };
    let (field, inner) = match (kind, name) {
        (Kind::Customer, "email_addresses" | "email_address" | "email") => (EMAIL, "email_address"),
        (Kind::Customer, "customer_name") => (DISPLAY_NAME, ""),
        (Kind::Customer, "company_name") => (COMPANY_NAME, ""),
        (Kind::Invoice, "number") => (DOC_NUMBER, ""),
        (Kind::Invoice, "customer_id") => (CUSTOMER_REF, ""),
        _ => return Key::Other(keys),
    };
    match key_text(value, inner) {
        // `find-match` says what it says about a value it cannot quote.
        Some(text) if query::literal(&text).is_ok() => Key::Field(field, text),
        _ => Key::Other(keys),
    }
}

/// Record ids by the value (case-folded) of `field`, for every value of
/// `asking` at once: `field IN (...)`, paged, in QuickBooks' `Id` order, so
/// the first record found for a value is the one `find-match` would give.
fn query_in(
    company: &Company,
    kind: Kind,
    field: Field,
    asking: &[(usize, &str)],
) -> Result<HashMap<String, String>, ConnectorError> {
    let mut values: Vec<&str> = asking.iter().map(|&(_, value)| value).collect();
    values.sort_unstable_by_key(|value| folded(value));
    values.dedup_by_key(|value| folded(value));
    let quoted = values
        .iter()
        .map(|value| query::literal(value))
        .collect::<Result<Vec<_>, _>>()?;
    let condition = format!("{} IN ({})", field.property, quoted.join(", "));
    let mut found = HashMap::new();
    let mut start = 1u64;
    loop {
        let statement = query::lookup_page_statement(
            kind,
            std::slice::from_ref(&condition),
            start,
            query::MAX_RESULTS,
        );
        let records = company.query(kind.entity(), &statement)?;
        for record in &records {
            let value = record.pointer(field.pointer).and_then(|v| match v {
                Value::String(s) => Some(folded(s)),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            });
            if let (Some(value), Some(id)) = (value, mapping::id_of(record)) {
                found.entry(value).or_insert(id);
            }
        }
        // A short page is the last one.
        if records.len() < query::MAX_RESULTS as usize {
            return Ok(found);
        }
        start += records.len() as u64;
    }
}

/// A value as QuickBooks compares it: trimmed, case-insensitive.
fn folded(value: &str) -> String {
    value.trim().to_lowercase()
}
