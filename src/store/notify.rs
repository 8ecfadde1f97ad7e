//! Nodes waking each other on PostgreSQL (docs/DESIGN.md §14): `NOTIFY` in the transaction that
//! commits a change (delivered at commit, never for a rollback), `LISTEN` on a connection of
//! its own in every executing node.
//!
//! - [`PENDING`] (`qrun_runs_pending`, empty payload): runs were submitted; idle workers
//!   claim at once instead of at their next claim tick.
//! - [`CANCELLED`] (`qrun_runs_cancelled`, payload: the run ids, space-separated): the node
//!   executing one of them stops it at once instead of at its next lease renewal.
//!
//! Notifications are a hint, never the record: one lost (a listener reconnecting) delays work
//! until the claim tick or the lease renewal, which remain. A [`Listener`] that lost its
//! connection says so ([`Wakeup::Resumed`]) once it listens again, so its node re-reads
//! what it may have missed.

use std::time::Duration;

use sea_orm::sqlx::postgres::{PgListener, PgPool};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement};
use uuid::Uuid;

use super::Result;

/// The channel of runs to claim: submissions, and runs handed back by a node shutting down.
pub const PENDING: &str = "qrun_runs_pending";
/// The channel of cancellations.
pub const CANCELLED: &str = "qrun_runs_cancelled";

/// Run ids per `qrun_runs_cancelled` payload: 200 × 37 bytes, well under PostgreSQL's 8000.
const IDS_PER_PAYLOAD: usize = 200;

/// Queues the notifications of a transaction's changes: one on [`PENDING`] if it made a run
/// pending (created it, or took a hand-back), the cancelled ids on [`CANCELLED`]. PostgreSQL
/// only.
pub(super) async fn send(
    txn: &DatabaseTransaction,
    pending: bool,
    cancelled: &[Uuid],
) -> Result<()> {
    if pending {
        notify(txn, PENDING, String::new()).await?;
    }
    for ids in cancelled.chunks(IDS_PER_PAYLOAD) {
        let payload = ids
            .iter()
            .map(Uuid::to_string)
            .collect::<Vec<_>>()
            .join(" ");
        notify(txn, CANCELLED, payload).await?;
    }
    Ok(())
}

async fn notify(txn: &DatabaseTransaction, channel: &str, payload: String) -> Result<()> {
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [channel.into(), payload.into()],
    ))
    .await?;
    Ok(())
}

/// What a [`Listener`] heard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wakeup {
    /// Runs were submitted.
    Pending,
    /// These runs were cancelled.
    Cancelled(Vec<Uuid>),
    /// The listener (re)connected: anything sent while it was not listening is lost, so
    /// re-read (claim, renew leases). Also the first thing a listener says.
    Resumed,
}

/// `LISTEN` on both channels over a connection taken from the pool, reconnecting (with
/// backoff, 100 ms doubling to 5 s) whenever that connection fails or is terminated.
pub struct Listener {
    pool: PgPool,
    listener: Option<PgListener>,
    backoff: Duration,
}

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

impl Listener {
    pub(super) fn new(pool: PgPool) -> Listener {
        Listener {
            pool,
            listener: None,
            backoff: MIN_BACKOFF,
        }
    }

    /// The next wake-up; waits for one (cancel-safe: dropping the future loses nothing but a
    /// half-read notification, which the next call's [`Wakeup::Resumed`] covers).
    pub async fn next(&mut self) -> Wakeup {
        loop {
            let Some(listener) = self.listener.as_mut() else {
                match connect(&self.pool).await {
                    Ok(listener) => {
                        self.listener = Some(listener);
                        self.backoff = MIN_BACKOFF;
                        return Wakeup::Resumed;
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, retry_in = ?self.backoff, "cannot LISTEN for wake-ups; retrying");
                        tokio::time::sleep(self.backoff).await;
                        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                        continue;
                    }
                }
            };
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    if let Some(wakeup) = parse(notification.channel(), notification.payload()) {
                        return wakeup;
                    }
                }
                Ok(None) => {
                    tracing::warn!("the LISTEN connection was lost; listening again");
                    self.listener = None;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "the LISTEN connection failed; listening again");
                    self.listener = None;
                }
            }
        }
    }
}

async fn connect(pool: &PgPool) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // It fails over on its own; a lost connection is reported (`Ok(None)`) and replaced here.
    listener.eager_reconnect(false);
    listener.listen_all([PENDING, CANCELLED]).await?;
    Ok(listener)
}

/// A notification as a wake-up; `None` for a channel or payload not ours.
fn parse(channel: &str, payload: &str) -> Option<Wakeup> {
    match channel {
        PENDING => Some(Wakeup::Pending),
        CANCELLED => {
            let ids: Vec<Uuid> = payload
                .split_whitespace()
                .filter_map(|id| id.parse().ok())
                .collect();
            (!ids.is_empty()).then_some(Wakeup::Cancelled(ids))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_parse_to_wakeups() {
        let a = Uuid::now_v7();
        let b = Uuid::now_v7();
        assert_eq!(parse(PENDING, ""), Some(Wakeup::Pending));
        assert_eq!(
            parse(CANCELLED, &format!("{a} {b}")),
            Some(Wakeup::Cancelled(vec![a, b]))
        );
        assert_eq!(parse(CANCELLED, "not-an-id"), None);
        assert_eq!(parse("other", ""), None);
    }

    #[test]
    fn a_full_payload_fits_postgresql_limit() {
        let ids: Vec<String> = (0..IDS_PER_PAYLOAD)
            .map(|_| Uuid::now_v7().to_string())
            .collect();
        assert!(ids.join(" ").len() < 8000);
    }
}
