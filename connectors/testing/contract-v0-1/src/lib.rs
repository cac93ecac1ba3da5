//! A connector built against the frozen contract 0.1.0 (`wit/v0.1.0`), with
//! wit-bindgen directly and not the SDK (which moves with the newest
//! contract). It stands for every connector a third party built before 0.2:
//! the host's tests load it, pull, push, upsert and hot-replace it on the
//! current host, and must keep doing so for as long as 0.1.0 is supported.
//!
//! Its provider is the tests' stand-in "ledger" API:
//! - `GET /contacts?cursor=N` answers `{"results": [{"id", "email", "name"}], "next": N|null}`;
//! - `GET /contacts/search?email=E` answers `{"results": [...]}`;
//! - `POST /contacts` creates and `PATCH /contacts/{id}` updates, each
//!   answering the stored contact.
//!
//! Its version comes from `LEDGER_VERSION` at build time (default `1.0.0`), so
//! the tests can build a `2.0.0` to hot-replace it with.

mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit/v0.1.0",
        world: "connector-world",
    });
}

use bindings::exports::switchyard::connector::connector::Guest;
use bindings::switchyard::connector::http;
use bindings::switchyard::connector::types::{
    ApiKeyField, AuthSpec, BatchLimits, Connection, ConnectorError, CredentialPlacement,
    Integration, Json, Manifest, Page, PullRequest, PulledRecord, PushItem, Pushed, RateLimit,
};
use serde_json::{Value, json};

const VERSION: &str = match option_env!("LEDGER_VERSION") {
    Some(version) => version,
    None => "1.0.0",
};

struct Ledger;

impl Guest for Ledger {
    fn describe() -> Manifest {
        Manifest {
            id: "ledger".into(),
            display_name: "Ledger".into(),
            version: VERSION.into(),
            category: "crm".into(),
            homepage: "https://ledger.test".into(),
            logo_svg: String::new(),
            auth: AuthSpec::ApiKey(vec![ApiKeyField {
                name: "api_key".into(),
                label: "API key".into(),
                secret: true,
            }]),
            credential_placement: CredentialPlacement::Authorization("Bearer".into()),
            api_base: "https://api.ledger.test".into(),
            allowed_hosts: vec!["api.ledger.test".into()],
            integrations: vec![Integration {
                endgrate_type: "crm-contact".into(),
                display_name: "Ledger Contacts".into(),
                resource: "contacts".into(),
                supports_pull: true,
                supports_push: true,
                supports_associations: false,
                is_custom_object: false,
            }],
            batch_limits: BatchLimits {
                max_page_size: 2,
                max_push_batch: 10,
            },
            rate_limit: RateLimit {
                requests: 100,
                window_ms: 1_000,
                max_concurrent: 0,
            },
        }
    }

    fn finish_auth(_: Vec<(String, String)>, _: Json) -> Result<Json, ConnectorError> {
        Ok("{}".into())
    }

    fn check(_conn: Connection) -> Result<(), ConnectorError> {
        send("GET", "/contacts?cursor=0", None).map(|_| ())
    }

    fn pull(_conn: Connection, req: PullRequest) -> Result<Page, ConnectorError> {
        let cursor = req.cursor.unwrap_or_else(|| "0".into());
        let page = send("GET", &format!("/contacts?cursor={cursor}"), None)?;
        let records = results(&page)
            .iter()
            .map(|c| PulledRecord {
                id: text(c, "id"),
                data: to_cdm(c).to_string(),
                associations: Vec::new(),
                deleted: false,
            })
            .collect();
        let next_cursor = page["next"].as_u64().map(|n| n.to_string());
        Ok(Page {
            records,
            next_cursor,
        })
    }

    fn push(
        _conn: Connection,
        _endgrate_type: String,
        items: Vec<PushItem>,
    ) -> Result<Vec<Result<Pushed, ConnectorError>>, ConnectorError> {
        Ok(items.iter().map(push_one).collect())
    }

    fn find_match(
        _conn: Connection,
        _endgrate_type: String,
        keys: Json,
    ) -> Result<Option<String>, ConnectorError> {
        let keys: Value = parse(keys.as_bytes())?;
        let Some(email) = keys["email_addresses"].as_str() else {
            return Err(ConnectorError::Unsupported(
                "Ledger finds contacts by email only".into(),
            ));
        };
        let found = send("GET", &format!("/contacts/search?email={email}"), None)?;
        Ok(results(&found).first().map(|c| text(c, "id")))
    }

    fn associate(
        _: Connection,
        _: String,
        _: String,
        _: String,
        _: String,
    ) -> Result<(), ConnectorError> {
        Err(ConnectorError::Unsupported(
            "Ledger keeps no associations".into(),
        ))
    }

    fn to_cdm(_endgrate_type: String, raw: Json) -> Result<Json, ConnectorError> {
        Ok(to_cdm(&parse(raw.as_bytes())?).to_string())
    }

    fn from_cdm(_endgrate_type: String, record: Json) -> Result<Json, ConnectorError> {
        Ok(from_cdm(&parse(record.as_bytes())?).to_string())
    }
}

fn push_one(item: &PushItem) -> Result<Pushed, ConnectorError> {
    let body = from_cdm(&parse(item.data.as_bytes())?);
    let stored = match &item.id {
        Some(id) => send("PATCH", &format!("/contacts/{id}"), Some(&body))?,
        None => send("POST", "/contacts", Some(&body))?,
    };
    Ok(Pushed {
        id: text(&stored, "id"),
        data: to_cdm(&stored).to_string(),
        created: item.id.is_none(),
    })
}

/// Ledger's contact as a common-model contact: `name` is the first name, and
/// the last name is the version of this build, so tests see which build
/// mapped it.
fn to_cdm(contact: &Value) -> Value {
    json!({
        "first_name": contact["name"],
        "last_name": VERSION,
        "email_addresses": [{ "email_address": contact["email"] }],
    })
}

fn from_cdm(record: &Value) -> Value {
    let mut body = json!({});
    if let Some(name) = record.get("first_name") {
        body["name"] = name.clone();
    }
    if let Some(email) = record["email_addresses"][0].get("email_address") {
        body["email"] = email.clone();
    }
    body
}

fn send(method: &str, url: &str, body: Option<&Value>) -> Result<Value, ConnectorError> {
    let response = http::send(&http::Request {
        method: method.into(),
        url: url.into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.map(|b| b.to_string().into_bytes()),
        idempotent: false,
    })?;
    match response.status {
        200..=299 => parse(&response.body),
        404 => Err(ConnectorError::NotFound(format!("Ledger: {url} not found"))),
        400..=499 => Err(ConnectorError::InvalidData(format!(
            "Ledger said {}: {}",
            response.status,
            String::from_utf8_lossy(&response.body)
        ))),
        status => Err(ConnectorError::Transient(format!("Ledger said {status}"))),
    }
}

fn parse(bytes: &[u8]) -> Result<Value, ConnectorError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ConnectorError::Fatal(format!("Ledger answered something that is not JSON: {e}"))
    })
}

fn results(page: &Value) -> &[Value] {
    page["results"].as_array().map_or(&[], Vec::as_slice)
}

fn text(value: &Value, field: &str) -> String {
    match &value[field] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

bindings::export!(Ledger with_types_in bindings);
