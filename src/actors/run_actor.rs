//! A RunActor executes one claimed run: prepare (load the circuit version) → execute (on the
//! backend: blocking pool or child process, never inside the handler) → store (complete or
//! fail through the Recorder). The work runs as a task that posts its result back as a
//! message, so the actor stays responsive. A panic in the work is re-raised inside the
//! handler, so the executor (its supervisor) sees the actor fail and records the run failed
//! with `internal_error` — one path for every crash.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::FutureExt;
use qrun_engine::CancellationToken;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tracing::Instrument;

use super::recorder::{RecorderError, RecorderHandle};
use crate::domain::{ErrorClass, ErrorStage, Failure, Run, RunStatus};
use crate::execution::{Backend, ExecError, Executed, Job};
use crate::store::{Applied, Change, Command, FailCause, Store, WriteError};

/// Why a run's execution was stopped from outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbortReason {
    /// Its submitter cancelled it (the cancellation is already recorded).
    Cancelled,
    /// It is no longer this node's (cancelled on another node, or recovered by a watchdog).
    LeaseLost,
    /// This node is shutting down and its deadline came: the run is handed back (running →
    /// pending) for another node to claim.
    Shutdown,
}

/// Stops one run's execution, saying why.
#[derive(Clone, Default)]
pub struct Abort {
    token: CancellationToken,
    reason: Arc<OnceLock<AbortReason>>,
}

impl Abort {
    pub fn fire(&self, reason: AbortReason) {
        let _ = self.reason.set(reason);
        self.token.cancel();
    }

    fn reason(&self) -> Option<AbortReason> {
        self.reason.get().copied()
    }
}

pub struct RunActor;

pub struct RunArgs {
    pub run: Run,
    pub backend: Arc<dyn Backend>,
    pub store: Store,
    pub recorder: RecorderHandle,
    pub abort: Abort,
}

pub enum RunMsg {
    /// The work ended.
    Finished(Result<Executed, ExecError>),
    /// The work panicked; the payload's text.
    Panicked(String),
}

pub struct RunState {
    run: Run,
    /// `run_actor`, with the run's id: its execution and its ending are recorded inside it.
    span: tracing::Span,
    recorder: RecorderHandle,
    abort: Abort,
    work: tokio::task::JoinHandle<()>,
}

impl Actor for RunActor {
    type Msg = RunMsg;
    type State = RunState;
    type Arguments = RunArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: RunArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let span = tracing::info_span!("run_actor", run_id = %args.run.id);
        if crate::telemetry::exporting() {
            continue_submission_trace(&span, &args.store, &args.run).await;
        }
        let work = {
            let run = args.run.clone();
            let (store, backend, token) = (args.store, args.backend, args.abort.token.clone());
            tokio::spawn(
                async move {
                    let result = std::panic::AssertUnwindSafe(execute(run, store, backend, token))
                        .catch_unwind()
                        .await;
                    let message = match result {
                        Ok(result) => RunMsg::Finished(result),
                        Err(panic) => RunMsg::Panicked(panic_text(panic)),
                    };
                    // The actor may be gone (killed): nothing left to tell.
                    let _ = myself.send_message(message);
                }
                .instrument(span.clone()),
            )
        };
        Ok(RunState {
            run: args.run,
            span,
            recorder: args.recorder,
            abort: args.abort,
            work,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let outcome = match message {
            RunMsg::Panicked(text) => panic!("run {} panicked: {text}", state.run.id),
            RunMsg::Finished(outcome) => outcome,
        };
        let run_id = state.run.id;
        let change = match outcome {
            Ok(Executed { results, memory }) => Some(Change::Complete { results, memory }),
            Err(ExecError::Failed(failure)) => Some(Change::Fail {
                failure,
                cause: FailCause::Executor,
            }),
            Err(ExecError::Cancelled) => match state.abort.reason() {
                // The run is this node's (it claimed it): give it back, for another node.
                Some(AbortReason::Shutdown) => state
                    .run
                    .claimed_by
                    .clone()
                    .map(|node| Change::HandBack { node }),
                // Already recorded elsewhere (cancelled, or recovered).
                _ => None,
            },
        };
        if let Some(change) = change {
            record(&state.recorder, run_id, change)
                .instrument(state.span.clone())
                .await;
        }
        myself.stop(None);
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        state.work.abort();
        Ok(())
    }
}

/// Prepare and execute.
async fn execute(
    run: Run,
    store: Store,
    backend: Arc<dyn Backend>,
    cancel: CancellationToken,
) -> Result<Executed, ExecError> {
    let version = store
        .circuit_version(run.spec.circuit_id, Some(run.spec.circuit_version))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "loading the circuit version failed");
            ExecError::Failed(Failure::new(
                ErrorClass::InternalError,
                ErrorStage::Prepare,
                "the circuit version could not be loaded",
            ))
        })?
        .ok_or_else(|| {
            ExecError::Failed(Failure::new(
                ErrorClass::ValidationError,
                ErrorStage::Prepare,
                "the circuit version no longer exists",
            ))
        })?;
    let job = Job {
        source: version.source,
        format: version.manifest.format,
        shots: run.spec.shots,
        seed: run.spec.seed,
        parameters: run.spec.parameters,
        memory: run.spec.memory,
        options: run.spec.options,
    };
    let span = tracing::info_span!(
        "execution",
        run_id = %run.id,
        backend = %format_args!("{}/{}", run.spec.backend_type, run.spec.backend_name),
    );
    backend.execute(job, cancel).instrument(span).await
}

/// Makes `span` a child of the submission's span, read from the run's creation audit row
/// (`traceparent`, docs/DESIGN.md §8): the trace goes on from the request that created the
/// run, on whichever node executes it. Without one (a run submitted while traces were off)
/// the span starts a trace of its own.
async fn continue_submission_trace(span: &tracing::Span, store: &Store, run: &Run) {
    match store.audit_timeline(run.id).await {
        Ok(entries) => {
            let traceparent = entries
                .iter()
                .find_map(|entry| entry.metadata.get("traceparent")?.as_str());
            if let Some(traceparent) = traceparent {
                crate::telemetry::set_parent(span, traceparent);
            }
        }
        Err(err) => {
            tracing::debug!(error = %err, run_id = %run.id, "no submission trace to continue")
        }
    }
}

/// How long a run's ending is retried while the database is unavailable (down, restarting,
/// locked) before the run is left to the watchdog.
const RECORD_PATIENCE: Duration = Duration::from_secs(60);

/// Writes the run's ending. While the database is unavailable the write is retried with
/// backoff, so results computed during an outage are kept once it ends; a storage failure of
/// the results is recorded as a failed run (`storage_error`); a guard miss means the run ended
/// elsewhere first and the result is dropped (counted in `qrun_transition_conflicts_total`).
async fn record(recorder: &RecorderHandle, run_id: uuid::Uuid, change: Change) {
    let completing = matches!(change, Change::Complete { .. });
    match apply_patiently(recorder, run_id, change).await {
        Ok(applied) if applied.run.status == RunStatus::Pending => {
            tracing::info!("run handed back for another node to claim");
        }
        Ok(applied) => {
            let run = &applied.run;
            let ms = |from: Option<chrono::DateTime<chrono::Utc>>, to| {
                from.zip(to)
                    .map(|(from, to): (_, chrono::DateTime<chrono::Utc>)| {
                        (to - from).as_seconds_f64() * 1e3
                    })
            };
            tracing::info!(
                status = %run.status,
                error_class = run.error_class.map(|c| c.as_str()),
                stage = run.error_stage.map(|s| s.as_str()),
                queue_ms = ms(Some(run.created_at), run.started_at),
                execution_ms = ms(run.started_at, run.completed_at),
                backend = %format_args!("{}/{}", run.spec.backend_type, run.spec.backend_name),
                method = run.results.as_ref().and_then(|r| r.method.as_deref()),
                "run finished"
            );
        }
        Err(RecorderError::Write(WriteError::Conflict { current, .. })) => {
            tracing::info!(%current, "the run ended elsewhere first; result dropped");
        }
        Err(RecorderError::Write(WriteError::Store(err))) if completing && !err.is_transient() => {
            tracing::error!(error = %err, "storing results failed");
            let failure = Failure::new(
                ErrorClass::StorageError,
                ErrorStage::Store,
                "the results could not be stored",
            );
            let change = Change::Fail {
                failure,
                cause: FailCause::Executor,
            };
            if let Err(err) = apply_patiently(recorder, run_id, change).await {
                tracing::error!(error = %err, "recording the storage failure failed; the watchdog will recover the run");
            }
        }
        Err(err) => {
            tracing::error!(error = %err, "recording the run's end failed; the watchdog will recover the run")
        }
    }
}

/// Applies a transition, retrying for [`RECORD_PATIENCE`] while the database is unavailable or
/// the Recorder is restarting.
async fn apply_patiently(
    recorder: &RecorderHandle,
    run_id: uuid::Uuid,
    change: Change,
) -> Result<Applied, RecorderError> {
    let deadline = tokio::time::Instant::now() + RECORD_PATIENCE;
    let mut delay = Duration::from_millis(50);
    loop {
        let command = Command::Transition {
            run_id,
            change: change.clone(),
        };
        let outcome = recorder.apply(command).await;
        let transient = match &outcome {
            Err(RecorderError::Write(WriteError::Store(err))) => err.is_transient(),
            Err(RecorderError::Unavailable) => true,
            Ok(_) | Err(RecorderError::Write(_)) => false,
        };
        if !transient || tokio::time::Instant::now() + delay > deadline {
            return outcome;
        }
        tracing::warn!(
            retry_in_ms = delay.as_millis() as u64,
            "the database is unavailable; retrying the run's end"
        );
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

fn panic_text(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}
