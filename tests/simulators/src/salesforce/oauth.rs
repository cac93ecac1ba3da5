//! Salesforce's token endpoint (`POST /services/oauth2/token`): the answer
//! carries `instance_url` (this simulator) and `issued_at` but no
//! `expires_in`; refreshes return a new refresh token only when rotation is
//! on (`SimConfig::rotate_refresh_tokens`, off by default).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::clock;
use crate::context::Ctx;
use crate::oauth::{GrantError, TokenRequest};

/// `POST /services/oauth2/token`.
pub async fn token(State(ctx): State<Arc<Ctx>>, headers: HeaderMap, body: Bytes) -> Response {
    let req = TokenRequest::parse(&headers, &body);
    let result = ctx.oauth().grant(&req, ctx.rotates_refresh_tokens());
    match result {
        Ok(t) => {
            let issued_at = clock::now_ms().to_string();
            let id = format!("{}/id/00D5g000004ABCDEAS/0055g00000XYZ12AAA", ctx.base_url);
            let signature =
                STANDARD.encode(Sha256::digest(format!("{id}{issued_at}{}", t.access_token)));
            let mut body = json!({
                "access_token": t.access_token,
                "signature": signature,
                "scope": "api refresh_token",
                "instance_url": ctx.base_url,
                "id": id,
                "token_type": "Bearer",
                "issued_at": issued_at,
            });
            if req.grant_type == "authorization_code" || ctx.rotates_refresh_tokens() {
                body["refresh_token"] = json!(t.refresh_token);
            }
            Json(body).into_response()
        }
        Err(e) => {
            let (error, description) = match e {
                GrantError::InvalidClient if req.client_id != ctx.config.client_id => {
                    ("invalid_client_id", "client identifier invalid")
                }
                GrantError::InvalidClient => ("invalid_client", "invalid client credentials"),
                GrantError::RedirectMismatch => (
                    "redirect_uri_mismatch",
                    "redirect_uri must match configuration",
                ),
                GrantError::InvalidCode | GrantError::PkceMismatch => {
                    ("invalid_grant", "authentication failure")
                }
                GrantError::InvalidRefreshToken => {
                    ("invalid_grant", "expired access/refresh token")
                }
                GrantError::UnsupportedGrantType => {
                    ("unsupported_grant_type", "grant type not supported")
                }
            };
            (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": error, "error_description": description})),
            )
                .into_response()
        }
    }
}
