//! Requests to Pipedrive: where they go (the connection's `api_domain`, else
//! its api-base), how answers are read (the `{"success", "data",
//! "additional_data"}` envelope) and how error answers become the
//! `ConnectorError` the host acts on.

use serde::Deserialize;
use serde_json::Value;
use switchyard_connector_sdk::http::RequestBuilder;
use switchyard_connector_sdk::prelude::*;

/// The Pipedrive API. Every error built from its answers names Pipedrive.
pub const API: Api = Api::new("Pipedrive");

/// How much of an unstructured error body goes into a message.
const MAX_DETAIL_CHARS: usize = 300;

/// The longest `x-ratelimit-reset` taken as a wait, in seconds.
const MAX_RESET_SECS: f64 = 86_400.0;

/// The connection settings this connector reads.
#[derive(Debug, Default, Deserialize)]
struct Settings {
    /// The account's API host, from the OAuth token answer (`finish-auth`).
    #[serde(default)]
    api_domain: Option<String>,
    /// The key of the organization custom field holding the website, when it
    /// should not be looked up by name.
    #[serde(default)]
    website_field_key: Option<String>,
}

/// Where one connection's requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `https://<company>.pipedrive.com` without a trailing `/`; empty to send
    /// relative URLs, which the host resolves against the api-base.
    base: String,
    website_field_key: Option<String>,
}

impl Target {
    /// The target of `conn`; settings of another shape are `fatal`.
    pub fn of(conn: &Connection) -> Result<Target, ConnectorError> {
        let settings: Settings = conn.settings_as()?;
        let base = match settings.api_domain.as_deref().map(str::trim) {
            None | Some("") => String::new(),
            Some(domain) => base_url(domain).ok_or_else(|| {
                ConnectorError::fatal(format!(
                    "the Pipedrive connection setting api_domain is not a URL: {domain:?}"
                ))
            })?,
        };
        let website_field_key = settings
            .website_field_key
            .map(|key| key.trim().to_owned())
            .filter(|key| !key.is_empty());
        Ok(Target {
            base,
            website_field_key,
        })
    }

    /// `path` (starting with `/`) on this connection's API host.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The website custom field key the settings name, if any.
    pub fn website_field_key(&self) -> Option<&str> {
        self.website_field_key.as_deref()
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        API.get(self.url(path))
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        API.post(self.url(path))
    }

    pub fn patch(&self, path: &str) -> RequestBuilder {
        API.patch(self.url(path))
    }
}

/// An `api_domain` as a base URL: `https://` added when it has no scheme, no
/// trailing `/`. `None` for something that is not a host.
pub fn base_url(domain: &str) -> Option<String> {
    let domain = domain.trim().trim_end_matches('/');
    let url = if domain.starts_with("https://") || domain.starts_with("http://") {
        domain.to_owned()
    } else {
        format!("https://{domain}")
    };
    let host = url.split_once("://").map(|(_, rest)| rest)?;
    let valid = !host.is_empty()
        && !host.contains(['/', '?', '#', ' ', '@'])
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    valid.then_some(url)
}

/// A successful answer: its `data` and `additional_data`.
#[derive(Debug)]
pub struct Answer {
    pub data: Value,
    pub additional: Value,
}

impl Answer {
    /// `additional_data.next_cursor`; `None` (absent, `null` or empty) on the
    /// last page.
    pub fn next_cursor(&self) -> Option<String> {
        self.additional
            .get("next_cursor")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
    }

    /// `data` as a list of records (`null` reads as none).
    pub fn records(self) -> Result<Vec<Value>, ConnectorError> {
        match self.data {
            Value::Array(items) => Ok(items),
            Value::Null => Ok(Vec::new()),
            other => Err(unexpected(&format!(
                "data is not a list but {}",
                kind(&other)
            ))),
        }
    }

    /// `data` as one record.
    pub fn record(self) -> Result<Value, ConnectorError> {
        match self.data {
            Value::Object(_) => Ok(self.data),
            other => Err(unexpected(&format!(
                "data is not a record but {}",
                kind(&other)
            ))),
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// `fatal`: an answer of a shape this connector does not know.
pub fn unexpected(what: &str) -> ConnectorError {
    ConnectorError::fatal(format!("Pipedrive returned an unexpected answer: {what}"))
}

/// Reads an answer: a non-2xx status becomes the matching error, a body that
/// is not JSON is `fatal`, and so is `"success": false`.
pub fn read(response: Response) -> Result<Answer, ConnectorError> {
    if !response.is_success() {
        return Err(error_for(
            response.status(),
            response.headers(),
            response.body(),
        ));
    }
    let mut value: Value = serde_json::from_slice(response.body()).map_err(|err| {
        ConnectorError::fatal(format!("Pipedrive returned malformed JSON: {err}"))
    })?;
    if value.get("success").and_then(Value::as_bool) == Some(false) {
        return Err(ConnectorError::fatal(format!(
            "Pipedrive answered HTTP {} without success: {}",
            response.status(),
            json_detail(&value).unwrap_or("no error given")
        )));
    }
    Ok(Answer {
        data: value
            .get_mut("data")
            .map(Value::take)
            .unwrap_or(Value::Null),
        additional: value
            .get_mut("additional_data")
            .map(Value::take)
            .unwrap_or(Value::Null),
    })
}

/// Maps an error answer to the variant the host acts on:
///
/// | status | variant |
/// | --- | --- |
/// | 401 | `unauthorized` |
/// | 429 | `rate-limited`, waiting `Retry-After`, else `x-ratelimit-reset` seconds |
/// | 404, 410 | `not-found` |
/// | 400, 409, 422 | `invalid-data` |
/// | 5xx | `transient` |
/// | anything else (403: a missing scope or permission) | `fatal` |
///
/// The message is `Pipedrive answered HTTP <status>: <error>`, the error taken
/// from Pipedrive's `{"success": false, "error": ..., "error_info": ...}`.
pub fn error_for(status: u16, headers: &[(String, String)], body: &[u8]) -> ConnectorError {
    if status == 429 {
        return ConnectorError::rate_limited(wait_secs(headers));
    }
    let message = format!("Pipedrive answered HTTP {status}: {}", detail(body));
    match status {
        401 => ConnectorError::unauthorized(message),
        404 | 410 => ConnectorError::not_found(message),
        400 | 409 | 422 => ConnectorError::invalid_data(message),
        500..=599 => ConnectorError::transient(message),
        _ => ConnectorError::fatal(message),
    }
}

/// How long a `429` asks to wait: `Retry-After`, else `x-ratelimit-reset`
/// (seconds until Pipedrive's window frees), rounded up.
fn wait_secs(headers: &[(String, String)]) -> Option<u32> {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.trim().parse::<f64>().ok())
            .filter(|secs| secs.is_finite() && (0.0..=MAX_RESET_SECS).contains(secs))
    };
    header("retry-after")
        .or_else(|| header("x-ratelimit-reset"))
        // In range by the filter above, so the cast is exact.
        .map(|secs| secs.ceil() as u32)
}

/// The message of an error body.
fn detail(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<Value>(body)
        && let Some(message) = json_detail(&value)
    {
        return message.to_owned();
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".to_owned();
    }
    match text.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Pipedrive's `error` (v1 and v2), else the usual OAuth and generic shapes;
/// `error_info` (a pointer to the docs) only when nothing else is there.
fn json_detail(value: &Value) -> Option<&str> {
    const POINTERS: &[&str] = &[
        "/error",
        "/error/message",
        "/message",
        "/error_description",
        "/errors/0/message",
        "/error_info",
    ];
    POINTERS
        .iter()
        .filter_map(|pointer| value.pointer(pointer)?.as_str())
        .map(str::trim)
        .find(|message| !message.is_empty())
}
