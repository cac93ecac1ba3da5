//! `find-match` and `find-matches`: look up an existing person or
//! organization for an upsert with Pipedrive's search
//! (`GET /api/v2/{persons|organizations}/search`), then check every key
//! against each hit, since searches match loosely (case, partial names,
//! formatted phone numbers).
//!
//! Keys accepted (a plain string, or the common model's list/object shapes):
//! contacts `email_addresses` (`email`, `email_address`), `phone_numbers`
//! (`phone`, `phone_number`), `first_name`, `last_name`; companies `name`,
//! `domain`, `website`. Any other key is `unsupported`.
//!
//! Pipedrive has no batch search, so `find-matches` asks item by item, key
//! set by key set in priority order, at most one search per key set; what
//! one call has read (searches, the website field, organizations) serves
//! every later item that asks the same, and a failed request fails only the
//! items that need its answer.
use std::collections::HashMap;

use serde_json::{Map, Value};
use switchyard_connector_sdk::json::from_json;
use switchyard_connector_sdk::lookups::Lookups;
use switchyard_connector_sdk::prelude::*;

use crate::api::{Target, read};
use crate::fields;
use crate::mapping::{self, Kind, WebsiteField};

/// Hits read per search.
const SEARCH_LIMIT: u32 = 50;

/// A key of `find-match` as text: a string or number, or the `inner` field
/// of an object or of a list's first entry.
pub fn key_text(value: &Value, inner: &str) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) => items.first().and_then(|v| key_text(v, inner)),
        Value::Object(fields) => key_text(fields.get(inner)?, inner),
        _ => None,
    }
}

/// What one call has read, so that a question asked twice costs one
/// request. Failures are kept too: asking again in the same call would
/// only meet the same trouble, and the host retries the items later.
#[derive(Default)]
pub struct Seen {
    /// Search hits by kind, lower-cased term, field and exactness (Pipedrive
    /// searches ignore case).
    searches: HashMap<SearchKey, Outcome<Vec<Value>>>,
    /// The account's website field, once looked up.
    website: Option<Outcome<Option<WebsiteField>>>,
    /// Organizations read by their comma-joined ids.
    organizations: HashMap<String, Outcome<Vec<Value>>>,
}

type Outcome<T> = Result<T, ConnectorError>;

/// A search: the kind's path, the lower-cased term, the field searched and
/// whether the match is exact.
type SearchKey = (&'static str, String, Option<&'static str>, bool);

/// `find-matches`: for each item, the id matching its first key set that
/// matches a record; `unsupported` when Pipedrive can match on none of
/// them.
pub fn find_matches(
    target: &Target,
    kind: Kind,
    items: &[Vec<Json>],
) -> Vec<Result<Option<String>, ConnectorError>> {
    let mut seen = Seen::default();
    items
        .iter()
        .map(|key_sets| first_match(target, kind, key_sets, &mut seen))
        .collect()
}

/// One item of `find-matches`, as the SDK's default does it: key sets
/// Pipedrive cannot match on are skipped, the first error ends the item.
fn first_match(
    target: &Target,
    kind: Kind,
    key_sets: &[Json],
    seen: &mut Seen,
) -> Result<Option<String>, ConnectorError> {
    let mut lookup = Lookups::new(1);
    for keys in key_sets {
        if !lookup.is_open(0) {
            break;
        }
        let keys: Map<String, Value> = from_json(keys)?;
        lookup.record(0, find_match_with(target, kind, &keys, seen));
    }
    lookup.finish().remove(0)
}

/// What a contact must match.
#[derive(Debug, Default)]
struct PersonKeys {
    email: Option<String>,
    phone: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
}

/// What a company must match.
#[derive(Debug, Default)]
struct OrganizationKeys {
    name: Option<String>,
    domain: Option<String>,
}

/// The id of the record of `kind` matching every key, if any.
pub fn find_match(
    target: &Target,
    kind: Kind,
    keys: &Map<String, Value>,
) -> Result<Option<String>, ConnectorError> {
    find_match_with(target, kind, keys, &mut Seen::default())
}

/// [`find_match`], reusing (and adding to) what `seen` holds.
fn find_match_with(
    target: &Target,
    kind: Kind,
    keys: &Map<String, Value>,
    seen: &mut Seen,
) -> Result<Option<String>, ConnectorError> {
    if keys.is_empty() {
        return Ok(None);
    }
    let unsupported = |field: &str| {
        ConnectorError::unsupported(format!(
            "Pipedrive cannot match {} on {field}",
            kind.endgrate_type()
        ))
    };
    match kind {
        Kind::Persons => {
            let mut wanted = PersonKeys::default();
            for (field, value) in keys {
                let (slot, inner) = match field.as_str() {
                    "email_addresses" | "email_address" | "email" => {
                        (&mut wanted.email, "email_address")
                    }
                    "phone_numbers" | "phone_number" | "phone" => {
                        (&mut wanted.phone, "phone_number")
                    }
                    "first_name" => (&mut wanted.first_name, "first_name"),
                    "last_name" => (&mut wanted.last_name, "last_name"),
                    _ => return Err(unsupported(field)),
                };
                match key_text(value, inner) {
                    Some(text) => *slot = Some(text),
                    // An empty key matches nothing.
                    None => return Ok(None),
                }
            }
            find_person(target, &wanted, seen)
        }
        Kind::Organizations => {
            let mut wanted = OrganizationKeys::default();
            for (field, value) in keys {
                let text = match field.as_str() {
                    "name" => key_text(value, "name"),
                    "domain" => key_text(value, "domain"),
                    "website" => key_text(value, "website"),
                    _ => return Err(unsupported(field)),
                };
                let Some(text) = text else {
                    return Ok(None);
                };
                if field == "name" {
                    wanted.name = Some(text);
                } else {
                    // Websites match by their host, as the common `domain`.
                    let Some(domain) = mapping::domain_of(&text) else {
                        return Ok(None);
                    };
                    if wanted.domain.as_ref().is_some_and(|d| *d != domain) {
                        return Ok(None);
                    }
                    wanted.domain = Some(domain);
                }
            }
            find_organization(target, &wanted, seen)
        }
    }
}

/// `GET /api/v2/{kind}/search`: the hits' `item`s, best first; once per
/// question per call.
fn search(
    target: &Target,
    kind: Kind,
    term: &str,
    field: Option<&'static str>,
    exact: bool,
    seen: &mut Seen,
) -> Result<Vec<Value>, ConnectorError> {
    seen.searches
        .entry((kind.path(), term.to_lowercase(), field, exact))
        .or_insert_with(|| search_now(target, kind, term, field, exact))
        .clone()
}

fn search_now(
    target: &Target,
    kind: Kind,
    term: &str,
    field: Option<&str>,
    exact: bool,
) -> Result<Vec<Value>, ConnectorError> {
    let answer = read(
        target
            .get(&format!("/api/v2/{}/search", kind.path()))
            .query("term", term)
            .query_opt("fields", field)
            .query("exact_match", exact)
            .query("limit", SEARCH_LIMIT)
            .send()?,
    )?;
    let items = match answer.data.get("items") {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    Ok(items
        .into_iter()
        .filter_map(|mut hit| hit.get_mut("item").map(Value::take))
        .collect())
}

/// A search item's list of strings (`["a@x.com"]`, or `[{"value": ...}]`).
fn strings(item: &Value, field: &str) -> Vec<String> {
    item.get(field)
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    other => other.get("value")?.as_str().map(str::to_owned),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Lower-case, single-spaced.
fn normal(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// Whether a person's `name` fits the given name parts.
fn name_fits(name: &str, first: Option<&str>, last: Option<&str>) -> bool {
    let name = normal(name);
    match (first.map(normal), last.map(normal)) {
        (Some(first), Some(last)) => name == format!("{first} {last}"),
        (Some(first), None) => name == first || name.starts_with(&format!("{first} ")),
        (None, Some(last)) => name == last || name.ends_with(&format!(" {last}")),
        (None, None) => true,
    }
}

fn person_fits(item: &Value, wanted: &PersonKeys) -> bool {
    let email_fits = wanted.email.as_deref().is_none_or(|email| {
        strings(item, "emails")
            .iter()
            .any(|e| e.trim().eq_ignore_ascii_case(email))
    });
    let phone_fits = wanted.phone.as_deref().is_none_or(|phone| {
        let want = digits(phone);
        strings(item, "phones").iter().any(|p| {
            if want.is_empty() {
                normal(p) == normal(phone)
            } else {
                digits(p) == want
            }
        })
    });
    let name = item.get("name").and_then(Value::as_str).unwrap_or_default();
    email_fits
        && phone_fits
        && name_fits(
            name,
            wanted.first_name.as_deref(),
            wanted.last_name.as_deref(),
        )
}

fn find_person(
    target: &Target,
    wanted: &PersonKeys,
    seen: &mut Seen,
) -> Result<Option<String>, ConnectorError> {
    // The most selective key drives the search; the others are checked.
    let (term, field, exact) = if let Some(email) = &wanted.email {
        (email.clone(), "email", true)
    } else if let Some(phone) = &wanted.phone {
        (phone.clone(), "phone", true)
    } else {
        match (&wanted.first_name, &wanted.last_name) {
            (Some(first), Some(last)) => (format!("{first} {last}"), "name", true),
            (Some(part), None) | (None, Some(part)) => {
                // A partial search needs 2 characters; 1 can only match exactly.
                (part.clone(), "name", part.chars().count() < 2)
            }
            (None, None) => return Ok(None),
        }
    };
    let hits = search(target, Kind::Persons, &term, Some(field), exact, seen)?;
    Ok(hits
        .iter()
        .find(|item| person_fits(item, wanted))
        .and_then(|item| item.get("id"))
        .and_then(mapping::id_of))
}

fn find_organization(
    target: &Target,
    wanted: &OrganizationKeys,
    seen: &mut Seen,
) -> Result<Option<String>, ConnectorError> {
    let name_fits = |name: Option<&str>| {
        wanted
            .name
            .as_deref()
            .is_none_or(|want| name.is_some_and(|name| normal(name) == normal(want)))
    };
    let Some(domain) = &wanted.domain else {
        let Some(name) = &wanted.name else {
            return Ok(None);
        };
        let hits = search(target, Kind::Organizations, name, Some("name"), true, seen)?;
        return Ok(hits
            .iter()
            .find(|item| name_fits(item.get("name").and_then(Value::as_str)))
            .and_then(|item| item.get("id"))
            .and_then(mapping::id_of));
    };
    let website = seen
        .website
        .get_or_insert_with(|| fields::website_field(target))
        .clone()?;
    let Some(website) = website else {
        // No organization has a website here, so none has this domain.
        return Ok(None);
    };
    let field = match website {
        WebsiteField::Custom(_) => Some("custom_fields"),
        WebsiteField::Standard(_) => None,
    };
    let hits = search(target, Kind::Organizations, domain, field, false, seen)?;
    let ids: Vec<String> = hits
        .iter()
        .filter_map(|item| item.get("id").and_then(mapping::id_of))
        .collect();
    if ids.is_empty() {
        return Ok(None);
    }
    // Search hits do not say which custom field matched: read the candidates.
    let records = seen
        .organizations
        .entry(ids.join(","))
        .or_insert_with_key(|ids| read_organizations(target, ids))
        .clone()?;
    let fits = |raw: &Value| {
        website
            .read(raw)
            .and_then(|site| mapping::domain_of(&site))
            .is_some_and(|d| d == *domain)
            && name_fits(raw.get("name").and_then(Value::as_str))
    };
    // In the search's order, best hit first.
    Ok(ids.into_iter().find(|id| {
        records
            .iter()
            .any(|raw| raw.get("id").and_then(mapping::id_of).as_deref() == Some(id) && fits(raw))
    }))
}

/// `GET /api/v2/organizations?ids=...`: the candidates a domain search found.
fn read_organizations(target: &Target, ids: &str) -> Result<Vec<Value>, ConnectorError> {
    read(
        target
            .get("/api/v2/organizations")
            .query("ids", ids)
            .query("limit", SEARCH_LIMIT)
            .send()?,
    )?
    .records()
}
