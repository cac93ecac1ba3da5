//! The webhook delivery log (ours): the account's deliveries with their
//! attempts, and sending a finished one again.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::page_meta;
use super::sessions::session_of;
use crate::http::input::{Caller, QueryParams};
use crate::http::{ApiError, AppState};
use crate::webhooks::log::{self, LogEntry};
use crate::webhooks::redeliver::{RedeliverError, redeliver as queue_again};

/// The webhook kinds, as `x-switchyard-event` names them.
const EVENTS: &[&str] = &["configuration", "data", "completed", "error"];

fn no_delivery() -> ApiError {
    ApiError::field(
        StatusCode::NOT_FOUND,
        "delivery_id",
        "No webhook delivery with this delivery_id.",
    )
}

/// `GET /api/webhooks/deliveries?session_id&event&limit&offset`: the
/// account's webhook deliveries (or one session's, of one event), newest
/// first, each with its state, its attempts and when it is tried next.
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryParams,
) -> Result<Json<Value>, ApiError> {
    let (limit, offset) = query.page(50, 1000)?;
    let session_id = query.optional("session_id");
    if let Some(id) = session_id {
        session_of(&state, &caller, id)?;
    }
    let event = query.optional("event");
    if let Some(e) = event
        && !EVENTS.contains(&e)
    {
        return Err(ApiError::field(
            StatusCode::BAD_REQUEST,
            "event",
            format!("`event` must be one of {} (got {e:?}).", EVENTS.join(", ")),
        ));
    }
    let (entries, total) = log::list(&state.db, &caller.account, session_id, event, offset, limit)
        .map_err(ApiError::storage)?;
    let filters = query.given(&["session_id", "event"]);
    Ok(Json(json!({
        "success": true,
        "meta": page_meta(&state, "/api/webhooks/deliveries", &filters, total, offset, limit),
        "deliveries": entries.iter().map(LogEntry::to_json).collect::<Vec<_>>(),
    })))
}

/// `POST /api/webhooks/deliveries/{id}/redeliver`: sends a delivered or
/// given-up delivery again, as a new delivery with a new id (see
/// [`crate::webhooks::redeliver`] for why not the old one), and answers
/// `202` with it; `409` while the delivery is still being retried.
pub async fn redeliver(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let seq: u64 = id.parse().map_err(|_| {
        ApiError::field(
            StatusCode::BAD_REQUEST,
            "delivery_id",
            format!(
                "`delivery_id` must be a delivery's id as GET /api/webhooks/deliveries lists it, a whole number (got {id:?})."
            ),
        )
    })?;
    let original = log::get(&state.db, &caller.account, seq)
        .map_err(ApiError::storage)?
        .ok_or_else(no_delivery)?;
    let session = session_of(&state, &caller, &original.session_id)?;
    let (db, account) = (state.db.clone(), caller.account.clone());
    let concurrent = session.options.webhook_concurrency;
    // A transaction: off the async workers (it may wait for a flush).
    let queued =
        tokio::task::spawn_blocking(move || queue_again(&db, &account, seq, concurrent))
            .await
            .map_err(ApiError::storage)?
            .map_err(|e| match e {
                RedeliverError::NotFound => no_delivery(),
                RedeliverError::Unfinished {
                    state,
                    next_attempt_ms,
                } => ApiError::field(
                    StatusCode::CONFLICT,
                    "delivery_id",
                    format!(
                        "This delivery is still {}{}: it is retried on its own. Redeliver it once it was delivered or given up.",
                        state.as_str(),
                        next_attempt_ms
                            .map(|ms| format!(" (next attempt at {})", crate::time::rfc3339_ms(ms)))
                            .unwrap_or_default()
                    ),
                ),
                RedeliverError::BodyGone => ApiError::field(
                    StatusCode::GONE,
                    "delivery_id",
                    "This delivery's body is no longer stored, so it cannot be sent again.",
                ),
                RedeliverError::Store(e) => ApiError::storage(e),
            })?;
    state.db.flush().await.map_err(ApiError::storage)?;
    state.webhooks.ring();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "success": true, "delivery": queued.to_json() })),
    ))
}
