//! Reading requests: the API key's account, JSON bodies and query strings,
//! each problem answered with a message that names the field.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde_json::{Map, Value};

use super::{ApiError, AppState};
use crate::net_policy::AddressPolicy;
use crate::sessions::Webhook;

/// The account of the request's API key, as the route's gate
/// (`api_key_only`, which also throttles wrong keys) proved it: only routes
/// the endpoint table marks `ApiKey` have one.
#[derive(Clone)]
pub struct Caller {
    pub account: String,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "This endpoint asks for an API key but its route is not marked for one.",
            )
        })
    }
}

/// A JSON object body.
pub struct Body(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "The body is larger than the limit of {} bytes ({} MiB).",
                        super::MAX_BODY_BYTES,
                        super::MAX_BODY_BYTES >> 20
                    ),
                )
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("The body could not be read: {rejection}"),
                )
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Body(Map::new()));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(Body(map)),
            Ok(_) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "The body must be a JSON object.",
            )),
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("The body is not valid JSON: {e}."),
            )),
        }
    }
}

fn bad(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::field(StatusCode::BAD_REQUEST, field, message)
}

impl Body {
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field).filter(|v| !v.is_null())
    }

    pub fn string(&self, field: &str) -> Result<Option<String>, ApiError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(field, format!("`{field}` must be a string."))),
        }
    }

    pub fn required_string(&self, field: &str) -> Result<String, ApiError> {
        match self.string(field)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            Some(_) => Err(bad(field, format!("`{field}` must not be empty."))),
            None => Err(bad(field, format!("`{field}` is required."))),
        }
    }

    pub fn flag(&self, field: &str) -> Result<bool, ApiError> {
        match self.get(field) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(bad(field, format!("`{field}` must be true or false."))),
        }
    }

    pub fn object(&self, field: &str) -> Result<Option<&Map<String, Value>>, ApiError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(bad(field, format!("`{field}` must be an object."))),
        }
    }

    pub fn array(&self, field: &str) -> Result<Option<&Vec<Value>>, ApiError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(_) => Err(bad(field, format!("`{field}` must be a list."))),
        }
    }

    /// A webhook whose endpoint `policy` permits.
    pub fn webhook(
        &self,
        field: &str,
        policy: &AddressPolicy,
    ) -> Result<Option<Webhook>, ApiError> {
        let Some(object) = self.object(field)? else {
            return Ok(None);
        };
        parse_webhook(field, object, policy).map(Some)
    }
}

/// An absolute http(s) URL, normalised. Control characters are refused
/// rather than dropped (the URL parser silently removes tabs and newlines,
/// so the text as given and the URL as parsed would differ).
pub fn http_url(field: &str, text: &str) -> Result<url::Url, ApiError> {
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(bad(
            field,
            format!("`{field}` must not contain control characters (found {c:?})."),
        ));
    }
    match url::Url::parse(text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(u),
        _ => Err(bad(
            field,
            format!("`{field}` must be an absolute http(s) URL (got {text:?})."),
        )),
    }
}

/// `{"endpoint": url, "metadata"?: object, "continuous"?: bool}`; the
/// endpoint's host, when it is an address or `localhost`, must be one
/// `policy` permits (names are checked again on every delivery).
pub fn parse_webhook(
    field: &str,
    object: &Map<String, Value>,
    policy: &AddressPolicy,
) -> Result<Webhook, ApiError> {
    let endpoint = match object.get("endpoint") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(bad(
                &format!("{field}.endpoint"),
                format!("`{field}.endpoint` must be a URL string."),
            ));
        }
        None => {
            return Err(bad(
                &format!("{field}.endpoint"),
                format!("`{field}.endpoint` is required."),
            ));
        }
    };
    let endpoint_field = format!("{field}.endpoint");
    let url = http_url(&endpoint_field, &endpoint)?;
    if let Err(refused) = policy.check_url(&url) {
        return Err(bad(
            &endpoint_field,
            format!("`{endpoint_field}` is not allowed: {refused}."),
        ));
    }
    let metadata = match object.get("metadata") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(Value::Object(m)) => Value::Object(m.clone()),
        Some(_) => {
            return Err(bad(
                &format!("{field}.metadata"),
                format!("`{field}.metadata` must be an object."),
            ));
        }
    };
    let continuous = match object.get("continuous") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(bad(
                &format!("{field}.continuous"),
                format!("`{field}.continuous` must be true or false."),
            ));
        }
    };
    Ok(Webhook {
        endpoint: url.to_string(),
        metadata,
        continuous,
    })
}

/// A query string as name → value.
pub struct QueryParams(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        Ok(QueryParams(
            url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        ))
    }
}

impl QueryParams {
    pub fn required(&self, field: &str) -> Result<&str, ApiError> {
        match self.0.get(field).map(String::as_str) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(bad(
                field,
                format!("The query parameter `{field}` is required."),
            )),
        }
    }

    pub fn optional(&self, field: &str) -> Option<&str> {
        self.0
            .get(field)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The parameters among `names` that were given, as a list's `meta`
    /// links repeat them.
    pub fn given<'a>(&'a self, names: &[&'static str]) -> Vec<(&'static str, &'a str)> {
        names
            .iter()
            .filter_map(|name| self.optional(name).map(|value| (*name, value)))
            .collect()
    }

    /// `limit` (1..=max, default `default`) and `offset` (default 0).
    pub fn page(&self, default: usize, max: usize) -> Result<(usize, usize), ApiError> {
        let number = |field: &str| -> Result<Option<usize>, ApiError> {
            match self.optional(field) {
                None => Ok(None),
                Some(v) => v.parse::<usize>().map(Some).map_err(|_| {
                    bad(
                        field,
                        format!("`{field}` must be a whole number (got {v:?})."),
                    )
                }),
            }
        };
        let limit = number("limit")?.unwrap_or(default);
        if limit == 0 || limit > max {
            return Err(bad(
                "limit",
                format!("`limit` must be between 1 and {max}."),
            ));
        }
        Ok((limit, number("offset")?.unwrap_or(0)))
    }
}
