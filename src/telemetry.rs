//! Logs and traces: the process's `tracing` subscriber (docs/DESIGN.md §8, §9).
//!
//! - Logs go to stderr (stdout carries a command's output), as text or JSON lines
//!   (`logging.format`); text has ANSI colours only when stderr is a terminal, never in a file
//!   or a pipe.
//! - Which lines: `RUST_LOG` when it is set and not empty, else `logging.level` (both in
//!   `EnvFilter` syntax). An invalid `RUST_LOG` stops start-up like a bad key.
//! - Traces (`[otel]`, off unless `otlp_endpoint` is set): qrun's own spans at `info` and
//!   above, whatever the log level, exported over OTLP/HTTP in batches by the OpenTelemetry
//!   SDK's own thread. W3C trace context (`traceparent`) carries a trace from a run's
//!   submission to the node that executes it ([`traceparent`], [`set_parent`]).

use std::io::IsTerminal;
use std::time::Duration;

use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::{KeyValue, propagation::TextMapPropagator};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogFormat, LoggingConfig, OtelConfig};

/// The environment variable that overrides `logging.level`.
pub const RUST_LOG: &str = "RUST_LOG";

/// How long the exporter waits for the receiver: a request, and the flush at exit.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the subscriber needs at exit: the trace exporter to flush.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("{RUST_LOG}: {0}")]
    Filter(#[from] tracing_subscriber::filter::ParseError),
    #[error("otel.otlp_endpoint: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
}

/// The log filter: `rust_log` (the `RUST_LOG` variable's value) when set and not empty, else
/// `level` (`logging.level`, validated with the configuration).
pub fn filter(level: &str, rust_log: Option<&str>) -> Result<EnvFilter, TelemetryError> {
    match rust_log.map(str::trim).filter(|v| !v.is_empty()) {
        Some(directives) => Ok(EnvFilter::try_new(directives)?),
        None => Ok(EnvFilter::try_new(level)?),
    }
}

/// Installs the process's subscriber: logs as `logging` says, traces as `otel` says. Call
/// once, before the async runtime starts (the exporter's blocking HTTP client must not be made
/// inside it); keep the answer until the runtime has stopped, then [`Telemetry::shutdown`].
pub fn init(logging: &LoggingConfig, otel: &OtelConfig) -> Result<Telemetry, TelemetryError> {
    let filter = filter(&logging.level, std::env::var(RUST_LOG).ok().as_deref())?;
    let ansi = std::io::stderr().is_terminal();
    let logs = match logging.format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_ansi(ansi)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let provider = otel.enabled().then(|| provider(otel)).transpose()?;
    let traces = provider.as_ref().map(|provider| {
        EXPORTING.store(true, std::sync::atomic::Ordering::Relaxed);
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("qrun"))
            .with_filter(Targets::new().with_target("qrun", tracing::Level::INFO))
    });
    // A second call (tests building several applications) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(logs.with_filter(filter))
        .with(traces)
        .try_init();
    Ok(Telemetry { provider })
}

fn provider(otel: &OtelConfig) -> Result<SdkTracerProvider, TelemetryError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(otel.otlp_endpoint.clone())
        .with_timeout(EXPORT_TIMEOUT)
        .build()?;
    let resource = Resource::builder()
        .with_service_name(otel.service_name.clone())
        .with_attributes(
            otel.resource_attributes
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        )
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

impl Telemetry {
    /// Sends the spans still buffered (waiting at most a few seconds for the receiver).
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(err) = provider.shutdown_with_timeout(EXPORT_TIMEOUT)
        {
            eprintln!("qrun: exporting the last traces failed: {err}");
        }
    }
}

/// The OpenTelemetry trace id of `span` (32 hex digits), if traces are exported.
pub fn trace_id(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// `span`'s W3C `traceparent` (`00-TRACE-SPAN-FLAGS`), if traces are exported: stored with a
/// run so that the node executing it continues the submission's trace.
pub fn traceparent(span: &tracing::Span) -> Option<String> {
    let mut carrier = std::collections::HashMap::new();
    TraceContextPropagator::new().inject_context(&span.context(), &mut carrier);
    carrier.remove("traceparent")
}

/// Makes `span` a child of the span `traceparent` names (see [`traceparent`]); a malformed
/// value is ignored.
pub fn set_parent(span: &tracing::Span, traceparent: &str) {
    let carrier =
        std::collections::HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let parent = TraceContextPropagator::new().extract(&carrier);
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

tokio::task_local! {
    /// The span of the HTTP request being served (`http.request`), while it is.
    static REQUEST: tracing::Span;
}

/// Runs `answer` as the serving of the request whose span is `span`: [`note_user`] and
/// [`note_run`] called meanwhile record on it.
pub fn in_request<F: Future>(span: tracing::Span, answer: F) -> impl Future<Output = F::Output> {
    REQUEST.scope(span, answer)
}

/// The request being served is `user`'s (its span's `user_id`).
pub fn note_user(user: uuid::Uuid) {
    let _ = REQUEST.try_with(|span| {
        span.record("user_id", tracing::field::display(user));
    });
}

/// The work in hand is about run `run`: `run_id` on the current span and on the request's.
pub fn note_run(run: uuid::Uuid) {
    tracing::Span::current().record("run_id", tracing::field::display(run));
    let _ = REQUEST.try_with(|span| {
        span.record("run_id", tracing::field::display(run));
    });
}

/// Whether traces are exported (set by [`init`]): spans that cost a database read to link
/// (a run's submission trace) are linked only then.
pub fn exporting() -> bool {
    EXPORTING.load(std::sync::atomic::Ordering::Relaxed)
}

static EXPORTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
