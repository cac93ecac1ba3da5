//! Building [`ConnectorError`]s: short constructors for each variant, and the
//! mapping from a provider's HTTP status and error body to the variant the host
//! acts on (retry, re-authenticate, fail the item, fail the transfer).

use crate::ConnectorError;

/// How much of an unstructured error body goes into a message.
const MAX_DETAIL_CHARS: usize = 300;

impl ConnectorError {
    /// The credential was rejected: the end user must re-authenticate.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::Unauthorized(message.into())
    }

    /// The provider is throttling; `retry_after_secs` when it said how long to wait.
    pub fn rate_limited(retry_after_secs: Option<u32>) -> Self {
        Self::RateLimited(retry_after_secs)
    }

    /// The record was rejected; only this record fails.
    pub fn invalid_data(message: impl Into<String>) -> Self {
        Self::InvalidData(message.into())
    }

    /// The record or resource does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }

    /// A temporary failure the host should retry later.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::Transient(message.into())
    }

    /// The connector cannot do this (a type, a parameter, an operation).
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::Unsupported(message.into())
    }

    /// Anything else. Say what went wrong and with which provider.
    pub fn fatal(message: impl Into<String>) -> Self {
        Self::Fatal(message.into())
    }

    /// Maps a provider's non-success answer to the variant the host acts on:
    ///
    /// | status | variant |
    /// | --- | --- |
    /// | 401 | `unauthorized` |
    /// | 429 | `rate-limited`, with the `Retry-After` seconds when present |
    /// | 404 | `not-found` |
    /// | 400, 409, 422 | `invalid-data` |
    /// | 5xx | `transient` |
    /// | anything else | `fatal` |
    ///
    /// The message names `provider` and the status, followed by the most useful
    /// part of `body`: a JSON `message`/`error`/`detail` field when there is one,
    /// otherwise the start of the body text. `headers` are `(name, value)` pairs
    /// (names matched case-insensitively).
    pub fn from_status(
        provider: &str,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Self {
        if status == 429 {
            return Self::RateLimited(retry_after_secs(headers));
        }
        let message = format!("{provider} answered HTTP {status}: {}", error_detail(body));
        match status {
            401 => Self::Unauthorized(message),
            404 => Self::NotFound(message),
            400 | 409 | 422 => Self::InvalidData(message),
            500..=599 => Self::Transient(message),
            _ => Self::Fatal(message),
        }
    }

    /// The variant's message; for `rate-limited`, a sentence with the wait.
    pub fn message(&self) -> String {
        match self {
            Self::Unauthorized(message)
            | Self::InvalidData(message)
            | Self::NotFound(message)
            | Self::Transient(message)
            | Self::Unsupported(message)
            | Self::Fatal(message) => message.clone(),
            Self::RateLimited(Some(secs)) => format!("rate limited, retry after {secs} s"),
            Self::RateLimited(None) => "rate limited".to_owned(),
        }
    }

    /// True for the variants the host retries by itself (`rate-limited`,
    /// `transient`).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::RateLimited(_) | Self::Transient(_))
    }
}

/// The `Retry-After` header as whole seconds. The HTTP-date form is not
/// understood and gives `None` (the host then uses its own backoff).
fn retry_after_secs(headers: &[(String, String)]) -> Option<u32> {
    headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("retry-after"))
        .and_then(|(_, value)| value.trim().parse::<f64>().ok())
        .filter(|secs| secs.is_finite() && *secs >= 0.0)
        // Saturating float-to-int: a fractional wait rounds up, a huge one caps.
        .map(|secs| secs.ceil() as u32)
}

/// The human-readable part of an error body.
fn error_detail(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(message) = json_message(&value)
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

/// Finds the message in the error shapes providers commonly use:
/// `{"message"}`, `{"error_description"}`, `{"error": "..."}`,
/// `{"error": {"message"}}`, `{"errors": [{"message"}]}`, `{"detail"}` and
/// QuickBooks' `{"Fault": {"Error": [{"Message", "Detail"}]}}`.
fn json_message(value: &serde_json::Value) -> Option<&str> {
    const POINTERS: &[&str] = &[
        "/message",
        "/error_description",
        "/error/message",
        "/error",
        "/errors/0/message",
        "/detail",
        "/Fault/Error/0/Detail",
        "/Fault/Error/0/Message",
        "/fault/error/0/message",
    ];
    POINTERS
        .iter()
        .filter_map(|pointer| value.pointer(pointer)?.as_str())
        .find(|message| !message.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn maps_statuses_to_variants() {
        let body = br#"{"status":"error","message":"Property values were not valid"}"#;
        let err = |status| ConnectorError::from_status("HubSpot", status, &[], body);
        let message = "HubSpot answered HTTP {}: Property values were not valid";
        let msg = |status: u16| message.replace("{}", &status.to_string());

        assert_eq!(err(401), ConnectorError::Unauthorized(msg(401)));
        assert_eq!(err(404), ConnectorError::NotFound(msg(404)));
        for status in [400, 409, 422] {
            assert_eq!(err(status), ConnectorError::InvalidData(msg(status)));
        }
        for status in [500, 502, 503, 599] {
            assert_eq!(err(status), ConnectorError::Transient(msg(status)));
        }
        for status in [302, 403, 405, 418] {
            assert_eq!(err(status), ConnectorError::Fatal(msg(status)));
        }
    }

    #[test]
    fn rate_limited_reads_retry_after() {
        let with = |value: &str| {
            ConnectorError::from_status("Acme", 429, &headers(&[("Retry-After", value)]), b"")
        };
        assert_eq!(with("7"), ConnectorError::RateLimited(Some(7)));
        assert_eq!(with(" 2.5 "), ConnectorError::RateLimited(Some(3)));
        assert_eq!(
            with("Wed, 21 Oct 2015 07:28:00 GMT"),
            ConnectorError::RateLimited(None)
        );
        assert_eq!(with("-1"), ConnectorError::RateLimited(None));
        assert_eq!(
            ConnectorError::from_status("Acme", 429, &[], b""),
            ConnectorError::RateLimited(None)
        );
    }

    #[test]
    fn detail_comes_from_common_error_shapes() {
        let detail = |body: &str| error_detail(body.as_bytes());
        assert_eq!(detail(r#"{"error":"invalid_grant"}"#), "invalid_grant");
        assert_eq!(detail(r#"{"error":{"message":"nope","code":3}}"#), "nope");
        assert_eq!(
            detail(r#"{"errors":[{"message":"bad email"}]}"#),
            "bad email"
        );
        assert_eq!(
            detail(
                r#"{"Fault":{"Error":[{"Message":"Duplicate Name","Detail":"The name supplied already exists."}]}}"#
            ),
            "The name supplied already exists."
        );
        assert_eq!(
            detail("<html>Bad Gateway</html>"),
            "<html>Bad Gateway</html>"
        );
        assert_eq!(detail("  "), "(empty body)");
        assert_eq!(detail(r#"{"message":""}"#), r#"{"message":""}"#);
    }

    #[test]
    fn long_bodies_are_cut_on_a_char_boundary() {
        let body = "é".repeat(MAX_DETAIL_CHARS + 50);
        let detail = error_detail(body.as_bytes());
        assert_eq!(detail.chars().count(), MAX_DETAIL_CHARS + 1);
        assert!(detail.ends_with('…'));
    }

    #[test]
    fn messages() {
        assert_eq!(ConnectorError::not_found("gone").message(), "gone");
        assert_eq!(
            ConnectorError::rate_limited(Some(3)).message(),
            "rate limited, retry after 3 s"
        );
        assert_eq!(ConnectorError::rate_limited(None).message(), "rate limited");
    }

    #[test]
    fn retryable_variants() {
        assert!(ConnectorError::transient("x").is_retryable());
        assert!(ConnectorError::rate_limited(None).is_retryable());
        assert!(!ConnectorError::fatal("x").is_retryable());
        assert!(!ConnectorError::unauthorized("x").is_retryable());
    }
}
