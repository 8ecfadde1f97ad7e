//! The root supervisor: spawns the long-lived actors linked to itself and restarts any that
//! fails. ractor's default supervision would stop the root when a child ends; here a failed
//! child is logged, counted (`qrun_actor_restarts_total{actor}`) and restarted, at most
//! [`MAX_RESTARTS`] times in [`RESTART_WINDOW`] per child; past that the root stops itself,
//! which takes the tree down loudly instead of crash-looping in silence (readiness fails).
//!
//! Each child's current incarnation is published on a watch channel, so handles held
//! elsewhere keep working across restarts.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::sync::{broadcast, watch};

use super::dispatcher::Dispatcher;
use super::executor::{Executor, ExecutorArgs, ExecutorMsg};
use super::history::HistorySampler;
use super::periodic::{Periodic, PeriodicMsg};
use super::recorder::{Recorder, RecorderArgs, RecorderHandle, RecorderMsg, StatusChange};
use super::watchdog::Watchdog;
use crate::analytics::Sink;
use crate::config::{AnalyticsConfig, ExecutorConfig, RecorderConfig, WatchdogConfig};
use crate::execution::Backends;
use crate::metrics;
use crate::service::history::{SAMPLE_EVERY, SharedHistory};
use crate::store::{Store, StoreError};

type WatchdogMsg = PeriodicMsg<u64>;
type DispatcherMsg = PeriodicMsg<()>;
type HistorySamplerMsg = PeriodicMsg<()>;

pub const MAX_RESTARTS: usize = 5;
pub const RESTART_WINDOW: Duration = Duration::from_secs(60);

/// What the tree runs with.
#[derive(Clone)]
pub struct TreeSettings {
    pub recorder: RecorderConfig,
    /// `[executor]`; `enabled` says whether this node executes runs (spawns the Executor).
    pub executor: ExecutorConfig,
    /// This node's id ([`ExecutorConfig::node`], chosen once).
    pub node: String,
    pub watchdog: WatchdogConfig,
    /// `[analytics]`, for the dispatcher.
    pub analytics: AnalyticsConfig,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Child {
    Recorder,
    Executor,
    Watchdog,
    Dispatcher,
    HistorySampler,
}

impl Child {
    fn name(self) -> &'static str {
        match self {
            Child::Recorder => "recorder",
            Child::Executor => "executor",
            Child::Watchdog => "watchdog",
            Child::Dispatcher => "dispatcher",
            Child::HistorySampler => "history_sampler",
        }
    }
}

pub struct RootSupervisor;

pub struct RootArgs {
    settings: TreeSettings,
    store: Store,
    backends: Backends,
    sink: Arc<dyn Sink>,
    changes: broadcast::Sender<StatusChange>,
    recorder: RecorderHandle,
    history: SharedHistory,
    recorder_tx: watch::Sender<Option<ActorRef<RecorderMsg>>>,
    executor_tx: watch::Sender<Option<ActorRef<ExecutorMsg>>>,
    watchdog_tx: watch::Sender<Option<ActorRef<WatchdogMsg>>>,
    dispatcher_tx: watch::Sender<Option<ActorRef<DispatcherMsg>>>,
    history_sampler_tx: watch::Sender<Option<ActorRef<HistorySamplerMsg>>>,
}

pub struct RootState {
    args: RootArgs,
    children: HashMap<ActorId, Child>,
    restarts: HashMap<Child, Vec<Instant>>,
}

pub enum RootMsg {}

impl RootState {
    async fn spawn(
        &mut self,
        child: Child,
        root: &ActorRef<RootMsg>,
    ) -> Result<(), ActorProcessingErr> {
        let a = &self.args;
        let supervisor = root.get_cell();
        let id = match child {
            Child::Recorder => {
                let args = RecorderArgs {
                    store: a.store.clone(),
                    max_batch: a.settings.recorder.max_batch,
                    changes: a.changes.clone(),
                };
                let (actor, _) = Actor::spawn_linked(None, Recorder, args, supervisor).await?;
                a.recorder_tx.send_replace(Some(actor.clone()));
                actor.get_id()
            }
            Child::Executor => {
                let args = ExecutorArgs {
                    settings: a.settings.executor.clone(),
                    node: a.settings.node.clone(),
                    store: a.store.clone(),
                    recorder: a.recorder.clone(),
                    backends: a.backends.clone(),
                };
                let (actor, _) = Actor::spawn_linked(None, Executor, args, supervisor).await?;
                a.executor_tx.send_replace(Some(actor.clone()));
                actor.get_id()
            }
            Child::Watchdog => {
                let work = Watchdog {
                    settings: a.settings.watchdog.clone(),
                    store: a.store.clone(),
                    recorder: a.recorder.clone(),
                };
                let args = (a.settings.watchdog.interval(), work);
                let (actor, _) =
                    Actor::spawn_linked(None, Periodic::default(), args, supervisor).await?;
                a.watchdog_tx.send_replace(Some(actor.clone()));
                actor.get_id()
            }
            Child::Dispatcher => {
                let work = Dispatcher::new(
                    a.settings.analytics.clone(),
                    a.store.clone(),
                    a.sink.clone(),
                );
                let args = (a.settings.analytics.flush_interval(), work);
                let (actor, _) =
                    Actor::spawn_linked(None, Periodic::default(), args, supervisor).await?;
                a.dispatcher_tx.send_replace(Some(actor.clone()));
                actor.get_id()
            }
            Child::HistorySampler => {
                let work = HistorySampler {
                    store: a.store.clone(),
                    history: a.history.clone(),
                };
                let args = (SAMPLE_EVERY, work);
                let (actor, _) =
                    Actor::spawn_linked(None, Periodic::default(), args, supervisor).await?;
                a.history_sampler_tx.send_replace(Some(actor.clone()));
                actor.get_id()
            }
        };
        self.children.insert(id, child);
        Ok(())
    }
}

impl Actor for RootSupervisor {
    type Msg = RootMsg;
    type State = RootState;
    type Arguments = RootArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: RootArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let mut state = RootState {
            args,
            children: HashMap::new(),
            restarts: HashMap::new(),
        };
        state.spawn(Child::Recorder, &myself).await?;
        if state.args.settings.executor.enabled {
            state.spawn(Child::Executor, &myself).await?;
        }
        state.spawn(Child::Watchdog, &myself).await?;
        state.spawn(Child::Dispatcher, &myself).await?;
        state.spawn(Child::HistorySampler, &myself).await?;
        Ok(state)
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, reason) = match event {
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                (cell, reason.unwrap_or_else(|| "stopped".into()))
            }
            SupervisionEvent::ActorFailed(cell, err) => (cell, err.to_string()),
            _ => return Ok(()),
        };
        let Some(child) = state.children.remove(&cell.get_id()) else {
            return Ok(());
        };
        let now = Instant::now();
        let restarts = state.restarts.entry(child).or_default();
        restarts.retain(|t| now.duration_since(*t) < RESTART_WINDOW);
        restarts.push(now);
        let count = restarts.len();
        metrics::actor_restart(child.name());
        if count > MAX_RESTARTS {
            tracing::error!(actor = child.name(), %reason, "restart budget exhausted; stopping the actor tree");
            myself.stop(Some(format!("{} crash loop", child.name())));
            return Ok(());
        }
        tracing::error!(actor = child.name(), %reason, restarts = count, "actor died; restarting it");
        state.spawn(child, &myself).await
    }
}

/// The running tree, and the handles the rest of the program uses.
pub struct ActorTree {
    pub root: ActorRef<RootMsg>,
    pub recorder: RecorderHandle,
    /// The node's dashboard history, which the HistorySampler feeds (the service reads it).
    pub history: SharedHistory,
    executor: watch::Receiver<Option<ActorRef<ExecutorMsg>>>,
    watchdog: watch::Receiver<Option<ActorRef<WatchdogMsg>>>,
    dispatcher: watch::Receiver<Option<ActorRef<DispatcherMsg>>>,
    history_sampler: watch::Receiver<Option<ActorRef<HistorySamplerMsg>>>,
    join: tokio::task::JoinHandle<()>,
}

impl ActorTree {
    pub async fn start(
        store: Store,
        settings: TreeSettings,
        backends: Backends,
        sink: Arc<dyn Sink>,
    ) -> Result<ActorTree, ActorProcessingErr> {
        let (changes, _) = broadcast::channel(4096);
        let (recorder_tx, recorder_rx) = watch::channel(None);
        let (executor_tx, executor) = watch::channel(None);
        let (watchdog_tx, watchdog) = watch::channel(None);
        let (dispatcher_tx, dispatcher) = watch::channel(None);
        let (history_sampler_tx, history_sampler) = watch::channel(None);
        let recorder = RecorderHandle::new(recorder_rx, changes.clone());
        let history = SharedHistory::default();
        let args = RootArgs {
            settings,
            store,
            backends,
            sink,
            changes,
            recorder: recorder.clone(),
            history: history.clone(),
            recorder_tx,
            executor_tx,
            watchdog_tx,
            dispatcher_tx,
            history_sampler_tx,
        };
        let (root, join) = Actor::spawn(None, RootSupervisor, args).await?;
        Ok(ActorTree {
            root,
            recorder,
            history,
            executor,
            watchdog,
            dispatcher,
            history_sampler,
            join,
        })
    }

    /// Stops claiming, lets the runs executing here finish for `grace`, then stops the rest and
    /// hands them back (running → pending: another node claims them at once); waits until no
    /// run executes here, at most `within` (≥ `grace`). Whether none is left: a run whose work
    /// did not stop within `within` keeps its lease until it expires, and the watchdog then
    /// fails it.
    pub async fn drain(&self, grace: Duration, within: Duration) -> bool {
        let Some(executor) = self.executor.borrow().clone() else {
            return true;
        };
        matches!(
            executor
                .call(|reply| ExecutorMsg::Drain(grace, reply), Some(within))
                .await,
            Ok(ractor::rpc::CallResult::Success(()))
        )
    }

    /// Runs a watchdog sweep now; how many runs it recovered.
    pub async fn sweep(&self) -> Result<u64, StoreError> {
        let Some(watchdog) = self.watchdog.borrow().clone() else {
            return Ok(0);
        };
        match watchdog.call(PeriodicMsg::RunNow, None).await {
            Ok(ractor::rpc::CallResult::Success(result)) => result,
            _ => Ok(0),
        }
    }

    /// Samples the dashboard's history now (as the HistorySampler does on its timer).
    pub async fn sample_history(&self) -> Result<(), StoreError> {
        let Some(sampler) = self.history_sampler.borrow().clone() else {
            return Ok(());
        };
        match sampler.call(PeriodicMsg::RunNow, None).await {
            Ok(ractor::rpc::CallResult::Success(result)) => result,
            _ => Ok(()),
        }
    }

    /// Delivers the analytics events due now (at shutdown), waiting at most `within`.
    pub async fn flush_outbox(&self, within: Duration) {
        let Some(dispatcher) = self.dispatcher.borrow().clone() else {
            return;
        };
        match dispatcher.call(PeriodicMsg::RunNow, Some(within)).await {
            Ok(ractor::rpc::CallResult::Success(Err(err))) => {
                tracing::warn!(error = %err, "flushing the analytics outbox failed")
            }
            Ok(ractor::rpc::CallResult::Success(Ok(()))) => {}
            _ => tracing::warn!("flushing the analytics outbox did not finish in time"),
        }
    }

    /// Stops the tree, waiting for the actors to finish what they are doing.
    pub async fn stop(self) {
        self.root.stop(None);
        let _ = self.join.await;
    }
}
