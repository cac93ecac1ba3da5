//! `/api/admin/keys`: create (shown once), list and revoke API keys. Only the
//! admin key reaches these (the router checks it: [`crate::routes::router`]).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::accounts::AccountError;
use crate::http::input::Body;
use crate::http::{ApiError, AppState};

/// `POST /api/admin/keys` `{"account"}`.
pub async fn create(State(state): State<AppState>, body: Body) -> Result<Json<Value>, ApiError> {
    let account = body.required_string("account")?;
    let created = state
        .accounts
        .create_key(&account)
        .await
        .map_err(|e| match e {
            AccountError::InvalidName(_) => {
                ApiError::field(StatusCode::BAD_REQUEST, "account", e.to_string())
            }
            AccountError::Store(e) => ApiError::storage(e),
        })?;
    let secret = state
        .accounts
        .webhook_secret(&account)
        .map_err(ApiError::storage)?;
    Ok(Json(json!({
        "success": true,
        "account": account,
        "key_id": created.key.key_id,
        "api_key": created.secret,
        "webhook_secret": secret,
    })))
}

/// `GET /api/admin/keys`.
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let keys = state.accounts.keys(None).map_err(ApiError::storage)?;
    let keys: Vec<Value> = keys
        .iter()
        .map(|k| {
            json!({
                "key_id": k.key_id,
                "account": k.account,
                "hint": k.hint,
                "created": crate::time::rfc3339_ms(k.created_ms),
                "revoked": k.revoked,
            })
        })
        .collect();
    Ok(Json(json!({ "success": true, "keys": keys })))
}

/// `DELETE /api/admin/keys/{key_id}`.
pub async fn revoke(
    State(state): State<AppState>,
    Path(key_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !state
        .accounts
        .revoke(&key_id)
        .await
        .map_err(ApiError::storage)?
    {
        return Err(ApiError::field(
            StatusCode::NOT_FOUND,
            "key_id",
            "No API key with this id.",
        ));
    }
    Ok(Json(
        json!({ "success": true, "key_id": key_id, "revoked": true }),
    ))
}

/// `GET /api/webhook-secret` (ours): the caller's webhook signing secret.
pub async fn webhook_secret(
    State(state): State<AppState>,
    caller: crate::http::input::Caller,
) -> Result<Json<Value>, ApiError> {
    let secret = state
        .accounts
        .webhook_secret(&caller.account)
        .map_err(ApiError::storage)?;
    Ok(Json(json!({
        "success": true,
        "webhook_secret": secret,
        "signature_header": crate::webhooks::SIGNATURE_HEADER,
    })))
}
