//! Talking to the provider through the host's `http` import.
//!
//! A connector declares its provider once, `const API: Api = Api::new("Acme");`,
//! and builds requests from it:
//!
//! ```no_run
//! # use switchyard_connector_sdk::prelude::*;
//! # #[derive(serde::Deserialize)] struct Contacts {}
//! # fn f() -> Result<(), ConnectorError> {
//! const API: Api = Api::new("Acme");
//! let contacts: Contacts = API
//!     .get("/contacts")
//!     .query("limit", 100)
//!     .query_opt("cursor", None::<&str>)
//!     .send_json()?;
//! # Ok(()) }
//! ```
//!
//! Relative URLs are resolved by the host against the connection's `api-base`;
//! the host also adds the credential, paces, retries and refreshes tokens, so a
//! request here is just method, URL, headers and body. Natively (in `cargo
//! test`) requests go to the thread's [`MockHttp`](crate::testing::MockHttp)
//! instead.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ConnectorError;
use crate::urls::path_of;

/// An outgoing request as the host receives it (the contract's `request`).
pub use crate::bindings::switchyard::connector::http::Request;

/// An HTTP method the host accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }

    /// Whether sending the request twice has the same effect as once, by the
    /// method alone. A read-only `POST` (a search) overrides this with
    /// [`RequestBuilder::idempotent`].
    pub fn is_idempotent(self) -> bool {
        matches!(self, Self::Get | Self::Put | Self::Delete)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One provider's API. Holds the provider's name, which every error built from
/// its answers carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Api {
    provider: &'static str,
}

impl Api {
    /// The API of `provider`, named as people know it (`"HubSpot"`).
    pub const fn new(provider: &'static str) -> Self {
        Self { provider }
    }

    /// The provider's name.
    pub const fn provider(&self) -> &'static str {
        self.provider
    }

    /// A request with any method. `url` is absolute (`https://...`) or relative
    /// to the connection's `api-base` (`/contacts`); it may already carry a
    /// query string.
    pub fn request(&self, method: Method, url: impl Into<String>) -> RequestBuilder {
        RequestBuilder {
            provider: self.provider,
            method,
            url: url.into(),
            query: Vec::new(),
            headers: vec![("accept".to_owned(), "application/json".to_owned())],
            body: None,
            idempotent: method.is_idempotent(),
            rate_class: None,
        }
    }

    /// `GET url`.
    pub fn get(&self, url: impl Into<String>) -> RequestBuilder {
        self.request(Method::Get, url)
    }

    /// `POST url`, not idempotent unless [`RequestBuilder::idempotent`] says so.
    pub fn post(&self, url: impl Into<String>) -> RequestBuilder {
        self.request(Method::Post, url)
    }

    /// `PUT url`.
    pub fn put(&self, url: impl Into<String>) -> RequestBuilder {
        self.request(Method::Put, url)
    }

    /// `PATCH url`, not idempotent unless [`RequestBuilder::idempotent`] says so.
    pub fn patch(&self, url: impl Into<String>) -> RequestBuilder {
        self.request(Method::Patch, url)
    }

    /// `DELETE url`.
    pub fn delete(&self, url: impl Into<String>) -> RequestBuilder {
        self.request(Method::Delete, url)
    }
}

/// A request being put together; [`send`](Self::send) it when done.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder {
    provider: &'static str,
    method: Method,
    url: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    idempotent: bool,
    rate_class: Option<String>,
}

impl RequestBuilder {
    /// Adds a query parameter; `name` and `value` are percent-encoded.
    pub fn query(mut self, name: &str, value: impl fmt::Display) -> Self {
        self.query.push((name.to_owned(), value.to_string()));
        self
    }

    /// Adds a query parameter when `value` is `Some` (a cursor, a filter).
    pub fn query_opt(self, name: &str, value: Option<impl fmt::Display>) -> Self {
        match value {
            Some(value) => self.query(name, value),
            None => self,
        }
    }

    /// Sets a header, replacing any earlier value of the same name. The host
    /// replaces `authorization` and credential headers with its own.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        let name = name.to_ascii_lowercase();
        self.headers.retain(|(existing, _)| *existing != name);
        self.headers.push((name, value.into()));
        self
    }

    /// Sends `value` as a JSON body (`content-type: application/json`).
    pub fn json_body<T: Serialize + ?Sized>(self, value: &T) -> Result<Self, ConnectorError> {
        let body = serde_json::to_vec(value).map_err(|err| {
            ConnectorError::fatal(format!(
                "could not encode a request body for {}: {err}",
                self.provider
            ))
        })?;
        Ok(self.body(body, "application/json"))
    }

    /// Sends `fields` as an `application/x-www-form-urlencoded` body.
    pub fn form_body<K: AsRef<str>, V: AsRef<str>>(self, fields: &[(K, V)]) -> Self {
        let body = fields
            .iter()
            .map(|(name, value)| format!("{}={}", encode(name.as_ref()), encode(value.as_ref())))
            .collect::<Vec<_>>()
            .join("&");
        self.body(body.into_bytes(), "application/x-www-form-urlencoded")
    }

    /// Sends raw bytes with the given content type.
    pub fn body(mut self, body: Vec<u8>, content_type: &str) -> Self {
        self.body = Some(body);
        self.header("content-type", content_type)
    }

    /// Overrides whether the request may be sent twice (the default comes from
    /// the method): set `true` for a read-only `POST` such as a search, so that
    /// the host retries it after a transport failure or a `5xx`.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// Counts the request against one of the manifest's `rate_classes` (e.g.
    /// HubSpot's `search`) as well as the general limit, so the host paces it
    /// under that class's limit too.
    pub fn rate_class(mut self, class: &str) -> Self {
        self.rate_class = Some(class.to_owned());
        self
    }

    /// The URL with the query parameters appended.
    pub fn url(&self) -> String {
        let mut url = self.url.clone();
        let mut separator = if url.contains('?') { '&' } else { '?' };
        for (name, value) in &self.query {
            url.push(separator);
            url.push_str(&encode(name));
            url.push('=');
            url.push_str(&encode(value));
            separator = '&';
        }
        url
    }

    /// The request exactly as it will be handed to the host.
    pub fn build(&self) -> Request {
        Request {
            method: self.method.as_str().to_owned(),
            url: self.url(),
            headers: self.headers.clone(),
            body: self.body.clone(),
            idempotent: self.idempotent,
            rate_class: self.rate_class.clone(),
        }
    }

    /// Sends the request and returns the provider's answer, whatever its
    /// status. Errors are the host's: the credential was rejected for good,
    /// throttling outlasted the deadline, the transport kept failing, the host
    /// is not allowed or the answer was too big.
    pub fn send(self) -> Result<Response, ConnectorError> {
        let answer = crate::transport::send(&self.build())?;
        Ok(Response {
            provider: self.provider,
            status: answer.status,
            headers: answer.headers,
            body: answer.body,
        })
    }

    /// Asks the host to send this request now, in the background, because
    /// this call or the next will [`send`](Self::send) exactly it: the next
    /// page of a pull whose position you know before mapping this one
    /// (QuickBooks' `STARTPOSITION`). A later `send` of the same request
    /// gets the answer already on its way. Only reads are prefetched (`GET`,
    /// `HEAD`, or a `POST` marked [`idempotent`](Self::idempotent)), at most
    /// 4 a call, only during `pull`; the host ignores anything else, so
    /// prefetching never changes an answer, only when it arrives. Where the
    /// provider's answer itself says where the next page is, declare the
    /// integration's `paging` instead: the host then prefetches by itself.
    pub fn prefetch(&self) {
        crate::transport::prefetch(&self.build());
    }

    /// Sends the request, turns a non-2xx answer into the matching error
    /// ([`ConnectorError::from_status`]) and parses the body as JSON.
    pub fn send_json<T: DeserializeOwned>(self) -> Result<T, ConnectorError> {
        self.send()?.error_for_status()?.json()
    }
}

/// The provider's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    provider: &'static str,
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    /// An answer as if `provider` had sent it: for tests and for connectors
    /// that post-process answers.
    pub fn new(
        provider: &'static str,
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Self {
        Self {
            provider,
            status,
            headers,
            body,
        }
    }

    /// The provider that answered.
    pub fn provider(&self) -> &'static str {
        self.provider
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// True for a 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(existing, _)| existing.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// All headers, names in lowercase.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The raw body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Takes the raw body.
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// Parses the body as JSON into `T`; a body of another shape is a `fatal`
    /// error naming the provider.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ConnectorError> {
        serde_json::from_slice(&self.body).map_err(|err| {
            ConnectorError::fatal(format!(
                "{} answered HTTP {} with a body that is not the expected JSON: {err}",
                self.provider, self.status
            ))
        })
    }

    /// Passes a 2xx answer through and turns any other into the matching
    /// error, see [`ConnectorError::from_status`].
    pub fn error_for_status(self) -> Result<Self, ConnectorError> {
        if self.is_success() {
            Ok(self)
        } else {
            Err(ConnectorError::from_status(
                self.provider,
                self.status,
                &self.headers,
                &self.body,
            ))
        }
    }
}

impl Request {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(existing, _)| existing.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body parsed as JSON (`None` without a body or when it is not JSON).
    pub fn body_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(self.body.as_deref()?).ok()
    }

    /// The URL's path, without scheme, host and query.
    pub fn path(&self) -> &str {
        path_of(&self.url)
    }

    /// The decoded value of query parameter `name`, if present.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let (_, query) = self.url.split_once('?')?;
        query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key) == name).then(|| decode(value))
        })
    }
}

/// Percent-encodes `text` for a query value or a path segment: everything but
/// RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`) becomes `%XX` of
/// its UTF-8 bytes. Use it for ids in paths: `format!("/contacts/{}", encode(id))`.
pub fn encode(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

/// Reverses [`encode`] (and reads `+` as a space, as forms do). Malformed
/// escapes are kept as they are.
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const API: Api = Api::new("Acme");

    #[test]
    fn encodes_everything_but_unreserved() {
        assert_eq!(encode("AZaz09-._~"), "AZaz09-._~");
        assert_eq!(
            encode("a b&c=d/e?f#g+h%"),
            "a%20b%26c%3Dd%2Fe%3Ff%23g%2Bh%25"
        );
        assert_eq!(encode("Zoë 😀"), "Zo%C3%AB%20%F0%9F%98%80");
        assert_eq!(encode(""), "");
    }

    #[test]
    fn decode_reverses_encode() {
        for text in ["a b&c=d/e?f#g+h%", "Zoë 😀", "", "plain"] {
            assert_eq!(decode(&encode(text)), text);
        }
        assert_eq!(decode("a+b%2"), "a b%2");
        assert_eq!(decode("%zz"), "%zz");
    }

    #[test]
    fn builds_urls_with_encoded_queries() {
        let request = API
            .get("/contacts")
            .query("limit", 100)
            .query("q", "smith & sons")
            .query_opt("cursor", None::<&str>)
            .query_opt("after", Some("x/y"));
        assert_eq!(
            request.url(),
            "/contacts?limit=100&q=smith%20%26%20sons&after=x%2Fy"
        );
        let request = API.get("/search?fixed=1").query("page", 2);
        assert_eq!(request.url(), "/search?fixed=1&page=2");
    }

    #[test]
    fn idempotent_follows_the_method_unless_overridden() {
        assert!(API.get("/x").build().idempotent);
        assert!(API.put("/x").build().idempotent);
        assert!(API.delete("/x").build().idempotent);
        assert!(!API.post("/x").build().idempotent);
        assert!(!API.patch("/x").build().idempotent);
        assert!(API.post("/search").idempotent(true).build().idempotent);
        assert!(!API.get("/x").idempotent(false).build().idempotent);
    }

    #[test]
    fn bodies_set_content_type() {
        let request = API
            .post("/contacts")
            .json_body(&serde_json::json!({"name": "Ada"}))
            .map(|builder| builder.build());
        let Ok(request) = request else {
            panic!("a JSON value always encodes");
        };
        assert_eq!(request.method, "POST");
        assert_eq!(request.header("Content-Type"), Some("application/json"));
        assert_eq!(request.header("accept"), Some("application/json"));
        assert_eq!(
            request.body_json(),
            Some(serde_json::json!({"name": "Ada"}))
        );

        let request = API
            .post("/token")
            .form_body(&[("grant_type", "code"), ("redirect_uri", "https://x/cb?a=1")])
            .build();
        assert_eq!(
            request.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(
            request.body.as_deref(),
            Some(&b"grant_type=code&redirect_uri=https%3A%2F%2Fx%2Fcb%3Fa%3D1"[..])
        );
    }

    #[test]
    fn headers_replace_by_name() {
        let request = API
            .get("/x")
            .header("Accept", "text/csv")
            .header("X-Trace", "1")
            .build();
        assert_eq!(
            request.headers,
            vec![
                ("accept".to_owned(), "text/csv".to_owned()),
                ("x-trace".to_owned(), "1".to_owned())
            ]
        );
    }

    #[test]
    fn request_accessors() {
        let request = API
            .get("https://api.acme.example/v1/contacts")
            .query("cursor", "a b")
            .build();
        assert_eq!(request.path(), "/v1/contacts");
        assert_eq!(request.query_param("cursor").as_deref(), Some("a b"));
        assert_eq!(request.query_param("missing"), None);
        assert_eq!(path_of("https://host.example"), "/");
        assert_eq!(path_of("/a/b?c#d"), "/a/b");
    }

    #[test]
    fn response_helpers() {
        let response = Response::new(
            "Acme",
            200,
            vec![("x-total".to_owned(), "3".to_owned())],
            br#"{"n": 3}"#.to_vec(),
        );
        assert!(response.is_success());
        assert_eq!(response.header("X-Total"), Some("3"));
        assert_eq!(response.text(), r#"{"n": 3}"#);
        let parsed: Result<serde_json::Value, _> = response.json();
        assert_eq!(parsed, Ok(serde_json::json!({"n": 3})));
        let wrong: Result<Vec<u8>, _> = response.json();
        assert!(
            matches!(wrong, Err(ConnectorError::Fatal(m)) if m.starts_with("Acme answered HTTP 200"))
        );

        let failed = Response::new(
            "Acme",
            404,
            vec![],
            br#"{"message":"no such contact"}"#.to_vec(),
        );
        assert_eq!(
            failed.error_for_status(),
            Err(ConnectorError::NotFound(
                "Acme answered HTTP 404: no such contact".to_owned()
            ))
        );
    }
}
