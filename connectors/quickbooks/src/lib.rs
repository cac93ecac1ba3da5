//! The QuickBooks Online connector: moves `accounting-customer` (Customer)
//! and `accounting-invoice` (Invoice) records between QuickBooks Online's
//! accounting API v3 and Switchyard's common data model.
//!
//! - Every call is scoped to the company the end user connected: the
//!   `realmId` QuickBooks sends back after consent, kept as the `realm_id`
//!   connection setting (see [`api::Company`]).
//! - Pulls page through queries (see [`pull`]); pushes go through the batch
//!   endpoint with `SyncToken` locking (see [`push`]).
//! - QuickBooks has no upsert: `find-match` queries by exact values, and
//!   `find-matches` asks a whole batch with `IN` queries (see [`find`]).
//! - Every write the host sends carries its idempotency key as QuickBooks'
//!   `requestid`, so a create sent again is made once
//!   (`idempotent-creates`).

mod api;
mod custom_fields;
mod find;
mod mapping;
mod pull;
mod push;
mod query;

use serde_json::{Map, Value, json};
use switchyard_connector_sdk::http::encode;
use switchyard_connector_sdk::json::{from_json, to_json};
use switchyard_connector_sdk::prelude::*;

use api::{Company, parse};
pub use mapping::Kind;

/// A green disc with a lowercase "q" and "b" drawn as rings and stems.
const LOGO_SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" role="img" aria-label="QuickBooks"><circle cx="32" cy="32" r="30" fill="#2E9E44"/><g fill="none" stroke="#FFFFFF" stroke-width="4.5" stroke-linecap="round"><circle cx="22" cy="35" r="7.5"/><path d="M29.5 33v17"/><circle cx="42" cy="29" r="7.5"/><path d="M34.5 14v17"/></g></svg>"##;

/// The connector; stateless, every call runs in a fresh instance.
pub struct QuickBooks;

/// A key of `find-match` as text: a string or number, or the `inner` field
/// of an object or of the first entry of a list (the common model's
/// `email_addresses: [{email_address}]` shapes).
fn key_text(value: &Value, inner: &str) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) => items.first().and_then(|v| key_text(v, inner)),
        Value::Object(_) if !inner.is_empty() => key_text(value.get(inner)?, inner),
        _ => None,
    }
}

/// The digits of a phone number, for comparing numbers written differently.
fn digits(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

/// Whether two phone numbers are the same line: equal digits, or one ends
/// with the other (a missing country code) when that has 7 digits or more.
fn same_phone(a: &str, b: &str) -> bool {
    let (a, b) = (digits(a), digits(b));
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    !short.is_empty() && (short == long || (short.len() >= 7 && long.ends_with(&short)))
}

impl Connector for QuickBooks {
    fn describe() -> Manifest {
        let integration = |kind: Kind, display: &str, associations: bool| Integration {
            endgrate_type: kind.endgrate_type().into(),
            display_name: display.into(),
            resource: kind.entity().into(),
            supports_pull: true,
            supports_push: true,
            supports_associations: associations,
            is_custom_object: false,
            paging: Vec::new(),
        };
        Manifest {
            id: "quickbooks".into(),
            display_name: "QuickBooks".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            category: "accounting".into(),
            homepage: "https://quickbooks.intuit.com".into(),
            logo_svg: LOGO_SVG.into(),
            auth: AuthSpec::Oauth2(Oauth2Spec {
                authorize_url: "https://appcenter.intuit.com/connect/oauth2".into(),
                token_url: "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer".into(),
                scopes: vec!["com.intuit.quickbooks.accounting".into()],
                scope_separator: " ".into(),
                client_auth: ClientAuth::Basic,
                pkce: false,
                extra_authorize_params: Vec::new(),
            }),
            credential_placement: CredentialPlacement::Authorization("Bearer".into()),
            api_base: "https://quickbooks.api.intuit.com".into(),
            allowed_hosts: vec![
                "quickbooks.api.intuit.com".into(),
                "sandbox-quickbooks.api.intuit.com".into(),
            ],
            integrations: vec![
                integration(Kind::Customer, "QuickBooks Customers", false),
                // Invoices carry their customer (CustomerRef).
                integration(Kind::Invoice, "QuickBooks Invoices", true),
            ],
            batch_limits: BatchLimits {
                max_page_size: query::MAX_RESULTS,
                max_push_batch: push::MAX_BATCH as u32,
                max_lookup_batch: find::MAX_LOOKUP_BATCH,
            },
            rate_limit: RateLimit {
                requests: 500,
                window_ms: 60_000,
                max_concurrent: 10,
            },
            rate_classes: Vec::new(),
            // Every create and update carries the item's key as `requestid`.
            idempotent_creates: true,
        }
    }

    /// QuickBooks sends the company id as `realmId` with the redirect; every
    /// API path needs it, so it becomes the `realm_id` setting.
    fn finish_auth(
        callback_params: &[(String, String)],
        _token_response: &str,
    ) -> Result<Json, ConnectorError> {
        let realm_id = callback_params
            .iter()
            .find(|(name, _)| name == "realmId")
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
            .ok_or_else(|| {
                ConnectorError::fatal(
                    "QuickBooks sent the end user back without realmId (the company id): \
                     the connection cannot be used; connect again",
                )
            })?;
        to_json(&json!({ "realm_id": realm_id }))
    }

    /// `GET /v3/company/{realm}/companyinfo/{realm}`: a rejected token is
    /// `unauthorized` with QuickBooks' message.
    fn check(conn: &Connection) -> Result<(), ConnectorError> {
        let company = Company::of(conn)?;
        let info = parse(
            company
                .get(&format!("companyinfo/{}", encode(company.realm_id())))
                .send()?,
        )?;
        if info.get("CompanyInfo").is_none() {
            return Err(ConnectorError::fatal(
                "QuickBooks answered the company info request without CompanyInfo",
            ));
        }
        Ok(())
    }

    fn list_fields(
        conn: &Connection,
        endgrate_type: &str,
    ) -> Result<Vec<FieldInfo>, ConnectorError> {
        let kind = Kind::from_type(endgrate_type)?;
        custom_fields::list(&Company::of(conn)?, kind)
    }

    fn pull(conn: &Connection, req: PullRequest) -> Result<Page, ConnectorError> {
        let kind = Kind::from_type(&req.endgrate_type)?;
        let company = Company::of(conn)?;
        pull::pull(&company, kind, &req)
    }

    fn push(
        conn: &Connection,
        endgrate_type: &str,
        items: Vec<PushItem>,
    ) -> Result<Vec<Result<Pushed, ConnectorError>>, ConnectorError> {
        let kind = Kind::from_type(endgrate_type)?;
        let company = Company::of(conn)?;
        push::push(&company, kind, &items)
    }

    /// Queries by exact values (all keys must match), inactive customers
    /// included: customers on `email_addresses` (`PrimaryEmailAddr`),
    /// `customer_name` (`DisplayName`) and `company_name` (`CompanyName`);
    /// invoices on `number` (`DocNumber`) and `customer_id` (`CustomerRef`).
    /// QuickBooks cannot query phone numbers: `phone_numbers` only narrows
    /// the matches of other keys, compared here.
    fn find_match(
        conn: &Connection,
        endgrate_type: &str,
        keys: &str,
    ) -> Result<Option<String>, ConnectorError> {
        let kind = Kind::from_type(endgrate_type)?;
        let company = Company::of(conn)?;
        let keys: Map<String, Value> = from_json(keys)?;
        let mut conditions = Vec::new();
        let mut phone: Option<String> = None;
        for (field, value) in &keys {
            let (property, inner) = match (kind, field.as_str()) {
                (Kind::Customer, "email_addresses" | "email_address" | "email") => {
                    ("PrimaryEmailAddr", "email_address")
                }
                (Kind::Customer, "customer_name") => ("DisplayName", ""),
                (Kind::Customer, "company_name") => ("CompanyName", ""),
                (Kind::Customer, "phone_numbers" | "phone_number" | "phone") => {
                    match key_text(value, "phone_number") {
                        Some(number) => phone = Some(number),
                        // An empty key matches nothing.
                        None => return Ok(None),
                    }
                    continue;
                }
                (Kind::Invoice, "number") => ("DocNumber", ""),
                (Kind::Invoice, "customer_id") => ("CustomerRef", ""),
                _ => {
                    return Err(ConnectorError::unsupported(format!(
                        "QuickBooks cannot match {} on {field}",
                        kind.endgrate_type()
                    )));
                }
            };
            let Some(text) = key_text(value, inner) else {
                return Ok(None);
            };
            conditions.push(format!("{property} = {}", query::literal(&text)?));
        }
        if conditions.is_empty() {
            if phone.is_some() {
                return Err(ConnectorError::unsupported(
                    "QuickBooks cannot search customers by phone number; match on \
                     email_addresses, customer_name or company_name",
                ));
            }
            return Ok(None);
        }
        // With a phone to compare, look at more than the first match.
        let max = if phone.is_some() { 100 } else { 1 };
        let statement = query::lookup_statement(kind, &conditions, max);
        let records = company.query(kind.entity(), &statement)?;
        let found = records.iter().find(|raw| match &phone {
            None => true,
            Some(phone) => [
                "/PrimaryPhone/FreeFormNumber",
                "/Mobile/FreeFormNumber",
                "/AlternatePhone/FreeFormNumber",
            ]
            .iter()
            .filter_map(|pointer| raw.pointer(pointer).and_then(Value::as_str))
            .any(|number| same_phone(number, phone)),
        });
        Ok(found.and_then(mapping::id_of))
    }

    /// The lookups of a whole batch: one `IN` query per field QuickBooks can
    /// filter on and round of key sets, instead of one query per item (see
    /// [`find`]).
    fn find_matches(
        conn: &Connection,
        endgrate_type: &str,
        items: Vec<Vec<Json>>,
    ) -> Result<Vec<Result<Option<String>, ConnectorError>>, ConnectorError> {
        let kind = Kind::from_type(endgrate_type)?;
        let company = Company::of(conn)?;
        Ok(find::find_matches(conn, &company, kind, items))
    }

    /// An invoice belongs to one customer (its `CustomerRef`): linking an
    /// invoice and a customer (either way round) sets it, with a sparse
    /// update. QuickBooks has no other links between these types.
    fn associate(
        conn: &Connection,
        from_type: &str,
        from_id: &str,
        to_type: &str,
        to_id: &str,
    ) -> Result<(), ConnectorError> {
        let from = Kind::from_type(from_type)?;
        let to = Kind::from_type(to_type)?;
        let (invoice, customer) = match (from, to) {
            (Kind::Invoice, Kind::Customer) => (from_id, to_id),
            (Kind::Customer, Kind::Invoice) => (to_id, from_id),
            _ => {
                return Err(ConnectorError::unsupported(format!(
                    "QuickBooks cannot associate {from_type} with {to_type}: the only link it \
                     keeps is an invoice's customer (CustomerRef)"
                )));
            }
        };
        let company = Company::of(conn)?;
        // No idempotency key: each link is its own update, never an answer
        // QuickBooks kept for an earlier request.
        let item = PushItem {
            id: Some(invoice.to_owned()),
            idempotency_key: String::new(),
            ..PushItem::new(&json!({ "customer_id": customer }))?
        };
        match push::push(&company, Kind::Invoice, &[item])?.pop() {
            Some(Ok(_)) => Ok(()),
            Some(Err(err)) => Err(err),
            None => Err(ConnectorError::fatal(
                "QuickBooks: the invoice update gave no result",
            )),
        }
    }

    fn to_cdm(endgrate_type: &str, raw: &str) -> Result<Json, ConnectorError> {
        let kind = Kind::from_type(endgrate_type)?;
        let raw: Value = from_json(raw)?;
        to_json(&mapping::to_cdm(kind, &raw))
    }

    /// The body of a create (`POST /v3/company/{realm}/customer|invoice`).
    /// Invoice lines are sold as QuickBooks' "Services" item (Id 1), as
    /// `push` does when the connection sets no `default_item_id`.
    fn from_cdm(endgrate_type: &str, record: &str) -> Result<Json, ConnectorError> {
        let kind = Kind::from_type(endgrate_type)?;
        let record: Value = from_json(record)?;
        let body = match kind {
            Kind::Customer => mapping::customer_from_cdm(&record)?,
            Kind::Invoice => mapping::invoice_from_cdm(&record, "1")?,
        };
        to_json(&mapping::without_empty(body))
    }
}

switchyard_connector_sdk::export_connector!(QuickBooks);

#[cfg(test)]
mod tests;
