//! The host's side of the contract's data: what goes into a connector call and
//! what comes out, independent of any one WIT version's generated types.

use serde_json::Value;

pub use crate::request_log::Purpose;

/// A connected provider account as the runtime sees it. The credential is not
/// here: it travels separately, in [`super::credentials::CredentialSource`], and
/// never enters the sandbox.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// A stable key for this account (rate limits are per key), e.g. the
    /// session id.
    pub key: String,
    /// Overrides the manifest's and the host configuration's API base, e.g. a
    /// Salesforce `instance_url`. Must still be an allowed host.
    pub api_base: Option<String>,
    /// Non-secret settings handed to the connector (`realmId`, `instance_url`...).
    pub settings: Value,
    /// Why the host talks to the provider (the request log's `source`).
    pub purpose: Purpose,
}

#[derive(Debug, Clone)]
pub struct PullRequest {
    pub endgrate_type: String,
    pub cursor: Option<String>,
    pub since: Option<String>,
    pub page_size: u32,
    pub params: Value,
    pub associations: Vec<String>,
    /// Ask for each record's provider record too (contract 0.2).
    pub include_remote: bool,
    /// Provider fields whose values each record carries in
    /// [`PulledRecord::passthrough`] (contract 0.2).
    pub passthrough_fields: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Page {
    pub records: Vec<PulledRecord>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PulledRecord {
    pub id: String,
    /// The record in the common model, as JSON text.
    pub data: String,
    pub associations: Vec<(String, Vec<String>)>,
    pub deleted: bool,
    /// The provider's record as the provider returned it, as JSON text, when
    /// asked for and given (contract 0.2).
    pub remote: Option<String>,
    /// The asked-for passthrough fields' values, a JSON object as text, by
    /// the provider's names (contract 0.2).
    pub passthrough: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PushItem {
    pub id: Option<String>,
    /// The same each time this write is sent again; carried by providers that
    /// have an idempotency mechanism (contract 0.2).
    pub idempotency_key: String,
    pub data: Value,
    pub associations: Vec<(String, Vec<String>)>,
    /// Values of passthrough fields, by the provider's names (contract 0.2).
    pub passthrough: Option<Value>,
}

/// One field of a provider's records, as a connector's discovery lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldInfo {
    pub name: String,
    pub label: String,
    /// A JSON Schema type name.
    pub json_type: String,
    pub custom: bool,
    pub read_only: bool,
    pub options: Vec<(String, String)>,
    /// The connector carries it in the common model already.
    pub mapped: bool,
    /// At most one record per value: an upsert key for provider objects.
    pub unique: bool,
    /// Needed to create a record.
    pub required: bool,
}

/// How the contract names a provider object as the subject of a call, in
/// place of a common type: `object:<name>`.
const OBJECT_SUBJECT: &str = "object:";

/// The subject naming provider object `name`.
pub fn object_subject(name: &str) -> String {
    format!("{OBJECT_SUBJECT}{name}")
}

/// The provider object a subject names, if it names one rather than a
/// common type.
pub fn subject_object(subject: &str) -> Option<&str> {
    subject.strip_prefix(OBJECT_SUBJECT)
}

/// One object of a provider's data model, as a connector's discovery lists
/// it (contract 0.2); pulled and pushed as the subject `object:<name>`.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectInfo {
    pub name: String,
    pub label: String,
    pub custom: bool,
    pub supports_pull: bool,
    pub supports_push: bool,
}

#[derive(Debug, Clone)]
pub struct Pushed {
    pub id: String,
    /// What the provider returned, in the common model, as JSON text.
    pub data: String,
    pub created: bool,
}

/// An error the connector itself reported, one of the contract's variants.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    #[error("the provider rejected the credentials: {0}")]
    Unauthorized(String),
    #[error("the provider is rate limiting{}", .0.map(|s| format!(" (retry in {s} s)")).unwrap_or_default())]
    RateLimited(Option<u32>),
    #[error("the provider rejected the record: {0}")]
    InvalidData(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("temporary failure: {0}")]
    Transient(String),
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("{0}")]
    Fatal(String),
}

/// An outgoing request as the connector asked for it.
#[derive(Debug, Clone)]
pub struct OutRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub idempotent: bool,
    /// The manifest's rate class it counts against, beside the general limit.
    pub rate_class: Option<String>,
}

#[derive(Debug)]
pub struct OutResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What a call into a connector returns: a trap (`Err`), or the connector's
/// own answer.
pub type Answer<T> = wasmtime::Result<Result<T, ConnectorError>>;
