//! HubSpot's token endpoint (`POST /oauth/v1/token`, form-encoded, client
//! credentials in the body; refresh tokens do not rotate) and token metadata
//! (`GET /oauth/v1/access-tokens/{token}`).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::context::Ctx;
use crate::oauth::{Access, GrantError, TokenRequest};

/// `POST /oauth/v1/token`.
pub async fn token(State(ctx): State<Arc<Ctx>>, headers: HeaderMap, body: Bytes) -> Response {
    let req = TokenRequest::parse(&headers, &body);
    let result = ctx.oauth().grant(&req, ctx.rotates_refresh_tokens());
    match result {
        Ok(t) => Json(json!({
            "token_type": "bearer",
            "refresh_token": t.refresh_token,
            "access_token": t.access_token,
            "expires_in": t.expires_in,
        }))
        .into_response(),
        Err(e) => {
            let (status, message) = match e {
                GrantError::InvalidClient if req.client_id != ctx.config.client_id => {
                    ("BAD_CLIENT_ID", "missing or unknown client id")
                }
                GrantError::InvalidClient => {
                    ("BAD_CLIENT_SECRET", "missing or invalid client secret")
                }
                GrantError::InvalidCode | GrantError::PkceMismatch => {
                    ("BAD_AUTH_CODE", "missing or unknown auth code")
                }
                GrantError::InvalidRefreshToken => {
                    ("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
                }
                GrantError::RedirectMismatch => (
                    "BAD_REDIRECT_URI",
                    "redirect_uri does not match the one used to authorize",
                ),
                GrantError::UnsupportedGrantType => (
                    "BAD_GRANT_TYPE",
                    "grant_type must be authorization_code or refresh_token",
                ),
            };
            let body = json!({"status": status, "message": message, "correlationId": ctx.correlation_id()});
            (StatusCode::BAD_REQUEST, Json(body)).into_response()
        }
    }
}

/// `GET /oauth/v1/access-tokens/{token}`: who and what a token is for.
pub async fn token_info(State(ctx): State<Arc<Ctx>>, Path(token): Path<String>) -> Response {
    let access = ctx.oauth().check(&token);
    if access != Access::Valid {
        let body = json!({
            "status": "error",
            "message": "The access token is expired or invalid",
            "correlationId": ctx.correlation_id(),
            "category": "EXPIRED_AUTHENTICATION",
        });
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    let hub_id = 40_000_000 + ctx.config.seed % 1_000_000;
    Json(json!({
        "token": token,
        "user": "sandbox@switchyard.example",
        "hub_domain": "switchyard-sandbox.example",
        "scopes": ["crm.objects.contacts.read", "crm.objects.contacts.write", "crm.objects.companies.read", "crm.objects.companies.write", "oauth"],
        "hub_id": hub_id,
        "app_id": 1_000_001,
        "expires_in": ctx.oauth().lifetime().as_secs(),
        "user_id": 7_000_001,
        "token_type": "access",
    }))
    .into_response()
}
