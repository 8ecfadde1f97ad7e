//! Execution backends: what a run executes on, behind one trait, built from `[[backends]]`.
//!
//! - [`Backend`]: prepare + execute one job, cancellable; failures in the six classes.
//! - [`simulator`]: the built-in state-vector simulator (blocking pool).
//! - [`command`]: an external program in the sandbox of the `qrun-sandbox` crate; [`warm`]:
//!   its programs started ahead of their runs (`warm`).

pub mod command;
pub mod simulator;
pub mod warm;

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use qrun_engine::{CancellationToken, EngineError, FailureKind};

use crate::config::BackendConfig;
use crate::domain::{ErrorClass, ErrorStage, Failure, Memory, Parameters, RunOptions, RunResults};

/// What a backend runs.
#[derive(Clone, Debug)]
pub struct Job {
    pub source: String,
    /// e.g. `openqasm2`
    pub format: String,
    pub shots: u64,
    pub seed: Option<u64>,
    /// Values for the circuit's parameters, by name.
    pub parameters: Parameters,
    /// Whether to record every shot's outcome ([`Executed::memory`]).
    pub memory: bool,
    /// The backend's run options, as checked at submission: the simulator's `method`; a
    /// command backend's, passed to its program.
    pub options: RunOptions,
}

/// What a job produced: its results and, when the job asked for it, every shot's outcome.
#[derive(Clone, Debug)]
pub struct Executed {
    pub results: RunResults,
    /// `Some` exactly when [`Job::memory`].
    pub memory: Option<Memory>,
}

/// Why a job produced no results.
#[derive(Debug)]
pub enum ExecError {
    /// The run fails with this class and stage.
    Failed(Failure),
    /// The job was cancelled (by the user, a lost lease or shutdown): the caller decides.
    Cancelled,
}

impl From<EngineError> for ExecError {
    fn from(e: EngineError) -> Self {
        let class = match e.kind {
            FailureKind::Validation => ErrorClass::ValidationError,
            FailureKind::ResourceLimit => ErrorClass::ResourceLimit,
            FailureKind::Timeout => ErrorClass::Timeout,
            FailureKind::Backend => ErrorClass::BackendError,
            FailureKind::Cancelled => return ExecError::Cancelled,
        };
        let stage = match e.stage {
            qrun_engine::Stage::Prepare => ErrorStage::Prepare,
            qrun_engine::Stage::Execute => ErrorStage::Execute,
        };
        let message = match e.position {
            Some(p) => format!("{}:{}: {}", p.line, p.col, e.message),
            None => e.message,
        };
        ExecError::Failed(Failure::new(class, stage, message))
    }
}

/// What the engine's `outcome` of a job is: its results, and with `memory` every shot's key
/// in a shot order seeded by `seed` ([`qrun_engine::Outcome::memory`]).
fn executed(outcome: qrun_engine::Outcome, memory: bool, seed: Option<u64>) -> Executed {
    let memory = memory
        .then(|| Memory::from_keys(outcome.memory(seed)))
        // The engine runs at least one shot, each keyed alike.
        .and_then(Result::ok);
    Executed {
        results: RunResults {
            counts: outcome.counts,
            shots: outcome.shots,
            execution_time: outcome.execution_time,
            unique_states: outcome.unique_states,
            method: Some(outcome.method.as_str().to_owned()),
            precision: outcome.precision.map(|p| p.as_str().to_owned()),
        },
        memory,
    }
}

/// A place runs execute.
pub trait Backend: Send + Sync + 'static {
    /// Prepares and executes `job`. Stops promptly once `cancel` fires, answering
    /// [`ExecError::Cancelled`]. Long work runs off the async threads.
    fn execute(
        &self,
        job: Job,
        cancel: CancellationToken,
    ) -> BoxFuture<'static, Result<Executed, ExecError>>;

    /// Starts what it keeps ready between jobs (a command backend's warm programs), on the
    /// calling thread.
    fn warm_up(&self) {}

    /// Stops whatever it keeps running between jobs (a command backend's warm programs are
    /// killed); jobs after it still run, unwarmed. Blocking (at shutdown).
    fn close(&self) {}
}

/// The configured backends by `(type, name)`.
#[derive(Clone, Default)]
pub struct Backends(HashMap<(String, String), Arc<dyn Backend>>);

/// A configured backend that cannot run on this machine.
#[derive(Debug, thiserror::Error)]
#[error("backend command/{name}: {error}")]
pub struct BackendSetupError {
    /// The backend's name.
    pub name: String,
    /// Why its sandbox cannot be set up.
    pub error: qrun_sandbox::SetupError,
}

impl Backends {
    /// The backends `configs` declare. Each command backend's sandbox is probed first (a
    /// no-op run under its policy, a few milliseconds); the first that cannot be set up is
    /// the error. A command backend without the sandbox is logged as a warning.
    pub async fn from_config(configs: &[BackendConfig]) -> Result<Backends, BackendSetupError> {
        let mut backends = Backends::default();
        for config in configs {
            let backend: Arc<dyn Backend> = match config {
                BackendConfig::Simulator { .. } => Arc::new(simulator::Simulator::new(config)),
                BackendConfig::Command { .. } => {
                    let backend = command::CommandBackend::new(config);
                    backend.probe().await.map_err(|error| BackendSetupError {
                        name: config.name().to_owned(),
                        error,
                    })?;
                    let name = format!("command/{}", config.name());
                    if !backend.sandboxed() {
                        tracing::warn!(
                            backend = %name,
                            "sandbox.enabled = false: this backend's program runs unconfined, \
                             with its user's rights, files, network and processes in reach"
                        );
                    }
                    if !backend.sandbox().has_cgroups() {
                        tracing::warn!(
                            backend = %name,
                            "no writable cgroup v1 memory/pids/cpuacct hierarchy (a service \
                             that is not root, or cgroup v2 only): memory is capped per \
                             process by RLIMIT_AS, processes by RLIMIT_NPROC (shared by every \
                             process of the user), CPU time per process only (cpu_s is not the \
                             run's total), the cause of such a kill is not reported, and \
                             without bubblewrap a run's daemons can outlive it"
                        );
                    }
                    tracing::info!(
                        backend = %name,
                        uid = backend.sandbox().program_uid(),
                        "backend programs run as this host uid"
                    );
                    Arc::new(backend)
                }
            };
            backends.insert(config.kind(), config.name(), backend);
        }
        Ok(backends)
    }

    /// Starts the programs of every command backend's warm pool (`warm`), on this thread:
    /// call from the thread the service lives on (their parent-death signal is tied to it).
    pub fn warm_up(&self) {
        for backend in self.0.values() {
            backend.warm_up();
        }
    }

    /// Closes every backend ([`Backend::close`]): at shutdown, no warm program is left.
    pub fn close(&self) {
        for backend in self.0.values() {
            backend.close();
        }
    }

    /// Adds (or replaces) a backend; tests add their own.
    pub fn insert(&mut self, kind: &str, name: &str, backend: Arc<dyn Backend>) {
        self.0.insert((kind.to_owned(), name.to_owned()), backend);
    }

    pub fn get(&self, kind: &str, name: &str) -> Option<Arc<dyn Backend>> {
        self.0.get(&(kind.to_owned(), name.to_owned())).cloned()
    }
}
