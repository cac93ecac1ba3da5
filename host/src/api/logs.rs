//! `GET /api/logs`: a session's provider requests, from the request log
//! ([`crate::request_log`]), newest first, scoped to the key's account.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::page_meta;
use super::sessions::session_of;
use crate::http::input::{Caller, QueryParams};
use crate::http::{ApiError, AppState};
use crate::request_log::{LogFilter, LoggedRequest, StatusFilter};
use crate::time::rfc3339_ms;

/// `GET /api/logs?session_id=&transfer_id=&status=&limit=&offset=`: the
/// requests of a session (or of the session of `transfer_id`), optionally
/// only one transfer's and only those with a status (`429`, `4xx`, or
/// `error` for requests that got no answer).
pub async fn logs(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryParams,
) -> Result<Json<Value>, ApiError> {
    let (limit, offset) = query.page(100, 1000)?;
    let transfer_id = query.optional("transfer_id").filter(|t| !t.is_empty());
    let session_id = match (query.optional("session_id"), transfer_id) {
        (Some(session), _) if !session.is_empty() => session_of(&state, &caller, session)?.id,
        (_, Some(transfer)) => {
            state
                .transfers
                .get(&caller.account, transfer)
                .map_err(ApiError::storage)?
                .ok_or_else(|| {
                    ApiError::field(
                        StatusCode::NOT_FOUND,
                        "transfer_id",
                        "no transfer with this `transfer_id` in this account",
                    )
                })?
                .session_id
        }
        _ => {
            return Err(ApiError::field(
                StatusCode::BAD_REQUEST,
                "session_id",
                "give `session_id` or `transfer_id` to say whose requests to list",
            ));
        }
    };
    let status = match query.optional("status").filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => Some(StatusFilter::parse(text).ok_or_else(|| {
            ApiError::field(
                StatusCode::BAD_REQUEST,
                "status",
                format!("`status` must be a status (429), a class (4xx) or `error`, not {text:?}"),
            )
        })?),
    };
    let filter = LogFilter {
        transfer_id: transfer_id.map(str::to_owned),
        status,
    };
    let log = state.request_log.clone();
    let session = session_id.clone();
    let (page, total) =
        tokio::task::spawn_blocking(move || log.list(&session, &filter, offset, limit))
            .await
            .map_err(ApiError::storage)?
            .map_err(ApiError::storage)?;
    let mut filters = vec![("session_id", session_id.as_str())];
    filters.extend(query.given(&["transfer_id", "status"]));
    Ok(Json(json!({
        "success": true,
        "meta": page_meta(&state, "/api/logs", &filters, total, offset, limit),
        "requests": page.iter().map(entry_json).collect::<Vec<_>>(),
    })))
}

fn entry_json(e: &LoggedRequest) -> Value {
    json!({
        "time": rfc3339_ms(e.time_ms),
        "session_id": e.session_id,
        "transfer_id": e.transfer_id,
        "source": e.source,
        "method": e.method,
        "url": e.url,
        "status": e.status,
        "error": e.error,
        "duration_ms": (e.duration_ms * 1000.0).round() / 1000.0,
        "response_bytes": e.response_bytes,
        "attempt": e.attempt,
        "retry": e.retry(),
        "rate_limited": e.rate_limited,
        "rate_limit_wait_ms": (e.rate_limit_wait_ms * 1000.0).round() / 1000.0,
    })
}
