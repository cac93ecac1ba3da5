//! The Pipedrive connector: moves `crm-contact` (persons) and `crm-company`
//! (organizations) between Pipedrive API v2 and Switchyard's common data
//! model.
//!
//! - Every request goes to the account's `api_domain` (connection settings,
//!   from the OAuth token answer), else to the connection's api-base (see
//!   [`api`]).
//! - Pulls list `GET /api/v2/{persons|organizations}` with `limit` and
//!   Pipedrive's `cursor`; incremental pulls add `updated_since` sorted by
//!   `update_time`.
//! - Pushes write one record per request (see [`push`]); find-match and
//!   find-matches use the search endpoints (see [`find`]).
//! - A person belongs to at most one organization, through its `org_id`.
//! - Organizations keep their website in a custom field (see [`fields`]).

mod api;
mod fields;
mod find;
mod mapping;
mod push;

use serde_json::{Map, Value, json};
use switchyard_connector_sdk::json::{from_json, to_json};
use switchyard_connector_sdk::prelude::*;

use api::{Target, read};
pub use mapping::Kind;
use mapping::WebsiteField;

/// The most records one v2 list page returns.
const MAX_PAGE_SIZE: u32 = 500;

/// Items per push call. Pipedrive writes one record per request, and a call
/// has a deadline (60 s by default), so batches stay small.
const MAX_PUSH_BATCH: u32 = 10;

/// Organizations per page when their persons are asked for too: each one
/// costs a request listing its persons.
const ORGANIZATIONS_WITH_PERSONS_PAGE: u32 = 20;

/// Pages of one organization's persons read at most (500 each).
const MAX_MEMBER_PAGES: usize = 20;

/// A green rounded square with a white lowercase "p": a stem and a round bowl.
const LOGO_SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" role="img" aria-label="Pipedrive"><rect width="64" height="64" rx="14" fill="#1F9D55"/><g fill="none" stroke="#FFFFFF" stroke-width="6" stroke-linecap="round"><path d="M24 22v28"/><circle cx="33" cy="31" r="9"/></g></svg>"##;

/// The connector; stateless, every call runs in a fresh instance.
pub struct Pipedrive;

/// The ids of the persons in organization `id`
/// (`GET /api/v2/persons?org_id=`, every page).
fn organization_members(target: &Target, id: &str) -> Result<Vec<String>, ConnectorError> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_MEMBER_PAGES {
        let answer = read(
            target
                .get("/api/v2/persons")
                .query("org_id", id)
                .query("limit", MAX_PAGE_SIZE)
                .query_opt("cursor", cursor.as_deref())
                .send()?,
        )?;
        cursor = answer.next_cursor();
        ids.extend(
            answer
                .records()?
                .iter()
                .filter_map(|person| person.get("id").and_then(mapping::id_of)),
        );
        if cursor.is_none() {
            return Ok(ids);
        }
    }
    log::warn!(
        "pipedrive: organization {id} has more than {} persons; only those are linked",
        ids.len()
    );
    Ok(ids)
}

/// The website field for mapping organizations in pure calls (`to-cdm`,
/// `from-cdm`), which cannot ask the account: none, so only a top-level
/// `website` is read and no website is written.
const PURE_WEBSITE: Option<&WebsiteField> = None;

impl Connector for Pipedrive {
    fn describe() -> Manifest {
        let integration = |kind: Kind, display: &str| Integration {
            endgrate_type: kind.endgrate_type().into(),
            display_name: display.into(),
            resource: kind.path().into(),
            supports_pull: true,
            supports_push: true,
            supports_associations: true,
            is_custom_object: false,
            paging: vec![Paging::QueryCursor(CursorPaging {
                param: "cursor".into(),
                pointer: "/additional_data/next_cursor".into(),
            })],
        };
        Manifest {
            id: "pipedrive".into(),
            display_name: "Pipedrive".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            category: "crm".into(),
            homepage: "https://www.pipedrive.com".into(),
            logo_svg: LOGO_SVG.into(),
            auth: AuthSpec::Oauth2(Oauth2Spec {
                authorize_url: "https://oauth.pipedrive.com/oauth/authorize".into(),
                token_url: "https://oauth.pipedrive.com/oauth/token".into(),
                // Pipedrive sets scopes on the app, not in the request.
                scopes: Vec::new(),
                scope_separator: " ".into(),
                client_auth: ClientAuth::Basic,
                pkce: false,
                extra_authorize_params: Vec::new(),
            }),
            credential_placement: CredentialPlacement::Authorization("Bearer".into()),
            api_base: "https://api.pipedrive.com".into(),
            allowed_hosts: vec!["*.pipedrive.com".into()],
            integrations: vec![
                integration(Kind::Persons, "Pipedrive Persons"),
                integration(Kind::Organizations, "Pipedrive Organizations"),
            ],
            batch_limits: BatchLimits {
                max_page_size: MAX_PAGE_SIZE,
                max_push_batch: MAX_PUSH_BATCH,
                max_lookup_batch: 0,
            },
            // The burst limit: 80 requests per 2 s for OAuth apps on the
            // Essential plan, the lowest (higher plans allow more).
            rate_limit: RateLimit {
                requests: 80,
                window_ms: 2_000,
                max_concurrent: 0,
            },
            rate_classes: Vec::new(),
            idempotent_creates: false,
        }
    }

    /// The token answer (tokens removed) carries `api_domain`, the base of
    /// every call: it becomes the `api_domain` setting.
    fn finish_auth(
        _callback_params: &[(String, String)],
        token_response: &str,
    ) -> Result<Json, ConnectorError> {
        let text = if token_response.trim().is_empty() {
            "{}"
        } else {
            token_response
        };
        let answer: Value = serde_json::from_str(text).map_err(|err| {
            ConnectorError::fatal(format!("Pipedrive returned malformed JSON: {err}"))
        })?;
        let domain = answer
            .get("api_domain")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|d| !d.is_empty());
        let Some(domain) = domain else {
            log::warn!("pipedrive: the token answer has no api_domain; using the api-base");
            return Ok("{}".to_owned());
        };
        let base = api::base_url(domain).ok_or_else(|| {
            ConnectorError::fatal(format!(
                "Pipedrive returned an api_domain that is not a URL: {domain:?}"
            ))
        })?;
        to_json(&json!({ "api_domain": base }))
    }

    /// `GET /api/v1/users/me`: a rejected token is `unauthorized`.
    fn check(conn: &Connection) -> Result<(), ConnectorError> {
        let target = Target::of(conn)?;
        read(target.get("/api/v1/users/me").send()?)?.record()?;
        Ok(())
    }

    fn list_fields(
        conn: &Connection,
        endgrate_type: &str,
    ) -> Result<Vec<FieldInfo>, ConnectorError> {
        let kind = Kind::from_type(endgrate_type)?;
        fields::list(&Target::of(conn)?, kind)
    }

    fn pull(conn: &Connection, req: PullRequest) -> Result<Page, ConnectorError> {
        let kind = Kind::from_type(&req.endgrate_type)?;
        let target = Target::of(conn)?;
        let other = kind.other();
        let with_associations = req.associations.iter().any(|t| t == other.endgrate_type());
        let mut limit = req.page_size.clamp(1, MAX_PAGE_SIZE);
        if kind == Kind::Organizations && with_associations {
            limit = limit.min(ORGANIZATIONS_WITH_PERSONS_PAGE);
        }
        let website = match kind {
            Kind::Organizations => fields::website_field(&target)?,
            Kind::Persons => None,
        };
        let mut request = target
            .get(&format!("/api/v2/{}", kind.path()))
            .query("limit", limit);
        if let Some(since) = req
            .since
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            request = request
                .query("updated_since", since)
                .query("sort_by", "update_time")
                .query("sort_direction", "asc");
        }
        let cursor = req.cursor.as_deref().filter(|c| !c.is_empty());
        let answer = read(request.query_opt("cursor", cursor).send()?)?;
        let next = answer.next_cursor();
        let raws = answer.records()?;
        let mut records = Vec::with_capacity(raws.len());
        for raw in &raws {
            let id = raw.get("id").and_then(mapping::id_of).ok_or_else(|| {
                api::unexpected(&format!("a listed {} has no id", kind.singular()))
            })?;
            if raw.get("is_deleted").and_then(Value::as_bool) == Some(true) {
                records.push(PulledRecord::deleted(id));
                continue;
            }
            let data = mapping::to_cdm(kind, raw, website.as_ref());
            let mut record = PulledRecord::new(&id, &data)?
                .with_remote(&req, raw)?
                .with_passthrough(&req, |key| fields::value_of(raw, key))?;
            if with_associations {
                let linked = match kind {
                    Kind::Persons => mapping::org_id_of(raw).into_iter().collect(),
                    Kind::Organizations => organization_members(&target, &id)?,
                };
                record = record.with_associations(other.endgrate_type(), linked);
            }
            records.push(record);
        }
        log::debug!("pipedrive: pulled {} {}", records.len(), kind.path());
        Ok(Page::new(records, next))
    }

    fn push(
        conn: &Connection,
        endgrate_type: &str,
        items: Vec<PushItem>,
    ) -> Result<Vec<Result<Pushed, ConnectorError>>, ConnectorError> {
        let kind = Kind::from_type(endgrate_type)?;
        let target = Target::of(conn)?;
        push::push(&target, kind, &items)
    }

    fn find_match(
        conn: &Connection,
        endgrate_type: &str,
        keys: &str,
    ) -> Result<Option<String>, ConnectorError> {
        let kind = Kind::from_type(endgrate_type)?;
        let keys: Map<String, Value> = from_json(keys)?;
        let target = Target::of(conn)?;
        find::find_match(&target, kind, &keys)
    }

    fn find_matches(
        conn: &Connection,
        endgrate_type: &str,
        items: Vec<Vec<Json>>,
    ) -> Result<Vec<Result<Option<String>, ConnectorError>>, ConnectorError> {
        let kind = Kind::from_type(endgrate_type)?;
        let target = Target::of(conn)?;
        Ok(find::find_matches(&target, kind, &items))
    }

    /// Puts a person in an organization (`org_id`), whichever side is `from`.
    fn associate(
        conn: &Connection,
        from_type: &str,
        from_id: &str,
        to_type: &str,
        to_id: &str,
    ) -> Result<(), ConnectorError> {
        let from = Kind::from_type(from_type)?;
        let to = Kind::from_type(to_type)?;
        let target = Target::of(conn)?;
        match (from, to) {
            (Kind::Persons, Kind::Organizations) => push::link(&target, from_id, to_id),
            (Kind::Organizations, Kind::Persons) => push::link(&target, to_id, from_id),
            _ => Err(ConnectorError::unsupported(format!(
                "Pipedrive cannot associate {from_type} with {to_type}"
            ))),
        }
    }

    fn to_cdm(endgrate_type: &str, raw: &str) -> Result<Json, ConnectorError> {
        let kind = Kind::from_type(endgrate_type)?;
        let raw: Value = from_json(raw)?;
        to_json(&mapping::to_cdm(kind, &raw, PURE_WEBSITE))
    }

    fn from_cdm(endgrate_type: &str, record: &str) -> Result<Json, ConnectorError> {
        let kind = Kind::from_type(endgrate_type)?;
        let record: Value = from_json(record)?;
        let body = match kind {
            Kind::Persons => mapping::person_from_cdm(&record, None)?,
            Kind::Organizations => mapping::organization_from_cdm(&record, PURE_WEBSITE)?.0,
        };
        to_json(&body)
    }
}

switchyard_connector_sdk::export_connector!(Pipedrive);

#[cfg(test)]
mod tests;
