//! Salesforce's error bodies (always a JSON array of
//! `{"message","errorCode","fields"}`), its 401 and limit errors, and the
//! `Sforce-Limit-Info` header.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::context::Ctx;
use crate::oauth::Access;
use crate::rate_limit::Decision;

/// A failed Salesforce request.
#[derive(Debug, Clone)]
pub struct SfError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub fields: Vec<String>,
}

impl SfError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> SfError {
        SfError {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    pub fn bad(code: &'static str, message: impl Into<String>) -> SfError {
        SfError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn with_fields(mut self, fields: &[&str]) -> SfError {
        self.fields = fields.iter().map(|f| f.to_string()).collect();
        self
    }

    pub fn not_found() -> SfError {
        SfError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        )
    }

    pub fn malformed_query(message: impl Into<String>) -> SfError {
        SfError::bad("MALFORMED_QUERY", message)
    }

    /// The element of the error array.
    pub fn item(&self) -> Value {
        json!({"message": self.message, "errorCode": self.code, "fields": self.fields})
    }

    /// The element inside a composite result's `errors`.
    pub fn composite_item(&self) -> Value {
        json!({"statusCode": self.code, "message": self.message, "fields": self.fields})
    }

    pub fn respond(&self) -> Response {
        (self.status, Json(json!([self.item()]))).into_response()
    }
}

/// The 401 for a missing, unknown or expired session.
pub fn unauthorized(_ctx: &Ctx, _access: Access) -> Response {
    let body =
        json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]);
    (StatusCode::UNAUTHORIZED, Json(body)).into_response()
}

/// Over the allowance: 403 `REQUEST_LIMIT_EXCEEDED`, no Retry-After.
pub fn throttled(_ctx: &Ctx, _d: &Decision) -> Response {
    let body = json!([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]);
    (StatusCode::FORBIDDEN, Json(body)).into_response()
}

/// A 5xx.
pub fn server_error(_ctx: &Ctx, status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let code = if status == StatusCode::SERVICE_UNAVAILABLE {
        "SERVER_UNAVAILABLE"
    } else {
        "UNKNOWN_EXCEPTION"
    };
    let body = json!([{"message": "An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-12345 (-1234567890)", "errorCode": code}]);
    (status, Json(body)).into_response()
}

/// `Sforce-Limit-Info: api-usage=used/max`.
pub fn limit_headers(d: &Decision, headers: &mut HeaderMap) {
    let used = d.max - d.remaining;
    if let Ok(v) = HeaderValue::from_str(&format!("api-usage={used}/{}", d.max)) {
        headers.insert("sforce-limit-info", v);
    }
}
