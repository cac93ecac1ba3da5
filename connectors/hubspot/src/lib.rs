//! The HubSpot connector: moves `crm-contact` and `crm-company` records
//! between HubSpot CRM v3 and Switchyard's common data model.
//!
//! - Full pulls list `GET /crm/v3/objects/{type}` with an explicit property
//!   list, paging with `after` (HubSpot leaves `paging` out on the last page).
//! - Incremental pulls search `POST /crm/v3/objects/{type}/search` with a
//!   `GTE` filter on the last-modified property, sorted ascending. Each page
//!   starts a new search from the last record's modification time (see
//!   [`SearchCursor`]), never from an offset: a record that changes during
//!   the pull moves to the end of the order, and an offset would then skip
//!   the record that slid into its place.
//! - Pushes use the batch create and update endpoints and map the results
//!   back to the input order (see [`push`]).
//! - Associations use the v4 API (default association types 279/280).
//! - Custom objects are object subjects (`object:p_projects`), read and
//!   written as their own properties through the same requests (see
//!   [`objects`]); [`fields`] lists them and every object type's properties.

mod fields;
mod find;
mod mapping;
mod objects;
mod push;
mod resource;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use switchyard_connector_sdk::http::encode;
use switchyard_connector_sdk::json::{from_json, to_json};
use switchyard_connector_sdk::prelude::*;

pub use mapping::Kind;
use resource::Resource;

/// The HubSpot API. Every error built from its answers names HubSpot.
pub(crate) const API: Api = Api::new("HubSpot");

/// The most records one list or search page returns (HubSpot's cap for lists).
const MAX_PAGE_SIZE: u32 = 100;

/// The most inputs in one batch request.
const MAX_BATCH: u32 = 100;

/// The scopes custom objects need: their schemas, and their records.
const OPTIONAL_SCOPES: &[&str] = &[
    "crm.schemas.custom.read",
    "crm.objects.custom.read",
    "crm.objects.custom.write",
];

/// Where an incremental pull goes on: the records changed at or after
/// `since` (the last returned record's modification time, as HubSpot wrote
/// it), except those in `seen`, already returned and changed exactly then
/// (one that changed again has a later time and comes again).
///
/// Leaving records out by id, not by position, is what makes a change during
/// the pull harmless, and keeps every search far below HubSpot's 10,000-result
/// ceiling. Only when a page's worth of records changed in the same
/// millisecond (a bulk import) are they skipped by position instead, with
/// `after`, as are cursors written by earlier versions (a bare `after`
/// number, or `{after, since}`).
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct SearchCursor {
    #[serde(default = "zero")]
    after: String,
    since: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    seen: Vec<String>,
}

fn zero() -> String {
    "0".to_owned()
}

/// An orange sprocket: a hub with three spokes ending in round nodes.
const LOGO_SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" role="img" aria-label="HubSpot"><g fill="none" stroke="#FF7A59" stroke-width="5" stroke-linecap="round"><circle cx="30" cy="38" r="11"/><path d="M30 27V14M38 46l9 9M22 46l-8 8"/></g><circle cx="30" cy="10" r="5" fill="#FF7A59"/><circle cx="50" cy="58" r="4" fill="#FF7A59"/><circle cx="11" cy="57" r="4" fill="#FF7A59"/></svg>"##;

/// The connector; stateless, every call runs in a fresh instance.
pub struct HubSpot;

/// A list or search answer.
#[derive(Debug, Deserialize)]
pub(crate) struct ObjectPage {
    #[serde(default)]
    pub results: Vec<Value>,
    pub paging: Option<Paging>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Paging {
    pub next: Option<NextPage>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct NextPage {
    pub after: Value,
}

/// Turns an answer into `T`: a non-2xx status becomes the matching error, a
/// body that is not JSON is `fatal`.
pub(crate) fn parse<T: DeserializeOwned>(response: Response) -> Result<T, ConnectorError> {
    let response = response.error_for_status()?;
    // Parsed straight into `T`: through a `Value` first, a page was built twice.
    serde_json::from_slice(response.body()).map_err(|err| {
        let what = match err.classify() {
            serde_json::error::Category::Data => "an unexpected answer",
            _ => "malformed JSON",
        };
        ConnectorError::fatal(format!("HubSpot returned {what}: {err}"))
    })
}

/// The properties a pull asks for: those the connector maps, then the
/// session's passthrough fields.
fn asked_properties(kind: Kind, req: &PullRequest) -> Vec<String> {
    let mut asked: Vec<String> = kind.properties().iter().map(|p| (*p).to_owned()).collect();
    for field in &req.passthrough_fields {
        if !asked.contains(field) {
            asked.push(field.clone());
        }
    }
    asked
}

/// A search result's value of the `modified` property, as HubSpot wrote it.
fn modified_at<'a>(raw: &'a Value, modified: &str) -> Option<&'a str> {
    raw.get("properties")?.get(modified)?.as_str()
}

/// The cursor after a search page that returned `records` (what was left
/// of `answered` results once those already seen were left out).
fn next_search(
    modified: &str,
    state: &SearchCursor,
    records: &[Value],
    answered: usize,
) -> Result<String, ConnectorError> {
    let offset = |after: usize| SearchCursor {
        after: after.to_string(),
        since: state.since.clone(),
        seen: Vec::new(),
    };
    let after: usize = state.after.parse().unwrap_or(0);
    let next = match records.last().map(|raw| modified_at(raw, modified)) {
        // Every result was already seen (a page's worth changed at `since`),
        // or the last one has no modification time: go on by position.
        None | Some(None) => offset(after + answered),
        Some(Some(last)) if last == state.since && after > 0 => offset(after + answered),
        Some(Some(last)) => {
            let mut seen: Vec<String> = records
                .iter()
                .filter(|raw| modified_at(raw, modified) == Some(last))
                .filter_map(|raw| raw.get("id").and_then(id_of))
                .collect();
            if last == state.since {
                seen.extend(state.seen.iter().cloned());
            }
            if seen.len() >= MAX_PAGE_SIZE as usize {
                SearchCursor {
                    after: seen.len().to_string(),
                    since: last.to_owned(),
                    seen: Vec::new(),
                }
            } else {
                SearchCursor {
                    after: zero(),
                    since: last.to_owned(),
                    seen,
                }
            }
        }
    };
    switchyard_connector_sdk::cursor::encode(&next)
}

/// What the pages of one pull read.
pub(crate) struct Listing<'a> {
    /// The object type in paths (`contacts`, `p_projects`).
    pub path: &'a str,
    /// Its last-modified property, for incremental searches.
    pub modified: &'a str,
    /// The properties every record should carry.
    pub properties: Vec<String>,
    /// The object type whose linked ids lists should carry, if any.
    pub associations: Option<&'a str>,
}

/// One page of a pull: a list page (`GET /crm/v3/objects/{path}`), or with
/// `since` a search page (see [`SearchCursor`]). Returns the answer, the
/// next page's cursor and whether it was a search (whose results carry no
/// associations).
pub(crate) fn read_page(
    listing: &Listing,
    req: &PullRequest,
) -> Result<(ObjectPage, Option<String>, bool), ConnectorError> {
    let limit = req.page_size.clamp(1, MAX_PAGE_SIZE);
    let after = req.cursor.as_deref().filter(|c| !c.is_empty());
    let Some(since) = req.since.as_deref().filter(|s| !s.is_empty()) else {
        let page: ObjectPage = parse(
            API.get(format!("/crm/v3/objects/{}", listing.path))
                .query("limit", limit)
                .query_opt("after", after)
                .query("properties", listing.properties.join(","))
                .query_opt("associations", listing.associations)
                .send()?,
        )?;
        let next = page
            .paging
            .as_ref()
            .and_then(|p| p.next.as_ref())
            .and_then(|n| id_of(&n.after));
        return Ok((page, next, false));
    };
    let state = match after {
        None => SearchCursor {
            after: zero(),
            since: since.to_owned(),
            seen: Vec::new(),
        },
        Some(c) if c.bytes().all(|b| b.is_ascii_digit()) => SearchCursor {
            after: c.to_owned(),
            since: since.to_owned(),
            seen: Vec::new(),
        },
        Some(c) => switchyard_connector_sdk::cursor::decode::<SearchCursor>(c)?,
    };
    let modified = listing.modified;
    // Room for the records left out, so a page still fills up.
    let asked = (limit as usize + state.seen.len()).min(MAX_PAGE_SIZE as usize);
    let body = json!({
        "filterGroups": [{"filters": [
            {"propertyName": modified, "operator": "GTE", "value": state.since}
        ]}],
        "sorts": [{"propertyName": modified, "direction": "ASCENDING"}],
        "properties": listing.properties,
        "limit": asked,
        "after": state.after,
    });
    let mut page: ObjectPage = parse(
        API.post(format!("/crm/v3/objects/{}/search", listing.path))
            .idempotent(true)
            .rate_class("search")
            .json_body(&body)?
            .send()?,
    )?;
    let answered = page.results.len();
    let more = page.paging.as_ref().and_then(|p| p.next.as_ref()).is_some();
    page.results.retain(|raw| {
        !(modified_at(raw, modified) == Some(state.since.as_str())
            && raw
                .get("id")
                .and_then(id_of)
                .is_some_and(|id| state.seen.contains(&id)))
    });
    let cut = page.results.len() > limit as usize;
    page.results.truncate(limit as usize);
    let next = if more || cut {
        Some(next_search(modified, &state, &page.results, answered)?)
    } else {
        None
    };
    Ok((page, next, true))
}

/// The id of a listed or searched record of `path`; one without is `fatal`.
pub(crate) fn record_id(raw: &Value, path: &str) -> Result<String, ConnectorError> {
    raw.get("id")
        .and_then(id_of)
        .ok_or_else(|| ConnectorError::fatal(format!("HubSpot returned a {path} without an id")))
}

/// Whether HubSpot reports the record archived (deleted).
pub(crate) fn is_archived(raw: &Value) -> bool {
    raw.get("archived").and_then(Value::as_bool) == Some(true)
}

/// The id of a HubSpot object (a string; numbers accepted).
pub(crate) fn id_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The ids in a v3 `associations` block: `{"companies":{"results":[{"id"}]}}`.
fn association_ids(raw: &Value, to: Kind) -> Vec<String> {
    raw.get("associations")
        .and_then(|a| a.get(to.path()))
        .and_then(|a| a.get("results"))
        .and_then(Value::as_array)
        .map(|results| {
            let mut ids: Vec<String> = results
                .iter()
                .filter_map(|r| r.get("id").and_then(id_of))
                .collect();
            ids.dedup();
            ids
        })
        .unwrap_or_default()
}

/// The ids linked to one object, through the v4 list (searches return no
/// associations).
fn fetch_association_ids(kind: Kind, id: &str) -> Result<Vec<String>, ConnectorError> {
    #[derive(Deserialize)]
    struct Linked {
        #[serde(default)]
        results: Vec<Value>,
    }
    let linked: Linked = parse(
        API.get(format!(
            "/crm/v4/objects/{}/{}/associations/{}",
            kind.path(),
            encode(id),
            kind.other().path()
        ))
        .send()?,
    )?;
    let mut ids: Vec<String> = linked
        .results
        .iter()
        .filter_map(|r| r.get("toObjectId").and_then(id_of))
        .collect();
    ids.dedup();
    Ok(ids)
}

/// `GET /crm/v3/objects/contacts/{email}?idProperty=email`: the contact's
/// id, or `None` when HubSpot has no contact with that email (404).
fn read_contact_by_email(email: &str) -> Result<Option<String>, ConnectorError> {
    let response = API
        .get(format!("/crm/v3/objects/contacts/{}", encode(email)))
        .query("idProperty", "email")
        .query("properties", "email")
        .send()?;
    if response.status() == 404 {
        return Ok(None);
    }
    let contact: Value = parse(response)?;
    Ok(contact.get("id").and_then(id_of))
}

/// A search for records at `path` (`contacts`, `p_projects`) matching every
/// `(property, value)` with EQ (one filter group per alternative).
fn search_eq(path: &str, groups: &[Vec<(&str, String)>]) -> Result<Option<String>, ConnectorError> {
    let filter_groups: Vec<Value> = groups
        .iter()
        .map(|filters| {
            let filters: Vec<Value> = filters
                .iter()
                .map(
                    |(name, value)| json!({"propertyName": name, "operator": "EQ", "value": value}),
                )
                .collect();
            json!({ "filters": filters })
        })
        .collect();
    let body = json!({
        "filterGroups": filter_groups,
        "properties": ["hs_object_id"],
        "limit": 1,
    });
    let page: ObjectPage = parse(
        API.post(format!("/crm/v3/objects/{path}/search"))
            .idempotent(true)
            .rate_class("search")
            .json_body(&body)?
            .send()?,
    )?;
    Ok(page
        .results
        .first()
        .and_then(|r| r.get("id"))
        .and_then(id_of))
}

/// A key of `find-match` as text (a string, or the first entry of a list of
/// objects carrying `inner`).
fn key_text(value: &Value, inner: &str) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) => items.first().and_then(|v| key_text(v.get(inner)?, inner)),
        Value::Object(_) => key_text(value.get(inner)?, inner),
        _ => None,
    }
}

impl Connector for HubSpot {
    fn describe() -> Manifest {
        let integration = |kind: Kind, display: &str| Integration {
            endgrate_type: kind.endgrate_type().into(),
            display_name: display.into(),
            resource: kind.path().into(),
            supports_pull: true,
            supports_push: true,
            supports_associations: true,
            is_custom_object: false,
            paging: vec![
                // Lists page with `?after=`, searches (incremental pulls) with
                // `"after"` in the body; both answer `paging.next.after`.
                switchyard_connector_sdk::Paging::QueryCursor(CursorPaging {
                    param: "after".into(),
                    pointer: "/paging/next/after".into(),
                }),
                switchyard_connector_sdk::Paging::BodyCursor(CursorPaging {
                    param: "/after".into(),
                    pointer: "/paging/next/after".into(),
                }),
            ],
        };
        Manifest {
            id: "hubspot".into(),
            display_name: "HubSpot".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            category: "crm".into(),
            homepage: "https://www.hubspot.com".into(),
            logo_svg: LOGO_SVG.into(),
            auth: AuthSpec::Oauth2(Oauth2Spec {
                authorize_url: "https://app.hubspot.com/oauth/authorize".into(),
                token_url: "https://api.hubapi.com/oauth/v1/token".into(),
                scopes: vec![
                    "crm.objects.contacts.read".into(),
                    "crm.objects.contacts.write".into(),
                    "crm.objects.companies.read".into(),
                    "crm.objects.companies.write".into(),
                ],
                scope_separator: " ".into(),
                client_auth: ClientAuth::FormBody,
                pkce: false,
                // Custom objects (Enterprise portals only): asked as optional
                // scopes, granted where the app and the portal have them, so
                // connecting any other portal still works.
                extra_authorize_params: vec![("optional_scope".into(), OPTIONAL_SCOPES.join(" "))],
            }),
            credential_placement: CredentialPlacement::Authorization("Bearer".into()),
            api_base: "https://api.hubapi.com".into(),
            allowed_hosts: vec!["api.hubapi.com".into()],
            integrations: vec![
                integration(Kind::Contacts, "HubSpot Contacts"),
                integration(Kind::Companies, "HubSpot Companies"),
            ],
            batch_limits: BatchLimits {
                max_page_size: MAX_PAGE_SIZE,
                max_push_batch: MAX_BATCH,
                max_lookup_batch: find::MAX_LOOKUP_BATCH,
            },
            rate_limit: RateLimit {
                requests: 100,
                window_ms: 10_000,
                max_concurrent: 10,
            },
            // Searches have their own limit beside the general one.
            rate_classes: vec![RateClass {
                name: "search".into(),
                requests: 4,
                window_ms: 1_000,
            }],
            idempotent_creates: false,
        }
    }

    fn list_fields(
        _conn: &Connection,
        endgrate_type: &str,
    ) -> Result<Vec<FieldInfo>, ConnectorError> {
        fields::list_fields(Resource::parse(endgrate_type)?)
    }

    fn list_objects(_conn: &Connection) -> Result<Vec<ObjectInfo>, ConnectorError> {
        fields::list_objects()
    }

    fn check(_conn: &Connection) -> Result<(), ConnectorError> {
        let _: ObjectPage = parse(
            API.get("/crm/v3/objects/contacts")
                .query("limit", 1)
                .send()?,
        )?;
        Ok(())
    }

    fn pull(_conn: &Connection, req: PullRequest) -> Result<Page, ConnectorError> {
        let kind = match Resource::parse(&req.endgrate_type)? {
            Resource::Common(kind) => kind,
            Resource::Object(name) => return objects::pull(name, &req),
        };
        let other = kind.other();
        let with_associations = req.associations.iter().any(|t| t == other.endgrate_type());
        let listing = Listing {
            path: kind.path(),
            modified: kind.modified_property(),
            properties: asked_properties(kind, &req),
            associations: with_associations.then(|| other.path()),
        };
        let (page, next, searched) = read_page(&listing, &req)?;
        let mut records = Vec::with_capacity(page.results.len());
        for raw in &page.results {
            let id = record_id(raw, kind.path())?;
            if is_archived(raw) {
                records.push(PulledRecord::deleted(id));
                continue;
            }
            let mut record = PulledRecord::new(&id, &mapping::to_cdm(kind, raw))?
                .with_remote(&req, raw)?
                .with_passthrough(&req, |name| {
                    raw.pointer(&format!("/properties/{name}"))
                        .filter(|v| !v.is_null())
                        .cloned()
                })?;
            if with_associations {
                let ids = if searched {
                    fetch_association_ids(kind, &id)?
                } else {
                    association_ids(raw, other)
                };
                record = record.with_associations(other.endgrate_type(), ids);
            }
            records.push(record);
        }
        log::debug!("hubspot: pulled {} {}", records.len(), kind.path());
        Ok(Page::new(records, next))
    }

    fn push(
        _conn: &Connection,
        endgrate_type: &str,
        items: Vec<PushItem>,
    ) -> Result<Vec<Result<Pushed, ConnectorError>>, ConnectorError> {
        push::push(Resource::parse(endgrate_type)?, items)
    }

    fn find_match(
        _conn: &Connection,
        endgrate_type: &str,
        keys: &str,
    ) -> Result<Option<String>, ConnectorError> {
        let kind = match Resource::parse(endgrate_type)? {
            Resource::Common(kind) => kind,
            Resource::Object(name) => return objects::find_match(name, keys),
        };
        let keys: Map<String, Value> = from_json(keys)?;
        let mut common: Vec<(&str, String)> = Vec::new();
        let mut phone: Option<String> = None;
        for (field, value) in &keys {
            let property = match (kind, field.as_str()) {
                (Kind::Contacts, "email" | "email_address" | "email_addresses") => {
                    Some(("email", key_text(value, "email_address")))
                }
                (_, "phone" | "phone_number" | "phone_numbers") => {
                    phone = key_text(value, "phone_number");
                    if phone.is_none() {
                        return Ok(None);
                    }
                    None
                }
                (Kind::Contacts, "first_name") => Some(("firstname", key_text(value, ""))),
                (Kind::Contacts, "last_name") => Some(("lastname", key_text(value, ""))),
                (Kind::Contacts, "title") => Some(("jobtitle", key_text(value, ""))),
                (Kind::Contacts, "company_name") => Some(("company", key_text(value, ""))),
                (Kind::Companies, "domain") => Some(("domain", key_text(value, ""))),
                (Kind::Companies, "name") => Some(("name", key_text(value, ""))),
                (Kind::Companies, "website") => Some(("website", key_text(value, ""))),
                _ => {
                    return Err(ConnectorError::unsupported(format!(
                        "HubSpot cannot match {} on {field}",
                        kind.endgrate_type()
                    )));
                }
            };
            if let Some((property, text)) = property {
                match text {
                    Some(text) => common.push((property, text)),
                    // An empty key matches nothing.
                    None => return Ok(None),
                }
            }
        }
        if common.is_empty() && phone.is_none() {
            return Ok(None);
        }
        // A contact by email alone is a plain read by the unique `email`
        // property: it counts against the general limit (100 per 10 s), not
        // the search endpoints' 4 per second.
        if let (Kind::Contacts, None, [("email", email)]) = (kind, &phone, common.as_slice()) {
            return read_contact_by_email(email);
        }
        let groups: Vec<Vec<(&str, String)>> = match phone {
            None => vec![common],
            Some(phone) => {
                let with = |property: &'static str| {
                    let mut group = common.clone();
                    group.push((property, phone.clone()));
                    group
                };
                match kind {
                    Kind::Contacts => vec![with("phone"), with("mobilephone")],
                    Kind::Companies => vec![with("phone")],
                }
            }
        };
        search_eq(kind.path(), &groups)
    }

    fn find_matches(
        conn: &Connection,
        endgrate_type: &str,
        items: Vec<Vec<Json>>,
    ) -> Result<Vec<Result<Option<String>, ConnectorError>>, ConnectorError> {
        Ok(find::find_matches(
            conn,
            Resource::parse(endgrate_type)?,
            items,
        ))
    }

    fn associate(
        _conn: &Connection,
        from_type: &str,
        from_id: &str,
        to_type: &str,
        to_id: &str,
    ) -> Result<(), ConnectorError> {
        let from = Kind::from_type(from_type)?;
        let to = Kind::from_type(to_type)?;
        if from == to {
            return Err(ConnectorError::unsupported(format!(
                "HubSpot cannot associate {from_type} with {to_type}"
            )));
        }
        push::associate_one(from, from_id, to_id)
    }

    fn to_cdm(endgrate_type: &str, raw: &str) -> Result<Json, ConnectorError> {
        let kind = Kind::from_type(endgrate_type)?;
        let raw: Value = from_json(raw)?;
        to_json(&mapping::to_cdm(kind, &raw))
    }

    fn from_cdm(endgrate_type: &str, record: &str) -> Result<Json, ConnectorError> {
        let kind = Kind::from_type(endgrate_type)?;
        let record: Value = from_json(record)?;
        to_json(&json!({ "properties": mapping::from_cdm(kind, &record)? }))
    }
}

switchyard_connector_sdk::export_connector!(HubSpot);

#[cfg(test)]
mod tests;
