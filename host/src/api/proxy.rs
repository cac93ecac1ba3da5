//! `/api/proxy/{session_id}/{path}`: the passthrough proxy. An app calls the
//! provider endpoint at `path` (below the session connector's API base, query
//! and body as sent) with the session's credential, which the host attaches:
//! the app never holds it. The request goes out the way a connector's do
//! (`runtime::outbound`): under the connection's rate limiter shared with its
//! transfers, to allowed hosts only, refreshed once on a `401`, retried on
//! transport errors and `5xx` when idempotent. The provider's status,
//! content type and body come back unchanged.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::errors::{self, ErrorRecord, ErrorType, NewError};
use crate::http::input::Caller;
use crate::http::{ApiError, AppState};
use crate::runtime::outbound::SendError;
use crate::runtime::types::{Connection, ConnectorError, OutRequest, Purpose};
use crate::sessions::configuration::provider_info;

use super::sessions::session_of;

/// The route's fixed start.
const PREFIX: &str = "/api/proxy/";

/// Request headers that stay here: the caller's own credentials and
/// connection, and what the HTTP client sets itself.
const NOT_FORWARDED: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "accept-encoding",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "origin",
    "referer",
    "user-agent",
];

/// Any method on `/api/proxy/{session_id}/{*path}`.
pub async fn forward(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (session_id, path) = split(uri.path())?;
    let path = provider_path(path)?;
    let session = session_of(&state, &caller, session_id)?;
    let connection = session.connection.as_ref().ok_or_else(|| {
        bad(
            "session_id",
            "The session has no provider connected yet: send the end user to its connect page first.",
        )
    })?;
    let url = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let request = OutRequest {
        method: method.as_str().to_owned(),
        url,
        headers: headers
            .iter()
            .filter(|(name, _)| !NOT_FORWARDED.contains(&name.as_str()))
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect(),
        body: (!body.is_empty()).then(|| body.to_vec()),
        idempotent: false,
        rate_class: None,
    };
    let conn = Connection {
        key: session.id.clone(),
        api_base: None,
        settings: connection.settings.clone(),
        purpose: Purpose::Proxy,
    };
    let credential = state.credentials.source(&session.id);
    match state
        .runtime
        .proxy(&connection.provider, &conn, credential.clone(), request)
        .await
    {
        Ok(answer) => {
            let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
            // A provider that echoes the credential back does not hand it to
            // the app (the current one: a 401 may have refreshed it).
            let body = match credential.current().await {
                Ok(secret) => redact(answer.body, secret.expose()),
                Err(_) => answer.body,
            };
            let mut response = (status, body).into_response();
            for (name, value) in &answer.headers {
                let name = name.to_ascii_lowercase();
                let kept = match name.as_str() {
                    "content-type" => header::CONTENT_TYPE,
                    "retry-after" => header::RETRY_AFTER,
                    _ => continue,
                };
                if let Ok(value) = HeaderValue::from_str(value) {
                    response.headers_mut().insert(kept, value);
                }
            }
            Ok(response)
        }
        Err(err) => {
            let (status, error_type, message) = failure(&err);
            record(&state, &session, error_type, &message);
            let mut refused = ApiError::new(status, message);
            if let SendError::Connector(ConnectorError::RateLimited(Some(secs))) = err {
                refused.retry_after = Some(std::time::Duration::from_secs(secs.into()));
            }
            Err(refused)
        }
    }
}

/// Shortest credential blanked out of answers: a shorter one (a test
/// token) could match ordinary text.
const MIN_REDACTED_LEN: usize = 16;

/// `body` with every occurrence of `secret` replaced by `[redacted]`.
fn redact(body: Vec<u8>, secret: &str) -> Vec<u8> {
    let secret = secret.as_bytes();
    if secret.len() < MIN_REDACTED_LEN || !body.windows(secret.len()).any(|w| w == secret) {
        return body;
    }
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body.as_slice();
    while let Some(at) = rest.windows(secret.len()).position(|w| w == secret) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(b"[redacted]");
        rest = &rest[at + secret.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// `(session id, rest)` of `/api/proxy/{session_id}/{rest}`.
fn split(path: &str) -> Result<(&str, &str), ApiError> {
    path.strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once('/'))
        .filter(|(session, _)| !session.is_empty())
        .ok_or_else(|| {
            bad(
                "path",
                "Give the provider path after the session: /api/proxy/{session_id}/{path}.",
            )
        })
}

/// `path` when it stays below the API base: no `.` or `..` segment, no
/// empty segment (`//`, which also rules out `scheme://` URLs), no scheme,
/// no backslash, and no percent-escape of `.`, `/`, `\` or a control
/// character (which could turn into one of those further on).
pub fn provider_path(path: &str) -> Result<&str, ApiError> {
    let refuse = |why: &str| {
        Err(bad(
            "path",
            format!(
                "The provider path {path:?} is refused: {why}. Give a path below the provider's API base, e.g. crm/v3/objects/contacts."
            ),
        ))
    };
    if path.is_empty() {
        return refuse("it is empty");
    }
    if path.contains('\\') {
        return refuse("it contains a backslash");
    }
    let bytes = path.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3).unwrap_or_default())
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                None => return refuse("it has a malformed percent-escape"),
                Some(c) if matches!(c, b'.' | b'/' | b'\\') || c < 0x20 || c == 0x7f => {
                    return refuse("it has an encoded '.', '/', '\\' or control character");
                }
                Some(_) => {}
            }
        }
    }
    let segments: Vec<&str> = path.split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            // A trailing slash is the provider's business.
            "" if i > 0 && i == segments.len() - 1 => {}
            "" => return refuse("it has an empty segment ('//')"),
            "." | ".." => return refuse("it has a '.' or '..' segment"),
            first if i == 0 && first.contains(':') => {
                return refuse("it is an absolute URL, not a path");
            }
            _ => {}
        }
    }
    Ok(path)
}

/// The answer to a request that got no answer from the provider.
fn failure(err: &SendError) -> (StatusCode, ErrorType, String) {
    match err {
        SendError::ForbiddenHost(host, _) => (
            StatusCode::BAD_REQUEST,
            ErrorType::Integration,
            format!("The proxy may not reach {host}: it is not one of the connector's hosts."),
        ),
        SendError::ResponseTooLarge { limit, .. } => (
            StatusCode::BAD_GATEWAY,
            ErrorType::Upstream,
            format!("The provider's answer was larger than the {limit}-byte cap."),
        ),
        SendError::Connector(e) => match e {
            ConnectorError::Unauthorized(m) => (
                StatusCode::BAD_GATEWAY,
                ErrorType::Authentication,
                format!(
                    "The provider rejected the session's credentials ({m}); the end user must authenticate again (/session/reauthenticate)."
                ),
            ),
            ConnectorError::RateLimited(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                ErrorType::Upstream,
                "The provider's rate limit for this connection is used up; try again later.".into(),
            ),
            ConnectorError::InvalidData(m) => (
                StatusCode::BAD_REQUEST,
                ErrorType::Integration,
                format!("The request cannot be sent: {m}."),
            ),
            other => (
                StatusCode::BAD_GATEWAY,
                ErrorType::Upstream,
                format!("The provider could not be reached: {other}."),
            ),
        },
    }
}

/// Records a failed proxied request in the session's error log.
fn record(
    state: &AppState,
    session: &crate::sessions::Session,
    error_type: ErrorType,
    message: &str,
) {
    let manifest = session
        .provider()
        .and_then(|p| state.runtime.manifest(p).ok());
    let record = ErrorRecord::new(
        &state.db,
        NewError {
            account: &session.account,
            session_id: &session.id,
            transfer_id: None,
            error_type,
            message: format!("passthrough proxy: {message}"),
            provider_info: manifest
                .as_ref()
                .map_or(Value::Null, |m| provider_info(m, &state.config.public_url)),
            integration_info: Value::Null,
            index: None,
            internal_id: None,
        },
    );
    if let Err(err) = record.and_then(|record| errors::insert(&state.db, &record)) {
        tracing::error!(%err, session = %session.id, "cannot record a proxy failure");
    }
}

fn bad(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::field(StatusCode::BAD_REQUEST, field, message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_below_the_base_pass() {
        for path in [
            "crm/v3/objects/contacts",
            "services/data/v59.0/sobjects/Contact/describe",
            "v1/persons/12",
            "a%20b/c%3Ad",
            "api/v2/items:batchGet",
            "crm/",
        ] {
            assert_eq!(provider_path(path).ok(), Some(path), "{path}");
        }
    }

    #[test]
    fn every_way_out_of_the_base_is_refused() {
        for path in [
            "",
            "../admin",
            "crm/../../etc/passwd",
            "./crm",
            "crm//objects",
            "https://evil.example/x",
            "http:/evil.example",
            "//evil.example/x",
            "crm/%2e%2e/secret",
            "crm/%2E%2E/secret",
            "crm%2fobjects",
            "crm%2F..%2Fx",
            "crm%5c..",
            "crm\\..\\x",
            "crm/%00",
            "crm/%zz",
            "crm/%2",
            "/crm",
        ] {
            let refused = provider_path(path).expect_err(path);
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{path}");
            assert!(
                refused.message.contains("refused"),
                "{path}: {}",
                refused.message
            );
        }
    }

    #[test]
    fn an_echoed_credential_is_blanked_out() {
        let token = "pat-na1-0123456789abcdef";
        let body = format!(r#"{{"echo":"Bearer {token}","again":"{token}"}}"#).into_bytes();
        let redacted = String::from_utf8(redact(body, token)).unwrap();
        assert_eq!(
            redacted,
            r#"{"echo":"Bearer [redacted]","again":"[redacted]"}"#
        );
        // Short test tokens are left alone: they could match ordinary text.
        let body = br#"{"company_domain":"switchyard-sandbox"}"#.to_vec();
        assert_eq!(redact(body.clone(), "sandbox"), body);
    }

    #[test]
    fn the_session_and_path_are_split_off_the_route() {
        assert_eq!(
            split("/api/proxy/s1/crm/v3/objects").ok(),
            Some(("s1", "crm/v3/objects"))
        );
        assert!(split("/api/proxy/s1").is_err());
        assert!(split("/api/proxy//crm").is_err());
    }
}
