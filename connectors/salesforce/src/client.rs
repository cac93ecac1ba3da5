//! Talking to one Salesforce org: where requests go (the connection's
//! `instance_url`, else the host's api-base), Salesforce's array-shaped error
//! bodies, and SOQL queries with `nextRecordsUrl` paging.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use switchyard_connector_sdk::http::encode;
use switchyard_connector_sdk::prelude::*;

use crate::mapping::Kind;

/// The Salesforce REST API. Every error built from its answers names it.
pub const API: Api = Api::new("Salesforce");

/// The REST API version every path uses.
pub const VERSION: &str = "v60.0";

/// The connection settings `finish-auth` stores.
#[derive(Debug, Deserialize)]
struct Settings {
    #[serde(default)]
    instance_url: Option<String>,
}

/// Where one connection's requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    /// `https://acme.my.salesforce.com` (no trailing slash), or empty: then
    /// URLs stay relative and the host resolves them against the
    /// connection's api-base.
    base: String,
}

impl Org {
    /// The org of a connection: its `instance_url` setting when present.
    pub fn new(conn: &Connection) -> Result<Org, ConnectorError> {
        let settings: Settings = conn.settings_as()?;
        let url = settings
            .instance_url
            .map(|url| url.trim().trim_end_matches('/').to_owned())
            .filter(|url| !url.is_empty());
        let base = match url {
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => url,
            Some(url) => {
                return Err(ConnectorError::fatal(format!(
                    "the connection's Salesforce instance_url {url:?} is not an absolute URL; \
                     connect the account again"
                )));
            }
            None => String::new(),
        };
        Ok(Org { base })
    }

    /// `path` (from the host root, e.g. a `nextRecordsUrl`) on this org.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `/services/data/v60.0{rest}` on this org.
    pub fn data(&self, rest: &str) -> String {
        self.url(&format!("/services/data/{VERSION}{rest}"))
    }

    /// `/services/data/v60.0/sobjects/{type}/{id}` on this org.
    pub fn record(&self, kind: Kind, id: &str) -> String {
        self.data(&format!("/sobjects/{}/{}", kind.sobject(), encode(id)))
    }
}

/// One element of a Salesforce error array (`errorCode`), or of a
/// composite result's `errors` (`statusCode`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SfError {
    #[serde(default)]
    pub message: String,
    #[serde(default, rename = "errorCode", alias = "statusCode")]
    pub code: String,
    #[serde(default)]
    pub fields: Vec<String>,
}

impl SfError {
    /// `message (CODE, fields: A, B)`.
    pub fn describe(&self) -> String {
        let message = self.message.trim();
        let message = if message.is_empty() {
            "no message"
        } else {
            message
        };
        let mut context: Vec<String> = Vec::new();
        if !self.code.is_empty() {
            context.push(self.code.clone());
        }
        if !self.fields.is_empty() {
            context.push(format!("fields: {}", self.fields.join(", ")));
        }
        if context.is_empty() {
            message.to_owned()
        } else {
            format!("{message} ({})", context.join(", "))
        }
    }
}

/// The error array of a body (`None` when the body is not one).
pub fn errors_of(body: &[u8]) -> Option<Vec<SfError>> {
    serde_json::from_slice::<Vec<SfError>>(body)
        .ok()
        .filter(|errors| !errors.is_empty())
}

/// The `errorCode` of an error answer.
pub fn error_code(response: &Response) -> Option<String> {
    errors_of(response.body())?
        .into_iter()
        .next()
        .map(|error| error.code)
}

/// A non-2xx answer as the variant the host acts on. Salesforce's error
/// array gives the message; `REQUEST_LIMIT_EXCEEDED` (a `403`, without
/// `Retry-After`) is `rate-limited`. Other statuses follow
/// [`ConnectorError::from_status`].
pub fn error_for(response: &Response) -> ConnectorError {
    let status = response.status();
    let first = errors_of(response.body()).and_then(|errors| errors.into_iter().next());
    let Some(error) = first else {
        return ConnectorError::from_status(
            API.provider(),
            status,
            response.headers(),
            response.body(),
        );
    };
    if error.code == "REQUEST_LIMIT_EXCEEDED" {
        return ConnectorError::rate_limited(None);
    }
    let message = format!("Salesforce answered HTTP {status}: {}", error.describe());
    match status {
        401 => ConnectorError::unauthorized(message),
        404 => ConnectorError::not_found(message),
        400 | 409 | 422 => ConnectorError::invalid_data(message),
        429 => ConnectorError::from_status(API.provider(), status, response.headers(), b""),
        500..=599 => ConnectorError::transient(message),
        _ => ConnectorError::fatal(message),
    }
}

/// Turns an answer into `T`: a non-2xx status becomes the matching error, a
/// body that is not JSON is `fatal`.
pub fn parse<T: DeserializeOwned>(response: Response) -> Result<T, ConnectorError> {
    if !response.is_success() {
        return Err(error_for(&response));
    }
    // Parsed straight into `T`: through a `Value` first, a page was built twice.
    serde_json::from_slice(response.body()).map_err(|err| {
        let what = match err.classify() {
            serde_json::error::Category::Data => "an unexpected answer",
            _ => "malformed JSON",
        };
        ConnectorError::fatal(format!("Salesforce returned {what}: {err}"))
    })
}

/// Passes a 2xx answer (e.g. a `204` to a `PATCH`) and maps any other.
pub fn expect_success(response: Response) -> Result<(), ConnectorError> {
    if response.is_success() {
        Ok(())
    } else {
        Err(error_for(&response))
    }
}

/// One batch of query results.
#[derive(Debug, Deserialize)]
pub struct QueryPage {
    #[serde(default)]
    pub records: Vec<Value>,
    #[serde(default)]
    pub done: Option<bool>,
    #[serde(default, rename = "nextRecordsUrl")]
    pub next_records_url: Option<String>,
}

impl QueryPage {
    /// The path of the next batch; `None` when this one was the last.
    pub fn next_path(&self) -> Result<Option<String>, ConnectorError> {
        if self.done == Some(true) {
            return Ok(None);
        }
        match self.next_records_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => Ok(Some(path_of(url).to_owned())),
            _ if self.done == Some(false) => Err(ConnectorError::fatal(
                "Salesforce said more query results follow but gave no nextRecordsUrl",
            )),
            _ => Ok(None),
        }
    }
}

/// The path (and query) of a URL that may be absolute.
fn path_of(url: &str) -> &str {
    match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |slash| &rest[slash..]),
        None => url,
    }
}

/// Which query endpoint: `query` (live records) or `queryAll` (deleted and
/// merged records too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Query,
    QueryAll,
}

/// Runs `soql`; `batch` asks Salesforce for that many records per batch
/// (`Sforce-Query-Options: batchSize`, 200 to 2,000; a hint it may ignore).
/// The raw answer, so a caller can look at the error code.
pub fn send_query(
    org: &Org,
    endpoint: Endpoint,
    soql: &str,
    batch: Option<u32>,
) -> Result<Response, ConnectorError> {
    let rest = match endpoint {
        Endpoint::Query => "/query",
        Endpoint::QueryAll => "/queryAll",
    };
    let mut request = API.get(org.data(rest)).query("q", soql);
    if let Some(batch) = batch {
        request = request.header("sforce-query-options", format!("batchSize={batch}"));
    }
    request.send()
}

/// Runs `soql` and reads every batch (for bounded result sets: re-reads,
/// matches, linked ids).
pub fn query_all_pages(org: &Org, soql: &str) -> Result<Vec<Value>, ConnectorError> {
    let mut page: QueryPage = parse(send_query(org, Endpoint::Query, soql, None)?)?;
    let mut records = std::mem::take(&mut page.records);
    while let Some(next) = page.next_path()? {
        page = parse(API.get(org.url(&next)).send()?)?;
        records.append(&mut page.records);
    }
    Ok(records)
}

/// The `Id` of a raw record.
pub fn id_of(raw: &Value) -> Option<&str> {
    raw.get("Id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
}
