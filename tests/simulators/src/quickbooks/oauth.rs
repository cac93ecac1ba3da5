//! Intuit's token endpoint (`POST /oauth2/v1/tokens/bearer`): client
//! credentials only through `Authorization: Basic`, and (by default) every
//! refresh answers a new refresh token and retires the old one.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::context::Ctx;
use crate::oauth::{GrantError, TokenRequest, basic_credentials};

/// How long a refresh token lives (100 days), as Intuit reports it.
const REFRESH_LIFETIME_SECS: u64 = 8_726_400;

/// `POST /oauth2/v1/tokens/bearer`.
pub async fn token(State(ctx): State<Arc<Ctx>>, headers: HeaderMap, body: Bytes) -> Response {
    if basic_credentials(&headers).is_none() {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let req = TokenRequest::parse(&headers, &body);
    let result = ctx.oauth().grant(&req, ctx.rotates_refresh_tokens());
    match result {
        Ok(t) => Json(json!({
            "token_type": "bearer",
            "access_token": t.access_token,
            "expires_in": t.expires_in,
            "refresh_token": t.refresh_token,
            "x_refresh_token_expires_in": REFRESH_LIFETIME_SECS,
        }))
        .into_response(),
        Err(GrantError::InvalidClient) => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response(),
        Err(GrantError::UnsupportedGrantType) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response(),
        Err(_) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        )
            .into_response(),
    }
}
