//! The only code that writes `runs.status`.
//!
//! Every command is applied as a guarded compare-and-set (`UPDATE runs SET … WHERE id = $1 AND
//! status IN ($sources) [AND guard] RETURNING *`) and commits, in the same transaction, with
//! its audit row and — only when `analytics_consent IS TRUE` — its analytics outbox row. A
//! guard that matches no row is a [`WriteError::Conflict`] (or [`WriteError::NotFound`]) and
//! writes nothing.
//!
//! [`Store::apply`] takes a batch: all commands share one transaction (group commit), each
//! keeping its own guard and its own rows. The rows nothing in the batch reads back — audit
//! and outbox rows, new runs without an idempotency key — are inserted together, a few
//! multi-row statements per batch, just before it commits. Should the database refuse the
//! batch for something a command did, each command is retried alone so one bad command cannot
//! sink the others; a database that is down or locked fails the whole batch at once.
//!
//! Every stamp of a batch is its transaction's time ([`super::time`]: PostgreSQL's `now()`),
//! and on PostgreSQL the transaction also `NOTIFY`s other nodes of the runs it created and
//! cancelled ([`super::notify`]), delivered when it commits.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use entity::runs::{self, Column};
use entity::{job_runs, job_tags, jobs, run_memory};
use sea_orm::sea_query::{Alias, Condition, Expr, Func, IntoIden, Query, TableRef};
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    QueryFilter, QuerySelect, Statement, TryInsertResult,
};
use uuid::Uuid;

use super::convert::{
    class_to_db, memory_to_db, new_run_to_db, run_from_db, stage_to_db, status_from_db,
    status_to_db,
};
use super::jobs::{load_job, metadata_to_db, tag_rows};
use super::records::{Records, insert_all};
use super::{Result, Store, StoreError, notify, queues};
use crate::config::SchedulingConfig;
use crate::domain::{
    Action, Edge, Failure, Job, JobRun, Memory, NewJob, NewRun, Run, RunResults, RunStatus,
};

/// A lifecycle command for the store.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Create a pending run (idempotent per user and `idempotency_key`).
    Create(NewRun),
    /// Move an existing run along an edge.
    Transition { run_id: Uuid, change: Change },
}

/// An edge with what it needs to record. pending → running is not among them: a run starts
/// only by being claimed ([`Store::claim`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// running → completed; with the run's per-shot memory when it asked for it (written
    /// to `run_memory` in the completion's transaction).
    Complete {
        results: RunResults,
        memory: Option<Memory>,
    },
    /// running → failed.
    Fail { failure: Failure, cause: FailCause },
    /// pending | running → cancelled, by the submitter or an operator.
    Cancel { by: Canceller },
    /// running → pending: `node`, shutting down, gives back a run it holds (its claim), so
    /// another node claims it at once (docs/DESIGN.md §4). Its lease ends now: the run's
    /// `started_at` and `claimed_by` are cleared and `lease_expires_at` is the hand-back's
    /// time, which the next claim must follow.
    HandBack { node: String },
}

/// Who cancelled a run: its submitter (through the API or a page), or an operator — at the
/// command line (`qrun run cancel [--reason]`, `qrun user disable`) or signed in to the
/// console (`/admin/runs`, with a reason). The audit row's metadata says which: `"by": "user"`
/// with `cancelled_by`; `"by": "operator"`, with `reason` when one was given and, from the
/// console, `cancelled_by` (the operator's id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Canceller {
    User(Uuid),
    Operator,
    /// An operator who said why (docs/DESIGN.md §15): signed in to the console (`operator`,
    /// their user id) or at the command line (`None`: it knows no user).
    OperatorWithReason {
        operator: Option<Uuid>,
        reason: String,
    },
}

impl Canceller {
    /// The audit metadata's `by`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Canceller::User(_) => "user",
            Canceller::Operator | Canceller::OperatorWithReason { .. } => "operator",
        }
    }
}

impl Change {
    pub fn edge(&self) -> Edge {
        match self {
            Change::Complete { .. } => Edge::Complete,
            Change::Fail { .. } => Edge::Fail,
            Change::Cancel { .. } => Edge::Cancel,
            Change::HandBack { .. } => Edge::HandBack,
        }
    }
}

/// Who failed a run, and for the watchdog, the extra guard it writes under.
#[derive(Clone, Debug, PartialEq)]
pub enum FailCause {
    /// The run's own work failed (prepare, execute or store).
    Executor,
    /// The actor executing the run died.
    Supervisor,
    /// The watchdog: the run must still be running AND have started before `started_before`
    /// or hold a lease that expired before `lease_expired_before`, checked at write time, so
    /// a run that finished (or renewed its lease) since the sweep read it is left alone.
    Watchdog {
        started_before: DateTime<Utc>,
        lease_expired_before: DateTime<Utc>,
    },
}

impl FailCause {
    pub fn as_str(&self) -> &'static str {
        match self {
            FailCause::Executor => "executor",
            FailCause::Supervisor => "supervisor",
            FailCause::Watchdog { .. } => "watchdog",
        }
    }
}

/// A command that took effect.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    /// The run as it is after the command.
    pub run: Run,
    /// The status before the command; `None` for a creation.
    pub from: Option<RunStatus>,
    /// False when a creation found an existing run with the same idempotency key (nothing was
    /// written).
    pub created: bool,
}

/// Why a command did not take effect: the lifecycle's one error type.
#[derive(Clone, Debug, thiserror::Error)]
pub enum WriteError {
    /// The guard refused the edge: the run is `current`, which `edge` does not leave. Nothing
    /// was written.
    #[error("run {run_id} is {current}: cannot {edge:?}")]
    Conflict {
        run_id: Uuid,
        edge: Edge,
        current: RunStatus,
    },
    /// No run has this id. Nothing was written.
    #[error("run {0} does not exist")]
    NotFound(Uuid),
    /// The database failed; shared by every command of a batch that failed together.
    #[error(transparent)]
    Store(Arc<StoreError>),
}

impl WriteError {
    /// Whether the guard refused the command (as opposed to the database failing).
    pub fn refused(&self) -> bool {
        !matches!(self, WriteError::Store(_))
    }
}

/// How many times a batch is begun when the database rolls it back for a concurrent one
/// ([`StoreError::is_concurrency_conflict`]: a deadlock between two nodes' batches that lock
/// the same runs in different orders, a cancel batch and a completion batch say).
const CONFLICT_ATTEMPTS: u32 = 3;

/// A job's creation ([`Store::apply_and_claim`]'s `jobs`): the job and its runs as created, or
/// the job an earlier submission with the same idempotency key created (`created: false`:
/// nothing was written).
#[derive(Clone, Debug, PartialEq)]
pub struct JobApplied {
    pub job: Job,
    /// The job's runs in submission order, each as a creation's [`Applied`].
    pub runs: Vec<Applied>,
    pub created: bool,
}

/// What a batch did: one outcome per command and per job, in order, and the runs each claim
/// started.
pub type BatchOutcome = (
    Vec<std::result::Result<Applied, WriteError>>,
    Vec<std::result::Result<JobApplied, WriteError>>,
    Vec<Claimed>,
);

impl Store {
    /// Applies a batch of commands in one transaction; one outcome per command, in order.
    pub async fn apply(
        &self,
        commands: &[Command],
    ) -> Vec<std::result::Result<Applied, WriteError>> {
        self.apply_and_claim(commands, &[], &[]).await.0
    }

    /// Applies a batch of commands, creates `jobs` (each job with all its runs, or nothing of
    /// it) and then makes `claims` ([`Store::claim`]'s, each after the one before) in one
    /// transaction: one outcome per command and per job, in order, and the runs each claim
    /// started. A claim sees what the commands did (a run they cancelled is not
    /// claimed); the runs they created wait for the next claim (their `created_at` is the
    /// claim's own time).
    ///
    /// A batch the database rolls back for a concurrent one (a deadlock, a serialization
    /// failure) is applied again at once, up to [`CONFLICT_ATTEMPTS`] times in all.
    ///
    /// If the batch's transaction fails, why decides what follows. A transient failure (the
    /// database down, locked or full: [`StoreError::is_transient`]) is every command's and
    /// claim's outcome at once — retrying them one by one would only wait out the same outage
    /// once per command. Any other failure is some command's own doing (a value the database
    /// refuses), so the commands are applied again one by one, and only the guilty fail; then
    /// each claim in its own transaction.
    pub async fn apply_and_claim(
        &self,
        commands: &[Command],
        jobs: &[NewJob],
        claims: &[ClaimOrder],
    ) -> BatchOutcome {
        let mut attempt = 1;
        let err = loop {
            match self.apply_together(commands, jobs, claims).await {
                Ok((outcomes, created, claimed)) => {
                    return (
                        outcomes,
                        created.into_iter().map(Ok).collect(),
                        claimed.into_iter().map(Ok).collect(),
                    );
                }
                // Another batch locked the same runs in another order: begin again.
                Err(err) if err.is_concurrency_conflict() && attempt < CONFLICT_ATTEMPTS => {
                    tracing::info!(error = %err, attempt, "batch rolled back by a concurrent one; applying it again");
                    attempt += 1;
                }
                Err(err) => break Arc::new(err),
            }
        };
        if commands.len() + jobs.len() + claims.len() <= 1 || err.is_transient() {
            return (
                commands
                    .iter()
                    .map(|_| Err(WriteError::Store(err.clone())))
                    .collect(),
                jobs.iter()
                    .map(|_| Err(WriteError::Store(err.clone())))
                    .collect(),
                claims.iter().map(|_| Err(err.clone())).collect(),
            );
        }
        tracing::warn!(error = %err, batch = commands.len(), claims = claims.len(), "batch refused; applying its commands one by one");
        let mut outcomes = Vec::with_capacity(commands.len());
        for command in commands {
            let outcome = match self
                .apply_together(std::slice::from_ref(command), &[], &[])
                .await
            {
                Ok((mut one, _, _)) => one.pop().expect("one outcome per command"),
                Err(err) => Err(WriteError::Store(Arc::new(err))),
            };
            outcomes.push(outcome);
        }
        let mut created = Vec::with_capacity(jobs.len());
        for job in jobs {
            let outcome = match self
                .apply_together(&[], std::slice::from_ref(job), &[])
                .await
            {
                Ok((_, mut one, _)) => Ok(one.pop().expect("one outcome per job")),
                Err(err) => Err(WriteError::Store(Arc::new(err))),
            };
            created.push(outcome);
        }
        let mut claimed = Vec::with_capacity(claims.len());
        for order in claims {
            let runs = self.claim(&order.node, order.limit, order.lease).await;
            claimed.push(runs.map_err(Arc::new));
        }
        (outcomes, created, claimed)
    }

    /// Applies one command in its own transaction.
    pub async fn apply_one(&self, command: Command) -> std::result::Result<Applied, WriteError> {
        self.apply(std::slice::from_ref(&command))
            .await
            .pop()
            .expect("one outcome per command")
    }

    async fn apply_together(
        &self,
        commands: &[Command],
        jobs: &[NewJob],
        claims: &[ClaimOrder],
    ) -> Result<(
        Vec<std::result::Result<Applied, WriteError>>,
        Vec<JobApplied>,
        Vec<Vec<Applied>>,
    )> {
        let txn = self.begin_write().await?;
        let now = self.time.now(&txn).await?;
        let mut inserts = Inserts::default();
        let mut done = if self.is_postgres() {
            complete_together(&txn, commands, now, &mut inserts.records).await?
        } else {
            vec![None; commands.len()]
        };
        let mut outcomes = Vec::with_capacity(commands.len());
        for (command, done) in commands.iter().zip(done.iter_mut()) {
            if let Some(applied) = done.take() {
                outcomes.push(Ok(applied));
                continue;
            }
            let outcome = match command {
                Command::Create(new) => create(&txn, new, now, &mut inserts).await.map(Ok)?,
                Command::Transition { run_id, change } => {
                    transition(&txn, *run_id, change, now, &mut inserts.records).await?
                }
            };
            outcomes.push(outcome);
        }
        for (command, outcome) in commands.iter().zip(&outcomes) {
            if let (
                Command::Transition {
                    change:
                        Change::Complete {
                            memory: Some(memory),
                            ..
                        },
                    ..
                },
                Ok(applied),
            ) = (command, outcome)
            {
                inserts.memory.push(memory_to_db(applied.run.id, memory)?);
            }
        }
        let mut created = Vec::with_capacity(jobs.len());
        for job in jobs {
            created.push(create_job(&txn, job, now, &mut inserts).await?);
        }
        // The commands' moves of the queues' counts before any claim: a claim never waits for
        // a queue, so every wait for one happens here, in `user_id` order.
        let applied = outcomes
            .iter()
            .filter_map(|o| o.as_ref().ok())
            .chain(created.iter().flat_map(|job| &job.runs));
        queues::count(&txn, applied, None).await?;
        let mut claimed = Vec::with_capacity(claims.len());
        for order in claims {
            claimed.push(claim_in(&txn, order, &self.scheduling, now, &mut inserts.records).await?);
        }
        inserts.insert(&txn).await?;
        if self.is_postgres() {
            // A run created or handed back is pending: idle nodes claim it at once.
            let pending = outcomes.iter().any(|o| {
                matches!(o, Ok(Applied { created: true, .. }))
                    || matches!(o, Ok(a) if a.run.status == RunStatus::Pending && a.from.is_some())
            }) || created.iter().any(|job| job.created);
            let cancelled: Vec<Uuid> = outcomes
                .iter()
                .filter_map(|o| o.as_ref().ok())
                .filter(|a| a.run.status == RunStatus::Cancelled && a.from.is_some())
                .map(|a| a.run.id)
                .collect();
            notify::send(&txn, pending, &cancelled).await?;
        }
        txn.commit().await?;
        Ok((outcomes, created, claimed))
    }
}

/// What a batch inserts once its commands are applied, in a few multi-row statements: the new
/// runs without an idempotency key (nothing can conflict with them, and nothing in the batch
/// can refer to them: their ids are not known outside yet), the completed runs' per-shot
/// memory, then every audit and outbox row.
#[derive(Default)]
struct Inserts {
    runs: Vec<runs::ActiveModel>,
    /// The new jobs' runs and tags (after their runs: `job_runs` refers to them).
    job_runs: Vec<job_runs::ActiveModel>,
    job_tags: Vec<job_tags::ActiveModel>,
    memory: Vec<run_memory::ActiveModel>,
    records: Records,
}

impl Inserts {
    async fn insert(self, txn: &DatabaseTransaction) -> Result<()> {
        insert_all(txn, self.runs).await?;
        insert_all(txn, self.job_runs).await?;
        insert_all(txn, self.job_tags).await?;
        // One statement each: a run's memory may be megabytes.
        for row in self.memory {
            run_memory::Entity::insert(row)
                .exec_without_returning(txn)
                .await?;
        }
        self.records.insert(txn).await
    }
}

async fn create(
    txn: &DatabaseTransaction,
    new: &NewRun,
    now: DateTime<Utc>,
    inserts: &mut Inserts,
) -> Result<Applied> {
    let run = Run::pending(Uuid::now_v7(), new.clone(), now);
    let row = new_run_to_db(&run)?;
    let created = |run| Applied {
        run,
        from: None,
        created: true,
    };
    let traceparent = new.traceparent.as_deref();
    if new.idempotency_key.is_none() {
        inserts.runs.push(row);
        inserts.records.add_requested(&run, traceparent, now);
        return Ok(created(run));
    }
    // Without RETURNING: the id is ours, so the row needs no read-back; and sea-orm 2.0.4
    // reports a conflicted `DO NOTHING … RETURNING` as RecordNotFound rather than Conflicted.
    let inserted = runs::Entity::insert(row)
        .on_conflict_do_nothing_on([Column::UserId, Column::IdempotencyKey])
        .exec_without_returning(txn)
        .await?;
    if matches!(inserted, TryInsertResult::Inserted(1)) {
        inserts.records.add_requested(&run, traceparent, now);
        return Ok(created(run));
    }
    let existing = runs::Entity::find()
        .filter(Column::UserId.eq(new.user_id))
        .filter(Column::IdempotencyKey.eq(new.idempotency_key.clone()))
        .one(txn)
        .await?
        .ok_or_else(|| {
            StoreError::Database(DbErr::Custom(
                "a run insert was refused without an idempotency conflict".into(),
            ))
        })?;
    Ok(Applied {
        run: run_from_db(existing)?,
        from: None,
        created: false,
    })
}

/// Creates job `new` in `txn`: its row, and each of its runs pending as [`create`] makes one
/// without an idempotency key (its `run.requested` rows in `inserts`), with their tags and
/// places in `inserts` — or, when the user already has a job with `new`'s idempotency key,
/// that job (nothing written; the caller compares what it holds).
async fn create_job(
    txn: &DatabaseTransaction,
    new: &NewJob,
    now: DateTime<Utc>,
    inserts: &mut Inserts,
) -> Result<JobApplied> {
    let id = Uuid::now_v7();
    let inserted = jobs::Entity::insert(jobs::ActiveModel {
        id: sea_orm::ActiveValue::Set(id),
        user_id: sea_orm::ActiveValue::Set(new.user_id),
        idempotency_key: sea_orm::ActiveValue::Set(new.idempotency_key.clone()),
        created_at: sea_orm::ActiveValue::Set(now),
        metadata: sea_orm::ActiveValue::Set(metadata_to_db(&new.metadata)),
    })
    .on_conflict_do_nothing_on([jobs::Column::UserId, jobs::Column::IdempotencyKey])
    .exec_without_returning(txn)
    .await?;
    if !matches!(inserted, TryInsertResult::Inserted(1)) {
        let existing = jobs::Entity::find()
            .filter(jobs::Column::UserId.eq(new.user_id))
            .filter(jobs::Column::IdempotencyKey.eq(new.idempotency_key.clone()))
            .one(txn)
            .await?;
        let job = match existing {
            Some(row) => load_job(txn, row.id).await?,
            None => None,
        }
        .ok_or_else(|| {
            StoreError::Database(DbErr::Custom(
                "a job insert was refused without an idempotency conflict".into(),
            ))
        })?;
        let runs = job
            .runs
            .iter()
            .map(|member| Applied {
                run: member.run.clone(),
                from: None,
                created: false,
            })
            .collect();
        return Ok(JobApplied {
            job,
            runs,
            created: false,
        });
    }
    inserts.job_tags.extend(tag_rows(id, &new.tags));
    let mut members = Vec::with_capacity(new.runs.len());
    for (position, (name, spec)) in new.runs.iter().enumerate() {
        let run = Run::pending(
            Uuid::now_v7(),
            NewRun {
                user_id: new.user_id,
                idempotency_key: None,
                spec: spec.clone(),
                traceparent: new.traceparent.clone(),
            },
            now,
        );
        inserts.runs.push(new_run_to_db(&run)?);
        inserts
            .records
            .add_requested(&run, new.traceparent.as_deref(), now);
        inserts.job_runs.push(job_runs::ActiveModel {
            job_id: sea_orm::ActiveValue::Set(id),
            position: sea_orm::ActiveValue::Set(
                i32::try_from(position)
                    .map_err(|_| StoreError::Corrupt(format!("job position {position}")))?,
            ),
            run_id: sea_orm::ActiveValue::Set(run.id),
            name: sea_orm::ActiveValue::Set(name.clone()),
        });
        members.push(JobRun {
            name: name.clone(),
            run,
        });
    }
    let runs = members
        .iter()
        .map(|member| Applied {
            run: member.run.clone(),
            from: None,
            created: true,
        })
        .collect();
    Ok(JobApplied {
        job: Job {
            id,
            user_id: new.user_id,
            tags: new.tags.clone(),
            created_at: now,
            metadata: new.metadata.clone(),
            runs: members,
        },
        runs,
        created: true,
    })
}

/// The completions of a batch as one statement (PostgreSQL): every `running → completed` of
/// the batch, each under the one guard every edge writes under ([`edge_guard`]) and writing
/// what every completion writes ([`completion_writes`]), joined to its results passed as one
/// JSON parameter, so the statement's text is the same for any batch size (prepared once per
/// connection):
///
/// ```sql
/// UPDATE runs SET status = 'completed', results = v.results, completed_at = $now,
///        lease_expires_at = NULL
/// FROM jsonb_populate_recordset(NULL::runs, CAST($batch AS jsonb)) AS v
/// WHERE runs.id = v.id AND <edge_guard(complete, $now)>
/// RETURNING runs.*
/// ```
///
/// One entry per command: the completion that took effect (its audit and outbox rows added to
/// `records`), or `None` — for any other command, a completion of a run another command of
/// the batch names too (applied in its turn, so the batch's order still decides), and a
/// completion whose guard missed, which the caller applies alone (a conflict or a lagging
/// clock, told apart there). Fewer than two completions are left to the caller too.
async fn complete_together(
    txn: &DatabaseTransaction,
    commands: &[Command],
    now: DateTime<Utc>,
    records: &mut Records,
) -> Result<Vec<Option<Applied>>> {
    let mut done = vec![None; commands.len()];
    // How many commands of the batch name each run: a completion shares its run with no other
    // command, or it is applied in its turn (the batch's order decides between them).
    let mut named = std::collections::HashMap::<Uuid, usize>::new();
    for command in commands {
        if let Command::Transition { run_id, .. } = command {
            *named.entry(*run_id).or_default() += 1;
        }
    }
    let mut rows = Vec::new();
    let mut at = std::collections::HashMap::new();
    for (i, command) in commands.iter().enumerate() {
        if let Command::Transition {
            run_id,
            change: Change::Complete { results, .. },
        } = command
            && named[run_id] == 1
        {
            let results = serde_json::to_value(results)
                .map_err(|e| StoreError::Corrupt(format!("results: {e}")))?;
            rows.push(serde_json::json!({"id": run_id, "results": results}));
            at.insert(*run_id, i);
        }
    }
    if rows.len() < 2 {
        return Ok(done);
    }
    let completed = runs::Entity::find()
        .from_raw_sql(completions_statement(rows, now))
        .all(txn)
        .await?;
    for model in completed {
        let i = at[&model.id];
        let Command::Transition { change, .. } = &commands[i] else {
            unreachable!("only completions are joined")
        };
        let run = run_from_db(model)?;
        records.add(
            &run,
            Action::Completed,
            Some(RunStatus::Running),
            Some(change),
            now,
        );
        done[i] = Some(Applied {
            run,
            from: Some(RunStatus::Running),
            created: false,
        });
    }
    Ok(done)
}

/// [`complete_together`]'s statement: `rows` are `{"id", "results"}` objects.
fn completions_statement(rows: Vec<serde_json::Value>, now: DateTime<Utc>) -> Statement {
    use sea_orm::sea_query::ExprTrait;
    let batch = Alias::new("v");
    let mut update = Query::update();
    update
        .table(runs::Entity)
        .values(completion_writes(
            Expr::col((batch.clone(), Column::Results)),
            now,
        ))
        .from(TableRef::FunctionCall(
            Func::cust("jsonb_populate_recordset")
                .arg(Expr::cust("NULL::runs"))
                .arg(Expr::val(serde_json::Value::Array(rows)).cast_as("jsonb")),
            batch.clone().into_iden(),
        ))
        .cond_where(
            Condition::all()
                .add(Expr::col((runs::Entity, Column::Id)).equals((batch, Column::Id)))
                .add(edge_guard(Edge::Complete, now)),
        )
        .returning(
            Query::returning()
                .columns(<runs::Column as sea_orm::Iterable>::iter().map(|c| (runs::Entity, c))),
        );
    DbBackend::Postgres.build(&update)
}

/// The runs one claim started, oldest first; a failure may be shared by a whole batch.
pub type Claimed = std::result::Result<Vec<Applied>, Arc<StoreError>>;

/// A node's order to start pending runs ([`Store::claim`], [`Store::apply_and_claim`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimOrder {
    pub node: String,
    /// Runs to start at most.
    pub limit: u64,
    /// Each run's lease, from the transaction's time.
    pub lease: TimeDelta,
}

/// Starts up to `order.limit` pending runs created before `now` for `order.node`, in `txn`,
/// shared among their users by `scheduling` ([`super::queues`]: the fair-share claim, one
/// statement on both databases); moves the queues' counts; adds the runs' `run.started` audit
/// rows and consented `run_started` events to `records`. The runs, oldest first. Time moves
/// forward: a run committed after this claim read the clock waits for the next claim.
async fn claim_in(
    txn: &DatabaseTransaction,
    order: &ClaimOrder,
    scheduling: &SchedulingConfig,
    now: DateTime<Utc>,
    records: &mut Records,
) -> Result<Vec<Applied>> {
    if order.limit == 0 {
        return Ok(Vec::new());
    }
    let statement = queues::claim_statement(txn.get_database_backend(), order, scheduling, now);
    let claimed = runs::Entity::find()
        .from_raw_sql(statement)
        .all(txn)
        .await?;
    let mut applied = Vec::with_capacity(claimed.len());
    for model in claimed {
        let run = run_from_db(model)?;
        records.add(&run, Action::Started, Some(RunStatus::Pending), None, now);
        applied.push(Applied {
            run,
            from: Some(RunStatus::Pending),
            created: false,
        });
    }
    applied.sort_by_key(|a| (a.run.created_at, a.run.id));
    queues::count(txn, &applied, Some(now)).await?;
    Ok(applied)
}

/// How many times an edge is retried when only its time guard missed.
const TIME_RETRIES: usize = 3;

async fn transition(
    txn: &DatabaseTransaction,
    run_id: Uuid,
    change: &Change,
    now: DateTime<Utc>,
    records: &mut Records,
) -> Result<std::result::Result<Applied, WriteError>> {
    let edge = change.edge();
    let mut now = now;
    for _ in 0..TIME_RETRIES {
        if let Some(model) = guarded_update(txn, run_id, change, now).await? {
            let from = match edge {
                // A cancelled run that had started was running; one that had not was pending.
                Edge::Cancel if model.started_at.is_some() => RunStatus::Running,
                Edge::Cancel => RunStatus::Pending,
                Edge::Start => RunStatus::Pending,
                Edge::Complete | Edge::Fail | Edge::HandBack => RunStatus::Running,
            };
            let run = run_from_db(model)?;
            records.add(&run, edge.action(), Some(from), Some(change), now);
            return Ok(Ok(Applied {
                run,
                from: Some(from),
                created: false,
            }));
        }
        match current(txn, run_id).await? {
            None => return Ok(Err(WriteError::NotFound(run_id))),
            Some((status, latest)) if edge.sources().contains(&status) && latest >= now => {
                // Only the time guard missed: this clock is behind the run's last stamp (a
                // concurrent writer, or another node's clock). Move just past it.
                now = now.max(latest + chrono::TimeDelta::microseconds(1));
            }
            Some((status, _)) => {
                return Ok(Err(WriteError::Conflict {
                    run_id,
                    edge,
                    current: status,
                }));
            }
        }
    }
    Err(StoreError::Corrupt(format!(
        "run {run_id}: {edge:?} kept missing its time guard"
    )))
}

/// The condition every edge writes under, at `now`: the run's status is one the edge leaves,
/// and time moves forward (`now` after the run's last stamp — its creation, its start, or for
/// a run handed back and not started again, its hand-back, `lease_expires_at` — so every
/// timeline is strictly increasing). Columns are qualified with `runs`, so it reads the same
/// in a batch's `UPDATE … FROM` ([`complete_together`]).
fn edge_guard(edge: Edge, now: DateTime<Utc>) -> Condition {
    let sources = edge.sources().into_iter().map(status_to_db);
    Condition::all()
        .add(Column::Status.is_in(sources))
        .add(Column::CreatedAt.lt(now))
        .add(
            Condition::any()
                .add(Column::StartedAt.is_null())
                .add(Column::StartedAt.lt(now)),
        )
        .add(
            Condition::any()
                .add(Column::StartedAt.is_not_null())
                .add(Column::LeaseExpiresAt.is_null())
                .add(Column::LeaseExpiresAt.lt(now)),
        )
}

/// What every `running → completed` writes at `now`, with its `results` (a value, or a column
/// of a batch).
fn completion_writes(results: Expr, now: DateTime<Utc>) -> [(Column, Expr); 4] {
    [
        (Column::Status, status_value(RunStatus::Completed)),
        (Column::Results, results),
        (Column::CompletedAt, Expr::val(now)),
        (
            Column::LeaseExpiresAt,
            Expr::val(Option::<DateTime<Utc>>::None),
        ),
    ]
}

/// A status as the value its column stores.
fn status_value(status: RunStatus) -> Expr {
    Expr::val(status_to_db(status).to_value())
}

/// The compare-and-set of one edge at `now`: [`edge_guard`] on the run, and the watchdog's
/// extra condition. The updated row, if any.
async fn guarded_update(
    txn: &DatabaseTransaction,
    run_id: Uuid,
    change: &Change,
    now: DateTime<Utc>,
) -> Result<Option<runs::Model>> {
    let edge = change.edge();
    let mut guard = Condition::all()
        .add(Column::Id.eq(run_id))
        .add(edge_guard(edge, now));
    let ended = |status| {
        vec![
            (Column::Status, status_value(status)),
            (Column::CompletedAt, Expr::val(now)),
            (
                Column::LeaseExpiresAt,
                Expr::val(Option::<DateTime<Utc>>::None),
            ),
        ]
    };
    let writes = match change {
        Change::Complete { results, .. } => {
            let json = serde_json::to_value(results)
                .map_err(|e| StoreError::Corrupt(format!("results: {e}")))?;
            completion_writes(Expr::val(json), now).into()
        }
        Change::Fail { failure, cause } => {
            if let FailCause::Watchdog {
                started_before,
                lease_expired_before,
            } = cause
            {
                guard = guard.add(
                    Condition::any()
                        .add(Column::StartedAt.lt(*started_before))
                        .add(Column::LeaseExpiresAt.lt(*lease_expired_before)),
                );
            }
            let mut writes = ended(RunStatus::Failed);
            writes.extend([
                (
                    Column::ErrorClass,
                    Expr::val(class_to_db(failure.class).to_value()),
                ),
                (
                    Column::ErrorStage,
                    Expr::val(stage_to_db(failure.stage).to_value()),
                ),
                (
                    Column::ErrorMessage,
                    Expr::val(failure.message().to_owned()),
                ),
            ]);
            writes
        }
        Change::Cancel { .. } => ended(RunStatus::Cancelled),
        Change::HandBack { node } => {
            // Only the node holding the run gives it back.
            guard = guard.add(Column::ClaimedBy.eq(node.as_str()));
            vec![
                (Column::Status, status_value(RunStatus::Pending)),
                (Column::StartedAt, Expr::val(Option::<DateTime<Utc>>::None)),
                (Column::ClaimedBy, Expr::val(Option::<String>::None)),
                (Column::LeaseExpiresAt, Expr::val(now)),
            ]
        }
    };
    let mut update = runs::Entity::update_many();
    for (column, value) in writes {
        update = update.col_expr(column, value);
    }
    let updated = update.filter(guard).exec_with_returning(txn).await?;
    Ok(updated.into_iter().next())
}

/// A run's status, `created_at`, `started_at` and `lease_expires_at`.
type Stamps = (
    entity::enums::RunStatus,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

/// A run's status and its latest timestamp, if it exists.
async fn current(
    txn: &DatabaseTransaction,
    run_id: Uuid,
) -> Result<Option<(RunStatus, DateTime<Utc>)>> {
    let row: Option<Stamps> = runs::Entity::find_by_id(run_id)
        .select_only()
        .column(Column::Status)
        .column(Column::CreatedAt)
        .column(Column::StartedAt)
        .column(Column::LeaseExpiresAt)
        .into_tuple()
        .one(txn)
        .await?;
    Ok(row.map(|(status, created, started, lease)| {
        // A run not started that holds a lease's end was handed back then (edge_guard).
        let last = match started {
            Some(started) => started,
            None => lease.unwrap_or(created),
        };
        (status_from_db(status), last.max(created))
    }))
}

impl Store {
    /// Claims up to `limit` pending runs for `node`, oldest first, each with a lease of `lease`
    /// from the transaction's time ([`super::time`]), in a transaction of its own (see
    /// [`claim_in`]); [`Store::apply_and_claim`] makes claims in a batch's transaction.
    pub async fn claim(&self, node: &str, limit: u64, lease: TimeDelta) -> Result<Vec<Applied>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let order = ClaimOrder {
            node: node.to_owned(),
            limit,
            lease,
        };
        let txn = self.begin_write().await?;
        let now = self.time.now(&txn).await?;
        let mut records = Records::default();
        let applied = claim_in(&txn, &order, &self.scheduling, now, &mut records).await?;
        if applied.is_empty() {
            return Ok(applied);
        }
        records.insert(&txn).await?;
        txn.commit().await?;
        Ok(applied)
    }

    /// Extends the leases `node` holds on `run_ids` to `lease` from now (the database's now,
    /// inside the statement: [`super::time`]); returns the ids it still holds (running and
    /// claimed by it). A run missing from the answer was cancelled or recovered elsewhere: its
    /// execution must stop.
    pub async fn renew_leases(
        &self,
        node: &str,
        run_ids: &[Uuid],
        lease: TimeDelta,
    ) -> Result<Vec<Uuid>> {
        if run_ids.is_empty() {
            return Ok(Vec::new());
        }
        let renewed = runs::Entity::update_many()
            .col_expr(Column::LeaseExpiresAt, self.time.now_plus(lease))
            .filter(Column::Id.is_in(run_ids.iter().copied()))
            .filter(Column::Status.eq(status_to_db(RunStatus::Running)))
            .filter(Column::ClaimedBy.eq(node))
            .exec_with_returning(&self.db)
            .await?;
        Ok(renewed.into_iter().map(|r| r.id).collect())
    }

    /// Up to `limit` runs stranded in `running`: started before `ttl_horizon`, or holding a
    /// lease that expired before `now`. Read only; the watchdog fails each with a guard that
    /// re-checks the same condition at write time.
    pub async fn stranded_runs(
        &self,
        ttl_horizon: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<Uuid>> {
        Ok(runs::Entity::find()
            .select_only()
            .column(Column::Id)
            .filter(super::runs::stranded(ttl_horizon, now))
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::QueryTrait;

    /// A prepared statement is cached by its text: a batch of completions' must not depend on
    /// its size.
    #[test]
    fn statement_texts_do_not_depend_on_sizes() {
        let now = Utc::now();
        let row = |i: u128| serde_json::json!({"id": Uuid::from_u128(i), "results": {}});
        let two = completions_statement(vec![row(1), row(2)], now);
        let many = completions_statement((0..64).map(row).collect(), now);
        assert_eq!(two.sql, many.sql);
    }

    #[test]
    fn a_batch_of_completions_writes_what_one_completion_writes() {
        let now = Utc::now();
        let sql = completions_statement(vec![], now).sql;
        let one = runs::Entity::update_many()
            .col_expr(Column::Id, Expr::val(Uuid::nil()))
            .filter(edge_guard(Edge::Complete, now))
            .build(DbBackend::Postgres)
            .sql;
        let guard = one.split(" WHERE ").nth(1).unwrap();
        // The guard's text, with its placeholders renumbered, is in the batch's WHERE.
        let strip = |s: &str| {
            s.chars()
                .filter(|c| !c.is_ascii_digit() && *c != '$')
                .collect::<String>()
        };
        assert!(strip(&sql).contains(&strip(guard)), "{sql}\n{guard}");
        assert!(
            sql.contains("FROM jsonb_populate_recordset(NULL::runs, CAST("),
            "{sql}"
        );
        assert!(sql.contains("\"results\" = \"v\".\"results\""), "{sql}");
    }
}
