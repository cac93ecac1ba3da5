//! `POST /crm/v3/objects/{type}/search`: filter groups (OR of ANDed filters),
//! one sort, offset paging through `after` with a `total`, and HubSpot's
//! 10,000-result ceiling, for every object type alike. A search sorted by the
//! last-modified property walks the modification index, so "changed since"
//! is cheap on large data sets; `EQ`/`IN` on a unique property (a contact's
//! email, a project's code) looks the values up instead of scanning.

use std::cmp::Ordering;
use std::collections::HashSet;

use axum::Json;
use axum::body::Bytes;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::errors::HsError;
use super::model::{HsObject, Kind};
use super::properties;
use super::store::Store;
use super::{HsState, kind_of, parse_body};
use crate::clock;

/// HubSpot will not page past this many results.
const MAX_RESULTS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    Between,
    In,
    NotIn,
    HasProperty,
    NotHasProperty,
    ContainsToken,
    NotContainsToken,
}

#[derive(Debug, Clone)]
struct Filter {
    prop: String,
    /// The property holds dates or instants (compared as times).
    date: bool,
    op: Op,
    value: Option<String>,
    high: Option<String>,
    values: Vec<String>,
    /// `values` indexed for `IN` and `NOT_IN` on properties that are not
    /// dates, so a search for 500 values scans the table once.
    set: ValueSet,
}

/// A filter's values as [`compare`] matches them: two numbers numerically,
/// anything else as text without case.
#[derive(Debug, Clone, Default)]
struct ValueSet {
    numbers: Vec<f64>,
    /// Every value, lowercased.
    texts: HashSet<String>,
    /// The values that are not numbers, lowercased.
    non_numbers: HashSet<String>,
}

impl ValueSet {
    fn new(values: &[String]) -> Self {
        let mut set = ValueSet::default();
        for value in values {
            let lower = value.to_lowercase();
            match value.parse::<f64>() {
                Ok(n) => set.numbers.push(n),
                Err(_) => {
                    set.non_numbers.insert(lower.clone());
                }
            }
            set.texts.insert(lower);
        }
        set
    }

    /// Whether `have` equals one of the values, as [`compare`] has it.
    fn contains(&self, have: &str) -> bool {
        let lower = have.to_lowercase();
        match have.parse::<f64>() {
            Ok(n) => self.numbers.contains(&n) || self.non_numbers.contains(&lower),
            Err(_) => self.texts.contains(&lower),
        }
    }
}

/// `POST /crm/v3/objects/{type}/search`.
pub async fn search(state: HsState, Path(object): Path<String>, body: Bytes) -> Response {
    let hs = state.0;
    let result = (|| {
        let kind = kind_of(&object)?;
        let input = parse_body(&body)?;
        let mut store = hs.store();
        run(&mut store, kind, &input)
    })();
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.respond(&hs.ctx),
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn parse_filters(kind: Kind, input: &Value) -> Result<Vec<Vec<Filter>>, HsError> {
    let groups = match input.get("filterGroups") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(g)) => g,
        Some(_) => return Err(HsError::validation("filterGroups must be an array")),
    };
    if groups.len() > 5 {
        return Err(HsError::validation(
            "Too many filter groups: at most 5 are allowed.",
        ));
    }
    let mut out = Vec::new();
    for group in groups {
        let filters = group["filters"].as_array().cloned().unwrap_or_default();
        if filters.len() > 6 {
            return Err(HsError::validation(
                "Too many filters in a group: at most 6 are allowed.",
            ));
        }
        let mut parsed = Vec::new();
        for f in filters {
            let prop = f["propertyName"]
                .as_str()
                .ok_or_else(|| HsError::validation("filter.propertyName is required"))?
                .to_string();
            let op = match f["operator"].as_str().unwrap_or("EQ") {
                "EQ" => Op::Eq,
                "NEQ" => Op::Neq,
                "LT" => Op::Lt,
                "LTE" => Op::Lte,
                "GT" => Op::Gt,
                "GTE" => Op::Gte,
                "BETWEEN" => Op::Between,
                "IN" => Op::In,
                "NOT_IN" => Op::NotIn,
                "HAS_PROPERTY" => Op::HasProperty,
                "NOT_HAS_PROPERTY" => Op::NotHasProperty,
                "CONTAINS_TOKEN" => Op::ContainsToken,
                "NOT_CONTAINS_TOKEN" => Op::NotContainsToken,
                other => {
                    return Err(HsError::validation(format!(
                        "Unknown filter operator: {other}"
                    )));
                }
            };
            let values: Vec<String> = f["values"]
                .as_array()
                .map(|a| a.iter().filter_map(scalar).collect())
                .unwrap_or_default();
            let date = is_date(kind, &prop);
            let set = if matches!(op, Op::In | Op::NotIn) && !date {
                ValueSet::new(&values)
            } else {
                ValueSet::default()
            };
            parsed.push(Filter {
                date,
                prop,
                op,
                value: scalar(&f["value"]),
                high: scalar(&f["highValue"]),
                values,
                set,
            });
        }
        out.push(parsed);
    }
    Ok(out)
}

fn is_date(kind: Kind, prop: &str) -> bool {
    properties::find(kind, prop).is_some_and(|p| p.is_date())
}

/// Milliseconds from a HubSpot filter value (epoch millis or ISO 8601).
fn as_ms(s: &str) -> Option<i64> {
    s.parse::<i64>().ok().or_else(|| clock::parse(s))
}

fn compare(date: bool, have: &str, want: &str) -> Option<Ordering> {
    if date {
        return Some(as_ms(have)?.cmp(&as_ms(want)?));
    }
    if let (Ok(a), Ok(b)) = (have.parse::<f64>(), want.parse::<f64>()) {
        return a.partial_cmp(&b);
    }
    Some(have.to_lowercase().cmp(&want.to_lowercase()))
}

fn matches(f: &Filter, have: Option<&str>) -> bool {
    let cmp = |want: &Option<String>| match (have, want) {
        (Some(h), Some(w)) => compare(f.date, h, w),
        _ => None,
    };
    match f.op {
        Op::HasProperty => have.is_some(),
        Op::NotHasProperty => have.is_none(),
        Op::Eq => cmp(&f.value) == Some(Ordering::Equal),
        Op::Neq => cmp(&f.value) != Some(Ordering::Equal),
        Op::Lt => cmp(&f.value) == Some(Ordering::Less),
        Op::Lte => matches!(cmp(&f.value), Some(Ordering::Less | Ordering::Equal)),
        Op::Gt => cmp(&f.value) == Some(Ordering::Greater),
        Op::Gte => matches!(cmp(&f.value), Some(Ordering::Greater | Ordering::Equal)),
        Op::Between => {
            matches!(cmp(&f.value), Some(Ordering::Greater | Ordering::Equal))
                && matches!(cmp(&f.high), Some(Ordering::Less | Ordering::Equal))
        }
        Op::In | Op::NotIn => {
            let found = match have {
                None => false,
                Some(h) if f.date => f
                    .values
                    .iter()
                    .any(|w| compare(true, h, w) == Some(Ordering::Equal)),
                Some(h) => f.set.contains(h),
            };
            found == (f.op == Op::In)
        }
        Op::ContainsToken | Op::NotContainsToken => {
            let token = f
                .value
                .as_deref()
                .unwrap_or_default()
                .trim_matches('*')
                .to_lowercase();
            let found = have.is_some_and(|h| h.to_lowercase().contains(&token));
            found == (f.op == Op::ContainsToken)
        }
    }
}

/// A candidate row: its number and modification time; the object is only
/// derived when a filter or the answer needs more than that.
struct Candidate {
    n: u64,
    updated: i64,
}

fn value_of(
    kind: Kind,
    store: &Store,
    c: &Candidate,
    prop: &str,
    cache: &mut Option<HsObject>,
) -> Option<String> {
    if prop == kind.modified_prop() {
        return Some(clock::iso_millis_z(c.updated));
    }
    if prop == "hs_object_id" {
        return Some(c.n.to_string());
    }
    if cache.is_none() {
        *cache = store.table(kind).get(c.n).map(|o| o.into_owned());
    }
    cache.as_ref().and_then(|o| o.value(kind, c.n, prop))
}

fn accept(kind: Kind, store: &Store, groups: &[Vec<Filter>], c: &Candidate) -> bool {
    let table = store.table(kind);
    let mut cache = None;
    // Written rows may be archived; generated rows never are.
    if let Some(o) = table.written(c.n) {
        if o.archived_ms.is_some() {
            return false;
        }
        cache = Some(o.clone());
    }
    groups.is_empty()
        || groups.iter().any(|g| {
            g.iter().all(|f| {
                let have = value_of(kind, store, c, &f.prop, &mut cache);
                matches(f, have.as_deref())
            })
        })
}

/// The lowest modification time every filter group requires, if any.
fn lower_bound(kind: Kind, groups: &[Vec<Filter>]) -> i64 {
    let mut bound = i64::MAX;
    for g in groups {
        let group_bound = g
            .iter()
            .filter(|f| {
                f.prop == kind.modified_prop()
                    && matches!(f.op, Op::Gt | Op::Gte | Op::Between | Op::Eq)
            })
            .filter_map(|f| f.value.as_deref().and_then(as_ms))
            .max();
        match group_bound {
            Some(b) => bound = bound.min(b),
            None => return i64::MIN,
        }
    }
    if groups.is_empty() { i64::MIN } else { bound }
}

fn run(store: &mut Store, kind: Kind, input: &Value) -> Result<Value, HsError> {
    let groups = parse_filters(kind, input)?;
    let limit = match input.get("limit") {
        None | Some(Value::Null) => 10,
        Some(v) => v
            .as_u64()
            .filter(|l| (1..=200).contains(l))
            .ok_or_else(|| HsError::validation("limit must be between 1 and 200"))?
            as usize,
    };
    let after = match input.get("after") {
        None | Some(Value::Null) => 0,
        Some(v) => scalar(v)
            .and_then(|s| {
                if s.is_empty() {
                    Some(0)
                } else {
                    s.parse::<usize>().ok()
                }
            })
            .ok_or_else(|| HsError::validation("after must be a number"))?,
    };
    if after.saturating_add(limit) > MAX_RESULTS {
        return Err(HsError::validation(format!(
            "Paging beyond {MAX_RESULTS} results is not supported: after={after}, limit={limit}."
        )));
    }
    let props: Option<Vec<String>> = input["properties"].as_array().map(|a| {
        a.iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    });
    let sort = input["sorts"]
        .as_array()
        .and_then(|s| s.first())
        .map(|s| match s {
            Value::String(text) => match text.strip_prefix('-') {
                Some(p) => (p.to_string(), false),
                None => (text.clone(), true),
            },
            obj => (
                obj["propertyName"].as_str().unwrap_or_default().to_string(),
                obj["direction"].as_str() != Some("DESCENDING"),
            ),
        });

    // Look unique values up (warming their index) before borrowing the
    // store immutably.
    let by_unique: Option<Vec<u64>> = match groups.as_slice() {
        [g] => g
            .iter()
            .find(|f| {
                kind.unique_props().contains(&f.prop.as_str()) && matches!(f.op, Op::Eq | Op::In)
            })
            .map(|f| {
                let values = match f.op {
                    Op::Eq => f.value.iter().cloned().collect(),
                    _ => f.values.clone(),
                };
                let mut ns: Vec<u64> = values
                    .iter()
                    .filter_map(|v| store.find_unique(kind, &f.prop, v))
                    .collect();
                ns.sort_unstable();
                ns.dedup();
                ns
            }),
        _ => None,
    };
    let store = &*store;
    let table = store.table(kind);
    let candidates: Box<dyn Iterator<Item = Candidate> + '_> = match (&by_unique, &sort) {
        (Some(ns), _) => Box::new(ns.iter().filter_map(move |n| {
            table
                .updated_ms(*n)
                .map(|updated| Candidate { n: *n, updated })
        })),
        (None, Some((p, true))) if p == kind.modified_prop() => Box::new(
            table
                .by_updated_from((lower_bound(kind, &groups), 0))
                .map(|(updated, n)| Candidate { n, updated }),
        ),
        _ => Box::new(
            table
                .numbers_from(1)
                .filter_map(move |n| table.updated_ms(n).map(|updated| Candidate { n, updated })),
        ),
    };
    let mut matched: Vec<Candidate> = candidates
        .filter(|c| accept(kind, store, &groups, c))
        .collect();
    if let Some((prop, ascending)) = &sort
        && !(prop == kind.modified_prop() && *ascending && by_unique.is_none())
    {
        let mut keyed: Vec<(Option<String>, Candidate)> = matched
            .into_iter()
            .map(|c| (value_of(kind, store, &c, prop, &mut None), c))
            .collect();
        let date = is_date(kind, prop);
        keyed.sort_by(|(a, ca), (b, cb)| {
            let ord = match (a, b) {
                (Some(a), Some(b)) => compare(date, a, b).unwrap_or(Ordering::Equal),
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (None, None) => Ordering::Equal,
            };
            let ord = if *ascending { ord } else { ord.reverse() };
            ord.then(ca.n.cmp(&cb.n))
        });
        matched = keyed.into_iter().map(|(_, c)| c).collect();
    }
    let total = matched.len();
    let default_props: Vec<String> = kind.default_props().iter().map(|s| s.to_string()).collect();
    let names = props.as_deref().unwrap_or(&default_props);
    let results: Vec<Value> = matched
        .iter()
        .skip(after)
        .take(limit)
        .filter_map(|c| table.get(c.n).map(|o| o.render(kind, c.n, Some(names))))
        .collect();
    let mut body = json!({ "total": total, "results": results });
    if after.saturating_add(limit) < total {
        body["paging"] = json!({"next": {"after": (after.saturating_add(limit)).to_string()}});
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_indexed_in_filter_matches_exactly_as_comparing_each_value() {
        let wants: Vec<String> = ["Lee", "ANN@x.com", "42", "7.50", "nan", "0012"]
            .map(str::to_owned)
            .to_vec();
        let set = ValueSet::new(&wants);
        for have in [
            "lee",
            "LEE",
            "Lee ",
            "ann@X.COM",
            "42",
            "42.0",
            "7.5",
            "12",
            "NaN",
            "nan",
            "x",
            "",
        ] {
            let one_by_one = wants
                .iter()
                .any(|w| compare(false, have, w) == Some(Ordering::Equal));
            assert_eq!(set.contains(have), one_by_one, "{have:?}");
        }
    }
}
