//! What the JSON API and the pages share: the state every handler reaches,
//! the error envelope of every non-2xx JSON answer
//! (`{"success": false, "message", "errors"}`), the body limits, and reading
//! requests ([`input`]), throttling wrong keys ([`throttle`]) and each
//! account's request rate ([`account_rate`]).

pub mod account_rate;
pub mod input;
pub mod throttle;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::accounts::Accounts;
use crate::admin_key::AdminKey;
use crate::credentials::Credentials;
use crate::metrics::Metrics;
use crate::net_policy::AddressPolicy;
use crate::request_log::RequestLog;
use crate::runtime::Runtime;
use crate::sessions::Sessions;
use crate::store::Db;
use crate::transfer::Transfers;
use crate::webhooks::delivery::Doorbell;
use account_rate::{AccountRateLimiter, RateExceeded};
use throttle::SignInThrottle;

/// Largest connector component accepted by upload (read only once the
/// admin key was checked).
pub const MAX_COMPONENT_BYTES: usize = 64 << 20;
/// Largest JSON body of any other call.
pub const MAX_BODY_BYTES: usize = 8 << 20;
/// Largest form posted by a connect page (an end user's browser, no key).
pub const MAX_FORM_BYTES: usize = 64 << 10;

/// Settings of the API that operators may change.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The host's address as browsers and apps reach it (links, OAuth redirects).
    pub public_url: String,
    /// Sessions without `save_session` are deleted this long after creation.
    pub session_ttl: Duration,
    /// The longest a `synchronous` trigger waits.
    pub synchronous_cap: Duration,
    /// Connection settings filled in when `POST /api/session/credentials`
    /// leaves them out (sandbox mode), by provider.
    pub default_settings: HashMap<String, Map<String, Value>>,
    /// The addresses webhook endpoints may have.
    pub webhook_policy: AddressPolicy,
    /// Sessions one account may have; `None` for no limit.
    pub max_sessions_per_account: Option<usize>,
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub runtime: Arc<Runtime>,
    pub db: Db,
    pub admin_key: AdminKey,
    pub connectors_dir: PathBuf,
    pub accounts: Accounts,
    pub sessions: Sessions,
    pub credentials: Credentials,
    pub transfers: Transfers,
    pub webhooks: Doorbell,
    pub config: Arc<ApiConfig>,
    /// Failed admin and API keys per client address.
    pub sign_in: Arc<SignInThrottle>,
    /// Requests per second of each account's API keys.
    pub account_rate: Arc<AccountRateLimiter>,
    /// What `GET /metrics` reports.
    pub metrics: Metrics,
    /// Each session's provider requests (`GET /api/logs`).
    pub request_log: RequestLog,
}

/// A failed request, answered in the reference's error envelope.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Offending fields, by name.
    pub errors: Option<Value>,
    /// Sent as `Retry-After` (whole seconds, rounded up).
    pub retry_after: Option<Duration>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            errors: None,
            retry_after: None,
        }
    }

    /// An error about one field; the message names it.
    pub fn field(status: StatusCode, field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let message = if message.contains(field) {
            message
        } else {
            format!("`{field}`: {message}")
        };
        ApiError {
            status,
            errors: Some(json!({ field: message })),
            message,
            retry_after: None,
        }
    }

    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Missing or invalid API key: send `Authorization: Bearer <key>`.",
        )
    }

    /// 429: `client` failed to sign in too often; it may try again after `wait`.
    pub fn too_many_failures(wait: Duration) -> Self {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let mut err = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many wrong keys were sent from this address; try again in {seconds} s."),
        );
        err.retry_after = Some(Duration::from_secs(seconds));
        err
    }

    /// 429: the key's account sent more requests than its rate allows.
    pub fn account_rate_exceeded(exceeded: RateExceeded) -> Self {
        let RateExceeded {
            requests_per_second,
            burst,
            retry_after,
        } = exceeded;
        let mut err = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "This account reached the host's limit of {requests_per_second} API requests per second (bursts of {burst}); try again in {} s.",
                retry_after.as_secs()
            ),
        );
        err.retry_after = Some(retry_after);
        err
    }

    pub fn storage(err: impl std::fmt::Display) -> Self {
        tracing::error!(%err, "storage failure");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Storage is unavailable, so this request could not be saved durably. Try again shortly.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "success": false, "message": self.message });
        if let Some(errors) = self.errors {
            body["errors"] = errors;
        }
        let mut response = (self.status, Json(body)).into_response();
        if let Some(wait) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, wait.as_secs().into());
        }
        response
    }
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The address of the client that sent a request (set by
/// [`crate::connections`]).
pub fn client_address(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip())
}

/// Admits only requests carrying the admin key; a wrong key counts as a
/// failed sign-in of `client`.
pub fn require_admin(
    state: &AppState,
    headers: &HeaderMap,
    client: Option<IpAddr>,
) -> Result<(), ApiError> {
    let refused = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "This endpoint needs the admin key: send `Authorization: Bearer <SWITCHYARD_ADMIN_KEY>`.",
        )
    };
    let key = bearer(headers).ok_or_else(refused)?;
    state
        .sign_in
        .check(client)
        .map_err(ApiError::too_many_failures)?;
    if state.admin_key.verify(key) {
        Ok(())
    } else {
        state.sign_in.failed(client);
        Err(refused())
    }
}
