//! What the rules take from the configuration, read once at start-up ([`Rules::from_config`]):
//! the backends a run may choose and their shot limits, the admission caps, the stranded-run
//! window, how long a credential's answer is cached and how long a browser session lasts.

use std::num::NonZeroU32;

use chrono::TimeDelta;

use crate::config::{BackendConfig, Config};

/// A backend as submissions see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendRules {
    /// `simulator` or `command`.
    pub kind: String,
    pub name: String,
    /// Shots per run, inclusive.
    pub max_shots: u64,
    /// The circuit formats it executes (`formats`).
    pub formats: Vec<String>,
    /// The widest circuit it runs, qubits, by any of its methods (unknown for a command
    /// backend that does not say).
    pub max_qubits: Option<u32>,
    /// The simulation methods it runs, each with its widest circuit (the built-in
    /// simulator's; empty for a command backend).
    pub methods: Vec<MethodRules>,
    /// The built-in simulator's limits, which a submission's circuit is checked against
    /// (`None` for a command backend, whose program enforces its own).
    pub limits: Option<qrun_engine::Limits>,
    /// The gates it executes natively, by Qiskit's names.
    pub native_gates: Vec<String>,
    /// The run options a submission may give ([`BackendConfig::options`]).
    pub options: Vec<String>,
}

/// One simulation method of a backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MethodRules {
    /// `statevector` or `stabilizer` (Qiskit Aer's names).
    pub name: &'static str,
    /// The widest circuit it runs on this backend, qubits.
    pub max_qubits: u32,
}

/// The settings the rules run with.
#[derive(Clone, Debug)]
pub struct Rules {
    /// The configured backends, in configuration order.
    pub backends: Vec<BackendRules>,
    /// The expansion bound of an upload's source check: the largest `max_gates` of any
    /// simulator (past it the circuit could never run anyway).
    pub source_check_max_gates: u64,
    /// `executor.max_pending_runs`: past it, submissions are 503 `overloaded`.
    pub max_pending_runs: u64,
    /// `executor.max_active_runs_per_user`: past it, 429 `too_many_runs`.
    pub max_active_runs_per_user: u64,
    /// `executor.user_submissions_per_s` and `user_submission_burst`: a token bucket per user.
    pub user_submissions_per_s: NonZeroU32,
    pub user_submission_burst: NonZeroU32,
    /// `watchdog.running_ttl_s`: a run running longer counts as stranded.
    pub stranded_window_s: u64,
    /// `auth.token_cache_ttl_s`.
    pub token_cache_ttl: TimeDelta,
    /// `auth.session_ttl_s`: how long a browser session lasts.
    pub session_ttl: TimeDelta,
    /// `executor.frameworks`: what `manifest.framework` may name.
    pub frameworks: Vec<String>,
    /// `executor.max_memory_bits`: the most shots × classical bits of a run with memory.
    pub max_memory_bits: u64,
    /// `executor.max_runs_per_job`.
    pub max_runs_per_job: u64,
}

/// The methods a simulator of `limits` runs, in the engine's order.
fn method_rules(limits: &qrun_engine::Limits) -> Vec<MethodRules> {
    limits
        .methods()
        .into_iter()
        .map(|m| MethodRules {
            name: m.as_str(),
            max_qubits: limits.max_qubits_for(m),
        })
        .collect()
}

impl Rules {
    pub fn from_config(config: &Config) -> Rules {
        let executor = &config.executor;
        Rules {
            backends: config
                .backends
                .iter()
                .map(|b| {
                    let limits = b.limits();
                    BackendRules {
                        kind: b.kind().to_owned(),
                        name: b.name().to_owned(),
                        max_shots: b.max_shots(),
                        formats: b.formats().to_vec(),
                        max_qubits: b.max_qubits(),
                        methods: limits.iter().flat_map(method_rules).collect(),
                        limits,
                        native_gates: b.native_gates(),
                        options: b.options(),
                    }
                })
                .collect(),
            source_check_max_gates: config
                .backends
                .iter()
                .filter_map(BackendConfig::max_gates)
                .max()
                .unwrap_or(1_000_000),
            max_pending_runs: executor.max_pending_runs,
            max_active_runs_per_user: executor.max_active_runs_per_user,
            user_submissions_per_s: NonZeroU32::new(executor.user_submissions_per_s)
                .unwrap_or(NonZeroU32::MIN),
            user_submission_burst: NonZeroU32::new(executor.user_submission_burst)
                .unwrap_or(NonZeroU32::MIN),
            stranded_window_s: config.watchdog.running_ttl_s,
            frameworks: executor.frameworks.clone(),
            max_memory_bits: executor.max_memory_bits,
            max_runs_per_job: executor.max_runs_per_job,
            token_cache_ttl: i64::try_from(config.auth.token_cache_ttl_s)
                .ok()
                .and_then(TimeDelta::try_seconds)
                .unwrap_or(TimeDelta::MAX),
            // At most a year (checked when the configuration loads).
            session_ttl: TimeDelta::seconds(
                i64::try_from(config.auth.session_ttl_s).unwrap_or(i64::MAX / 1_000),
            ),
        }
    }

    /// Whether a command backend takes circuits in `format`: its runner, not qrun's engine,
    /// then decides whether such a source is one it runs (docs/DESIGN.md §12).
    pub fn runner_reads(&self, format: &str) -> bool {
        self.backends
            .iter()
            .any(|b| b.kind == "command" && b.formats.iter().any(|f| f == format))
    }

    /// The backend `kind/name`, if configured.
    pub fn backend(&self, kind: &str, name: &str) -> Option<&BackendRules> {
        self.backends
            .iter()
            .find(|b| b.kind == kind && b.name == name)
    }
}
