//! The Executor supervisor: claims pending runs for this node (oldest first, up to
//! `executor.max_concurrent_runs`, on a timer and at once when a submission commits here or,
//! on PostgreSQL, on any node: [`super::wakeups`]), spawns one linked [`RunActor`] per claimed
//! run, renews the leases of what it executes, and stops an execution whose run was cancelled
//! (at once, wherever the cancel was made) or recovered elsewhere (at the next renewal). At
//! shutdown it stops claiming, lets its runs finish until the node's deadline, and has the
//! rest handed back ([`ExecutorMsg::Drain`]).
//!
//! It overrides ractor's default supervision (which would stop it when a child ends): a
//! RunActor that finishes is forgotten; one that dies is recorded as failed with
//! `internal_error` by the supervisor, and the executor carries on.

use std::collections::HashMap;
use std::time::Duration;

use chrono::TimeDelta;
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tokio::sync::broadcast;
use uuid::Uuid;

use super::recorder::{RecorderError, RecorderHandle, StatusChange};
use super::run_actor::{Abort, AbortReason, RunActor, RunArgs};
use crate::config::ExecutorConfig;
use crate::domain::{ErrorClass, ErrorStage, Failure, Run, RunStatus};
use crate::execution::Backends;
use crate::metrics;
use crate::store::{Change, Command, FailCause, Store};

pub struct Executor;

pub struct ExecutorArgs {
    /// `[executor]`: its slots, claim interval and lease length.
    pub settings: ExecutorConfig,
    /// This node's id (`runs.claimed_by`; [`ExecutorConfig::node`], chosen once).
    pub node: String,
    pub store: Store,
    pub recorder: RecorderHandle,
    pub backends: Backends,
}

pub enum ExecutorMsg {
    /// Claim what fits (timer, a wake-up).
    Claim,
    /// Runs were submitted on another node: claim soon (one claim for a burst).
    Submitted,
    /// These runs were cancelled (on any node): stop those executing here.
    Cancelled(Vec<Uuid>),
    /// A committed change of some run (from the Recorder's broadcast).
    Changed(StatusChange),
    /// Renew the leases of the runs executing here.
    RenewLeases,
    /// Stop claiming; give executing runs `grace` to finish, then stop them and hand them
    /// back (running → pending, for another node); reply when none is left.
    Drain(Duration, RpcReplyPort<()>),
    /// The drain's grace period is over: hand back what still executes.
    GraceOver,
}

struct Executing {
    run_id: Uuid,
    abort: Abort,
}

pub struct ExecutorState {
    args: ExecutorArgs,
    executing: HashMap<ActorId, Executing>,
    by_run: HashMap<Uuid, ActorId>,
    claim_scheduled: bool,
    /// Set by a drain: nothing more is claimed.
    draining: bool,
    /// Answered once nothing executes any more.
    drained: Option<RpcReplyPort<()>>,
    /// Forwards the Recorder's broadcast of changes into the mailbox.
    forwarder: tokio::task::JoinHandle<()>,
    /// Forwards other nodes' wake-ups into the mailbox (PostgreSQL only).
    wakeups: Option<tokio::task::JoinHandle<()>>,
}

impl Actor for Executor {
    type Msg = ExecutorMsg;
    type State = ExecutorState;
    type Arguments = ExecutorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: ExecutorArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let settings = &args.settings;
        let renew_every = (settings.lease_ttl() / 3).max(Duration::from_millis(100));
        // ractor's interval timers end with the actor; the forwarder below is aborted in
        // `post_stop`, or it would wait for the next change to notice the actor is gone.
        myself.send_interval(settings.claim_interval(), || ExecutorMsg::Claim);
        myself.send_interval(renew_every, || ExecutorMsg::RenewLeases);
        let mut changes = args.recorder.subscribe();
        let me = myself.clone();
        let forwarder = tokio::spawn(async move {
            loop {
                match changes.recv().await {
                    Ok(change) => {
                        if me.send_message(ExecutorMsg::Changed(change)).is_err() {
                            return;
                        }
                    }
                    // Missed changes: claim anyway; renewals catch lost runs.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let _ = me.send_message(ExecutorMsg::Claim);
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        let wakeups = super::wakeups::forward(&args.store, myself.clone());
        myself.send_message(ExecutorMsg::Claim)?;
        Ok(ExecutorState {
            args,
            executing: HashMap::new(),
            by_run: HashMap::new(),
            claim_scheduled: true,
            draining: false,
            drained: None,
            forwarder,
            wakeups,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ExecutorMsg::Claim => {
                state.claim_scheduled = false;
                state.claim(&myself).await;
            }
            ExecutorMsg::Submitted => state.schedule_claim(&myself),
            ExecutorMsg::Cancelled(runs) => {
                for run_id in runs {
                    state.stop(run_id, AbortReason::Cancelled);
                }
            }
            ExecutorMsg::Changed(change) => state.changed(&myself, change),
            ExecutorMsg::RenewLeases => state.renew().await,
            ExecutorMsg::Drain(grace, reply) => {
                state.draining = true;
                state.drained = Some(reply);
                myself.send_after(grace, || ExecutorMsg::GraceOver);
                state.maybe_drained();
            }
            ExecutorMsg::GraceOver => {
                for executing in state.executing.values() {
                    executing.abort.fire(AbortReason::Shutdown);
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                state.forget(cell.get_id());
            }
            SupervisionEvent::ActorFailed(cell, err) => {
                if let Some(run_id) = state.forget(cell.get_id()) {
                    tracing::error!(%run_id, error = %err, "run actor died; failing the run");
                    state.fail_crashed(run_id).await;
                }
            }
            _ => return Ok(()),
        }
        state.maybe_drained();
        state.schedule_claim(&myself);
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        state.forwarder.abort();
        if let Some(wakeups) = &state.wakeups {
            wakeups.abort();
        }
        Ok(())
    }
}

impl ExecutorState {
    fn schedule_claim(&mut self, myself: &ActorRef<ExecutorMsg>) {
        if !self.claim_scheduled && !self.draining {
            self.claim_scheduled = myself.send_message(ExecutorMsg::Claim).is_ok();
        }
    }

    async fn claim(&mut self, myself: &ActorRef<ExecutorMsg>) {
        let settings = &self.args.settings;
        let free = settings
            .max_concurrent_runs
            .saturating_sub(self.executing.len() as u64);
        if free == 0 || self.draining {
            return;
        }
        let claimed = match self
            .args
            .recorder
            .claim(&self.args.node, free, lease(settings.lease_ttl()))
            .await
        {
            Ok(claimed) => claimed,
            Err(RecorderError::Unavailable) => return,
            Err(err) => {
                tracing::warn!(error = %err, "claiming runs failed; retrying on the next tick");
                return;
            }
        };
        for applied in claimed {
            self.start(myself, applied.run).await;
        }
    }

    async fn start(&mut self, myself: &ActorRef<ExecutorMsg>, run: Run) {
        let run_id = run.id;
        let Some(backend) = self
            .args
            .backends
            .get(&run.spec.backend_type, &run.spec.backend_name)
        else {
            let failure = Failure::new(
                ErrorClass::ValidationError,
                ErrorStage::Prepare,
                format!(
                    "backend `{}/{}` is not configured on this node",
                    run.spec.backend_type, run.spec.backend_name
                ),
            );
            self.fail(run_id, failure, FailCause::Executor).await;
            return;
        };
        let abort = Abort::default();
        let args = RunArgs {
            run,
            backend,
            store: self.args.store.clone(),
            recorder: self.args.recorder.clone(),
            abort: abort.clone(),
        };
        match Actor::spawn_linked(None, RunActor, args, myself.get_cell()).await {
            Ok((actor, _)) => {
                let id = actor.get_id();
                self.executing.insert(id, Executing { run_id, abort });
                self.by_run.insert(run_id, id);
                metrics::executor_slots_in_use(self.executing.len());
            }
            Err(err) => {
                tracing::error!(%run_id, error = %err, "could not start a run actor");
                self.fail_crashed(run_id).await;
            }
        }
    }

    fn changed(&mut self, myself: &ActorRef<ExecutorMsg>, change: StatusChange) {
        if change.from.is_none() {
            self.schedule_claim(myself);
        }
        if change.to.is_terminal() {
            let reason = if change.to == RunStatus::Cancelled {
                AbortReason::Cancelled
            } else {
                AbortReason::LeaseLost
            };
            self.stop(change.run_id, reason);
        }
    }

    /// Stops the execution of `run_id`, if it executes here.
    fn stop(&self, run_id: Uuid, reason: AbortReason) {
        if let Some(executing) = self
            .by_run
            .get(&run_id)
            .and_then(|id| self.executing.get(id))
        {
            executing.abort.fire(reason);
        }
    }

    async fn renew(&mut self) {
        if self.executing.is_empty() {
            return;
        }
        let settings = &self.args.settings;
        let runs: Vec<Uuid> = self.by_run.keys().copied().collect();
        let held = match self
            .args
            .recorder
            .renew(&self.args.node, runs.clone(), lease(settings.lease_ttl()))
            .await
        {
            Ok(held) => held,
            Err(RecorderError::Unavailable) => return,
            Err(err) => {
                tracing::warn!(error = %err, "renewing leases failed; retrying");
                return;
            }
        };
        for run_id in runs.into_iter().filter(|r| !held.contains(r)) {
            if self.by_run.contains_key(&run_id) {
                tracing::info!(%run_id, "the run is no longer this node's; stopping it");
                self.stop(run_id, AbortReason::LeaseLost);
            }
        }
    }

    fn forget(&mut self, actor: ActorId) -> Option<Uuid> {
        let executing = self.executing.remove(&actor)?;
        self.by_run.remove(&executing.run_id);
        metrics::executor_slots_in_use(self.executing.len());
        Some(executing.run_id)
    }

    async fn fail_crashed(&self, run_id: Uuid) {
        let failure = Failure::new(
            ErrorClass::InternalError,
            ErrorStage::Execute,
            "the run's executor crashed",
        );
        self.fail(run_id, failure, FailCause::Supervisor).await;
    }

    async fn fail(&self, run_id: Uuid, failure: Failure, cause: FailCause) {
        let change = Change::Fail { failure, cause };
        if let Err(err) = self
            .args
            .recorder
            .apply(Command::Transition { run_id, change })
            .await
        {
            tracing::warn!(%run_id, error = %err, "could not fail the run");
        }
    }

    fn maybe_drained(&mut self) {
        if self.executing.is_empty()
            && let Some(reply) = self.drained.take()
        {
            let _ = reply.send(());
        }
    }
}

fn lease(ttl: Duration) -> TimeDelta {
    TimeDelta::from_std(ttl).unwrap_or(TimeDelta::seconds(30))
}
