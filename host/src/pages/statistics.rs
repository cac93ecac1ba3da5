//! The statistics page `GET /statistics?transfer_id=` (drawn by
//! [`crate::ui::statistics`]) and its live feed
//! `GET /statistics/events?transfer_id=` (server-sent events): progress,
//! records and batches done, queued and failed, and the transfer's errors
//! with what to do about them. The feed sends a snapshot whenever something
//! changed and ends when the transfer completes; the page's script
//! (`statistics.js`) redraws from each snapshot and then stops listening.
//! Like `GET /api/statistics`, no key is needed: transfer ids are unguessable.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::http::input::QueryParams;
use crate::http::{ApiError, AppState};
use crate::store::get_json;
use crate::transfer::Transfer;
use crate::ui::layout::{problem, unavailable};

/// How often the feed looks for changes.
const POLL: Duration = Duration::from_millis(400);
/// Errors shown at most.
const MAX_ERRORS: usize = 50;

fn load(state: &AppState, id: &str) -> Result<Option<Transfer>, crate::store::StoreError> {
    get_json(&state.db.trees.transfers, id.as_bytes())
}

/// The snapshot the page draws: the statistics object plus the errors.
pub fn snapshot(state: &AppState, t: &Transfer) -> Value {
    let mut snap = t.statistics_json();
    // The page is public: the session id would open the session's pages.
    if let Some(fields) = snap.as_object_mut() {
        fields.remove("session_id");
    }
    let errors = crate::errors::list(
        &state.db,
        &t.account,
        Some(&t.session_id),
        Some(&t.id),
        0,
        MAX_ERRORS,
    )
    .map(|(records, total)| {
        json!({
            "total": total,
            "items": records.iter().map(|e| json!({
                "pk": e.pk,
                "error_type": e.error_type,
                "message": e.message,
                "error_resolve_text": e.error_resolve_text,
                "timestamp": e.timestamp,
                "resolved": e.resolved,
                "index": e.index,
            })).collect::<Vec<_>>(),
        })
    })
    .unwrap_or_else(|_| json!({ "total": 0, "items": [] }));
    snap["errors"] = errors;
    snap
}

/// `GET /statistics?transfer_id=`.
pub async fn page(State(state): State<AppState>, query: QueryParams) -> Response {
    let Some(id) = query.optional("transfer_id").filter(|i| !i.is_empty()) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "This link is incomplete",
            "The link has no transfer in it. Use the statistics link the API returned when the transfer was started.",
        );
    };
    let t = match load(&state, id) {
        Ok(Some(t)) => t,
        Ok(None) => {
            return problem(
                StatusCode::NOT_FOUND,
                "We couldn't find this transfer",
                "It may have been deleted with its session, or the link is mistyped.",
            );
        }
        Err(_) => return unavailable(),
    };
    // The session's provider: a transfer learns its own only when it starts.
    let provider_id = match state.sessions.get_any(&t.session_id) {
        Ok(Some(s)) => s.provider().map(str::to_owned),
        _ => None,
    }
    .unwrap_or_else(|| t.stats.provider.clone());
    let provider = state
        .runtime
        .manifest(&provider_id)
        .map(|m| m.display_name)
        .unwrap_or_else(|_| "—".to_owned());
    let initial = snapshot(&state, &t);
    crate::ui::statistics::page(&t, &provider, &initial).respond(StatusCode::OK)
}

/// `GET /statistics/events?transfer_id=`: a snapshot on every change, until completed.
pub async fn events(State(state): State<AppState>, query: QueryParams) -> Response {
    let Some(id) = query.optional("transfer_id").map(str::to_owned) else {
        return ApiError::field(
            StatusCode::BAD_REQUEST,
            "transfer_id",
            "`transfer_id` is required.",
        )
        .into_response();
    };
    match load(&state, &id) {
        Ok(Some(_)) => {}
        Ok(None) => {
            return ApiError::field(
                StatusCode::NOT_FOUND,
                "transfer_id",
                "No transfer with this transfer_id.",
            )
            .into_response();
        }
        Err(e) => return ApiError::storage(e).into_response(),
    }
    // (state, id, last snapshot sent, finished)
    let stream = futures::stream::unfold(
        (state, id, String::new(), false),
        |(state, id, last, finished)| async move {
            if finished {
                return None;
            }
            loop {
                let t = match load(&state, &id) {
                    Ok(Some(t)) => t,
                    // Deleted meanwhile, or storage trouble: the page keeps what it shows.
                    _ => return None,
                };
                let snap = snapshot(&state, &t).to_string();
                if snap != last {
                    let done = t.is_finished();
                    let event = Event::default().event("statistics").data(snap.clone());
                    return Some((Ok::<_, Infallible>(event), (state, id, snap, done)));
                }
                tokio::time::sleep(POLL).await;
            }
        },
    );
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}
