//! `GET /healthz`: 200 while the host serves and its storage takes writes;
//! 503 once a write to storage has failed (until the host has recovered).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::http::AppState;

pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    if state.db.storage_failed() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "unavailable",
                "storage": "failed: writes are refused until the data directory is writable again",
            })),
        );
    }
    (StatusCode::OK, Json(json!({ "status": "ok" })))
}
