//! The HTTP API: routes, shared state, and the error envelope every non-2xx
//! answer uses (`{"success": false, "message", "errors"}`).

mod admin_connectors;
mod health;
mod integrations;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use serde_json::{Value, json};

use crate::admin_key::AdminKey;
use crate::runtime::Runtime;
use crate::store::Db;

/// Largest connector component accepted by upload.
pub const MAX_COMPONENT_BYTES: usize = 64 << 20;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub runtime: Arc<Runtime>,
    pub db: Db,
    pub admin_key: AdminKey,
    pub connectors_dir: PathBuf,
}

pub fn router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/healthz", get(health::healthz))
        .route("/api/integrations", get(integrations::list))
        .route(
            "/api/integrations/{provider}/logo.svg",
            get(integrations::logo),
        )
        .route(
            "/api/admin/connectors",
            get(admin_connectors::list)
                .post(admin_connectors::upload)
                .layer(DefaultBodyLimit::max(MAX_COMPONENT_BYTES)),
        )
        .route(
            "/api/admin/connectors/{id}",
            delete(admin_connectors::remove),
        )
        .fallback(not_found)
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "No such endpoint.")
}

/// A failed request, answered in the reference's error envelope.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Offending fields, by name.
    pub errors: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            errors: None,
        }
    }

    pub fn field(status: StatusCode, field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError {
            status,
            errors: Some(json!({ field: message })),
            message,
        }
    }

    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Missing or invalid API key: send `Authorization: Bearer <key>`.",
        )
    }

    pub fn storage(err: impl std::fmt::Display) -> Self {
        tracing::error!(%err, "storage failure");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Storage is unavailable; nothing was changed. Try again shortly.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "success": false, "message": self.message });
        if let Some(errors) = self.errors {
            body["errors"] = errors;
        }
        (self.status, Json(body)).into_response()
    }
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Admits only requests carrying the admin key.
pub fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    match bearer(headers) {
        Some(key) if state.admin_key.verify(key) => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "This endpoint needs the admin key: send `Authorization: Bearer <SWITCHYARD_ADMIN_KEY>`.",
        )),
    }
}
