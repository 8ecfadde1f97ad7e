//! The root supervisor: spawns the long-lived actors linked to itself and restarts any that
//! fails. ractor's default supervision would stop the root when a child ends; here a failed
//! child is logged, counted (`qrun_actor_restarts_total{actor}`) and restarted, at most
//! [`MAX_RESTARTS`] times in [`RESTART_WINDOW`]; past that the root stops itself, which takes
//! the tree down loudly instead of crash-looping in silence (readiness then fails).

use std::time::{Duration, Instant};

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::sync::{broadcast, watch};

use super::recorder::{Recorder, RecorderArgs, RecorderHandle, RecorderMsg, RunChange};
use crate::metrics;
use crate::store::Store;

pub const MAX_RESTARTS: usize = 5;
pub const RESTART_WINDOW: Duration = Duration::from_secs(60);

pub struct RootSupervisor;

pub struct RootArgs {
    pub store: Store,
    pub max_batch: usize,
    pub changes: broadcast::Sender<RunChange>,
    pub recorder_tx: watch::Sender<Option<ActorRef<RecorderMsg>>>,
}

pub struct RootState {
    args: RootArgs,
    recorder: ActorCell,
    restarts: Vec<Instant>,
}

impl RootState {
    async fn spawn_recorder(
        args: &RootArgs,
        myself: &ActorRef<RootMsg>,
    ) -> Result<ActorCell, ActorProcessingErr> {
        let (recorder, _) = Actor::spawn_linked(
            None,
            Recorder,
            RecorderArgs {
                store: args.store.clone(),
                max_batch: args.max_batch,
                changes: args.changes.clone(),
            },
            myself.get_cell(),
        )
        .await?;
        let cell = recorder.get_cell();
        args.recorder_tx.send_replace(Some(recorder));
        Ok(cell)
    }
}

pub enum RootMsg {}

impl Actor for RootSupervisor {
    type Msg = RootMsg;
    type State = RootState;
    type Arguments = RootArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: RootArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let recorder = RootState::spawn_recorder(&args, &myself).await?;
        Ok(RootState {
            args,
            recorder,
            restarts: Vec::new(),
        })
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
        if cell.get_id() != state.recorder.get_id() {
            return Ok(());
        }
        let now = Instant::now();
        state
            .restarts
            .retain(|t| now.duration_since(*t) < RESTART_WINDOW);
        state.restarts.push(now);
        metrics::actor_restart("recorder");
        if state.restarts.len() > MAX_RESTARTS {
            tracing::error!(actor = "recorder", %reason, "restart budget exhausted; stopping the actor tree");
            myself.stop(Some("recorder crash loop".into()));
            return Ok(());
        }
        tracing::error!(actor = "recorder", %reason, restarts = state.restarts.len(), "actor died; restarting it");
        state.recorder = RootState::spawn_recorder(&state.args, &myself).await?;
        Ok(())
    }
}

/// The running tree, and the handles the rest of the program uses.
pub struct ActorTree {
    pub root: ActorRef<RootMsg>,
    pub recorder: RecorderHandle,
    join: tokio::task::JoinHandle<()>,
}

impl ActorTree {
    pub async fn start(store: Store, max_batch: usize) -> Result<ActorTree, ActorProcessingErr> {
        let (changes, _) = broadcast::channel(4096);
        let (recorder_tx, recorder_rx) = watch::channel(None);
        let (root, join) = Actor::spawn(
            None,
            RootSupervisor,
            RootArgs {
                store,
                max_batch,
                changes: changes.clone(),
                recorder_tx,
            },
        )
        .await?;
        Ok(ActorTree {
            root,
            recorder: RecorderHandle::new(recorder_rx, changes),
            join,
        })
    }

    /// Whether the tree is up (the root has not stopped).
    pub fn is_alive(&self) -> bool {
        !self.join.is_finished()
    }

    /// Stops the tree, waiting for the actors to finish what they are doing.
    pub async fn stop(self) {
        self.root.stop(None);
        let _ = self.join.await;
    }
}
