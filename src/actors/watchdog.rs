//! The Watchdog: every `watchdog.interval_s` it fails the runs stranded in `running` — past
//! `watchdog.running_ttl_s`, or holding a lease that expired (their node died) — with
//! `internal_error` at stage `recovery`. Each write re-checks, at write time, that the run is
//! still running and still past the horizon or lease (River's rescuer bug #1302 is the trap:
//! a sweep must never overwrite a run that finished since it was read). It also publishes the
//! stranded and live-run gauges.

use chrono::TimeDelta;
use futures_util::future::join_all;

use super::periodic::Work;
use super::recorder::RecorderHandle;
use crate::config::WatchdogConfig;
use crate::domain::{ErrorClass, ErrorStage, Failure, RunStatus};
use crate::metrics;
use crate::store::{Change, Command, FailCause, Store, StoreError};

/// Most runs one sweep recovers (the next sweep takes the rest).
const SWEEP_LIMIT: u64 = 1000;

/// The watchdog's work (run by a [`super::periodic::Periodic`] actor).
pub struct Watchdog {
    /// `[watchdog]`: its sweep interval and the stranded-run window.
    pub settings: WatchdogConfig,
    pub store: Store,
    pub recorder: RecorderHandle,
}

impl Work for Watchdog {
    /// How many stranded runs the sweep recovered.
    type Output = u64;
    const NAME: &'static str = "watchdog sweep";

    /// Fails the stranded runs, then publishes the stranded and live-run gauges.
    async fn run_once(&mut self) -> Result<u64, StoreError> {
        let store = &self.store;
        // The database's now (on PostgreSQL): leases and start times were stamped in its
        // clock, so a node whose own clock is off judges them rightly (docs/DESIGN.md §14).
        let now = store.now().await?;
        let ttl = TimeDelta::from_std(self.settings.running_ttl()).unwrap_or(TimeDelta::MAX);
        let horizon = now - ttl;
        let stranded = store.stranded_runs(horizon, now, SWEEP_LIMIT).await?;
        let cause = FailCause::Watchdog {
            started_before: horizon,
            lease_expired_before: now,
        };
        let failure = Failure::new(
            ErrorClass::InternalError,
            ErrorStage::Recovery,
            "the run was stranded in running (past its time-to-live, or its node stopped \
             renewing its lease) and was recovered by the watchdog",
        );
        // Applied together: the Recorder commits them as one batch.
        let outcomes = join_all(stranded.iter().map(|run_id| {
            self.recorder.apply(Command::Transition {
                run_id: *run_id,
                change: Change::Fail {
                    failure: failure.clone(),
                    cause: cause.clone(),
                },
            })
        }))
        .await;
        // The line names each run it failed, so a run's id finds it.
        let runs: Vec<String> = outcomes
            .iter()
            .flatten()
            .map(|o| o.run.id.to_string())
            .collect();
        let recovered = runs.len() as u64;
        if recovered > 0 {
            tracing::warn!(recovered, runs = %runs.join(","), "watchdog recovered stranded runs");
            metrics::watchdog_recovered(recovered);
        }
        let health = store.run_health(horizon, now).await?;
        metrics::live_runs(RunStatus::Pending, health.pending);
        metrics::live_runs(RunStatus::Running, health.running);
        metrics::stranded_runs(health.stranded);
        Ok(recovered)
    }
}
