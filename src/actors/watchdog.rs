//! The Watchdog: every `watchdog.interval_s` it fails the runs stranded in `running` — past
//! `watchdog.running_ttl_s`, or holding a lease that expired (their node died) — with
//! `internal_error` at stage `recovery`. Each write re-checks, at write time, that the run is
//! still running and still past the horizon or lease (River's rescuer bug #1302 is the trap:
//! a sweep must never overwrite a run that finished since it was read). It also publishes the
//! stranded and live-run gauges.

use std::time::Duration;

use chrono::TimeDelta;
use futures_util::future::join_all;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::recorder::RecorderHandle;
use crate::domain::{ErrorClass, Failure, RunStatus, Stage};
use crate::metrics;
use crate::store::{Change, Command, FailCause, Store, StoreError};

/// Most runs one sweep recovers (the next sweep takes the rest).
const SWEEP_LIMIT: u64 = 1000;

#[derive(Clone, Debug)]
pub struct WatchdogSettings {
    pub interval: Duration,
    pub running_ttl: Duration,
}

pub struct Watchdog;

pub struct WatchdogArgs {
    pub settings: WatchdogSettings,
    pub store: Store,
    pub recorder: RecorderHandle,
}

pub enum WatchdogMsg {
    /// Sweep now (the timer's message).
    Tick,
    /// Sweep now and answer how many runs were recovered.
    Sweep(RpcReplyPort<Result<u64, StoreError>>),
}

pub struct WatchdogState {
    args: WatchdogArgs,
    timer: tokio::task::JoinHandle<()>,
}

impl Actor for Watchdog {
    type Msg = WatchdogMsg;
    type State = WatchdogState;
    type Arguments = WatchdogArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: WatchdogArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let timer = myself.send_interval(args.settings.interval, || WatchdogMsg::Tick);
        Ok(WatchdogState { args, timer })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            WatchdogMsg::Tick => {
                if let Err(err) = state.sweep().await {
                    tracing::warn!(error = %err, "watchdog sweep failed; retrying next interval");
                }
            }
            WatchdogMsg::Sweep(reply) => {
                let _ = reply.send(state.sweep().await);
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        state.timer.abort();
        Ok(())
    }
}

impl WatchdogState {
    async fn sweep(&mut self) -> Result<u64, StoreError> {
        let store = &self.args.store;
        let now = store.clock().now();
        let ttl = TimeDelta::from_std(self.args.settings.running_ttl).unwrap_or(TimeDelta::MAX);
        let horizon = now - ttl;
        let stranded = store.stranded_runs(horizon, now, SWEEP_LIMIT).await?;
        let cause = FailCause::Watchdog {
            started_before: horizon,
            lease_expired_before: now,
        };
        let failure = Failure::new(
            ErrorClass::InternalError,
            Stage::Recovery,
            "the run was stranded in running (past its time-to-live, or its node stopped \
             renewing its lease) and was recovered by the watchdog",
        );
        // Applied together: the Recorder commits them as one batch.
        let outcomes = join_all(stranded.iter().map(|run_id| {
            self.args.recorder.apply(Command::Transition {
                run_id: *run_id,
                change: Change::Fail {
                    failure: failure.clone(),
                    cause: cause.clone(),
                },
            })
        }))
        .await;
        let recovered = outcomes.iter().filter(|o| matches!(o, Ok(Ok(_)))).count() as u64;
        if recovered > 0 {
            tracing::warn!(recovered, "watchdog recovered stranded runs");
            metrics::watchdog_recovered(recovered);
        }
        let health = store.run_health(horizon, now).await?;
        metrics::live_runs(RunStatus::Pending, health.pending);
        metrics::live_runs(RunStatus::Running, health.running);
        metrics::stranded_runs(health.stranded);
        Ok(recovered)
    }
}
