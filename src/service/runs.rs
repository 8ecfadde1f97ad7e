//! Runs: submit, read, list, cancel, audit timeline, a page view.

use uuid::Uuid;

use super::access::{can_see, can_see_runs};
use super::limits::Counted;
use super::{Service, ServiceError};
use crate::actors::recorder::RecorderError;
use qrun_engine::Format;

use crate::domain::{
    AuditEntry, Circuit, CircuitVersion, MemoryPage, NewRun, Parameters, QueueStanding, Run,
    RunOptions, RunSpec, RunStatus, User,
};
use crate::store::runs::RunFilter;
use crate::store::{Canceller, Change, Command};

/// Which circuit a submission names.
#[derive(Clone, Debug)]
pub enum CircuitRef {
    Id(Uuid),
    /// `owner/name`
    Name {
        owner: String,
        name: String,
    },
}

/// A validated submission.
#[derive(Clone, Debug)]
pub struct Submission {
    pub circuit: CircuitRef,
    pub version: Option<i32>,
    pub backend_type: String,
    pub backend_name: String,
    pub shots: u64,
    pub consent: bool,
    pub idempotency_key: Option<String>,
    /// Values for the circuit's parameters, checked against its declarations.
    pub parameters: Parameters,
    /// The sampling seed; `None` for a fresh one.
    pub seed: Option<u64>,
    /// Whether to record every shot's outcome (bounded by `executor.max_memory_bits`).
    pub memory: bool,
    /// The backend's run options, checked against what it accepts (`admission`).
    pub options: RunOptions,
}

/// One `input` a circuit version declares, which a run of it binds to a number
/// (docs/DESIGN.md §12): its `name` and its type as declared (`ty`, e.g. `float[64]`).
pub use qrun_engine::Input as DeclaredInput;

/// The run a submission produced, and whether it is new (false: an idempotent replay).
pub struct Submitted {
    pub run: Run,
    pub circuit: Circuit,
    pub created: bool,
}

/// The `input` parameters `version` declares, in declaration order: an OpenQASM 3 source's
/// `input`s (read on the blocking pool); none for OpenQASM 2, nor for Python, whose free
/// parameters only its runner knows. The run form shows a field for each.
pub async fn declared_inputs(version: &CircuitVersion) -> Result<Vec<DeclaredInput>, ServiceError> {
    if Format::from_manifest(&version.manifest.format) != Some(Format::OpenQasm3) {
        return Ok(Vec::new());
    }
    let source = version.source.clone();
    Ok(
        tokio::task::spawn_blocking(move || qrun_engine::inputs(&source, Format::OpenQasm3))
            .await
            .map_err(|e| ServiceError::Internal(anyhow::anyhow!("reading inputs: {e}")))?
            // Uploaded sources parse; one that does not fails its run with the reason.
            .unwrap_or_default(),
    )
}

/// The answer to an `Idempotency-Key` replayed with a different submission (422).
pub(super) fn idempotency_key_reused() -> ServiceError {
    ServiceError::Unprocessable {
        code: "idempotency_key_reused",
        message: "this Idempotency-Key was already used for a different submission".into(),
    }
}

/// Longest accepted `Idempotency-Key`.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// What to list of the caller's own runs.
pub struct ListQuery {
    pub status: Option<RunStatus>,
    pub circuit: Option<CircuitRef>,
    /// `(type, name)`.
    pub backend: Option<(String, String)>,
    /// Ended (`completed_at`) at or after.
    pub ended_since: Option<chrono::DateTime<chrono::Utc>>,
    pub before: Option<(chrono::DateTime<chrono::Utc>, Uuid)>,
    pub limit: u64,
}

impl Service {
    /// Resolves a circuit reference as `viewer` may see it.
    pub async fn resolve_circuit(
        &self,
        viewer: Option<&User>,
        reference: &CircuitRef,
    ) -> Result<Circuit, ServiceError> {
        let circuit = match reference {
            CircuitRef::Id(id) => self.store.circuit(*id).await?,
            CircuitRef::Name { owner, name } => self.store.circuit_by_name(owner, name).await?,
        };
        circuit
            .filter(|c| can_see(viewer, c))
            .ok_or(ServiceError::NotFound("circuit"))
    }

    /// Creates a pending run (or returns the one an earlier request with the same idempotency
    /// key created).
    #[tracing::instrument(name = "service.submit", skip_all, fields(run_id = tracing::field::Empty))]
    pub async fn submit(
        &self,
        user: &User,
        submission: Submission,
    ) -> Result<Submitted, ServiceError> {
        let (new, circuit) = self.check_submission(user, submission).await?;
        self.admit(user).await?;
        let applied = self
            .recorder
            .apply(Command::Create(new.clone()))
            .await
            .map_err(|e| match e {
                RecorderError::Write(refused) if refused.refused() => {
                    ServiceError::Internal(anyhow::anyhow!("creation refused: {refused}"))
                }
                other => other.into(),
            })?;
        let run = applied.run;
        crate::telemetry::note_run(run.id);
        if applied.created {
            self.counts.admitted(Counted::Pending);
            self.counts.admitted(Counted::ActiveOf(user.id));
        } else if run.spec != new.spec {
            return Err(idempotency_key_reused());
        }
        Ok(Submitted {
            run,
            circuit,
            created: applied.created,
        })
    }

    /// What `submission` creates, checked against the rules and its circuit (everything but
    /// admission, docs/DESIGN.md §3): the backend, the shots, the circuit and version `user`
    /// may see, the format, the parameters and the memory bound. The run to create and its
    /// circuit. A job's runs are checked one by one with it.
    pub(super) async fn check_submission(
        &self,
        user: &User,
        submission: Submission,
    ) -> Result<(NewRun, Circuit), ServiceError> {
        let backend = self
            .rules
            .backend(&submission.backend_type, &submission.backend_name)
            .ok_or_else(|| {
                ServiceError::invalid(
                    "unknown_backend",
                    format!(
                        "no backend `{}/{}`; available: {}",
                        submission.backend_type,
                        submission.backend_name,
                        self.rules
                            .backends
                            .iter()
                            .map(|b| format!("{}/{}", b.kind, b.name))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
        let limit = backend.max_shots;
        if submission.shots == 0 || submission.shots > limit {
            return Err(ServiceError::invalid(
                "invalid_shots",
                format!("shots must be between 1 and {limit} on this backend"),
            ));
        }
        let circuit = self
            .resolve_circuit(Some(user), &submission.circuit)
            .await?;
        let version = self
            .store
            .circuit_version(circuit.id, submission.version)
            .await?
            .ok_or(ServiceError::NotFound("circuit version"))?;
        let format = &version.manifest.format;
        if !backend.formats.contains(format) {
            return Err(ServiceError::invalid(
                "unsupported_format",
                format!(
                    "backend `{}/{}` does not execute {format} circuits; it accepts {}",
                    backend.kind,
                    backend.name,
                    backend.formats.join(", ")
                ),
            ));
        }
        super::admission::check_options(backend, &submission.options)?;
        let wants_bits = submission.memory && self.rules.max_memory_bits > 0;
        let classical_bits = self
            .admission
            .check(
                backend,
                &version,
                &submission.parameters,
                &submission.options,
                wants_bits,
            )
            .await?;
        if submission.memory {
            self.check_memory(&version, &submission, classical_bits)?;
        }
        let new = NewRun {
            traceparent: None,
            user_id: user.id,
            idempotency_key: submission.idempotency_key,
            spec: RunSpec {
                circuit_id: circuit.id,
                circuit_version: version.version,
                backend_type: submission.backend_type,
                backend_name: submission.backend_name,
                framework: version.manifest.framework,
                shots: submission.shots,
                analytics_consent: Some(submission.consent),
                parameters: submission.parameters,
                seed: submission.seed,
                memory: submission.memory,
                options: submission.options,
            },
        };
        Ok((new, circuit))
    }

    /// Refuses a run asking for per-shot memory whose shots × classical bits exceed
    /// `executor.max_memory_bits` (400 `memory_too_large`): an OpenQASM circuit's bits are
    /// `classical_bits`, as admission lowered the program with the run's parameters; a Python
    /// circuit's, or an OpenQASM one the engine does not lower (a runner's to read: the
    /// simulator has refused it already), at most [`qrun_engine::MAX_CLBITS`] (only its runner
    /// knows them).
    fn check_memory(
        &self,
        version: &CircuitVersion,
        submission: &Submission,
        classical_bits: Option<u32>,
    ) -> Result<(), ServiceError> {
        let limit = self.rules.max_memory_bits;
        let too_large = |message: String| ServiceError::invalid("memory_too_large", message);
        if limit == 0 {
            return Err(too_large(
                "this service keeps no per-shot memory (executor.max_memory_bits = 0)".into(),
            ));
        }
        let bits = match Format::from_manifest(&version.manifest.format) {
            Some(_) => classical_bits.map_or(qrun_engine::MAX_CLBITS, u64::from),
            None => qrun_engine::MAX_CLBITS,
        };
        let size = submission.shots.saturating_mul(bits);
        if size > limit {
            return Err(too_large(format!(
                "per-shot memory of {} shots × {bits} classical bits is {size} bits; this \
                 service keeps at most {limit} (executor.max_memory_bits){}",
                submission.shots,
                if Format::from_manifest(&version.manifest.format).is_none() {
                    ", counting 1024 bits for a Python or QPY circuit"
                } else {
                    ""
                }
            )));
        }
        Ok(())
    }

    /// Bounds the work at the edge: a user submitting too fast or with too much in flight is 429,
    /// a full queue is 503, all with Retry-After. (The counts are checked before the insert, so
    /// concurrent submissions may pass a cap by a few; it bounds the queue, it is not a quota
    /// ledger.)
    pub(super) async fn admit(&self, user: &User) -> Result<(), ServiceError> {
        let rules = &self.rules;
        if let Err(wait) = self.submissions.check(user.id) {
            return Err(ServiceError::TooMany {
                code: "rate_limited",
                message: format!(
                    "you are submitting faster than {} runs per second; slow down",
                    rules.user_submissions_per_s
                ),
                retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
            });
        }
        if !self.below(Counted::Pending, rules.max_pending_runs).await? {
            return Err(ServiceError::Overloaded {
                message: "too many runs are waiting; try again shortly".into(),
                retry_after: 5,
            });
        }
        if !self
            .below(Counted::ActiveOf(user.id), rules.max_active_runs_per_user)
            .await?
        {
            return Err(ServiceError::TooMany {
                code: "too_many_runs",
                message: format!(
                    "you have {} runs pending or running, the most allowed; wait for some to finish",
                    rules.max_active_runs_per_user
                ),
                retry_after: 5,
            });
        }
        Ok(())
    }

    /// Whether a count is below its cap: the cached count if it says so, else a fresh one —
    /// read by this request, or by the one that was reading it when this one asked.
    async fn below(&self, counted: Counted, cap: u64) -> Result<bool, ServiceError> {
        if self.counts.below(counted, cap) {
            return Ok(true);
        }
        let asked = std::time::Instant::now();
        let _reading = self.counts.refresh_gate(counted).lock().await;
        if let Some(value) = self.counts.read_since(counted, asked) {
            return Ok(value < cap);
        }
        let at = std::time::Instant::now();
        let value = match counted {
            Counted::Pending => self.store.count_pending().await?,
            Counted::ActiveOf(user) => self.store.count_active(user).await?,
        };
        self.counts.read(counted, value, at);
        Ok(value < cap)
    }

    /// A run and its circuit, if `viewer` may see them.
    #[tracing::instrument(name = "service.run", skip_all, fields(run_id = tracing::field::Empty))]
    pub async fn run(
        &self,
        viewer: Option<&User>,
        run_id: Uuid,
    ) -> Result<(Run, Circuit), ServiceError> {
        crate::telemetry::note_run(run_id);
        let run = self
            .store
            .run(run_id)
            .await?
            .ok_or(ServiceError::NotFound("run"))?;
        let circuit = self
            .store
            .circuit(run.spec.circuit_id)
            .await?
            .filter(|c| can_see_runs(viewer, c))
            .ok_or(ServiceError::NotFound("run"))?;
        Ok((run, circuit))
    }

    /// Where `run` stands if it is pending ([`QueueStanding`], [`crate::store::Store::queue_standing`]).
    pub async fn standing(&self, run: &Run) -> Result<Option<QueueStanding>, ServiceError> {
        Ok(self.store.queue_standing(run).await?)
    }

    /// A run's audit timeline, if `viewer` may see the run.
    pub async fn run_audit(
        &self,
        viewer: Option<&User>,
        run_id: Uuid,
    ) -> Result<(Run, Circuit, Vec<AuditEntry>), ServiceError> {
        let (run, circuit) = self.run(viewer, run_id).await?;
        let entries = self.store.audit_timeline(run.id).await?;
        Ok((run, circuit, entries))
    }

    /// Cancels a pending or running run; only its submitter may.
    #[tracing::instrument(name = "service.cancel", skip_all, fields(run_id = %run_id))]
    pub async fn cancel(&self, user: &User, run_id: Uuid) -> Result<(Run, Circuit), ServiceError> {
        crate::telemetry::note_run(run_id);
        let (run, circuit) = self.run(Some(user), run_id).await?;
        if run.user_id != user.id {
            return Err(ServiceError::Forbidden(
                "only the run's submitter may cancel it".into(),
            ));
        }
        let applied = self
            .recorder
            .apply(Command::Transition {
                run_id,
                change: Change::Cancel {
                    by: Canceller::User(user.id),
                },
            })
            .await?;
        Ok((applied.run, circuit))
    }

    /// A page of the caller's runs (each with its circuit), newest first, and whether more follow.
    pub async fn list_runs(
        &self,
        user: &User,
        query: ListQuery,
    ) -> Result<(Vec<(Run, Circuit)>, bool), ServiceError> {
        let circuit_id = match &query.circuit {
            Some(reference) => match self.resolve_circuit(Some(user), reference).await {
                Ok(c) => Some(c.id),
                // An unknown circuit simply has none of the caller's runs.
                Err(ServiceError::NotFound(_)) => return Ok((Vec::new(), false)),
                Err(e) => return Err(e),
            },
            None => None,
        };
        let mut runs = self
            .store
            .list_runs(&RunFilter {
                user_id: Some(user.id),
                status: query.status,
                circuit_id,
                backend: query.backend,
                ended_since: query.ended_since,
                before: query.before,
                limit: query.limit + 1,
                ..RunFilter::default()
            })
            .await?;
        let more = runs.len() as u64 > query.limit;
        runs.truncate(query.limit as usize);
        Ok((self.runs_with_circuits(runs).await?, more))
    }

    /// Each of `runs` with its circuit (each circuit read once).
    pub(super) async fn runs_with_circuits(
        &self,
        runs: Vec<Run>,
    ) -> Result<Vec<(Run, Circuit)>, ServiceError> {
        let mut circuits: std::collections::HashMap<Uuid, Circuit> =
            std::collections::HashMap::new();
        let mut page = Vec::with_capacity(runs.len());
        for run in runs {
            let circuit = match circuits.get(&run.spec.circuit_id) {
                Some(c) => c.clone(),
                None => {
                    let c = self
                        .store
                        .circuit(run.spec.circuit_id)
                        .await?
                        .ok_or_else(|| {
                            ServiceError::Internal(anyhow::anyhow!("run {} has no circuit", run.id))
                        })?;
                    circuits.insert(c.id, c.clone());
                    c
                }
            };
            page.push((run, circuit));
        }
        Ok(page)
    }

    /// A circuit named `owner/name` and its newest `limit` runs (newest first), if `viewer` may
    /// see the circuit: a private circuit is "not found" to everyone but its owner.
    pub async fn recent_runs_of_circuit(
        &self,
        viewer: Option<&User>,
        owner: &str,
        name: &str,
        limit: u64,
    ) -> Result<(Circuit, Vec<Run>), ServiceError> {
        let reference = CircuitRef::Name {
            owner: owner.to_owned(),
            name: name.to_owned(),
        };
        let circuit = self.resolve_circuit(viewer, &reference).await?;
        let runs = self.store.recent_runs_of_circuit(circuit.id, limit).await?;
        Ok((circuit, runs))
    }

    /// Records that a consenting browser `session` viewed `run`'s page (the seed's
    /// `run_viewed_shared_link`, through the analytics outbox), once per run per session.
    /// Only for a visitor who consented: the caller (the run page) checks the consent cookie.
    /// Whether this view was the session's first of the run.
    pub async fn record_run_view(
        &self,
        viewer: Option<&User>,
        run: &Run,
        session: Uuid,
    ) -> Result<bool, ServiceError> {
        Ok(self
            .store
            .record_run_view(run, session, viewer.map(|v| v.id))
            .await?)
    }

    /// Who submitted `run`, only for a viewer allowed to know (the submitter and the circuit's
    /// owner); `None` for everyone else.
    pub async fn submitter(
        &self,
        viewer: Option<&User>,
        run: &Run,
        circuit: &Circuit,
    ) -> Result<Option<User>, ServiceError> {
        if !super::access::sees_submitter(viewer, run, circuit) {
            return Ok(None);
        }
        Ok(self.store.user(run.user_id).await?)
    }
}

/// The longest page of `GET /api/runs/{id}/memory`, in shots.
pub const MAX_MEMORY_PAGE: u64 = 10_000;

impl Service {
    /// Shots `offset .. offset + limit` of a run's per-shot memory, if `viewer` may see the
    /// run (docs/DESIGN.md §6). Errors: 404 for a run the viewer may not see or one that did
    /// not ask for memory; 409 `run_not_completed`
    /// while the run has not completed (a failed or cancelled run never has memory).
    pub async fn run_memory(
        &self,
        viewer: Option<&User>,
        run_id: Uuid,
        offset: u64,
        limit: u64,
    ) -> Result<MemoryPage, ServiceError> {
        let (run, _) = self.run(viewer, run_id).await?;
        if !run.spec.memory {
            return Err(ServiceError::NotFound("memory"));
        }
        if run.status != RunStatus::Completed {
            return Err(ServiceError::Conflict {
                code: "run_not_completed",
                message: format!(
                    "the run is {}: a run's memory exists once it has completed",
                    run.status.as_str()
                ),
            });
        }
        self.store
            .memory_page(run_id, offset, limit.min(MAX_MEMORY_PAGE))
            .await?
            .ok_or_else(|| {
                ServiceError::Internal(anyhow::anyhow!("completed run {run_id} has no memory"))
            })
    }
}
