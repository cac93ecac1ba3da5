//! The upsert lookups of a whole push batch (`find-matches`) as SOQL
//! queries: every item's first key set is asked in one round, the next key
//! set of those still unmatched in the next round, and so on. In a round,
//! key sets of the same shape share one query:
//! - one field (`Email`, `Name`, `Website`): `Email IN ('a@x.com', ...)`;
//! - a phone: `Phone IN (...) OR MobilePhone IN (...)` (contacts);
//! - several fields, or a domain: `(FirstName = 'A' AND LastName = 'B') OR
//!   (...)`, a domain being `Website LIKE '%acme.com%'`.
//!
//! A custom object's key sets (an object subject's) are its own fields and
//! values, `Code__c IN ('prj-1', ...)` for one field: text is a quoted
//! literal, a number or boolean a bare one (SOQL refuses a quoted number
//! for a number field), and field names are identifiers or the key set is
//! `invalid-data`.
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
use crate::objects::value_of;
use crate::resource::{Resource, field_name};
use crate::{is_matchable, key_text, soql};

/// The most bytes the URL-encoded SOQL of one query may take. Salesforce
/// refuses a URI and headers over 16,384 bytes together; this leaves room
/// for the instance's path and the host's headers.
pub const MAX_ENCODED_QUERY: usize = 10_000;

/// Salesforce's cap on one string literal in a `WHERE` clause. No field a
/// key is matched on holds a longer value, so such a key matches nothing.
const MAX_LITERAL_CHARS: usize = 4_000;

type Answer = Result<Option<String>, ConnectorError>;

/// A value a field is compared with.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Literal {
    /// Text, lower-cased: SOQL compares text without regard to case, so
    /// equal keys in other cases are one question. Quoted in SOQL.
    Text(String),
    /// A number or boolean, as JSON writes it: bare in SOQL.
    Bare(String),
}

impl Literal {
    /// The literal in SOQL text.
    fn soql(&self) -> String {
        match self {
            Literal::Text(text) => soql::quote(text),
            Literal::Bare(bare) => bare.clone(),
        }
    }

    /// Whether a record's value (as [`mapping::field`] gives it) is this.
    fn is(&self, have: &str) -> bool {
        match self {
            Literal::Text(want) => have.to_lowercase() == *want,
            Literal::Bare(want) => {
                have.eq_ignore_ascii_case(want)
                    || matches!(
                        (have.parse::<f64>(), want.parse::<f64>()),
                        (Ok(have), Ok(want)) if have == want
                    )
            }
        }
    }
}

/// One condition of a key set.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Cond {
    /// A field equal to the value.
    Equals(String, Literal),
    /// A phone number: `Phone`, and for contacts then `MobilePhone`.
    Phone(String),
    /// An account whose website's own host is this domain.
    Domain(String),
}

/// Which field a condition looks at: key sets of one shape share a query.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Shape {
    Equals(String),
    Phone,
    Domain,
}

impl Cond {
    fn shape(&self) -> Shape {
        match self {
            Cond::Equals(field, _) => Shape::Equals(field.clone()),
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
pub fn find_matches(org: &Org, resource: Resource, items: Vec<Vec<Json>>) -> Vec<Answer> {
    let keys: Vec<Vec<Key>> = items
        .iter()
        .map(|sets| sets.iter().map(|set| classify(resource, set)).collect())
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
            for chunk in chunks(resource, &shape, &by_question) {
                let conds: Vec<&[Cond]> = chunk.iter().map(|(conds, _)| *conds).collect();
                let found = client::query_all_pages(org, &query(resource, &shape, &conds));
                for (conds, asking) in chunk {
                    let answer = match &found {
                        Ok(records) => Ok(best_match(resource, conds, records)),
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

/// What a key set (a JSON object of common-model fields, or of a custom
/// object's fields) asks, read as `find-match` reads it.
fn classify(resource: Resource, keys: &str) -> Key {
    let keys: Map<String, Value> = match from_json(keys) {
        Ok(keys) => keys,
        Err(e) => return Key::Invalid(e),
    };
    let kind = match resource {
        Resource::Common(kind) => kind,
        Resource::Custom(_) => return classify_fields(&keys),
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
        let equals = |field: &str| Cond::Equals(field.to_owned(), Literal::Text(text.clone()));
        let cond = match (kind, field.as_str()) {
            (_, "phone" | "phone_number" | "phone_numbers") => Cond::Phone(text),
            (Kind::Contact, "first_name") => equals("FirstName"),
            (Kind::Contact, "last_name") => equals("LastName"),
            (Kind::Contact, "title") => equals("Title"),
            (Kind::Contact, _) => equals("Email"),
            (Kind::Account, "name") => equals("Name"),
            (Kind::Account, "website") => equals("Website"),
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

/// What a custom object's key set (field names and values) asks: every
/// field equal to its value.
fn classify_fields(keys: &Map<String, Value>) -> Key {
    let mut conds = Vec::with_capacity(keys.len());
    for (field, value) in keys {
        if let Err(e) = field_name(field) {
            return Key::Invalid(e);
        }
        let literal = match value {
            Value::String(text) => {
                let text = text.trim();
                if text.is_empty() || text.chars().count() > MAX_LITERAL_CHARS {
                    return Key::Nothing;
                }
                Literal::Text(text.to_lowercase())
            }
            Value::Number(n) => Literal::Bare(n.to_string()),
            Value::Bool(b) => Literal::Bare(b.to_string()),
            Value::Null => return Key::Nothing,
            other => {
                return Key::Invalid(ConnectorError::invalid_data(format!(
                    "Salesforce cannot look records up by {other} in the field {field}"
                )));
            }
        };
        conds.push(Cond::Equals(field.clone(), literal));
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
    resource: Resource,
    shape: &[Shape],
    questions: &'a [(&'a [Cond], T)],
) -> Vec<&'a [(&'a [Cond], T)]> {
    let mut out = Vec::new();
    let mut start = 0;
    for end in 1..=questions.len() {
        let conds: Vec<&[Cond]> = questions[start..end].iter().map(|(c, _)| *c).collect();
        if end - start > 1 && encode(&query(resource, shape, &conds)).len() > MAX_ENCODED_QUERY {
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
fn query(resource: Resource, shape: &[Shape], questions: &[&[Cond]]) -> String {
    let contact = resource == Resource::Common(Kind::Contact);
    let mut fields = vec!["Id"];
    for part in shape {
        let read: &[&str] = match part {
            Shape::Equals(field) => &[field.as_str()],
            Shape::Phone if contact => &["Phone", "MobilePhone"],
            Shape::Phone => &["Phone"],
            Shape::Domain => &["Website"],
        };
        for field in read {
            // Salesforce refuses a field selected twice.
            if !fields.iter().any(|f| f.eq_ignore_ascii_case(field)) {
                fields.push(field);
            }
        }
    }
    let values = |wanted: &dyn Fn(&Cond) -> Option<String>| {
        questions
            .iter()
            .filter_map(|conds| conds.first().and_then(wanted))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let filter = match shape {
        [Shape::Equals(field)] => {
            let list = values(&|c| match c {
                Cond::Equals(_, literal) => Some(literal.soql()),
                _ => None,
            });
            format!("{field} IN ({list})")
        }
        [Shape::Phone] => {
            let list = values(&|c| match c {
                Cond::Phone(v) => Some(soql::quote(v)),
                _ => None,
            });
            if contact {
                format!("Phone IN ({list}) OR MobilePhone IN ({list})")
            } else {
                format!("Phone IN ({list})")
            }
        }
        _ => questions
            .iter()
            .map(|conds| {
                let all: Vec<String> = conds.iter().map(|c| condition(contact, c)).collect();
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
        resource.sobject()
    )
}

/// One condition as SOQL (`contact`: a phone is `Phone` or `MobilePhone`).
fn condition(contact: bool, cond: &Cond) -> String {
    match cond {
        Cond::Equals(field, literal) => format!("{field} = {}", literal.soql()),
        Cond::Phone(number) if contact => {
            let number = soql::quote(number);
            format!("(Phone = {number} OR MobilePhone = {number})")
        }
        Cond::Phone(number) => format!("Phone = {}", soql::quote(number)),
        Cond::Domain(domain) => format!("Website LIKE {}", soql::contains_pattern(domain)),
    }
}

/// The id of the record `find-match` would pick for `conds` among
/// `records` (oldest first): the first that fits, one whose `Phone` fits
/// before one whose `MobilePhone` does.
fn best_match(resource: Resource, conds: &[Cond], records: &[Value]) -> Option<String> {
    let mut best: Option<(u8, &str)> = None;
    for raw in records {
        let Some(id) = client::id_of(raw) else {
            continue;
        };
        let rank = conds
            .iter()
            .map(|cond| fit(resource, cond, raw))
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
fn fit(resource: Resource, cond: &Cond, raw: &Value) -> Option<u8> {
    let has = |field: &str, want: &Literal| {
        value_of(raw, field)
            .and_then(mapping::value_text)
            .is_some_and(|have| want.is(&have))
    };
    let equals = |field: &str, want: &str| has(field, &Literal::Text(want.to_owned()));
    match cond {
        Cond::Equals(field, want) => has(field, want).then_some(0),
        Cond::Phone(want) if equals("Phone", want) => Some(0),
        Cond::Phone(want) => (resource == Resource::Common(Kind::Contact)
            && equals("MobilePhone", want))
        .then_some(1),
        Cond::Domain(want) => mapping::field(raw, "Website")
            .and_then(|website| mapping::domain_of(&website))
            .is_some_and(|domain| domain.to_lowercase() == *want)
            .then_some(0),
    }
}
