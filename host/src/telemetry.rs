//! The host's log and traces: the `tracing` subscriber the binary installs,
//! writing text or JSON lines (`--log-format`), and, with `--otlp-endpoint`
//! (or `OTEL_EXPORTER_OTLP_ENDPOINT`), exporting spans over OTLP/HTTP
//! (protobuf) to a collector.
//!
//! A transfer runs after the API request that triggered it has been
//! answered, so the request's trace context is kept with the transfer
//! ([`current_trace_parent`], a W3C `traceparent`) and each of its steps
//! continues that trace ([`continue_trace`]): one trace goes from the API
//! request through every step, connector call and provider request.
//! Spans carry session, transfer and provider ids, never credentials or
//! record contents.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How log lines are written to standard output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line, with the fields of the spans it happened
    /// in (the trace id among them when traces are exported).
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("--otlp-endpoint {endpoint:?}: {message}")]
    Endpoint { endpoint: String, message: String },
    #[error("could not install the log: {0}")]
    Install(String),
}

/// Keeps the trace exporter running; dropping it sends the spans still
/// buffered.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(err) = provider.shutdown()
        {
            eprintln!("could not send the last spans: {err}");
        }
    }
}

/// Installs the process's subscriber. Call it once, outside any async
/// runtime (the exporter's HTTP client has its own).
pub fn install(
    format: LogFormat,
    otlp_endpoint: Option<&str>,
) -> Result<Telemetry, TelemetryError> {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,wasmtime=warn,cranelift=warn".into());
    let provider = otlp_endpoint.map(tracer_provider).transpose()?;
    let otel = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("switchyard"))
            .with_tracked_inactivity(false)
    });
    let registry = tracing_subscriber::registry().with(filter).with(otel);
    let installed = match format {
        LogFormat::Text => registry.with(tracing_subscriber::fmt::layer()).try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(false)
                    .with_span_list(true),
            )
            .try_init(),
    };
    installed.map_err(|e| TelemetryError::Install(e.to_string()))?;
    Ok(Telemetry { provider })
}

/// An exporter of spans to `endpoint`, the collector's OTLP/HTTP base
/// (`http://collector:4318`; `/v1/traces` is added unless given).
fn tracer_provider(endpoint: &str) -> Result<SdkTracerProvider, TelemetryError> {
    let invalid = |message: String| TelemetryError::Endpoint {
        endpoint: endpoint.to_owned(),
        message,
    };
    let url = url::Url::parse(endpoint).map_err(|e| invalid(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("must be an http:// or https:// URL".into()));
    }
    let traces = if url.path().trim_end_matches('/').ends_with("/v1/traces") {
        endpoint.to_owned()
    } else {
        format!("{}/v1/traces", endpoint.trim_end_matches('/'))
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(traces)
        .build()
        .map_err(|e| invalid(e.to_string()))?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name("switchyard")
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// The current span's trace context as a W3C `traceparent`, to continue
/// its trace later; `None` when spans are not exported.
pub fn current_trace_parent() -> Option<String> {
    let context = tracing::Span::current().context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove("traceparent")
}

/// Makes `span` a child of the trace `trace_parent` names (kept by
/// [`current_trace_parent`]), and records its trace id in the span's
/// `trace_id` field for the log.
pub fn continue_trace(span: &tracing::Span, trace_parent: Option<&str>) {
    if let Some(parent) = trace_parent {
        let carrier = HashMap::from([("traceparent".to_owned(), parent.to_owned())]);
        let context = TraceContextPropagator::new().extract(&carrier);
        let _ = span.set_parent(context);
    }
    record_trace_id(span);
}

/// Records the span's trace id in its `trace_id` field (declared empty), so
/// JSON log lines inside it carry the id a tracing backend shows.
pub fn record_trace_id(span: &tracing::Span) {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    if span_context.is_valid() {
        span.record("trace_id", span_context.trace_id().to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_endpoints_that_are_not_http() {
        let Err(err) = tracer_provider("ftp://collector:4318") else {
            panic!("an ftp endpoint was accepted");
        };
        assert!(err.to_string().contains("--otlp-endpoint"), "{err}");
        assert!(tracer_provider("not a url").is_err());
    }
}
