//! Pipedrive's error bodies (`{"success":false,"error","errorCode",...}`),
//! its 401 and 429, and the `x-ratelimit-*` headers.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::context::Ctx;
use crate::oauth::Access;
use crate::rate_limit::Decision;

const INFO: &str =
    "Please check developers.pipedrive.com for more information about Pipedrive API.";

/// A failed Pipedrive request.
#[derive(Debug, Clone)]
pub struct PdError {
    pub status: StatusCode,
    pub message: String,
}

impl PdError {
    pub fn bad(message: impl Into<String>) -> PdError {
        PdError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    pub fn not_found(what: &str) -> PdError {
        PdError {
            status: StatusCode::NOT_FOUND,
            message: format!("{what} not found"),
        }
    }

    pub fn respond(&self) -> Response {
        let body = json!({
            "success": false,
            "error": self.message,
            "errorCode": self.status.as_u16(),
            "error_info": INFO,
            "data": null,
            "additional_data": null,
        });
        (self.status, Json(body)).into_response()
    }
}

/// The 401 for a missing, unknown or expired token.
pub fn unauthorized(_ctx: &Ctx, _access: Access) -> Response {
    let body = json!({"success": false, "error": "unauthorized access", "errorCode": 401, "error_info": INFO, "data": null, "additional_data": null});
    (StatusCode::UNAUTHORIZED, Json(body)).into_response()
}

/// The 429 of the two-second burst window.
pub fn throttled(_ctx: &Ctx, _d: &Decision) -> Response {
    let body = json!({"success": false, "error": "Rate limit exceeded", "errorCode": 429, "error_info": INFO, "data": null, "additional_data": null});
    (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response()
}

/// A 5xx.
pub fn server_error(_ctx: &Ctx, status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    PdError {
        status,
        message: "Internal server error".into(),
    }
    .respond()
}

/// `x-ratelimit-limit`, `-remaining`, `-reset` (seconds until the window frees).
pub fn limit_headers(d: &Decision, headers: &mut HeaderMap) {
    headers.insert("x-ratelimit-limit", HeaderValue::from(d.max));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(d.remaining));
    headers.insert(
        "x-ratelimit-reset",
        HeaderValue::from(d.reset_after.as_secs_f64().ceil() as u64),
    );
}
