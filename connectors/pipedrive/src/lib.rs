//! The Pipedrive connector: pulls `crm-contact` records from the
//! Pipedrive REST API into Switchyard's common data model.
//!
//! This is the skeleton `cargo xtask new-connector` made. It talks to a
//! fictional API at `https://api.pipedrive.example`:
//!
//! - `GET /me` answers `200` when the API key works (used by `check`);
//! - `GET /contacts?limit=&cursor=&updated_since=` answers
//!   `{"data": [contact, ...], "next_cursor": "..." | null}`.
//!
//! Replace the URLs, the `ApiContact` shape and the mapping with the real
//! provider's; the structure (describe, check, pull, to_cdm, tests) stays.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchyard_connector_sdk::prelude::*;

/// The provider's API. Every error built from its answers names it.
const API: Api = Api::new("Pipedrive");

/// The most contacts one `GET /contacts` returns.
const MAX_PAGE_SIZE: u32 = 100;

/// The connector. It has no state: every call runs in a fresh instance, so
/// anything a later page needs travels in the cursor.
struct Provider;

/// One page of `GET /contacts`.
#[derive(Debug, Deserialize)]
struct ContactsPage {
    data: Vec<ApiContact>,
    next_cursor: Option<String>,
}

/// A contact as the provider returns it.
#[derive(Debug, Deserialize)]
struct ApiContact {
    id: String,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    title: Option<String>,
    company: Option<String>,
    updated_at: Option<String>,
}

impl Connector for Provider {
    fn describe() -> Manifest {
        Manifest {
            id: "pipedrive".into(),
            display_name: "Pipedrive".into(),
            // Bump the crate version to hot-load a new build over a loaded one.
            version: env!("CARGO_PKG_VERSION").into(),
            category: "crm".into(),
            homepage: "https://pipedrive.example".into(),
            logo_svg: String::new(),
            // The end user pastes an API key; the host stores it encrypted and
            // adds it to every request. The connector never sees it.
            auth: AuthSpec::ApiKey(vec![ApiKeyField {
                name: "api_key".into(),
                label: "Pipedrive API key".into(),
                secret: true,
            }]),
            credential_placement: CredentialPlacement::Authorization("Bearer".into()),
            api_base: "https://api.pipedrive.example".into(),
            // The only hosts `http` may reach.
            allowed_hosts: vec!["api.pipedrive.example".into()],
            integrations: vec![Integration {
                endgrate_type: "crm-contact".into(),
                display_name: "Pipedrive Contacts".into(),
                resource: "contacts".into(),
                supports_pull: true,
                supports_push: false,
                supports_associations: false,
                is_custom_object: false,
            }],
            batch_limits: BatchLimits {
                max_page_size: MAX_PAGE_SIZE,
                max_push_batch: 1,
            },
            // The provider's published limit; the host paces requests under it.
            rate_limit: RateLimit {
                requests: 10,
                window_ms: 1_000,
                max_concurrent: 0,
            },
        }
    }

    /// One cheap request: a rejected key becomes `unauthorized`.
    fn check(_conn: &Connection) -> Result<(), ConnectorError> {
        API.get("/me").send()?.error_for_status()?;
        Ok(())
    }

    fn pull(_conn: &Connection, req: PullRequest) -> Result<Page, ConnectorError> {
        if req.endgrate_type != "crm-contact" {
            return Err(ConnectorError::unsupported(format!(
                "Pipedrive cannot pull {}",
                req.endgrate_type
            )));
        }
        // Non-2xx answers become the matching error (401 unauthorized,
        // 429 rate-limited, 5xx transient, ...) via `send_json`.
        let page: ContactsPage = API
            .get("/contacts")
            .query("limit", req.page_size.clamp(1, MAX_PAGE_SIZE))
            .query_opt("cursor", req.cursor.as_deref())
            .query_opt("updated_since", req.since.as_deref())
            .send_json()?;
        log::debug!("pipedrive: pulled {} contacts", page.data.len());

        let records = page
            .data
            .iter()
            .map(|contact| PulledRecord::new(&contact.id, &contact_to_cdm(contact)))
            .collect::<Result<Vec<_>, _>>()?;
        // The provider's cursor is enough here. To keep more state between
        // pages, pack it with `switchyard_connector_sdk::cursor::encode`.
        Ok(Page::new(records, page.next_cursor))
    }

    /// The same mapping `pull` uses, for raw records the host already has.
    fn to_cdm(endgrate_type: &str, raw: &str) -> Result<Json, ConnectorError> {
        match endgrate_type {
            "crm-contact" => {
                let contact: ApiContact = switchyard_connector_sdk::json::from_json(raw)?;
                switchyard_connector_sdk::json::to_json(&contact_to_cdm(&contact))
            }
            other => Err(ConnectorError::unsupported(format!(
                "Pipedrive cannot map {other}"
            ))),
        }
    }
}

/// A provider contact in the common model's `crm-contact` shape (see
/// `GET /api/schemas/crm-contact` on any Switchyard host). Absent fields are
/// left out.
fn contact_to_cdm(contact: &ApiContact) -> Value {
    let text = |value: &Option<String>| value.as_deref().map(Value::from);
    let fields = [
        ("first_name", text(&contact.first_name)),
        ("last_name", text(&contact.last_name)),
        (
            "email_addresses",
            contact
                .email
                .as_ref()
                .map(|email| json!([{ "email_address": email, "email_address_type": "WORK" }])),
        ),
        (
            "phone_numbers",
            contact
                .phone
                .as_ref()
                .map(|phone| json!([{ "phone_number": phone, "phone_number_type": "WORK" }])),
        ),
        ("title", text(&contact.title)),
        ("company_name", text(&contact.company)),
        ("updated_at", text(&contact.updated_at)),
    ];
    let cdm: Map<String, Value> = fields
        .into_iter()
        .filter_map(|(field, value)| Some((field.to_owned(), value?)))
        .collect();
    Value::Object(cdm)
}

switchyard_connector_sdk::export_connector!(Provider);

// Native unit tests: `cargo test --target x86_64-unknown-linux-gnu -p pipedrive`.
// `MockHttp` stands in for the host and answers the connector's requests.
#[cfg(test)]
mod tests {
    use switchyard_connector_sdk::testing::MockHttp;

    use super::*;

    fn connection() -> Connection {
        Connection::new("https://api.pipedrive.example", json!({}))
    }

    #[test]
    fn pull_maps_contacts_and_follows_the_cursor() {
        let mock = MockHttp::new();
        mock.on("GET", "/contacts").once().reply_json(
            200,
            json!({
                "data": [{
                    "id": "c1", "first_name": "Ada", "last_name": "Lovelace",
                    "email": "ada@example.com", "phone": "+44 20 7946 0000",
                    "title": "Analyst", "company": "Engines Ltd",
                    "updated_at": "2024-05-01T12:00:00Z"
                }],
                "next_cursor": "page-2"
            }),
        );
        mock.on("GET", "/contacts")
            .reply_json(200, json!({ "data": [], "next_cursor": null }));

        let first = Provider::pull(&connection(), PullRequest::new("crm-contact", 50));
        let Ok(first) = first else {
            panic!("first page failed: {first:?}");
        };
        assert_eq!(first.next_cursor.as_deref(), Some("page-2"));
        assert_eq!(first.records[0].id, "c1");
        assert_eq!(
            first.records[0].data_as::<Value>(),
            Ok(json!({
                "first_name": "Ada",
                "last_name": "Lovelace",
                "email_addresses": [{ "email_address": "ada@example.com", "email_address_type": "WORK" }],
                "phone_numbers": [{ "phone_number": "+44 20 7946 0000", "phone_number_type": "WORK" }],
                "title": "Analyst",
                "company_name": "Engines Ltd",
                "updated_at": "2024-05-01T12:00:00Z"
            }))
        );

        let mut next = PullRequest::new("crm-contact", 50);
        next.cursor = first.next_cursor;
        let last = Provider::pull(&connection(), next);
        assert_eq!(last.map(|page| page.next_cursor), Ok(None));

        let urls: Vec<String> = mock.requests().into_iter().map(|r| r.url).collect();
        assert_eq!(
            urls,
            ["/contacts?limit=50", "/contacts?limit=50&cursor=page-2"]
        );
    }

    #[test]
    fn check_reports_a_rejected_key_as_unauthorized() {
        let mock = MockHttp::new();
        mock.on("GET", "/me")
            .reply_json(401, json!({ "message": "invalid API key" }));
        assert_eq!(
            Provider::check(&connection()),
            Err(ConnectorError::unauthorized(
                "Pipedrive answered HTTP 401: invalid API key"
            ))
        );
    }

    #[test]
    fn other_types_are_unsupported() {
        let page = Provider::pull(&connection(), PullRequest::new("crm-deal", 10));
        assert!(matches!(page, Err(ConnectorError::Unsupported(_))));
    }
}
