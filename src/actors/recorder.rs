//! The Recorder: the single entry point for lifecycle writes.
//!
//! Callers send [`RecorderMsg::Apply`] and await the reply. The actor buffers commands and
//! schedules one [`RecorderMsg::Flush`]; everything that reaches the mailbox before the flush
//! (and, while a flush awaits the database, everything arriving meanwhile) joins the next
//! batch: group commit with no timer and no added latency when idle. The executor's claims
//! join the batch too, made after its commands in the same transaction
//! ([`Store::apply_and_claim`]): a busy node commits once per round of completions and
//! claims, not once for each. After a commit it records
//! metrics and announces each change on a broadcast channel (live views, the executor).

use std::sync::Arc;

use chrono::TimeDelta;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::sync::{broadcast, watch};
use tracing::Instrument;
use uuid::Uuid;

use crate::domain::{NewJob, RunStatus};
use crate::metrics;
use crate::store::{
    Applied, ClaimOrder, Claimed, Command, JobApplied, Store, StoreError, WriteError,
};

/// One command's reply: the command took effect, or why not.
type Written = Result<Applied, WriteError>;

/// A job's reply: the job and its runs, or why not.
type JobWritten = Result<JobApplied, WriteError>;

/// A committed change of a run's status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusChange {
    pub run_id: Uuid,
    pub from: Option<RunStatus>,
    pub to: RunStatus,
}

pub enum RecorderMsg {
    /// Apply a command; the outcome is the reply. The span is the caller's (`recorder.apply`):
    /// the commit's span is its child (the first command's) or links to it.
    Apply(Command, tracing::Span, RpcReplyPort<Written>),
    /// Create a job with all its runs (or none of them), in the next batch after its
    /// commands; the job is the reply.
    CreateJob(NewJob, RpcReplyPort<JobWritten>),
    /// Commit what is buffered.
    Flush,
    /// Claim up to `order.limit` pending runs for `order.node`, each leased for `order.lease`
    /// from the database's now: in the next batch's transaction, after its commands.
    Claim {
        order: ClaimOrder,
        reply: RpcReplyPort<Claimed>,
    },
    /// Extend `node`'s leases on `runs` to `lease` from the database's now; the reply lists
    /// those it still holds.
    Renew {
        node: String,
        runs: Vec<Uuid>,
        lease: TimeDelta,
        reply: RpcReplyPort<Result<Vec<Uuid>, StoreError>>,
    },
}

pub struct Recorder;

pub struct RecorderArgs {
    pub store: Store,
    pub max_batch: usize,
    pub changes: broadcast::Sender<StatusChange>,
}

pub struct RecorderState {
    store: Store,
    max_batch: usize,
    changes: broadcast::Sender<StatusChange>,
    buffer: Vec<(Command, tracing::Span, RpcReplyPort<Written>)>,
    jobs: Vec<(NewJob, RpcReplyPort<JobWritten>)>,
    claims: Vec<(ClaimOrder, RpcReplyPort<Claimed>)>,
    flush_scheduled: bool,
}

impl Actor for Recorder {
    type Msg = RecorderMsg;
    type State = RecorderState;
    type Arguments = RecorderArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: RecorderArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(RecorderState {
            store: args.store,
            max_batch: args.max_batch,
            changes: args.changes,
            buffer: Vec::new(),
            jobs: Vec::new(),
            claims: Vec::new(),
            flush_scheduled: false,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            RecorderMsg::Apply(command, span, reply) => {
                state.buffer.push((command, span, reply));
                if state.buffer.len() >= state.max_batch {
                    state.flush().await;
                } else {
                    state.schedule_flush(&myself)?;
                }
            }
            RecorderMsg::CreateJob(job, reply) => {
                state.jobs.push((job, reply));
                state.schedule_flush(&myself)?;
            }
            RecorderMsg::Flush => {
                state.flush_scheduled = false;
                state.flush().await;
            }
            RecorderMsg::Claim { order, reply } => {
                state.claims.push((order, reply));
                state.schedule_flush(&myself)?;
            }
            RecorderMsg::Renew {
                node,
                runs,
                lease,
                reply,
            } => {
                let _ = reply.send(state.store.renew_leases(&node, &runs, lease).await);
            }
        }
        Ok(())
    }
}

impl RecorderState {
    fn schedule_flush(&mut self, myself: &ActorRef<RecorderMsg>) -> Result<(), ActorProcessingErr> {
        if !self.flush_scheduled {
            self.flush_scheduled = true;
            myself.send_message(RecorderMsg::Flush)?;
        }
        Ok(())
    }

    /// Commits the buffered commands, then the claims, in one transaction.
    async fn flush(&mut self) {
        if self.buffer.is_empty() && self.jobs.is_empty() && self.claims.is_empty() {
            return;
        }
        let mut commands = Vec::with_capacity(self.buffer.len());
        let mut callers = Vec::with_capacity(self.buffer.len());
        let mut replies = Vec::with_capacity(self.buffer.len());
        for (command, caller, reply) in std::mem::take(&mut self.buffer) {
            commands.push(command);
            callers.push(caller);
            replies.push(reply);
        }
        let (jobs, job_replies): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.jobs).into_iter().unzip();
        let (orders, claim_replies): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.claims).into_iter().unzip();
        if !commands.is_empty() {
            metrics::recorder_batch(commands.len());
        }
        // The transaction's span: a child of the first caller's, linked from the others'. A
        // commit of claims alone (every claim tick of an idle node) has none: it would be a
        // trace of its own twice a second.
        let span = match callers.first() {
            Some(first) => {
                tracing::info_span!(parent: first, "store.commit", commands = commands.len(), claims = orders.len(), run_id = tracing::field::Empty)
            }
            None => tracing::Span::none(),
        };
        for caller in callers.iter().skip(1) {
            span.follows_from(caller);
        }
        let (outcomes, created, claimed) = self
            .store
            .apply_and_claim(&commands, &jobs, &orders)
            .instrument(span.clone())
            .await;
        if let Some(Ok(first)) = outcomes.first() {
            span.record("run_id", tracing::field::display(first.run.id));
        }
        // A batch that failed as a whole shares one error: logged once.
        let mut logged: Option<Arc<StoreError>> = None;
        for (outcome, reply) in outcomes.into_iter().zip(replies) {
            match &outcome {
                Ok(applied) => self.announce(applied),
                Err(WriteError::Store(err)) => {
                    if !logged.as_ref().is_some_and(|l| Arc::ptr_eq(l, err)) {
                        tracing::error!(error = %err, "lifecycle write failed");
                        logged = Some(err.clone());
                    }
                }
                Err(refused) => metrics::conflict(refused),
            }
            // The caller may have gone away; the write stands either way.
            let _ = reply.send(outcome);
        }
        for (created, reply) in created.into_iter().zip(job_replies) {
            match &created {
                Ok(job) => job.runs.iter().for_each(|a| self.announce(a)),
                Err(err) => tracing::error!(error = %err, "job creation failed"),
            }
            let _ = reply.send(created);
        }
        for (claimed, reply) in claimed.into_iter().zip(claim_replies) {
            match &claimed {
                Ok(applied) => applied.iter().for_each(|a| self.announce(a)),
                Err(err) => tracing::error!(error = %err, "claim failed"),
            }
            let _ = reply.send(claimed);
        }
    }
}

impl RecorderState {
    /// After a commit: the metrics and the broadcast of a change that took effect.
    fn announce(&self, applied: &Applied) {
        if !applied.created && applied.from.is_none() {
            return; // an idempotent replay: nothing changed
        }
        metrics::transition(&applied.run, applied.from);
        // No receiver is fine: nobody is watching.
        let _ = self.changes.send(StatusChange {
            run_id: applied.run.id,
            from: applied.from,
            to: applied.run.status,
        });
    }
}

/// How the rest of the program reaches the Recorder, across restarts.
#[derive(Clone)]
pub struct RecorderHandle {
    current: watch::Receiver<Option<ActorRef<RecorderMsg>>>,
    changes: broadcast::Sender<StatusChange>,
}

/// Why a command sent to the Recorder did not take effect.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    /// The store's answer: refused by the guard (nothing written), or the database failed.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The Recorder is gone (shutting down, or restarting); the command may or may not have
    /// been applied if the reply was lost mid-flight.
    #[error("the recorder is unavailable")]
    Unavailable,
}

impl From<StoreError> for RecorderError {
    fn from(err: StoreError) -> Self {
        RecorderError::Write(WriteError::Store(Arc::new(err)))
    }
}

impl RecorderHandle {
    pub fn new(
        current: watch::Receiver<Option<ActorRef<RecorderMsg>>>,
        changes: broadcast::Sender<StatusChange>,
    ) -> Self {
        RecorderHandle { current, changes }
    }

    /// Applies one command and waits for its outcome.
    pub async fn apply(&self, mut command: Command) -> Result<Applied, RecorderError> {
        let span = tracing::info_span!("recorder.apply", run_id = tracing::field::Empty);
        match &mut command {
            Command::Transition { run_id, .. } => {
                span.record("run_id", tracing::field::display(run_id));
            }
            // The run's execution, wherever it happens, continues this span's trace.
            Command::Create(new) => new.traceparent = crate::telemetry::traceparent(&span),
        }
        let caller = span.clone();
        let applied = self
            .call(|reply| RecorderMsg::Apply(command, caller, reply))
            .instrument(span.clone())
            .await?
            .map_err(RecorderError::from)?;
        span.record("run_id", tracing::field::display(applied.run.id));
        Ok(applied)
    }

    /// Creates a job and all its runs in one transaction (or finds the one its idempotency
    /// key made) and waits for it.
    pub async fn create_job(&self, mut job: NewJob) -> Result<JobApplied, RecorderError> {
        let span = tracing::info_span!("recorder.create_job", job_id = tracing::field::Empty);
        // The runs' executions, wherever they happen, continue this span's trace.
        job.traceparent = crate::telemetry::traceparent(&span);
        let applied = self
            .call(|reply| RecorderMsg::CreateJob(job, reply))
            .instrument(span.clone())
            .await?
            .map_err(RecorderError::from)?;
        span.record("job_id", tracing::field::display(applied.job.id));
        Ok(applied)
    }

    /// Claims up to `limit` pending runs for `node`: the only way a run starts.
    pub async fn claim(
        &self,
        node: &str,
        limit: u64,
        lease: TimeDelta,
    ) -> Result<Vec<Applied>, RecorderError> {
        let order = ClaimOrder {
            node: node.to_owned(),
            limit,
            lease,
        };
        self.call(|reply| RecorderMsg::Claim { order, reply })
            .await?
            .map_err(|err| WriteError::Store(err).into())
    }

    /// Extends `node`'s leases on `runs`; the ids it still holds.
    pub async fn renew(
        &self,
        node: &str,
        runs: Vec<Uuid>,
        lease: TimeDelta,
    ) -> Result<Vec<Uuid>, RecorderError> {
        self.call(|reply| RecorderMsg::Renew {
            node: node.to_owned(),
            runs,
            lease,
            reply,
        })
        .await?
        .map_err(RecorderError::from)
    }

    async fn call<T: Send + 'static>(
        &self,
        message: impl FnOnce(RpcReplyPort<T>) -> RecorderMsg,
    ) -> Result<T, RecorderError> {
        let Some(actor) = self.current.borrow().clone() else {
            return Err(RecorderError::Unavailable);
        };
        match actor.call(message, None).await {
            Ok(ractor::rpc::CallResult::Success(answer)) => Ok(answer),
            _ => Err(RecorderError::Unavailable),
        }
    }

    /// The current Recorder incarnation's cell (operators' tooling and tests watch restarts
    /// through it).
    pub fn actor_cell(&self) -> Option<ractor::ActorCell> {
        self.current.borrow().as_ref().map(|a| a.get_cell())
    }

    /// Committed status changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<StatusChange> {
        self.changes.subscribe()
    }
}
