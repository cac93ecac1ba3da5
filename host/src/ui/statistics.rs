//! The statistics page `GET /statistics?transfer_id=` and its live feed
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

use super::layout::{Page, Shape, brand, escape, problem, unavailable};
use crate::api::AppState;
use crate::api::input::QueryParams;
use crate::store::get_json;
use crate::transfer::Transfer;

/// How often the feed looks for changes.
const POLL: Duration = Duration::from_millis(400);
/// Errors shown at most.
const MAX_ERRORS: usize = 50;

fn load(state: &AppState, id: &str) -> Result<Option<Transfer>, crate::store::StoreError> {
    get_json(&state.db.trees.transfers, id.as_bytes())
}

/// The transfers of a session, newest first.
pub fn session_transfers(
    db: &crate::store::Db,
    session_id: &str,
) -> Result<Vec<Transfer>, crate::store::StoreError> {
    let mut out = Vec::new();
    for k in db
        .trees
        .session_transfers
        .scan_prefix(crate::store::prefix(session_id))
        .keys()
    {
        let k = k?;
        let id = k.rsplit(|b| *b == 0).next().unwrap_or_default();
        if let Some(t) = get_json::<Transfer>(&db.trees.transfers, id)? {
            out.push(t);
        }
    }
    out.sort_by_key(|t| std::cmp::Reverse(t.created_ms));
    Ok(out)
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
    let initial = snapshot(&state, &t).to_string();
    let body = format!(
        "{brand}<div class=\"stats-head\"><div><p class=\"eyebrow\">{method} · {ty}</p><h1>Transfer progress</h1>\
         <p class=\"muted mono small\">{id}</p></div><span class=\"badge\" id=\"status\" data-status=\"{status}\">{status_label}</span></div>\
         <div class=\"progress-block\"><div class=\"progress-top\"><span id=\"percent\" class=\"big-number\">–</span><span id=\"progress-caption\" class=\"muted\"></span></div>\
         <div class=\"bar\" role=\"progressbar\" aria-label=\"Transfer progress\" aria-valuemin=\"0\" aria-valuemax=\"100\" id=\"bar\"><span class=\"bar-fill\" id=\"bar-fill\"></span></div></div>\
         <dl class=\"stat-grid\">\
         <div><dt>Records</dt><dd id=\"records\">–</dd></div>\
         <div><dt>Batches done</dt><dd id=\"batches-success\">–</dd></div>\
         <div><dt>Queued</dt><dd id=\"batches-queued\">–</dd></div>\
         <div><dt>Failed</dt><dd id=\"batches-fail\">–</dd></div></dl>\
         <dl class=\"facts\"><div><dt>Provider</dt><dd>{provider}</dd></div><div><dt>Started</dt><dd id=\"initiated\">–</dd></div><div><dt>Batch size</dt><dd id=\"batch-size\">–</dd></div></dl>\
         <section class=\"errors-block\" aria-labelledby=\"errors-title\"><h2 id=\"errors-title\">Errors <span class=\"count\" id=\"error-count\">0</span></h2>\
         <ul class=\"error-list\" id=\"errors\"></ul><p class=\"muted small\" id=\"no-errors\">No errors so far.</p></section>\
         <p class=\"live muted small\" id=\"live\" role=\"status\" aria-live=\"polite\"></p>\
         <script type=\"application/json\" id=\"initial\">{initial}</script>",
        brand = brand(),
        method = if t.method == crate::transfer::Method::Pull {
            "Pull"
        } else {
            "Push"
        },
        ty = escape(&super::selection::type_label(&t.endgrate_type)),
        id = escape(&t.id),
        status = escape(&format!("{:?}", t.status).to_lowercase()),
        status_label = escape(&format!("{:?}", t.status)),
        provider = escape(&provider),
        initial = initial.replace("</", "<\\/"),
    );
    Page {
        title: "Transfer progress",
        shape: Shape::Card,
        scripts: &["statistics.js"],
        body,
    }
    .respond(StatusCode::OK)
}

/// `GET /statistics/events?transfer_id=`: a snapshot on every change, until completed.
pub async fn events(State(state): State<AppState>, query: QueryParams) -> Response {
    let Some(id) = query.optional("transfer_id").map(str::to_owned) else {
        return crate::api::ApiError::field(
            StatusCode::BAD_REQUEST,
            "transfer_id",
            "`transfer_id` is required.",
        )
        .into_response();
    };
    match load(&state, &id) {
        Ok(Some(_)) => {}
        Ok(None) => {
            return crate::api::ApiError::field(
                StatusCode::NOT_FOUND,
                "transfer_id",
                "No transfer with this transfer_id.",
            )
            .into_response();
        }
        Err(e) => return crate::api::ApiError::storage(e).into_response(),
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
