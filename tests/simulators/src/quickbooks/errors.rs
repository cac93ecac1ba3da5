//! QuickBooks' error bodies: `{"Fault":{"Error":[...],"type"},"time"}` for
//! validation and business faults, the lower-case `fault` 401, and the XML
//! 429 that comes back even when JSON was asked for.

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::clock;
use crate::context::Ctx;
use crate::oauth::Access;
use crate::rate_limit::Decision;

/// One QuickBooks fault.
#[derive(Debug, Clone)]
pub struct Fault {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: &'static str,
    pub message: String,
    pub detail: String,
    pub element: Option<String>,
}

impl Fault {
    pub fn validation(code: &'static str, message: &str, detail: String) -> Fault {
        Fault {
            status: StatusCode::BAD_REQUEST,
            kind: "ValidationFault",
            code,
            message: message.into(),
            detail,
            element: None,
        }
    }

    pub fn parse_error(detail: String) -> Fault {
        Fault::validation(
            "4000",
            "Error parsing query",
            format!("QueryParserError: {detail}"),
        )
    }

    pub fn not_found(entity: &str, id: &str) -> Fault {
        Fault::validation(
            "610",
            "Object Not Found",
            format!(
                "Object Not Found : Something you're trying to use has been made inactive. Check the fields with accounts, customers, items, vendors or employees. ({entity} Id={id})"
            ),
        )
    }

    pub fn stale() -> Fault {
        Fault::validation(
            "5010",
            "Stale Object Error",
            "Stale Object Error : You and root were working on this at the same time. root finished before you did, so your work was not saved.".into(),
        )
    }

    pub fn duplicate_name(existing: u64) -> Fault {
        Fault::validation(
            "6240",
            "Duplicate Name Exists Error",
            format!("The name supplied already exists. : Id={existing}"),
        )
    }

    /// The `Fault` object (batch items embed it).
    pub fn body(&self) -> Value {
        let mut error = json!({"Message": self.message, "Detail": self.detail, "code": self.code});
        if let Some(e) = &self.element {
            error["element"] = json!(e);
        }
        json!({"Error": [error], "type": self.kind})
    }

    pub fn respond(&self) -> Response {
        (
            self.status,
            Json(json!({"Fault": self.body(), "time": now()})),
        )
            .into_response()
    }
}

/// The `time` field of every answer.
pub fn now() -> String {
    let ms = clock::now_ms();
    let base = clock::quickbooks(ms);
    // QuickBooks puts milliseconds in `time`.
    format!("{}.{:03}{}", &base[..19], ms.rem_euclid(1000), &base[19..])
}

/// The 401 for a missing, unknown or expired token.
pub fn unauthorized(_ctx: &Ctx, access: Access) -> Response {
    let detail = if access == Access::Expired {
        "Token expired"
    } else {
        "Token invalid"
    };
    let body = json!({
        "warnings": null,
        "intuitObject": null,
        "fault": {"error": [{
            "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
            "detail": detail,
            "code": "3200",
        }], "type": "AUTHENTICATION"},
        "time": now(),
    });
    (StatusCode::UNAUTHORIZED, Json(body)).into_response()
}

/// The 429, always XML.
pub fn throttled(_ctx: &Ctx, _d: &Decision) -> Response {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
         <IntuitResponse xmlns=\"http://schema.intuit.com/finance/v3\" time=\"{}\">\
         <Fault type=\"SERVICE\"><Error code=\"3001\" element=\"\">\
         <Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>\
         <Detail>The request limit was reached.</Detail></Error></Fault></IntuitResponse>",
        now()
    );
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::CONTENT_TYPE, "application/xml")],
        xml,
    )
        .into_response()
}

/// A 5xx.
pub fn server_error(_ctx: &Ctx, status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let fault = Fault {
        status,
        kind: "SystemFault",
        code: "10000",
        message: "An application error has occurred while processing your request".into(),
        detail: "System Failure Error: An unexpected error occurred while accessing or saving your data.".into(),
        element: None,
    };
    fault.respond()
}

/// QuickBooks sends no rate-limit headers.
pub fn limit_headers(_d: &Decision, _headers: &mut HeaderMap) {}
