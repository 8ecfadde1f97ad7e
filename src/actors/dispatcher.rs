//! The Outbox dispatcher: every `analytics.flush_interval_ms` it takes due events in batches
//! (on PostgreSQL locked so no other node sends them meanwhile), sends each batch to the sink and records
//! the verdict — delivered; retry later with backoff and jitter (honouring Retry-After); or,
//! for a batch the sink refuses (4xx), halves it until the refused events are alone, and
//! parks those with their error so the rest of the queue flows. Delivery is at-least-once;
//! each event's deterministic uuid lets the receiver deduplicate. Once a minute it prunes
//! delivered events past the retention period, and it publishes the queue depth.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::periodic::Work;
use crate::analytics::{Delivery, Sink, backoff};
use crate::config::AnalyticsConfig;
use crate::domain::OutboxEvent;
use crate::metrics;
use crate::store::{OutboxBatch, Store, StoreError};

/// Batches one tick sends at most, so a long backlog does not starve the mailbox.
const BATCHES_PER_TICK: usize = 20;
/// Events one tick claims at most, whatever `batch_size` is (one statement marks them all
/// delivered: its id list stays far below SQLite's 32,766 bound parameters).
const MAX_EVENTS_PER_TICK: u64 = 10_000;
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The dispatcher's work (run by a [`super::periodic::Periodic`] actor).
pub struct Dispatcher {
    /// `[analytics]`: the batch size, the tick's send budget (the sink's request timeout:
    /// on PostgreSQL a tick's events stay locked until their verdicts are recorded), the
    /// backoff cap and the retention.
    pub settings: AnalyticsConfig,
    pub store: Store,
    pub sink: Arc<dyn Sink>,
    last_prune: Option<Instant>,
}

impl Dispatcher {
    pub fn new(settings: AnalyticsConfig, store: Store, sink: Arc<dyn Sink>) -> Dispatcher {
        Dispatcher {
            settings,
            store,
            sink,
            last_prune: None,
        }
    }
}

impl Work for Dispatcher {
    type Output = ();
    const NAME: &'static str = "analytics delivery";

    /// Delivers what is due, prunes once a minute, publishes the queue depth.
    async fn run_once(&mut self) -> Result<(), StoreError> {
        self.deliver_due().await?;
        if self.last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
            self.last_prune = Some(Instant::now());
            let retention =
                TimeDelta::from_std(self.settings.retention()).unwrap_or(TimeDelta::MAX);
            let pruned = self.store.prune_outbox(retention).await?;
            if pruned > 0 {
                tracing::info!(runs = pruned, "pruned delivered analytics events");
            }
        }
        metrics::outbox_depth(self.store.outbox_depth().await?);
        Ok(())
    }
}

impl Dispatcher {
    /// Takes what one tick sends (up to [`BATCHES_PER_TICK`] batches) in one statement, sends
    /// it batch by batch, and records every delivery in one statement at the end: at most two
    /// statements per tick when all goes well, not two per batch (on SQLite each write takes
    /// the single write lock, and a burst of them held up submissions: p99 77 ms against 18 ms
    /// without the dispatcher). Sending stops after one request timeout; what was not sent is
    /// due again at the next tick.
    async fn deliver_due(&mut self) -> Result<(), StoreError> {
        let settings = &self.settings;
        let started = Instant::now();
        let batch = self
            .store
            .take_outbox(
                (settings.batch_size.saturating_mul(BATCHES_PER_TICK as u64))
                    .min(MAX_EVENTS_PER_TICK),
            )
            .await?;
        let mut delivered = Vec::new();
        let mut outcome = Ok(());
        let batch_size = usize::try_from(settings.batch_size).unwrap_or(usize::MAX);
        for events in batch.events().chunks(batch_size.max(1)) {
            if started.elapsed() >= settings.request_timeout() {
                break;
            }
            if let Err(err) = self.deliver(&batch, events, &mut delivered).await {
                outcome = Err(err);
                break;
            }
        }
        let ids: Vec<_> = delivered.iter().map(|e| e.id).collect();
        let events: Vec<String> = delivered.into_iter().map(|e| e.event.clone()).collect();
        batch.delivered(&ids).await?;
        batch.finish().await?;
        for event in events {
            metrics::analytics_event(&event, "delivered");
        }
        outcome
    }

    /// Sends `events`, adding what the sink took to `delivered` (recorded by the caller); a
    /// refused batch is halved until the refused events stand alone.
    fn deliver<'a, 'e: 'a>(
        &'a self,
        batch: &'a OutboxBatch<'_>,
        events: &'e [OutboxEvent],
        delivered: &'a mut Vec<&'e OutboxEvent>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        async move {
            let ids: Vec<_> = events.iter().map(|e| e.id).collect();
            match self.sink.send(events).await {
                Delivery::Delivered => delivered.extend(events),
                Delivery::Retry { after, error } => {
                    // This attempt is the next after those recorded.
                    let attempts = events.iter().map(|e| e.attempts).max().unwrap_or(0) + 1;
                    let wait = backoff::delay(attempts, self.settings.max_backoff(), after);
                    let after = TimeDelta::from_std(wait).unwrap_or(TimeDelta::seconds(1));
                    tracing::warn!(%error, events = events.len(), retry_in = ?wait, "analytics delivery will be retried");
                    batch.reschedule(&ids, after, &error).await?;
                    events.iter().for_each(|e| metrics::analytics_event(&e.event, "retried"));
                }
                Delivery::Rejected { error } if events.len() > 1 => {
                    tracing::warn!(%error, events = events.len(), "analytics batch refused; splitting it");
                    let (left, right) = events.split_at(events.len() / 2);
                    self.deliver(batch, left, delivered).await?;
                    self.deliver(batch, right, delivered).await?;
                }
                Delivery::Rejected { error } => {
                    tracing::error!(%error, uuid = %events[0].id, event = %events[0].event, "analytics event refused; parked");
                    batch.park(&ids, &error).await?;
                    metrics::analytics_event(&events[0].event, "parked");
                }
            }
            Ok(())
        }
        .boxed()
    }
}
