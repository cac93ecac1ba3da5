//! QuickBooks Online's REST API as this connector talks to it: every URL is
//! scoped to the company (`/v3/company/{realmId}/...`) and carries
//! `minorversion`, answers are JSON, and QuickBooks' error bodies (the JSON
//! `Fault`, the lower-case `fault` of a 401, the XML of a 429) become the
//! connector errors the host acts on.

use serde::Deserialize;
use serde_json::Value;
use switchyard_connector_sdk::http::{RequestBuilder, encode};
use switchyard_connector_sdk::prelude::*;

/// The QuickBooks API. Every error built from its answers names QuickBooks.
pub(crate) const API: Api = Api::new("QuickBooks");

/// The API minor version every request asks for (QuickBooks otherwise
/// answers with its oldest behaviour).
pub(crate) const MINOR_VERSION: u32 = 75;

/// The company (QuickBooks calls it a realm) a connection is bound to, read
/// from the connection settings `finish-auth` returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Company {
    realm_id: String,
    /// The Item that invoice lines without one are sold as (`default_item_id`
    /// setting; QuickBooks' built-in "Services" item, Id 1, when unset).
    pub default_item_id: String,
}

/// The settings this connector reads. Anything else in them is ignored.
#[derive(Debug, Default, Deserialize)]
struct Settings {
    realm_id: Option<Value>,
    default_item_id: Option<Value>,
}

/// A setting's value as text: strings as they are, numbers written out.
fn setting_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Company {
    /// The company of `conn`: its `realm_id` setting is required.
    pub fn of(conn: &Connection) -> Result<Self, ConnectorError> {
        let settings: Settings = conn.settings_as()?;
        let realm_id = setting_text(settings.realm_id.as_ref()).ok_or_else(|| {
            ConnectorError::fatal(
                "the QuickBooks connection has no realm_id setting (the company id QuickBooks \
                 sends as realmId when the end user connects): connect the account again",
            )
        })?;
        Ok(Self {
            realm_id,
            default_item_id: setting_text(settings.default_item_id.as_ref())
                .unwrap_or_else(|| "1".to_owned()),
        })
    }

    /// The company's URL for `resource` (`query`, `batch`, `customer`, ...),
    /// relative to the API base.
    pub fn url(&self, resource: &str) -> String {
        format!("/v3/company/{}/{resource}", encode(&self.realm_id))
    }

    /// `GET` of a company resource, with `minorversion`.
    pub fn get(&self, resource: &str) -> RequestBuilder {
        API.get(self.url(resource))
            .query("minorversion", MINOR_VERSION)
    }

    /// `POST` of a company resource, with `minorversion`.
    pub fn post(&self, resource: &str) -> RequestBuilder {
        API.post(self.url(resource))
            .query("minorversion", MINOR_VERSION)
    }

    /// The realm id, e.g. for `companyinfo/{realmId}`.
    pub fn realm_id(&self) -> &str {
        &self.realm_id
    }

    /// Asks the host to run query `text` ahead (see
    /// [`RequestBuilder::prefetch`](switchyard_connector_sdk::http::RequestBuilder::prefetch)):
    /// a later [`Company::query`] of the same text gets its answer sooner.
    pub fn prefetch_query(&self, text: &str) {
        self.get("query").query("query", text).prefetch();
    }

    /// Runs a query (`select * from Customer where ...`) and returns the
    /// records of `entity` it found; QuickBooks answers an empty page with an
    /// empty `QueryResponse`, which gives an empty list.
    pub fn query(&self, entity: &str, text: &str) -> Result<Vec<Value>, ConnectorError> {
        log::debug!("quickbooks: {text}");
        let mut answer = parse(self.get("query").query("query", text).send()?)?;
        let response = answer.get_mut("QueryResponse").ok_or_else(|| {
            ConnectorError::fatal("QuickBooks answered a query without a QueryResponse")
        })?;
        match response.get_mut(entity).map(Value::take) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(records)) => Ok(records),
            Some(other) => Err(ConnectorError::fatal(format!(
                "QuickBooks answered a query with {entity} that is not a list: {}",
                cut(&other.to_string())
            ))),
        }
    }
}

/// Turns an answer into JSON: a non-2xx status (or a 2xx carrying a `Fault`)
/// becomes the matching error, a body that is not JSON is `fatal`.
pub(crate) fn parse(response: Response) -> Result<Value, ConnectorError> {
    if !response.is_success() {
        let error = http_error(response.status(), response.headers(), response.body());
        if let Some(tid) = response.header("intuit_tid") {
            log::warn!(
                "quickbooks: HTTP {} (intuit_tid {tid}): {}",
                response.status(),
                error.message()
            );
        }
        return Err(error);
    }
    let value: Value = serde_json::from_slice(response.body()).map_err(|err| {
        ConnectorError::fatal(format!("QuickBooks returned malformed JSON: {err}"))
    })?;
    if let Some(fault) = Fault::from_json(&value) {
        let prefix = format!("QuickBooks answered HTTP {}", response.status());
        return Err(fault.error(&prefix, Some(response.status())));
    }
    Ok(value)
}

/// One QuickBooks fault: the first `Error` of a `Fault`.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Fault {
    /// `ValidationFault`, `SystemFault`, `AUTHENTICATION`, `SERVICE`, ...
    pub kind: String,
    /// QuickBooks' error code: `6240`, `5010`, `3200`, ...
    pub code: String,
    /// Message and detail, in one line.
    pub text: String,
}

/// Fault code of a stale `SyncToken` (someone else changed the record).
pub(crate) const STALE_OBJECT: &str = "5010";
/// Fault code of a `DisplayName` already used by a customer, vendor or employee.
pub(crate) const DUPLICATE_NAME: &str = "6240";
/// Fault code of a record that does not exist (or was made inactive).
const OBJECT_NOT_FOUND: &str = "610";
/// Fault code of an expired or rejected token.
const AUTHENTICATION_FAILED: &str = "3200";
/// Fault code of a token that may not access this company.
const AUTHORIZATION_FAILED: &str = "3100";
/// Fault code of throttling (the XML 429).
const THROTTLE_EXCEEDED: &str = "3001";

impl Fault {
    /// The fault in a JSON body: `{"Fault":{"Error":[{"Message","Detail",
    /// "code"}],"type"}}`, or the lower-case shape of a 401.
    pub fn from_json(value: &Value) -> Option<Self> {
        let fault = value.get("Fault").or_else(|| value.get("fault"))?;
        let errors = fault.get("Error").or_else(|| fault.get("error"));
        let first = errors.and_then(|e| e.get(0)).unwrap_or(&Value::Null);
        let field = |upper: &str, lower: &str| {
            first
                .get(upper)
                .or_else(|| first.get(lower))
                .and_then(|v| match v {
                    Value::String(s) => Some(s.trim().to_owned()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .unwrap_or_default()
        };
        let kind = fault
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Some(Self::new(
            kind,
            field("code", "Code"),
            &field("Message", "message"),
            &field("Detail", "detail"),
        ))
    }

    /// The fault in an XML body (`<IntuitResponse><Fault type="..."><Error
    /// code="..."><Message>...</Message><Detail>...</Detail>`), as QuickBooks
    /// sends for a 429 whatever was asked for.
    pub fn from_xml(body: &str) -> Option<Self> {
        if !body.contains("<Fault") {
            return None;
        }
        Some(Self::new(
            xml_attr(body, "Fault", "type").unwrap_or_default(),
            xml_attr(body, "Error", "code").unwrap_or_default(),
            &xml_text(body, "Message").unwrap_or_default(),
            &xml_text(body, "Detail").unwrap_or_default(),
        ))
    }

    fn new(kind: String, code: String, message: &str, detail: &str) -> Self {
        // "message=AuthenticationFailed; errorCode=003200; statusCode=401"
        // says "AuthenticationFailed".
        let message = match message.strip_prefix("message=") {
            Some(rest) => rest.split(';').next().unwrap_or(rest).trim(),
            None => message,
        };
        let mut text = if detail.is_empty() || detail.starts_with(message) {
            if detail.is_empty() { message } else { detail }.to_owned()
        } else if message.is_empty() {
            detail.to_owned()
        } else {
            format!("{message}: {detail}")
        };
        if text.is_empty() {
            text = "no message".to_owned();
        }
        if !code.is_empty() {
            text = format!("{text} (code {code})");
        }
        Self { kind, code, text }
    }

    pub fn is_stale(&self) -> bool {
        self.code == STALE_OBJECT
    }

    /// The connector error for this fault. `prefix` says who answered what
    /// (`QuickBooks answered HTTP 400`, `QuickBooks rejected the customer`);
    /// `status` is the HTTP status, `None` for an item of a batch answer.
    ///
    /// The fault codes that say what happened decide first; otherwise the
    /// status does (401/403 `unauthorized`: the token cannot reach this
    /// company, 404 `not-found`, 5xx `transient`, other non-4xx `fatal`), and
    /// for a 400 or a batch item the fault type (`AUTHENTICATION`,
    /// `SystemFault`), else `invalid-data`.
    pub fn error(&self, prefix: &str, status: Option<u16>) -> ConnectorError {
        let message = format!("{prefix}: {}", self.text);
        match self.code.as_str() {
            AUTHENTICATION_FAILED | AUTHORIZATION_FAILED => {
                return ConnectorError::unauthorized(message);
            }
            THROTTLE_EXCEEDED => return ConnectorError::rate_limited(None),
            OBJECT_NOT_FOUND => return ConnectorError::not_found(message),
            STALE_OBJECT => {
                return ConnectorError::transient(format!(
                    "{message}; the record kept changing while it was written, try again later"
                ));
            }
            DUPLICATE_NAME => {
                return ConnectorError::invalid_data(format!(
                    "{message}; DisplayName must be unique across customers, vendors and employees"
                ));
            }
            _ => {}
        }
        match status {
            Some(401 | 403) => ConnectorError::unauthorized(message),
            Some(404) => ConnectorError::not_found(message),
            Some(500..=599) => ConnectorError::transient(message),
            Some(s) if s >= 300 && !matches!(s, 400 | 409 | 422) => ConnectorError::fatal(message),
            _ if self.kind.eq_ignore_ascii_case("AUTHENTICATION") => {
                ConnectorError::unauthorized(message)
            }
            _ if self.kind.eq_ignore_ascii_case("SystemFault") => {
                ConnectorError::transient(message)
            }
            _ => ConnectorError::invalid_data(message),
        }
    }
}

/// The error for a non-2xx answer: from QuickBooks' fault when the body
/// holds one (JSON, or the XML QuickBooks sends with a 429), else from the
/// status alone ([`ConnectorError::from_status`], but 403 `unauthorized`). A
/// 429 is always `rate-limited`, with `Retry-After` when QuickBooks sent one.
pub(crate) fn http_error(status: u16, headers: &[(String, String)], body: &[u8]) -> ConnectorError {
    if status == 429 {
        return ConnectorError::from_status("QuickBooks", status, headers, body);
    }
    let text = String::from_utf8_lossy(body);
    let fault = match serde_json::from_slice::<Value>(body) {
        Ok(value) => Fault::from_json(&value),
        Err(_) => Fault::from_xml(&text),
    };
    let prefix = format!("QuickBooks answered HTTP {status}");
    match fault {
        Some(fault) => fault.error(&prefix, Some(status)),
        None if status == 403 => {
            let text = text.trim();
            let text = if text.is_empty() {
                "(empty body)"
            } else {
                text
            };
            ConnectorError::unauthorized(format!("{prefix}: {}", cut(text)))
        }
        None => ConnectorError::from_status("QuickBooks", status, headers, body),
    }
}

/// The start of a long text, for messages.
pub(crate) fn cut(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// The text inside the first `<tag>...</tag>` (or `<tag attr="">...</tag>`).
fn xml_text(body: &str, tag: &str) -> Option<String> {
    let open = find_tag(body, tag)?;
    let content_start = open + body[open..].find('>')? + 1;
    let close = body[content_start..].find(&format!("</{tag}>"))?;
    Some(xml_unescape(
        body[content_start..content_start + close].trim(),
    ))
}

/// The value of `attr` on the first `<tag ...>`.
fn xml_attr(body: &str, tag: &str, attr: &str) -> Option<String> {
    let open = find_tag(body, tag)?;
    let end = open + body[open..].find('>')?;
    let element = &body[open..end];
    let needle = format!(" {attr}=\"");
    let start = element.find(&needle)? + needle.len();
    let len = element[start..].find('"')?;
    Some(xml_unescape(&element[start..start + len]))
}

/// Where `<tag` starts as a whole element name (not `<tagLonger`).
fn find_tag(body: &str, tag: &str) -> Option<usize> {
    let needle = format!("<{tag}");
    let mut from = 0;
    while let Some(at) = body[from..].find(&needle) {
        let at = from + at;
        let next = body[at + needle.len()..].chars().next();
        if matches!(next, Some('>' | ' ' | '/' | '\t' | '\n' | '\r')) {
            return Some(at);
        }
        from = at + needle.len();
    }
    None
}

fn xml_unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}
