//! The run as the program sees it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ErrorClass, RunStatus, Stage};

/// Outcome of a completed run (`runs.results`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunResults {
    /// Measurement counts keyed like Qiskit's `get_counts()`.
    pub counts: BTreeMap<String, u64>,
    pub shots: u64,
    /// Seconds spent executing.
    pub execution_time: f64,
    pub unique_states: u64,
}

/// The values a run binds to its circuit's parameters (OpenQASM 3 `input` declarations, a
/// Python circuit's free parameters), by name. Empty when it binds none.
pub type Parameters = BTreeMap<String, f64>;

/// One run row.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub id: Uuid,
    pub user_id: Uuid,
    pub circuit_id: Uuid,
    pub circuit_version: i32,
    pub status: RunStatus,
    pub backend_type: String,
    pub backend_name: String,
    pub framework: String,
    pub shots: u64,
    pub results: Option<RunResults>,
    pub error_class: Option<ErrorClass>,
    pub error_message: Option<String>,
    pub error_stage: Option<Stage>,
    pub analytics_consent: Option<bool>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub claimed_by: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub idempotency_key: Option<String>,
    pub parameters: Parameters,
    /// The sampling seed (the same seed, circuit and shots give the same counts).
    pub seed: Option<u64>,
}

impl Run {
    /// Whether analytics may be recorded for this run: only an explicit `true` (default-deny;
    /// `NULL` legacy rows and `false` record nothing).
    pub fn consented(&self) -> bool {
        self.analytics_consent == Some(true)
    }
}

/// What a submission asks for; the store turns it into a pending run.
#[derive(Clone, Debug, PartialEq)]
pub struct NewRun {
    pub user_id: Uuid,
    pub circuit_id: Uuid,
    pub circuit_version: i32,
    pub backend_type: String,
    pub backend_name: String,
    pub framework: String,
    pub shots: u64,
    pub analytics_consent: Option<bool>,
    pub idempotency_key: Option<String>,
    pub parameters: Parameters,
    pub seed: Option<u64>,
}
