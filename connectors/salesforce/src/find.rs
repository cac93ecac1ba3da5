//! The upsert lookups of a whole push batch (`find-matches`) as SOQL
//! queries: every item's first key set is asked in one round, the next key
//! set of those still unmatched in the next round, and so on. In a round,
//! key sets of the same shape share one query:
//! - one field (`Email`, `Name`, `Website`): `Email IN ('a@x.com', ...)`;
//! - a phone: `Phone IN (...) OR MobilePhone IN (...)` (contacts);
//! - several fields, or a domain: `(FirstName = 'A' AND LastName = 'B') OR
//!   (...)`, a domain being `Website LIKE '%acme.com%'`.
//!
//! Each query is cut so its URL stays well under Salesforce's 16,384-byte
//! URI cap (and so its text under the 100,000-character SOQL cap), and read
//! to its last `nextRecordsUrl` page. Records come oldest first and are
//! matched to the key sets here, as `find-match` picks them: the oldest,
//! `Phone` before `MobilePhone`, a website whose own host is the domain. A
//! failed query fails only the items it asked about.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use switchyard_connector_sdk::http::encode;
use switchyard_connector_sdk::json::from_json;
use switchyard_connector_sdk::lookups::Lookups;
use switchyard_connector_sdk::prelude::*;

use crate::client::{self, Org};
use crate::mapping::{self, Kind};
use crate::{is_matchable, key_text, soql};

/// The most bytes the URL-encoded SOQL of one query may take. Salesforce
/// refuses a URI and headers over 16,384 bytes together; this leaves room
/// for the instance's path and the host's headers.
pub const MAX_ENCODED_QUERY: usize = 10_000;

/// Salesforce's cap on one string literal in a `WHERE` clause. No field a
/// key is matched on holds a longer value, so such a key matches nothing.
const MAX_LITERAL_CHARS: usize = 4_000;

type Answer = Result<Option<String>, ConnectorError>;

/// One condition of a key set. Values are lower-cased: SOQL compares text
/// without regard to case, so equal keys in other cases are one question.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Cond {
    /// A text field equal to the value.
    Equals(&'static str, String),
    /// A phone number: `Phone`, and for contacts then `MobilePhone`.
    Phone(String),
    /// An account whose website's own host is this domain.
    Domain(String),
}

/// Which field a condition looks at: key sets of one shape share a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Shape {
    Equals(&'static str),
    Phone,
    Domain,
}

impl Cond {
    fn shape(&self) -> Shape {
        match self {
            Cond::Equals(field, _) => Shape::Equals(field),
            Cond::Phone(_) => Shape::Phone,
            Cond::Domain(_) => Shape::Domain,
        }
    }
}

/// What one key set asks.
#[derive(Debug)]
enum Key {
    /// Records meeting every condition (sorted, without repeats).
    All(Vec<Cond>),
    /// An empty key: it matches nothing, without asking.
    Nothing,
    /// A field Salesforce cannot match on: the key set is skipped.
    Unsupported(ConnectorError),
    /// A key set that is not a JSON object: the item fails.
    Invalid(ConnectorError),
}

/// The answers of `find-matches`, one per item, in order.
pub fn find_matches(org: &Org, kind: Kind, items: Vec<Vec<Json>>) -> Vec<Answer> {
    let keys: Vec<Vec<Key>> = items
        .iter()
        .map(|sets| sets.iter().map(|set| classify(kind, set)).collect())
        .collect();
    let mut lookups = Lookups::new(keys.len());
    let rounds = keys.iter().map(Vec::len).max().unwrap_or(0);
    for round in 0..rounds {
        // This round's questions, by shape, each with the items asking it.
        let mut questions: BTreeMap<Vec<Shape>, BTreeMap<&[Cond], Vec<usize>>> = BTreeMap::new();
        for (i, item_keys) in keys.iter().enumerate() {
            if !lookups.is_open(i) {
                continue;
            }
            match item_keys.get(round) {
                Some(Key::All(conds)) => questions
                    .entry(conds.iter().map(Cond::shape).collect())
                    .or_default()
                    .entry(conds.as_slice())
                    .or_default()
                    .push(i),
                Some(Key::Nothing) => lookups.record(i, Ok(None)),
                Some(Key::Unsupported(e) | Key::Invalid(e)) => lookups.record(i, Err(e.clone())),
                None => {}
            }
        }
        for (shape, by_question) in questions {
            let by_question: Vec<(&[Cond], Vec<usize>)> = by_question.into_iter().collect();
            for chunk in chunks(kind, &shape, &by_question) {
                let conds: Vec<&[Cond]> = chunk.iter().map(|(conds, _)| *conds).collect();
                let found = client::query_all_pages(org, &query(kind, &shape, &conds));
                for (conds, asking) in chunk {
                    let answer = match &found {
                        Ok(records) => Ok(best_match(kind, conds, records)),
                        Err(e) => Err(e.clone()),
                    };
                    for &i in asking {
                        lookups.record(i, answer.clone());
                    }
                }
            }
        }
    }
    lookups.finish()
}

/// What a key set (a JSON object of common-model fields) asks, read as
/// `find-match` reads it.
fn classify(kind: Kind, keys: &str) -> Key {
    let keys: Map<String, Value> = match from_json(keys) {
        Ok(keys) => keys,
        Err(e) => return Key::Invalid(e),
    };
    if let Some(field) = keys.keys().find(|field| !is_matchable(kind, field)) {
        return Key::Unsupported(ConnectorError::unsupported(format!(
            "Salesforce cannot match {} on {field}",
            kind.endgrate_type()
        )));
    }
    let mut conds = Vec::with_capacity(keys.len());
    for (field, value) in &keys {
        let inner = match field.as_str() {
            "email" | "email_address" | "email_addresses" => "email_address",
            "phone" | "phone_number" | "phone_numbers" => "phone_number",
            _ => "",
        };
        let Some(text) = key_text(value, inner).filter(|t| t.chars().count() <= MAX_LITERAL_CHARS)
        else {
            return Key::Nothing;
        };
        let text = text.to_lowercase();
        let cond = match (kind, field.as_str()) {
            (_, "phone" | "phone_number" | "phone_numbers") => Cond::Phone(text),
            (Kind::Contact, "first_name") => Cond::Equals("FirstName", text),
            (Kind::Contact, "last_name") => Cond::Equals("LastName", text),
            (Kind::Contact, "title") => Cond::Equals("Title", text),
            (Kind::Contact, _) => Cond::Equals("Email", text),
            (Kind::Account, "name") => Cond::Equals("Name", text),
            (Kind::Account, "website") => Cond::Equals("Website", text),
            (Kind::Account, _) => match mapping::domain_of(&text) {
                Some(domain) => Cond::Domain(domain.to_lowercase()),
                None => return Key::Nothing,
            },
        };
        conds.push(cond);
    }
    if conds.is_empty() {
        return Key::Nothing;
    }
    conds.sort();
    conds.dedup();
    Key::All(conds)
}

/// The questions cut into runs whose query fits [`MAX_ENCODED_QUERY`]; a
/// question too long for any query still goes, alone.
fn chunks<'a, T>(
    kind: Kind,
    shape: &[Shape],
    questions: &'a [(&'a [Cond], T)],
) -> Vec<&'a [(&'a [Cond], T)]> {
    let mut out = Vec::new();
    let mut start = 0;
    for end in 1..=questions.len() {
        let conds: Vec<&[Cond]> = questions[start..end].iter().map(|(c, _)| *c).collect();
        if end - start > 1 && encode(&query(kind, shape, &conds)).len() > MAX_ENCODED_QUERY {
            out.push(&questions[start..end - 1]);
            start = end - 1;
        }
    }
    if start < questions.len() {
        out.push(&questions[start..]);
    }
    out
}

/// The query asking every key set of one shape at once, oldest first.
fn query(kind: Kind, shape: &[Shape], questions: &[&[Cond]]) -> String {
    let mut fields = vec!["Id"];
    for part in shape {
        let read: &[&'static str] = match (part, kind) {
            (Shape::Equals(field), _) => &[field],
            (Shape::Phone, Kind::Contact) => &["Phone", "MobilePhone"],
            (Shape::Phone, Kind::Account) => &["Phone"],
            (Shape::Domain, _) => &["Website"],
        };
        for field in read {
            // Salesforce refuses a field selected twice.
            if !fields.contains(field) {
                fields.push(field);
            }
        }
    }
    let values = |wanted: &dyn Fn(&Cond) -> Option<&str>| {
        questions
            .iter()
            .filter_map(|conds| conds.first().and_then(wanted))
            .map(soql::quote)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let filter = match (shape, kind) {
        ([Shape::Equals(field)], _) => {
            let list = values(&|c| match c {
                Cond::Equals(_, v) => Some(v),
                _ => None,
            });
            format!("{field} IN ({list})")
        }
        ([Shape::Phone], _) => {
            let list = values(&|c| match c {
                Cond::Phone(v) => Some(v),
                _ => None,
            });
            match kind {
                Kind::Contact => format!("Phone IN ({list}) OR MobilePhone IN ({list})"),
                Kind::Account => format!("Phone IN ({list})"),
            }
        }
        _ => questions
            .iter()
            .map(|conds| {
                let all: Vec<String> = conds.iter().map(|c| condition(kind, c)).collect();
                if all.len() == 1 {
                    all.join("")
                } else {
                    format!("({})", all.join(" AND "))
                }
            })
            .collect::<Vec<_>>()
            .join(" OR "),
    };
    format!(
        "SELECT {} FROM {} WHERE {filter} ORDER BY CreatedDate ASC",
        fields.join(", "),
        kind.sobject()
    )
}

/// One condition as SOQL.
fn condition(kind: Kind, cond: &Cond) -> String {
    match (cond, kind) {
        (Cond::Equals(field, value), _) => format!("{field} = {}", soql::quote(value)),
        (Cond::Phone(number), Kind::Contact) => {
            let number = soql::quote(number);
            format!("(Phone = {number} OR MobilePhone = {number})")
        }
        (Cond::Phone(number), Kind::Account) => format!("Phone = {}", soql::quote(number)),
        (Cond::Domain(domain), _) => format!("Website LIKE {}", soql::contains_pattern(domain)),
    }
}

/// The id of the record `find-match` would pick for `conds` among
/// `records` (oldest first): the first that fits, one whose `Phone` fits
/// before one whose `MobilePhone` does.
fn best_match(kind: Kind, conds: &[Cond], records: &[Value]) -> Option<String> {
    let mut best: Option<(u8, &str)> = None;
    for raw in records {
        let Some(id) = client::id_of(raw) else {
            continue;
        };
        let rank = conds
            .iter()
            .map(|cond| fit(kind, cond, raw))
            .try_fold(0, |worst, rank| rank.map(|rank| worst.max(rank)));
        if let Some(rank) = rank
            && best.is_none_or(|(best_rank, _)| rank < best_rank)
        {
            best = Some((rank, id));
        }
    }
    best.map(|(_, id)| id.to_owned())
}

/// How well `raw` meets `cond`: `Some(0)`, `Some(1)` for a contact's
/// mobile phone, `None` when it does not.
fn fit(kind: Kind, cond: &Cond, raw: &Value) -> Option<u8> {
    let equals = |field: &str, want: &str| {
        mapping::field(raw, field).is_some_and(|have| have.to_lowercase() == want)
    };
    match cond {
        Cond::Equals(field, want) => equals(field, want).then_some(0),
        Cond::Phone(want) if equals("Phone", want) => Some(0),
        Cond::Phone(want) => (kind == Kind::Contact && equals("MobilePhone", want)).then_some(1),
        Cond::Domain(want) => mapping::field(raw, "Website")
            .and_then(|website| mapping::domain_of(&website))
            .is_some_and(|domain| domain.to_lowercase() == *want)
            .then_some(0),
    }
}
