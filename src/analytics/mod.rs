//! Analytics delivery: where consented events go once they are in the outbox.
//!
//! - [`Sink`] and [`Delivery`]: one batch in, one verdict out (delivered / retry / rejected).
//! - [`posthog`]: PostHog's batch capture API. The official `posthog-rs` crate generates its
//!   own event uuids and hides per-batch status and `Retry-After`, which deduplication and
//!   backoff need, so this is a small reqwest client of the documented endpoint.
//! - [`LogSink`], [`NoneSink`]: structured log lines; nothing.
//! - [`backoff`]: exponential backoff with jitter, honouring `Retry-After`.

pub mod backoff;
pub mod posthog;

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use crate::config::{AnalyticsConfig, SinkKind};
use crate::domain::OutboxEvent;

/// What became of a batch.
#[derive(Debug, PartialEq)]
pub enum Delivery {
    Delivered,
    /// Try again later (a network error, a timeout, 429, 5xx); `after` is the sink's
    /// Retry-After, if it said.
    Retry {
        after: Option<Duration>,
        error: String,
    },
    /// The sink refused the batch for good (a 4xx): do not send it again as it is.
    Rejected {
        error: String,
    },
}

/// Where events go.
pub trait Sink: Send + Sync + 'static {
    fn send<'a>(&'a self, events: &'a [OutboxEvent]) -> BoxFuture<'a, Delivery>;
}

/// Each event as one structured log line.
pub struct LogSink;

impl Sink for LogSink {
    fn send<'a>(&'a self, events: &'a [OutboxEvent]) -> BoxFuture<'a, Delivery> {
        async move {
            for e in events {
                tracing::info!(
                    target: "qrun::analytics",
                    uuid = %e.id,
                    event = %e.event,
                    distinct_id = %e.distinct_id,
                    properties = %e.properties,
                    "analytics event"
                );
            }
            Delivery::Delivered
        }
        .boxed()
    }
}

/// Analytics switched off: events are acknowledged and dropped.
pub struct NoneSink;

impl Sink for NoneSink {
    fn send<'a>(&'a self, _: &'a [OutboxEvent]) -> BoxFuture<'a, Delivery> {
        async { Delivery::Delivered }.boxed()
    }
}

/// The configured sink.
pub fn sink(config: &AnalyticsConfig) -> anyhow::Result<Arc<dyn Sink>> {
    Ok(match config.sink {
        SinkKind::Posthog => Arc::new(posthog::PostHog::new(
            &config.posthog_host,
            &config.posthog_api_key,
            config.request_timeout(),
        )?),
        SinkKind::Log => Arc::new(LogSink),
        SinkKind::None => Arc::new(NoneSink),
    })
}
