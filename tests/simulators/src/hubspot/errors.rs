//! HubSpot's error bodies: `{"status":"error","message","correlationId",
//! "category",...}` for validation, missing objects, conflicts, auth failures
//! and rate limits, plus its rate-limit headers.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::model::Kind;
use crate::context::Ctx;
use crate::oauth::Access;
use crate::rate_limit::Decision;

/// A failed HubSpot request.
#[derive(Debug, Clone)]
pub enum HsError {
    /// 400 `VALIDATION_ERROR`, with the per-field `errors`.
    Validation { message: String, errors: Vec<Value> },
    /// 404 `OBJECT_NOT_FOUND`.
    NotFound { id: String },
    /// 409 `CONFLICT`: another record holds this unique value (a contact's
    /// email, a project's code).
    Conflict { existing: u64, message: String },
}

impl HsError {
    pub fn validation(message: impl Into<String>) -> HsError {
        HsError::Validation {
            message: message.into(),
            errors: Vec::new(),
        }
    }

    /// A contact with this email exists.
    pub fn contact_exists(existing: u64) -> HsError {
        HsError::Conflict {
            existing,
            message: format!("Contact already exists. Existing ID: {existing}"),
        }
    }

    /// Another record of `kind` has `value` in unique property `prop`.
    pub fn unique_taken(kind: Kind, prop: &str, value: &str, existing: u64) -> HsError {
        HsError::Conflict {
            existing,
            message: format!(
                "A {} with {prop} {value} already exists. Existing ID: {existing}",
                kind.singular()
            ),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            HsError::Validation { .. } => StatusCode::BAD_REQUEST,
            HsError::NotFound { .. } => StatusCode::NOT_FOUND,
            HsError::Conflict { .. } => StatusCode::CONFLICT,
        }
    }

    /// The body without a correlation id (batch `errors[]` entries use it).
    pub fn body(&self) -> Value {
        match self {
            HsError::Validation { message, errors } => {
                let mut v =
                    json!({"status": "error", "message": message, "category": "VALIDATION_ERROR"});
                if !errors.is_empty() {
                    v["errors"] = json!(errors);
                }
                v
            }
            HsError::NotFound { id } => json!({
                "status": "error",
                "message": "Object not found.  objectId are usually numeric.",
                "category": "OBJECT_NOT_FOUND",
                "context": {"id": [id]},
            }),
            HsError::Conflict { message, .. } => json!({
                "status": "error",
                "message": message,
                "category": "CONFLICT",
            }),
        }
    }

    pub fn respond(&self, ctx: &Ctx) -> Response {
        let mut body = self.body();
        body["correlationId"] = json!(ctx.correlation_id());
        (self.status(), Json(body)).into_response()
    }
}

/// The 401 for a missing, unknown or expired token.
pub fn unauthorized(ctx: &Ctx, access: Access) -> Response {
    let body = match access {
        Access::Expired => json!({
            "status": "error",
            "message": "The OAuth token used to make this call expired 0 second(s) ago.",
            "correlationId": ctx.correlation_id(),
            "category": "EXPIRED_AUTHENTICATION",
            "context": {"expire time": ["0"]},
        }),
        _ => json!({
            "status": "error",
            "message": "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            "correlationId": ctx.correlation_id(),
            "category": "INVALID_AUTHENTICATION",
        }),
    };
    (StatusCode::UNAUTHORIZED, Json(body)).into_response()
}

/// The 429 of the ten-secondly window (or the search endpoints' secondly one).
pub fn throttled(ctx: &Ctx, d: &Decision) -> Response {
    let secondly = d.window.as_millis() <= 1000;
    let (message, policy) = if secondly {
        ("You have reached your secondly limit.", "SECONDLY")
    } else {
        (
            "You have reached your ten_secondly_rolling limit.",
            "TEN_SECONDLY_ROLLING",
        )
    };
    let body = json!({
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": ctx.correlation_id(),
        "policyName": policy,
    });
    (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response()
}

/// A 5xx.
pub fn server_error(ctx: &Ctx, status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({
        "status": "error",
        "message": "internal error",
        "correlationId": ctx.correlation_id(),
        "category": "INTERNAL_ERROR",
    });
    (status, Json(body)).into_response()
}

/// `X-HubSpot-RateLimit-*` headers.
pub fn limit_headers(d: &Decision, headers: &mut HeaderMap) {
    headers.insert("x-hubspot-ratelimit-max", HeaderValue::from(d.max));
    headers.insert(
        "x-hubspot-ratelimit-remaining",
        HeaderValue::from(d.remaining),
    );
    headers.insert(
        "x-hubspot-ratelimit-interval-milliseconds",
        HeaderValue::from(d.window.as_millis() as u64),
    );
}
