//! Pipedrive's token endpoint (`POST /oauth/token`, Basic client
//! credentials): the answer carries `api_domain` (this simulator), the base
//! of every API call; refresh tokens do not rotate.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::context::Ctx;
use crate::oauth::{GrantError, TokenRequest, basic_credentials};

/// `POST /oauth/token`.
pub async fn token(State(ctx): State<Arc<Ctx>>, headers: HeaderMap, body: Bytes) -> Response {
    if basic_credentials(&headers).is_none() {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client", "error_description": "Client authentication failed: use HTTP Basic"}))).into_response();
    }
    let req = TokenRequest::parse(&headers, &body);
    let result = ctx.oauth().grant(&req, ctx.rotates_refresh_tokens());
    match result {
        Ok(t) => Json(json!({
            "access_token": t.access_token,
            "token_type": "Bearer",
            "expires_in": t.expires_in,
            "refresh_token": t.refresh_token,
            "scope": "base,contacts:full",
            "api_domain": ctx.base_url,
        }))
        .into_response(),
        Err(GrantError::InvalidClient) => {
            (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client", "error_description": "Invalid client credentials"}))).into_response()
        }
        Err(e) => {
            let description = match e {
                GrantError::InvalidRefreshToken => "Invalid grant: refresh token is invalid",
                GrantError::UnsupportedGrantType => "Unsupported grant type",
                _ => "Invalid grant: authorization code is invalid",
            };
            let error = if e == GrantError::UnsupportedGrantType { "unsupported_grant_type" } else { "invalid_grant" };
            (StatusCode::BAD_REQUEST, Json(json!({"error": error, "error_description": description}))).into_response()
        }
    }
}
