//! The host's metrics, served at `GET /metrics` in the Prometheus text
//! format (version 0.0.4).
//!
//! One registry per host (tests run several hosts in one process, so nothing
//! here is global). Labels are bounded: routes are the endpoint table's
//! patterns, providers and connectors are installed connector ids, types are
//! the common model's or `custom`; never a session, transfer or account id.
//! Gauges that describe state (queue depth, outbox depth) are set when the
//! metrics are rendered, from [`Gauges`].

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, prometheus_text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// The `Content-Type` of what [`Metrics::render`] writes.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// A handle on the host's metrics; clones share them.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

/// Latency histograms: 0.5 ms to about a minute.
#[derive(Clone)]
struct LatencyBuckets;

impl MetricConstructor<Histogram> for LatencyBuckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(exponential_buckets(0.0005, 2.5, 14))
    }
}

/// Transfer durations: 50 ms to a few hours.
#[derive(Clone)]
struct TransferBuckets;

impl MetricConstructor<Histogram> for TransferBuckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(exponential_buckets(0.05, 3.0, 12))
    }
}

type Latencies<L> = Family<L, Histogram, LatencyBuckets>;
type Seconds = Counter<f64, AtomicU64>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiLabels {
    method: String,
    route: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransferLabels {
    provider: String,
    #[prometheus(flatten)]
    kind: TransferKind,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FinishedLabels {
    provider: String,
    #[prometheus(flatten)]
    kind: TransferKind,
    outcome: String,
}

/// What a transfer moves, and which way.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransferKind {
    /// A common-model type (`contact`), or `custom` for a provider object or
    /// passthrough schema (their names are the end user's, unbounded).
    r#type: String,
    /// `pull` or `push`.
    direction: String,
}

impl TransferKind {
    pub fn new(endgrate_type: &str, direction: &str) -> Self {
        let common = crate::cdm::default_schema(endgrate_type).is_some();
        TransferKind {
            r#type: if common { endgrate_type } else { "custom" }.to_owned(),
            direction: direction.to_owned(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderStatusLabels {
    provider: String,
    /// `2xx`…`5xx`, or `error` when no answer came.
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    provider: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    connector: String,
    call: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallNameLabels {
    connector: String,
    call: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    event: String,
    outcome: String,
}

struct Inner {
    registry: Registry,
    api_requests: Family<ApiLabels, Counter>,
    api_latency: Latencies<RouteLabels>,
    transfers_started: Family<TransferLabels, Counter>,
    transfers_finished: Family<FinishedLabels, Counter>,
    transfer_duration: Family<FinishedLabels, Histogram, TransferBuckets>,
    records: Family<TransferLabels, Counter>,
    provider_requests: Family<ProviderStatusLabels, Counter>,
    provider_latency: Latencies<ProviderLabels>,
    provider_retries: Family<ProviderLabels, Counter>,
    provider_rate_limited: Family<ProviderLabels, Counter>,
    rate_limit_wait: Family<ProviderLabels, Seconds>,
    token_refreshes: Family<OutcomeLabels, Counter>,
    connector_calls: Family<CallLabels, Counter>,
    connector_latency: Latencies<CallNameLabels>,
    queue_waiting: Gauge,
    transfers_running: Gauge,
    queue_oldest: Gauge<f64, AtomicU64>,
    webhook_deliveries: Family<WebhookLabels, Counter>,
    outbox_depth: Gauge,
    flush_latency: Histogram,
}

/// The state gauges, read when the metrics are rendered.
#[derive(Debug, Default, Clone, Copy)]
pub struct Gauges {
    /// Transfers waiting for their next slice.
    pub queue_waiting: usize,
    /// Slices running now.
    pub transfers_running: usize,
    /// Age of the oldest unfinished transfer.
    pub oldest_unfinished: Option<Duration>,
    /// Webhook deliveries not yet delivered.
    pub outbox_depth: usize,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("switchyard");
        let inner = Inner {
            api_requests: Family::default(),
            api_latency: Family::new_with_constructor(LatencyBuckets),
            transfers_started: Family::default(),
            transfers_finished: Family::default(),
            transfer_duration: Family::new_with_constructor(TransferBuckets),
            records: Family::default(),
            provider_requests: Family::default(),
            provider_latency: Family::new_with_constructor(LatencyBuckets),
            provider_retries: Family::default(),
            provider_rate_limited: Family::default(),
            rate_limit_wait: Family::default(),
            token_refreshes: Family::default(),
            connector_calls: Family::default(),
            connector_latency: Family::new_with_constructor(LatencyBuckets),
            queue_waiting: Gauge::default(),
            transfers_running: Gauge::default(),
            queue_oldest: Gauge::default(),
            webhook_deliveries: Family::default(),
            outbox_depth: Gauge::default(),
            flush_latency: LatencyBuckets.new_metric(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        let seconds = || Unit::Seconds;
        r.register(
            "api_requests",
            "API requests answered, by method, route pattern and status",
            inner.api_requests.clone(),
        );
        r.register_with_unit(
            "api_request_duration",
            "Time to answer an API request, by method and route pattern",
            seconds(),
            inner.api_latency.clone(),
        );
        r.register(
            "transfers_started",
            "Transfers that began running, by provider, type and direction",
            inner.transfers_started.clone(),
        );
        r.register(
            "transfers_finished",
            "Transfers that ended, by provider, type, direction and outcome (completed or failed)",
            inner.transfers_finished.clone(),
        );
        r.register_with_unit(
            "transfer_duration",
            "Time from a transfer's start to its end, by provider, type, direction and outcome",
            seconds(),
            inner.transfer_duration.clone(),
        );
        r.register(
            "records",
            "Records pulled from or pushed to providers, by provider, type and direction",
            inner.records.clone(),
        );
        r.register(
            "provider_requests",
            "Requests sent to providers (each attempt), by provider and status class (error: no answer)",
            inner.provider_requests.clone(),
        );
        r.register_with_unit(
            "provider_request_duration",
            "Time for a provider to answer one request, by provider",
            seconds(),
            inner.provider_latency.clone(),
        );
        r.register(
            "provider_retries",
            "Provider requests sent again after a 429, a 5xx or a transport error, by provider",
            inner.provider_retries.clone(),
        );
        r.register(
            "provider_rate_limited",
            "429 answers from providers, by provider",
            inner.provider_rate_limited.clone(),
        );
        r.register_with_unit(
            "rate_limit_wait",
            "Time requests spent waiting for the connection's rate limit, by provider",
            seconds(),
            inner.rate_limit_wait.clone(),
        );
        r.register(
            "token_refreshes",
            "OAuth token refreshes (before expiry or after a 401), by provider and outcome (ok or failed)",
            inner.token_refreshes.clone(),
        );
        r.register(
            "connector_calls",
            "Calls into connector components, by connector, call and outcome (ok, error, trap, timeout, memory_limit, forbidden_host, too_large)",
            inner.connector_calls.clone(),
        );
        r.register_with_unit(
            "connector_call_duration",
            "Time a connector call took, by connector and call",
            seconds(),
            inner.connector_latency.clone(),
        );
        r.register(
            "queue_waiting",
            "Transfers waiting for their next slice",
            inner.queue_waiting.clone(),
        );
        r.register(
            "transfers_running",
            "Transfer slices running now",
            inner.transfers_running.clone(),
        );
        r.register_with_unit(
            "queue_oldest_age",
            "Age of the oldest unfinished transfer (0 when there is none)",
            seconds(),
            inner.queue_oldest.clone(),
        );
        r.register(
            "webhook_deliveries",
            "Webhook delivery attempts, by event and outcome (delivered or failed)",
            inner.webhook_deliveries.clone(),
        );
        r.register(
            "webhook_outbox_depth",
            "Webhook deliveries not yet delivered",
            inner.outbox_depth.clone(),
        );
        r.register_with_unit(
            "storage_flush_duration",
            "Time to make a group of writes durable (one fsync of the database)",
            seconds(),
            inner.flush_latency.clone(),
        );
        Metrics {
            inner: Arc::new(Inner { registry, ..inner }),
        }
    }

    /// The metrics in the Prometheus text format, with `gauges` as the
    /// state gauges' values.
    pub fn render(&self, gauges: Gauges) -> String {
        let m = &self.inner;
        m.queue_waiting.set(as_i64(gauges.queue_waiting));
        m.transfers_running.set(as_i64(gauges.transfers_running));
        m.queue_oldest
            .set(gauges.oldest_unfinished.map_or(0.0, |d| d.as_secs_f64()));
        m.outbox_depth.set(as_i64(gauges.outbox_depth));
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_text::encode(&mut text, &m.registry);
        text
    }

    /// One API request answered; `route` is the endpoint's pattern.
    pub fn api_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let m = &self.inner;
        m.api_requests
            .get_or_create(&ApiLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status: status.to_string(),
            })
            .inc();
        m.api_latency
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    pub fn transfer_started(&self, provider: &str, kind: &TransferKind) {
        self.inner
            .transfers_started
            .get_or_create(&TransferLabels {
                provider: provider.to_owned(),
                kind: kind.clone(),
            })
            .inc();
    }

    /// A transfer ended after `took`; `completed` false when it failed.
    pub fn transfer_finished(
        &self,
        provider: &str,
        kind: &TransferKind,
        completed: bool,
        took: Duration,
    ) {
        let labels = FinishedLabels {
            provider: provider.to_owned(),
            kind: kind.clone(),
            outcome: if completed { "completed" } else { "failed" }.to_owned(),
        };
        // The duration first: whoever sees the count also sees it.
        self.inner
            .transfer_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        self.inner.transfers_finished.get_or_create(&labels).inc();
    }

    /// `count` records moved (committed) by a transfer of `kind`.
    pub fn records(&self, provider: &str, kind: &TransferKind, count: u64) {
        if count == 0 {
            return;
        }
        self.inner
            .records
            .get_or_create(&TransferLabels {
                provider: provider.to_owned(),
                kind: kind.clone(),
            })
            .inc_by(count);
    }

    /// One attempt of a provider request: its status (`None`: no answer),
    /// how long it took, whether it was a retry.
    pub fn provider_request(
        &self,
        provider: &str,
        status: Option<u16>,
        took: Duration,
        retry: bool,
    ) {
        let m = &self.inner;
        let labels = ProviderLabels {
            provider: provider.to_owned(),
        };
        m.provider_requests
            .get_or_create(&ProviderStatusLabels {
                provider: provider.to_owned(),
                status: status_class(status).to_owned(),
            })
            .inc();
        m.provider_latency
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        if retry {
            m.provider_retries.get_or_create(&labels).inc();
        }
        if status == Some(429) {
            m.provider_rate_limited.get_or_create(&labels).inc();
        }
    }

    /// Time a request waited for its connection's rate limit.
    pub fn rate_limit_wait(&self, provider: &str, waited: Duration) {
        if waited.is_zero() {
            return;
        }
        self.inner
            .rate_limit_wait
            .get_or_create(&ProviderLabels {
                provider: provider.to_owned(),
            })
            .inc_by(waited.as_secs_f64());
    }

    pub fn token_refresh(&self, provider: &str, ok: bool) {
        self.inner
            .token_refreshes
            .get_or_create(&OutcomeLabels {
                provider: provider.to_owned(),
                outcome: if ok { "ok" } else { "failed" }.to_owned(),
            })
            .inc();
    }

    /// One connector call (`pull`, `push`, …) and how it ended.
    pub fn connector_call(&self, connector: &str, call: &str, outcome: &str, took: Duration) {
        let m = &self.inner;
        m.connector_calls
            .get_or_create(&CallLabels {
                connector: connector.to_owned(),
                call: call.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
        m.connector_latency
            .get_or_create(&CallNameLabels {
                connector: connector.to_owned(),
                call: call.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// One webhook delivery attempt of `event`.
    pub fn webhook_delivery(&self, event: &str, delivered: bool) {
        self.inner
            .webhook_deliveries
            .get_or_create(&WebhookLabels {
                event: event.to_owned(),
                outcome: if delivered { "delivered" } else { "failed" }.to_owned(),
            })
            .inc();
    }

    /// Where the storage's flusher records each flush's duration.
    pub fn flush_latency(&self) -> Histogram {
        self.inner.flush_latency.clone()
    }
}

fn status_class(status: Option<u16>) -> &'static str {
    match status {
        Some(100..=199) => "1xx",
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        _ => "error",
    }
}

fn as_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_with_bounded_labels() {
        let metrics = Metrics::new();
        metrics.provider_request("hubspot", Some(200), Duration::from_millis(3), false);
        metrics.provider_request("hubspot", Some(429), Duration::from_millis(1), false);
        metrics.provider_request("hubspot", Some(200), Duration::from_millis(2), true);
        metrics.records("hubspot", &TransferKind::new("crm-contact", "pull"), 100);
        metrics.records("hubspot", &TransferKind::new("p_projects", "pull"), 3);
        let text = metrics.render(Gauges {
            queue_waiting: 2,
            ..Gauges::default()
        });
        assert!(
            text.contains(
                r#"switchyard_provider_requests_total{provider="hubspot",status="2xx"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"switchyard_provider_rate_limited_total{provider="hubspot"} 1"#));
        assert!(text.contains(r#"switchyard_provider_retries_total{provider="hubspot"} 1"#));
        assert!(text.contains(
            r#"switchyard_records_total{provider="hubspot",type="crm-contact",direction="pull"} 100"#
        ));
        assert!(text.contains(
            r#"switchyard_records_total{provider="hubspot",type="custom",direction="pull"} 3"#
        ));
        assert!(text.contains("switchyard_queue_waiting 2"));
        assert!(text.contains(
            "switchyard_provider_request_duration_seconds_count{provider=\"hubspot\"} 3"
        ));
    }
}
