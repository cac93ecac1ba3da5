//! The Salesforce connector: moves `crm-contact` (Contact) and `crm-company`
//! (Account) records between the Salesforce REST API and Switchyard's common
//! data model.
//!
//! - Every request goes to the connection's `instance_url` (which
//!   `finish-auth` keeps from the token answer), else to the host's api-base.
//! - Pulls run SOQL ordered by `SystemModstamp` and page through
//!   `nextRecordsUrl`; incremental pulls go through `queryAll` so deleted
//!   records come back as deletions.
//! - Pushes use sObject Collections (see [`push`]); a batch's upsert
//!   lookups are batched SOQL queries (see [`find`]).
//! - A contact belongs to a company through its `AccountId`.
//! - Custom objects (`Project__c`) are object subjects, read and written as
//!   their own fields through the same queries and collections (see
//!   [`objects`]); [`fields`] lists them and every object's fields.

mod client;
mod fields;
mod find;
mod mapping;
mod objects;
mod push;
mod resource;
mod soql;

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use switchyard_connector_sdk::json::{from_json, to_json};
use switchyard_connector_sdk::prelude::*;

use client::{API, Endpoint, Org, QueryPage, parse};
pub use mapping::Kind;
use resource::Resource;

/// The most records one query batch holds (Salesforce's cap).
const MAX_PAGE_SIZE: u32 = 2000;

/// The fewest records Salesforce puts in a batch when asked for a size.
const MIN_BATCH_SIZE: u32 = 200;

/// Where every pull cursor's path starts.
const CURSOR_PREFIX: &str = "/services/data/";

/// A blue cloud.
const LOGO_SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 44" role="img" aria-label="Salesforce"><path fill="#1798C1" d="M15 40a11 11 0 0 1-2.6-21.7A13 13 0 0 1 36.5 9.5 10 10 0 0 1 51 15.2 12.5 12.5 0 0 1 50 40Z"/></svg>"##;

/// The connector; stateless, every call runs in a fresh instance.
pub struct Salesforce;

/// A pull cursor: the `nextRecordsUrl` path of the next batch, then `#` and
/// the `SystemModstamp` (a SOQL literal) of the last record delivered, from
/// which the pull restarts if Salesforce has expired the query locator.
#[derive(Debug, PartialEq)]
struct Cursor {
    path: String,
    resume: Option<String>,
}

impl Cursor {
    fn parse(text: &str) -> Result<Cursor, ConnectorError> {
        let (path, resume) = match text.split_once('#') {
            Some((path, resume)) => (path, Some(resume)),
            None => (text, None),
        };
        let foreign = || {
            ConnectorError::fatal(format!(
                "the cursor {text:?} was not made by this connector"
            ))
        };
        if !path.starts_with(CURSOR_PREFIX) || path.contains("://") {
            return Err(foreign());
        }
        let resume = match resume.filter(|r| !r.is_empty()) {
            Some(resume) => Some(soql::datetime_literal(resume).ok_or_else(foreign)?),
            None => None,
        };
        Ok(Cursor {
            path: path.to_owned(),
            resume,
        })
    }

    fn encode(&self) -> String {
        match &self.resume {
            Some(resume) => format!("{}#{resume}", self.path),
            None => self.path.clone(),
        }
    }
}

/// What the batches of one pull read: an sObject and the fields selected.
pub(crate) struct Listing<'a> {
    pub sobject: &'a str,
    /// Selected first (they include `Id` and `SystemModstamp`).
    pub fields: &'a [&'a str],
    /// Selected after `fields`, unless already selected or not identifiers.
    pub extra: &'a [String],
}

/// The first batch of a pull, or of its restart after an expired cursor.
fn first_batch(
    org: &Org,
    listing: &Listing,
    since: Option<&str>,
    incremental: bool,
    batch: u32,
) -> Result<QueryPage, ConnectorError> {
    let endpoint = if incremental {
        Endpoint::QueryAll
    } else {
        Endpoint::Query
    };
    let soql = soql::pull_query(
        listing.sobject,
        listing.fields,
        since,
        incremental,
        listing.extra,
    );
    parse(client::send_query(org, endpoint, &soql, Some(batch))?)
}

/// One batch of a pull: the first (through `queryAll` when incremental, so
/// deletions come too), or the one the cursor names, restarting from the
/// cursor's `SystemModstamp` when Salesforce has forgotten the query.
/// Returns it and the next batch's cursor.
pub(crate) fn read_batch(
    org: &Org,
    listing: &Listing,
    req: &PullRequest,
) -> Result<(QueryPage, Option<String>), ConnectorError> {
    let since = match req
        .since
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(since) => Some(soql::datetime_literal(since).ok_or_else(|| {
            ConnectorError::unsupported(format!(
                "Salesforce cannot pull changes since {since:?}: not an RFC 3339 instant"
            ))
        })?),
        None => None,
    };
    let incremental = since.is_some();
    let batch = req.page_size.clamp(MIN_BATCH_SIZE, MAX_PAGE_SIZE);
    let page = match req.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => first_batch(org, listing, since.as_deref(), incremental, batch)?,
        Some(cursor) => {
            let cursor = Cursor::parse(cursor)?;
            // With the first batch's headers, as the manifest's paging
            // says, so the host's prefetched answer serves it.
            let response = API
                .get(org.url(&cursor.path))
                .header("sforce-query-options", format!("batchSize={batch}"))
                .send()?;
            // Salesforce forgets a locator after 15 minutes unused, or
            // when the user opens too many (10 per user).
            let expired = !response.is_success()
                && client::error_code(&response).as_deref() == Some("INVALID_QUERY_LOCATOR");
            match (&cursor.resume, expired) {
                (Some(resume), true) => {
                    // Records sharing that SystemModstamp come again.
                    log::warn!("salesforce: the query locator expired; restarting from {resume}");
                    first_batch(org, listing, Some(resume), incremental, batch)?
                }
                _ => parse(response)?,
            }
        }
    };
    let next = match page.next_path()? {
        Some(path) => {
            let resume = page
                .records
                .last()
                .and_then(|raw| mapping::field(raw, "SystemModstamp"))
                .and_then(|stamp| soql::datetime_literal(&stamp));
            Some(Cursor { path, resume }.encode())
        }
        None => None,
    };
    Ok((page, next))
}

/// The ids of the contacts of each account, for `crm-contact` associations.
fn contacts_of(
    org: &Org,
    accounts: &[&str],
) -> Result<HashMap<String, Vec<String>>, ConnectorError> {
    let mut linked: HashMap<String, Vec<String>> = HashMap::new();
    for chunk in accounts.chunks(push::MAX_COLLECTION) {
        let ids: Vec<String> = chunk.iter().map(|id| soql::quote(id)).collect();
        let query = format!(
            "SELECT Id, AccountId FROM Contact WHERE AccountId IN ({}) ORDER BY Id ASC",
            ids.join(", ")
        );
        for raw in client::query_all_pages(org, &query)? {
            if let (Some(contact), Some(account)) =
                (client::id_of(&raw), mapping::field(&raw, "AccountId"))
            {
                linked.entry(account).or_default().push(contact.to_owned());
            }
        }
    }
    Ok(linked)
}

/// The `Id` of a queried record of `sobject`; one without is `fatal`.
pub(crate) fn record_id<'a>(raw: &'a Value, sobject: &str) -> Result<&'a str, ConnectorError> {
    client::id_of(raw).ok_or_else(|| {
        ConnectorError::fatal(format!("Salesforce returned a {sobject} without an Id"))
    })
}

/// Whether a record `queryAll` returned is deleted.
pub(crate) fn is_deleted(raw: &Value) -> bool {
    raw.get("IsDeleted").and_then(Value::as_bool) == Some(true)
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

/// The ids of the records of `kind` matching every SOQL condition, oldest
/// first, at most `limit`, with the extra `fields` selected.
fn matching(
    org: &Org,
    kind: Kind,
    conditions: &[String],
    fields: &str,
    limit: u32,
) -> Result<Vec<Value>, ConnectorError> {
    let query = format!(
        "SELECT Id{fields} FROM {} WHERE {} ORDER BY CreatedDate ASC LIMIT {limit}",
        kind.sobject(),
        conditions.join(" AND ")
    );
    let page: QueryPage = parse(client::send_query(org, Endpoint::Query, &query, None)?)?;
    Ok(page.records)
}

impl Connector for Salesforce {
    fn describe() -> Manifest {
        let integration = |kind: Kind, display: &str| Integration {
            endgrate_type: kind.endgrate_type().into(),
            display_name: display.into(),
            resource: kind.sobject().into(),
            supports_pull: true,
            supports_push: true,
            supports_associations: true,
            is_custom_object: false,
            paging: vec![Paging::NextUrl("/nextRecordsUrl".into())],
        };
        Manifest {
            id: "salesforce".into(),
            display_name: "Salesforce".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            category: "crm".into(),
            homepage: "https://www.salesforce.com".into(),
            logo_svg: LOGO_SVG.into(),
            auth: AuthSpec::Oauth2(Oauth2Spec {
                authorize_url: "https://login.salesforce.com/services/oauth2/authorize".into(),
                token_url: "https://login.salesforce.com/services/oauth2/token".into(),
                scopes: vec!["api".into(), "refresh_token".into()],
                scope_separator: " ".into(),
                client_auth: ClientAuth::FormBody,
                pkce: true,
                extra_authorize_params: Vec::new(),
            }),
            credential_placement: CredentialPlacement::Authorization("Bearer".into()),
            // A placeholder: every real call goes to the connection's
            // instance_url.
            api_base: "https://login.salesforce.com".into(),
            allowed_hosts: vec![
                "*.my.salesforce.com".into(),
                "*.salesforce.com".into(),
                "*.force.com".into(),
            ],
            integrations: vec![
                integration(Kind::Contact, "Salesforce Contacts"),
                integration(Kind::Account, "Salesforce Accounts"),
            ],
            batch_limits: BatchLimits {
                max_page_size: MAX_PAGE_SIZE,
                max_push_batch: push::MAX_COLLECTION as u32,
                max_lookup_batch: 0,
            },
            // Salesforce counts requests per org per day (100,000 and up),
            // not per second. A steady 10 per second with 5 in flight keeps
            // one transfer from crowding out the org's other integrations.
            rate_limit: RateLimit {
                requests: 10,
                window_ms: 1_000,
                max_concurrent: 5,
            },
            rate_classes: Vec::new(),
            idempotent_creates: false,
        }
    }

    fn finish_auth(
        _callback_params: &[(String, String)],
        token_response: &str,
    ) -> Result<Json, ConnectorError> {
        let answer: Value = serde_json::from_str(token_response).map_err(|err| {
            ConnectorError::fatal(format!("Salesforce's token answer is not JSON: {err}"))
        })?;
        match answer.get("instance_url") {
            Some(Value::String(url))
                if url.starts_with("https://") || url.starts_with("http://") =>
            {
                let url = url.trim().trim_end_matches('/');
                to_json(&json!({ "instance_url": url }))
            }
            None | Some(Value::Null) => {
                // Calls then go to the host's api-base for this connection.
                log::warn!("salesforce: the token answer has no instance_url");
                Ok("{}".to_owned())
            }
            Some(other) => Err(ConnectorError::fatal(format!(
                "Salesforce's token answer has an instance_url that is not an absolute URL: {other}"
            ))),
        }
    }

    fn list_fields(
        conn: &Connection,
        endgrate_type: &str,
    ) -> Result<Vec<FieldInfo>, ConnectorError> {
        let resource = Resource::parse(endgrate_type)?;
        fields::list_fields(&Org::new(conn)?, resource)
    }

    fn list_objects(conn: &Connection) -> Result<Vec<ObjectInfo>, ConnectorError> {
        fields::list_objects(&Org::new(conn)?)
    }

    fn check(conn: &Connection) -> Result<(), ConnectorError> {
        let org = Org::new(conn)?;
        let _: QueryPage = parse(client::send_query(
            &org,
            Endpoint::Query,
            "SELECT Id FROM Contact LIMIT 1",
            None,
        )?)?;
        Ok(())
    }

    fn pull(conn: &Connection, req: PullRequest) -> Result<Page, ConnectorError> {
        let resource = Resource::parse(&req.endgrate_type)?;
        let org = Org::new(conn)?;
        let kind = match resource {
            Resource::Common(kind) => kind,
            Resource::Custom(name) => return objects::pull(&org, name, &req),
        };
        let other = kind.other().endgrate_type();
        let with_associations = req.associations.iter().any(|t| t == other);
        let listing = Listing {
            sobject: kind.sobject(),
            fields: kind.fields(),
            extra: &req.passthrough_fields,
        };
        let (page, next) = read_batch(&org, &listing, &req)?;

        let mut records = Vec::with_capacity(page.records.len());
        let mut live_accounts: Vec<&str> = Vec::new();
        for raw in &page.records {
            let id = record_id(raw, kind.sobject())?;
            if is_deleted(raw) {
                records.push(PulledRecord::deleted(id));
                continue;
            }
            let mut record = PulledRecord::new(id, &mapping::to_cdm(kind, raw))?
                .with_remote(&req, raw)?
                .with_passthrough(&req, |name| raw.get(name).filter(|v| !v.is_null()).cloned())?;
            if with_associations && kind == Kind::Contact {
                let account = mapping::field(raw, "AccountId");
                record = record.with_associations(other, account.into_iter().collect());
            }
            if kind == Kind::Account {
                live_accounts.push(id);
            }
            records.push(record);
        }
        if with_associations && kind == Kind::Account {
            let mut linked = contacts_of(&org, &live_accounts)?;
            for record in records.iter_mut().filter(|r| !r.deleted) {
                let ids = linked.remove(&record.id).unwrap_or_default();
                record.associations.push((other.to_owned(), ids));
            }
        }
        log::debug!(
            "salesforce: pulled {} {} records",
            records.len(),
            kind.sobject()
        );
        Ok(Page::new(records, next))
    }

    fn push(
        conn: &Connection,
        endgrate_type: &str,
        items: Vec<PushItem>,
    ) -> Result<Vec<Result<Pushed, ConnectorError>>, ConnectorError> {
        let resource = Resource::parse(endgrate_type)?;
        let org = Org::new(conn)?;
        push::push(&org, resource, &items)
    }

    fn find_match(
        conn: &Connection,
        endgrate_type: &str,
        keys: &str,
    ) -> Result<Option<String>, ConnectorError> {
        let kind = match Resource::parse(endgrate_type)? {
            Resource::Common(kind) => kind,
            resource @ Resource::Custom(_) => {
                // The batch lookup, for one item with one key set.
                let org = Org::new(conn)?;
                let answers = find::find_matches(&org, resource, vec![vec![keys.to_owned()]]);
                return answers.into_iter().next().unwrap_or(Ok(None));
            }
        };
        let keys: Map<String, Value> = from_json(keys)?;
        if let Some(field) = keys.keys().find(|field| !is_matchable(kind, field)) {
            return Err(ConnectorError::unsupported(format!(
                "Salesforce cannot match {} on {field}",
                kind.endgrate_type()
            )));
        }
        let org = Org::new(conn)?;
        let mut conditions: Vec<String> = Vec::new();
        let mut phone: Option<String> = None;
        let mut domain: Option<String> = None;
        for (field, value) in &keys {
            let inner = match field.as_str() {
                "email" | "email_address" | "email_addresses" => "email_address",
                "phone" | "phone_number" | "phone_numbers" => "phone_number",
                _ => "",
            };
            // An empty key matches nothing.
            let Some(text) = key_text(value, inner) else {
                return Ok(None);
            };
            let eq = |name: &str| format!("{name} = {}", soql::quote(&text));
            match (kind, field.as_str()) {
                (_, "phone" | "phone_number" | "phone_numbers") => phone = Some(text),
                (Kind::Contact, "first_name") => conditions.push(eq("FirstName")),
                (Kind::Contact, "last_name") => conditions.push(eq("LastName")),
                (Kind::Contact, "title") => conditions.push(eq("Title")),
                (Kind::Contact, _) => conditions.push(eq("Email")),
                (Kind::Account, "name") => conditions.push(eq("Name")),
                (Kind::Account, "website") => conditions.push(eq("Website")),
                (Kind::Account, _) => {
                    // The domain: candidates whose website contains it.
                    let Some(d) = mapping::domain_of(&text) else {
                        return Ok(None);
                    };
                    conditions.push(format!("Website LIKE {}", soql::contains_pattern(&d)));
                    domain = Some(d);
                }
            }
        }
        // SOQL has OR, but the local simulator does not: a contact's two
        // phone fields are tried one query after the other.
        let phone_fields: &[&str] = match (kind, &phone) {
            (_, None) => &[""],
            (Kind::Contact, Some(_)) => &["Phone", "MobilePhone"],
            (Kind::Account, Some(_)) => &["Phone"],
        };
        for phone_field in phone_fields {
            let mut all = conditions.clone();
            if let Some(number) = &phone {
                all.push(format!("{phone_field} = {}", soql::quote(number)));
            }
            if all.is_empty() {
                return Ok(None);
            }
            let found = match &domain {
                // The website's own domain must be equal, not just contain it.
                Some(domain) => matching(&org, kind, &all, ", Website", 200)?
                    .into_iter()
                    .find(|raw| {
                        mapping::field(raw, "Website")
                            .and_then(|website| mapping::domain_of(&website))
                            .as_ref()
                            == Some(domain)
                    }),
                None => matching(&org, kind, &all, "", 1)?.into_iter().next(),
            };
            if let Some(raw) = found {
                return Ok(client::id_of(&raw).map(str::to_owned));
            }
        }
        Ok(None)
    }

    fn find_matches(
        conn: &Connection,
        endgrate_type: &str,
        items: Vec<Vec<Json>>,
    ) -> Result<Vec<Result<Option<String>, ConnectorError>>, ConnectorError> {
        let resource = Resource::parse(endgrate_type)?;
        let org = Org::new(conn)?;
        Ok(find::find_matches(&org, resource, items))
    }

    fn associate(
        conn: &Connection,
        from_type: &str,
        from_id: &str,
        to_type: &str,
        to_id: &str,
    ) -> Result<(), ConnectorError> {
        let from = Kind::from_type(from_type)?;
        let to = Kind::from_type(to_type)?;
        let (contact, account) = match (from, to) {
            (Kind::Contact, Kind::Account) => (from_id, to_id),
            (Kind::Account, Kind::Contact) => (to_id, from_id),
            _ => {
                return Err(ConnectorError::unsupported(format!(
                    "Salesforce cannot associate {from_type} with {to_type}"
                )));
            }
        };
        let org = Org::new(conn)?;
        client::expect_success(
            API.patch(org.record(Kind::Contact, contact))
                .idempotent(true)
                .json_body(&json!({ "AccountId": account }))?
                .send()?,
        )
    }

    fn to_cdm(endgrate_type: &str, raw: &str) -> Result<Json, ConnectorError> {
        let kind = Kind::from_type(endgrate_type)?;
        let raw: Value = from_json(raw)?;
        to_json(&mapping::to_cdm(kind, &raw))
    }

    fn from_cdm(endgrate_type: &str, record: &str) -> Result<Json, ConnectorError> {
        let kind = Kind::from_type(endgrate_type)?;
        let record: Value = from_json(record)?;
        to_json(&mapping::from_cdm(kind, &record)?)
    }
}

/// Whether find-match knows the key `field` for `kind`.
fn is_matchable(kind: Kind, field: &str) -> bool {
    matches!(
        (kind, field),
        (_, "phone" | "phone_number" | "phone_numbers")
            | (
                Kind::Contact,
                "email"
                    | "email_address"
                    | "email_addresses"
                    | "first_name"
                    | "last_name"
                    | "title"
            )
            | (Kind::Account, "name" | "website" | "domain")
    )
}

switchyard_connector_sdk::export_connector!(Salesforce);

#[cfg(test)]
mod tests;
