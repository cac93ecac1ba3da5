//! `GET /metrics`: the host's metrics ([`crate::metrics`]) in the Prometheus
//! text format, behind the admin key on the API's listener, and without a key
//! on `--metrics-listen` for a scraper on a private network.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::http::AppState;
use crate::metrics::Gauges;

pub async fn metrics(State(state): State<AppState>) -> Response {
    let gauges = gauges(&state).await;
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        state.metrics.render(gauges),
    )
        .into_response()
}

/// The state gauges, read now (off the async workers: they scan storage).
async fn gauges(state: &AppState) -> Gauges {
    let (transfers, db) = (state.transfers.clone(), state.db.clone());
    tokio::task::spawn_blocking(move || {
        let queue = transfers.queue_gauges();
        Gauges {
            queue_waiting: queue.waiting,
            transfers_running: queue.running,
            oldest_unfinished: queue.oldest_unfinished,
            outbox_depth: crate::webhooks::outbox::depth(&db),
        }
    })
    .await
    .unwrap_or_else(|err| {
        tracing::warn!(%err, "could not read the queue's gauges");
        Gauges::default()
    })
}

/// Serves `GET /metrics` alone, without auth, on `listener` until `stop`.
pub async fn serve_unauthenticated(
    listener: tokio::net::TcpListener,
    state: AppState,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = axum::Router::new()
        .route("/metrics", axum::routing::get(metrics))
        .with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
}
