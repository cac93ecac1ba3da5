//! The test-facing control surface of a simulator: in process through
//! [`Control`], over HTTP under `/_sim/...`. Inject faults, expire tokens,
//! change rate limits, read request counters and record counts, and read or
//! seed records directly in the provider's raw shape.
//!
//! HTTP routes (no authentication, never counted, never faulted):
//! - `POST /_sim/faults` `{"error_rate","error_status","fail_next","latency_ms",
//!   "throttle_next","cut_next","malformed_next"}` (any subset); `DELETE` clears.
//! - `POST /_sim/tokens` issues an access token; `POST /_sim/tokens/expire`
//!   expires all issued ones.
//! - `POST /_sim/rate-limit` `{"enabled", "max", "window_ms"}`.
//! - `GET /_sim/counters` → `{"requests":{"METHOD /route":n},"total_requests",
//!   "records":{kind:n},"realm_id"}`; `DELETE` resets the request counters.
//!   QuickBooks also counts `"quickbooks: request without minorversion"`.
//! - `GET /_sim/records/{kind}` (all live records, raw shape),
//!   `GET /_sim/records/{kind}/{id}`, `POST /_sim/records/{kind}` (seed one).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::RateLimit;
use crate::context::{Ctx, lock};
use crate::faults::FaultSettings;

/// Direct access to a provider's records, in its raw API shapes.
pub(crate) trait Backend: Send + Sync {
    /// Record kinds this provider holds (e.g. `contacts`, `Customer`).
    fn kinds(&self) -> Vec<&'static str>;
    /// The kind `Control::contacts` returns.
    fn contact_kind(&self) -> &'static str;
    /// The kind `Control::companies` returns.
    fn company_kind(&self) -> &'static str;
    /// Every live record of `kind`, in id order; `None` for an unknown kind.
    fn snapshot(&self, kind: &str) -> Option<Vec<Value>>;
    /// One record (deleted ones included) by its API id.
    fn record(&self, kind: &str, id: &str) -> Option<Value>;
    /// Stores a record given in the API's create shape; returns it as stored.
    fn seed(&self, kind: &str, record: Value) -> Result<Value, String>;
    /// Live records per kind.
    fn counts(&self) -> BTreeMap<String, usize>;
}

/// Handle on a running simulator's internals for tests (cheap to clone).
#[derive(Clone)]
pub struct Control {
    ctx: Arc<Ctx>,
    backend: Arc<dyn Backend>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("provider", &self.ctx.provider)
            .finish()
    }
}

impl Control {
    pub(crate) fn new(ctx: Arc<Ctx>, backend: Arc<dyn Backend>) -> Self {
        Control { ctx, backend }
    }

    /// Applies fault settings on top of the current ones.
    pub fn set_faults(&self, settings: FaultSettings) {
        lock(&self.ctx.faults).apply(&settings);
    }

    /// Removes every injected fault.
    pub fn clear_faults(&self) {
        lock(&self.ctx.faults).clear();
    }

    /// The next `n` API requests answer `status` (a 5xx, usually).
    pub fn fail_next(&self, n: u32, status: u16) {
        self.set_faults(FaultSettings {
            fail_next: Some(n),
            error_status: Some(status),
            ..Default::default()
        });
    }

    /// The next `n` API requests answer the provider's 429 (or its limit error).
    pub fn throttle_next(&self, n: u32) {
        self.set_faults(FaultSettings {
            throttle_next: Some(n),
            ..Default::default()
        });
    }

    /// A seeded share (0..=1) of API requests answers 500.
    pub fn set_error_rate(&self, rate: f64) {
        self.set_faults(FaultSettings {
            error_rate: Some(rate),
            ..Default::default()
        });
    }

    /// Adds a fixed latency to every API request.
    pub fn set_latency(&self, latency: Duration) {
        self.set_faults(FaultSettings {
            latency_ms: Some(latency.as_millis() as u64),
            ..Default::default()
        });
    }

    /// The next `n` API responses are cut in the middle of the body.
    pub fn cut_next(&self, n: u32) {
        self.set_faults(FaultSettings {
            cut_next: Some(n),
            ..Default::default()
        });
    }

    /// The next `n` API responses carry malformed JSON.
    pub fn malform_next(&self, n: u32) {
        self.set_faults(FaultSettings {
            malformed_next: Some(n),
            ..Default::default()
        });
    }

    /// The next `n` requests of `route` (as [`Control::requests`] names it,
    /// `POST /oauth/v1/token`) wait, before anything else looks at them,
    /// until [`Control::release`].
    pub fn hold_next(&self, route: &str, n: u32) {
        self.ctx.gate.hold_next(route, n);
    }

    /// Requests waiting at the gate now.
    pub fn held(&self) -> u32 {
        self.ctx.gate.waiting()
    }

    /// Lets every held request go on.
    pub fn release(&self) {
        self.ctx.gate.release();
    }

    /// Expires every access token issued so far (static tokens stay valid).
    pub fn expire_tokens(&self) {
        self.ctx.oauth().expire_all();
    }

    /// Makes every refresh token issued so far invalid.
    pub fn revoke_refresh_tokens(&self) {
        self.ctx.oauth().revoke_refresh_tokens();
    }

    /// A valid access token, without going through the OAuth flow.
    pub fn issue_access_token(&self) -> String {
        self.ctx.oauth().issue_access()
    }

    /// Turns rate limiting on or off; `policy` replaces the limit when given.
    /// Past requests are forgotten.
    pub fn set_rate_limit(&self, enabled: bool, policy: Option<RateLimit>) {
        let mut limits = lock(&self.ctx.limits);
        limits.enabled = enabled;
        let policy = policy.unwrap_or(limits.main.policy());
        limits.main.set_policy(policy);
        let search = limits.search.policy();
        limits.search.set_policy(search);
    }

    /// Requests received per route, e.g. `"GET /crm/v3/objects/{object}"`.
    pub fn requests(&self) -> BTreeMap<String, u64> {
        self.ctx.counters()
    }

    /// Requests received on one route (`"METHOD /route/{param}"`).
    pub fn request_count(&self, route: &str) -> u64 {
        self.ctx.counters().get(route).copied().unwrap_or(0)
    }

    /// Requests answered with the provider's rate-limit error (429), whether
    /// the limit or an injected fault refused them.
    pub fn throttled_count(&self) -> u64 {
        self.ctx.throttled()
    }

    /// All requests received (control endpoints excluded).
    pub fn total_requests(&self) -> u64 {
        self.ctx.counters().values().sum()
    }

    pub fn reset_counters(&self) {
        self.ctx.reset_counters();
    }

    /// Live records held, per kind.
    pub fn records_held(&self) -> BTreeMap<String, usize> {
        self.backend.counts()
    }

    /// Record kinds this simulator holds.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.backend.kinds()
    }

    /// Every live record of `kind` in the provider's raw shape, in id order.
    pub fn records(&self, kind: &str) -> Option<Vec<Value>> {
        self.backend.snapshot(kind)
    }

    /// People in raw shape: HubSpot contacts, Salesforce Contacts, Pipedrive
    /// persons, QuickBooks Customers.
    pub fn contacts(&self) -> Vec<Value> {
        self.backend
            .snapshot(self.backend.contact_kind())
            .unwrap_or_default()
    }

    /// Organisations in raw shape: HubSpot companies, Salesforce Accounts,
    /// Pipedrive organizations, QuickBooks Invoices.
    pub fn companies(&self) -> Vec<Value> {
        self.backend
            .snapshot(self.backend.company_kind())
            .unwrap_or_default()
    }

    /// One record by API id, deleted ones included.
    pub fn record(&self, kind: &str, id: &str) -> Option<Value> {
        self.backend.record(kind, id)
    }

    /// Stores a record given in the API's create shape, bypassing the API
    /// (no auth, limits, faults or counters); returns it as stored.
    pub fn seed_record(&self, kind: &str, record: Value) -> Result<Value, String> {
        self.backend.seed(kind, record)
    }

    /// The QuickBooks company id (present on every simulator, used by QuickBooks).
    pub fn realm_id(&self) -> &str {
        &self.ctx.realm_id
    }
}

#[derive(Debug, Deserialize)]
struct RateLimitBody {
    enabled: bool,
    max: Option<u32>,
    window_ms: Option<u64>,
}

/// The `/_sim/...` routes.
pub(crate) fn routes(control: Control) -> Router {
    Router::new()
        .route("/_sim/faults", post(set_faults).delete(clear_faults))
        .route("/_sim/tokens/expire", post(expire_tokens))
        .route("/_sim/tokens", post(issue_token))
        .route("/_sim/rate-limit", post(set_rate_limit))
        .route("/_sim/counters", get(counters).delete(reset_counters))
        .route("/_sim/records/{kind}", get(list_records).post(seed_record))
        .route("/_sim/records/{kind}/{id}", get(get_record))
        .with_state(control)
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

async fn set_faults(State(c): State<Control>, body: Bytes) -> Response {
    match serde_json::from_slice::<FaultSettings>(&body) {
        Ok(settings) => {
            c.set_faults(settings);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => bad_request(e.to_string()),
    }
}

async fn clear_faults(State(c): State<Control>) -> StatusCode {
    c.clear_faults();
    StatusCode::NO_CONTENT
}

async fn expire_tokens(State(c): State<Control>) -> StatusCode {
    c.expire_tokens();
    StatusCode::NO_CONTENT
}

async fn issue_token(State(c): State<Control>) -> Json<Value> {
    Json(json!({ "access_token": c.issue_access_token() }))
}

async fn set_rate_limit(State(c): State<Control>, body: Bytes) -> Response {
    match serde_json::from_slice::<RateLimitBody>(&body) {
        Ok(b) => {
            let policy = match (b.max, b.window_ms) {
                (Some(max), Some(ms)) => Some(RateLimit {
                    max,
                    window: Duration::from_millis(ms),
                }),
                (None, None) => None,
                _ => return bad_request("give both max and window_ms, or neither".into()),
            };
            c.set_rate_limit(b.enabled, policy);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => bad_request(e.to_string()),
    }
}

async fn counters(State(c): State<Control>) -> Json<Value> {
    Json(json!({
        "requests": c.requests(),
        "total_requests": c.total_requests(),
        "records": c.records_held(),
        "realm_id": c.realm_id(),
    }))
}

async fn reset_counters(State(c): State<Control>) -> StatusCode {
    c.reset_counters();
    StatusCode::NO_CONTENT
}

async fn list_records(State(c): State<Control>, Path(kind): Path<String>) -> Response {
    match c.records(&kind) {
        Some(records) => Json(records).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "unknown kind", "kinds": c.kinds() })),
        )
            .into_response(),
    }
}

async fn get_record(
    State(c): State<Control>,
    Path((kind, id)): Path<(String, String)>,
) -> Response {
    match c.record(&kind, &id) {
        Some(record) => Json(record).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({ "error": "not found" }))).into_response(),
    }
}

async fn seed_record(State(c): State<Control>, Path(kind): Path<String>, body: Bytes) -> Response {
    let record = match serde_json::from_slice::<Value>(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(e.to_string()),
    };
    match c.seed_record(&kind, record) {
        Ok(stored) => (StatusCode::CREATED, Json(stored)).into_response(),
        Err(e) => bad_request(e),
    }
}
