//! The run as the program sees it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ErrorClass, ErrorStage, RunStatus};

/// Outcome of a completed run (`runs.results`, JSON). Fields a newer binary adds are ignored
/// when read (not refused), so nodes of two versions share a database during a rolling
/// upgrade.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    /// Measurement counts keyed like Qiskit's `get_counts()`.
    pub counts: BTreeMap<String, u64>,
    pub shots: u64,
    /// Seconds spent executing.
    pub execution_time: f64,
    pub unique_states: u64,
    /// The simulation method that ran it (`statevector`, `stabilizer`), as the built-in
    /// simulator chose it; `None` from a command backend (and in results stored before
    /// methods were recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The state vector's precision (`double`, `single`: the run's `precision` option) where
    /// the built-in simulator ran it on the state vector; `None` for the stabilizer method, a
    /// command backend, and results stored before precisions were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<String>,
}

/// The values a run binds to its circuit's parameters (OpenQASM 3 `input` declarations, a
/// Python circuit's free parameters), by name. Empty when it binds none.
pub type Parameters = BTreeMap<String, f64>;

/// The run options a submission gives (Qiskit Aer's names: `method`, `noise_model`, …), by
/// name, each a JSON value; which names a backend accepts is its configuration's
/// (docs/DESIGN.md §5). Empty when it gives none.
pub type RunOptions = BTreeMap<String, serde_json::Value>;

/// What a run was asked to do, fixed when it is created: the submission as resolved (its
/// circuit's id and version, the framework the version declares). An idempotent replay must ask
/// for exactly this again (docs/DESIGN.md §6), so it is compared whole.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSpec {
    pub circuit_id: Uuid,
    pub circuit_version: i32,
    pub backend_type: String,
    pub backend_name: String,
    pub framework: String,
    pub shots: u64,
    pub analytics_consent: Option<bool>,
    pub parameters: Parameters,
    /// The sampling seed (the same seed, circuit and shots give the same counts).
    pub seed: Option<u64>,
    /// Whether every shot's outcome is recorded ([`Memory`], docs/DESIGN.md §2).
    pub memory: bool,
    /// The backend's run options ([`RunOptions`]), checked against what the backend accepts.
    pub options: RunOptions,
}

impl RunSpec {
    /// Whether analytics may be recorded for this run: only an explicit `true` (default-deny;
    /// `NULL` legacy rows and `false` record nothing).
    pub fn consented(&self) -> bool {
        self.analytics_consent == Some(true)
    }
}

/// What a submission creates: a specification, whose it is, and the `Idempotency-Key` it came
/// with. The store turns it into a pending [`Run`].
#[derive(Clone, Debug, PartialEq)]
pub struct NewRun {
    pub user_id: Uuid,
    pub idempotency_key: Option<String>,
    pub spec: RunSpec,
    /// The W3C `traceparent` of the submission's span when traces are exported (the Recorder
    /// sets it), kept in the creation's audit row so that the node executing the run continues
    /// the trace (docs/DESIGN.md §8).
    pub traceparent: Option<String>,
}

/// One run row: its specification and where it stands.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub id: Uuid,
    pub user_id: Uuid,
    pub idempotency_key: Option<String>,
    pub spec: RunSpec,
    pub status: RunStatus,
    pub results: Option<RunResults>,
    pub error_class: Option<ErrorClass>,
    pub error_message: Option<String>,
    pub error_stage: Option<ErrorStage>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub claimed_by: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
}

impl Run {
    /// The run `new` creates, pending since `now`, with the id `id`.
    pub fn pending(id: Uuid, new: NewRun, now: DateTime<Utc>) -> Self {
        let NewRun {
            user_id,
            idempotency_key,
            spec,
            traceparent: _,
        } = new;
        Run {
            id,
            user_id,
            idempotency_key,
            spec,
            status: RunStatus::Pending,
            results: None,
            error_class: None,
            error_message: None,
            error_stage: None,
            created_at: now,
            started_at: None,
            completed_at: None,
            claimed_by: None,
            lease_expires_at: None,
        }
    }

    /// Whether analytics may be recorded for this run ([`RunSpec::consented`]).
    pub fn consented(&self) -> bool {
        self.spec.consented()
    }
}

/// Where a pending run stands (issue 28): its place in the order the claims will start the
/// pending runs in, as the queues are now, and when that may be.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueStanding {
    /// 1: the next run a claim starts; n: n - 1 runs start before it.
    pub position: u64,
    /// An estimate from the backend's recent execution times (see
    /// `Store::queue_standing`); `None` before the backend has completed a run.
    pub estimated_start_at: Option<DateTime<Utc>>,
}
