//! The statistics page `GET /statistics?transfer_id=` (drawn by
//! [`crate::ui::statistics`]) and its live feed
//! `GET /statistics/events?transfer_id=` (server-sent events): progress,
//! records and batches done, queued and failed, and the transfer's errors
//! with what to do about them. The feed sends a snapshot whenever something
//! changed and ends when the transfer completes; the page's script
//! (`statistics.js`) redraws from each snapshot and then stops listening.
//! Like `GET /api/statistics`, no key is needed: transfer ids are unguessable.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::http::input::QueryParams;
use crate::http::{ApiError, AppState};
use crate::transfer::Transfer;
use crate::ui::layout::{problem, unavailable};

/// How often the feed looks for changes.
const POLL: Duration = Duration::from_millis(400);
/// Live feeds one transfer may have open at once.
pub const MAX_STREAMS: usize = 16;

/// The live feeds of every transfer: one snapshot per transfer, shared by
/// all its feeds and computed again only when the stored transfer (or an
/// error's resolution) changed, so many open pages cost one reader.
static FEEDS: Feeds = Feeds {
    by_transfer: Mutex::new(None),
};

struct Feeds {
    by_transfer: Mutex<Option<HashMap<String, Feed>>>,
}

struct Feed {
    streams: usize,
    /// Snapshots computed while the feed was open.
    computed: u64,
    /// The stored transfer and the errors' version the snapshot was made from.
    made_from: Option<(sled::IVec, u64)>,
    snapshot: Arc<String>,
    done: bool,
}

/// One open feed of a transfer; leaving it closes its place.
struct FeedGuard {
    transfer: String,
}

impl Drop for FeedGuard {
    fn drop(&mut self) {
        FEEDS.with(|feeds| {
            if let Some(feed) = feeds.get_mut(&self.transfer) {
                feed.streams = feed.streams.saturating_sub(1);
                if feed.streams == 0 {
                    feeds.remove(&self.transfer);
                }
            }
        });
    }
}

impl Feeds {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, Feed>) -> R) -> R {
        let mut guard = self.by_transfer.lock().unwrap_or_else(|p| p.into_inner());
        f(guard.get_or_insert_with(HashMap::new))
    }

    /// A place among `transfer`'s feeds, unless it has [`MAX_STREAMS`].
    fn join(&self, transfer: &str) -> Option<FeedGuard> {
        self.with(|feeds| {
            let feed = feeds.entry(transfer.to_owned()).or_insert_with(|| Feed {
                streams: 0,
                computed: 0,
                made_from: None,
                snapshot: Arc::default(),
                done: false,
            });
            (feed.streams < MAX_STREAMS).then(|| {
                feed.streams += 1;
                FeedGuard {
                    transfer: transfer.to_owned(),
                }
            })
        })
    }

    /// The transfer's current snapshot and whether it completed; `None` once
    /// it is gone.
    fn snapshot(&self, state: &AppState, id: &str) -> Option<(Arc<String>, bool)> {
        let stored = state.db.trees.transfers.get(id.as_bytes()).ok()??;
        let made_from = (stored, crate::errors::version());
        self.with(|feeds| {
            let feed = feeds.get_mut(id)?;
            if feed.made_from.as_ref() != Some(&made_from) {
                let t: Transfer = crate::store::decode(&made_from.0).ok()?;
                feed.snapshot = Arc::new(snapshot(state, &t).to_string());
                feed.done = t.is_finished();
                feed.made_from = Some(made_from);
                feed.computed += 1;
            }
            Some((feed.snapshot.clone(), feed.done))
        })
    }
}

/// The open live feeds of a transfer and the snapshots computed for them,
/// while any is open.
pub fn feed_stats(transfer: &str) -> Option<(usize, u64)> {
    FEEDS.with(|feeds| feeds.get(transfer).map(|f| (f.streams, f.computed)))
}
/// Errors shown at most.
const MAX_ERRORS: usize = 50;

fn load(state: &AppState, id: &str) -> Result<Option<Transfer>, crate::store::StoreError> {
    state.transfers.get_any(id)
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
    let Some(guard) = FEEDS.join(&id) else {
        return ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("This transfer already has {MAX_STREAMS} live feeds open; close one or poll GET /api/statistics."),
        )
        .into_response();
    };
    // (state, this stream's place in the feed, last snapshot sent, finished)
    let stream = futures::stream::unfold(
        (state, guard, Arc::<String>::default(), false),
        |(state, guard, last, finished)| async move {
            if finished {
                return None;
            }
            loop {
                // Deleted meanwhile, or storage trouble: the page keeps what it shows.
                let (snap, done) = FEEDS.snapshot(&state, &guard.transfer)?;
                if snap != last {
                    let event = Event::default().event("statistics").data(snap.as_str());
                    return Some((Ok::<_, Infallible>(event), (state, guard, snap, done)));
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
