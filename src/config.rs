//! Configuration (docs/DESIGN.md §9): the defaults ← an optional deployment file ←
//! `QRUN__SECTION__KEY` environment variables, layered with figment into typed settings.
//!
//! The defaults: `config/default.toml` (compiled in) documents every key and supplies every
//! section's defaults and the built-in simulator's; a `command` backend has no built-in entry
//! to merge onto, so its optional keys and its `[backends.sandbox]` default here, as serde
//! defaults (`default_command_*`, `SandboxConfig::default`), which `config/default.toml`
//! documents in a comment: change one, change both.
//!
//! figment was chosen over `config` for its errors: each names the key path and the source
//! that supplied the bad value (file or environment variable), which is what an operator needs
//! from a one-line start-up failure; it is feature-complete and stable (Rocket's configuration).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Value};
use serde::Deserialize;

/// The defaults, documented key by key.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// The key `server.shutdown_grace_s` replaced.
const MOVED_GRACE: &str = "executor.shutdown_grace_s";

/// The whole configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub recorder: RecorderConfig,
    pub executor: ExecutorConfig,
    pub scheduling: SchedulingConfig,
    pub auth: AuthConfig,
    pub watchdog: WatchdogConfig,
    pub analytics: AnalyticsConfig,
    pub logging: LoggingConfig,
    pub metrics: MetricsConfig,
    pub otel: OtelConfig,
    pub backends: Vec<BackendConfig>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Whether this node serves the API and pages on `bind`; a worker-only node (`false`)
    /// serves only `/metrics`, `/healthz` and `/readyz`, on `ops_bind` (docs/DESIGN.md §14).
    pub enabled: bool,
    pub bind: SocketAddr,
    /// Where a worker-only node (`enabled = false`) serves `/metrics`, `/healthz`, `/readyz`.
    pub ops_bind: SocketAddr,
    pub max_body_bytes: u64,
    pub body_timeout_s: u64,
    /// Seconds a connection may take to send a request head; then it is closed.
    pub header_read_timeout_s: u64,
    /// Connections open at once (lowered to what the open-file limit allows).
    pub max_connections: u64,
    /// The node's one deadline at shutdown, seconds from SIGTERM or SIGINT: event streams,
    /// in-flight requests and executing runs finish by it; runs still executing shortly
    /// before it are handed back (docs/DESIGN.md §4).
    pub shutdown_grace_s: u64,
}

impl ServerConfig {
    /// `shutdown_grace_s`: how long a graceful shutdown may take, all of it.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_s)
    }

    /// `header_read_timeout_s`: how long a connection may take to send a request head.
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_s)
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutorConfig {
    pub enabled: bool,
    pub node_id: String,
    pub max_concurrent_runs: u64,
    pub max_pending_runs: u64,
    pub max_active_runs_per_user: u64,
    pub user_submissions_per_s: u32,
    pub user_submission_burst: u32,
    pub claim_interval_ms: u64,
    pub lease_ttl_s: u64,
    /// The frameworks `manifest.framework` may name (docs/DESIGN.md §12).
    pub frameworks: Vec<String>,
    /// The most shots × classical bits a run asking for per-shot memory may have (its stored
    /// size in characters, about); past it the submission is 400 `memory_too_large`. 0: no
    /// run may ask for memory.
    pub max_memory_bits: u64,
    /// The most runs one job (`POST /api/jobs`) may hold; past it, 400 `invalid_job`.
    pub max_runs_per_job: u64,
}

impl ExecutorConfig {
    /// `claim_interval_ms`: how often an idle executor claims pending runs.
    pub fn claim_interval(&self) -> Duration {
        Duration::from_millis(self.claim_interval_ms)
    }

    /// `lease_ttl_s`: how long a claim holds a run without a renewal.
    pub fn lease_ttl(&self) -> Duration {
        Duration::from_secs(self.lease_ttl_s)
    }

    /// `node_id`, or HOSTNAME-PID-RANDOM when it is empty.
    pub fn node(&self) -> String {
        if !self.node_id.is_empty() {
            return self.node_id.clone();
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "node".into());
        format!(
            "{host}-{}-{:04x}",
            std::process::id(),
            rand::random::<u16>()
        )
    }
}

/// `[scheduling]`: how claims share the executors among users (docs/DESIGN.md §10). The same
/// on every node of a cluster.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulingConfig {
    /// Runs one user may have executing at once across every node, enforced by the claim;
    /// `0`: no cap.
    pub max_running_per_user: u64,
    /// Fair-share weights by handle (unlisted users weigh 1): with work waiting, a user of
    /// weight 3 is given three runs executing for each one of a user of weight 1. Finite, > 0.
    pub weights: BTreeMap<String, f64>,
}

impl SchedulingConfig {
    /// The cap on a user's running runs, `None` for none.
    pub fn max_running_per_user(&self) -> Option<u64> {
        (self.max_running_per_user > 0).then_some(self.max_running_per_user)
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Seconds an answer to "whose credential is this?" is cached: the longest a credential
    /// taken back elsewhere still works here.
    pub token_cache_ttl_s: u64,
    /// Seconds a browser session (`POST /login`) lasts, 1 to [`MAX_SESSION_TTL_S`].
    pub session_ttl_s: u64,
}

/// The longest `auth.session_ttl_s`: a year.
pub const MAX_SESSION_TTL_S: u64 = 366 * 86_400;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchdogConfig {
    pub interval_s: u64,
    pub running_ttl_s: u64,
}

impl WatchdogConfig {
    /// `interval_s`: how often the watchdog sweeps.
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.interval_s)
    }

    /// `running_ttl_s`: a run running longer than this is stranded.
    pub fn running_ttl(&self) -> Duration {
        Duration::from_secs(self.running_ttl_s)
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://PATH?mode=rwc` or `postgres://…`
    pub url: String,
    pub max_connections: u32,
    pub connect_timeout_s: u64,
    pub wait_timeout_ms: u64,
    /// Whether `qrun serve` applies pending migrations at start; unset: [`MigrateMode::Auto`]
    /// on SQLite, [`MigrateMode::Never`] on PostgreSQL ([`DatabaseConfig::migrate`]).
    #[serde(default)]
    pub migrate: Option<MigrateMode>,
}

/// `database.migrate` (docs/DESIGN.md §9, §11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MigrateMode {
    /// `qrun serve` applies this binary's pending migrations before it starts.
    Auto,
    /// Only `qrun migrate` does; `qrun serve` refuses a schema that is behind.
    Never,
}

impl DatabaseConfig {
    /// `migrate`, or its default for the database: `auto` for the embedded SQLite (one node,
    /// one binary), `never` for PostgreSQL (several nodes: migrations are an operator's step of
    /// an upgrade, README "Upgrading").
    pub fn migrate(&self) -> MigrateMode {
        self.migrate.unwrap_or(if self.url.starts_with("sqlite:") {
            MigrateMode::Auto
        } else {
            MigrateMode::Never
        })
    }

    /// `connect_timeout_s`: time at start-up to reach the database.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_s)
    }

    /// `wait_timeout_ms`: time a statement waits for a pooled connection, and on SQLite for
    /// the write lock.
    pub fn wait_timeout(&self) -> Duration {
        Duration::from_millis(self.wait_timeout_ms)
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecorderConfig {
    pub max_batch: usize,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsConfig {
    pub sink: SinkKind,
    pub posthog_host: String,
    pub posthog_api_key: String,
    pub flush_interval_ms: u64,
    pub batch_size: u64,
    pub request_timeout_s: u64,
    pub max_backoff_s: u64,
    pub retention_h: u64,
}

impl AnalyticsConfig {
    /// `flush_interval_ms`: how often the dispatcher delivers due events.
    pub fn flush_interval(&self) -> Duration {
        Duration::from_millis(self.flush_interval_ms)
    }

    /// `request_timeout_s`: a request to the sink, and how long one tick keeps sending (on
    /// PostgreSQL the events of a tick stay locked until their verdicts are recorded).
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_s)
    }

    /// `max_backoff_s`: the longest wait before an event's next attempt.
    pub fn max_backoff(&self) -> Duration {
        Duration::from_secs(self.max_backoff_s)
    }

    /// `retention_h`: how long delivered events are kept.
    pub fn retention(&self) -> Duration {
        Duration::from_secs(3600 * self.retention_h)
    }
}

impl std::fmt::Debug for AnalyticsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnalyticsConfig")
            .field("sink", &self.sink)
            .field("posthog_host", &self.posthog_host)
            .field("posthog_api_key", &"[redacted]")
            .field("flush_interval_ms", &self.flush_interval_ms)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    Posthog,
    Log,
    None,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingConfig {
    pub level: String,
    pub format: LogFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    pub enabled: bool,
}

/// How a simulator backend chooses a run's simulation method (`backends[].method`), named as
/// Qiskit Aer names its `method` option.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum SimulationMethod {
    /// Per circuit: the stabilizer when every operation is Clifford and it fits, else the
    /// state vector.
    #[default]
    Automatic,
    /// The state vector only.
    Statevector,
    /// The stabilizer tableau only: a non-Clifford circuit fails validation.
    Stabilizer,
}

/// The run option that chooses the built-in simulator's method for one run (Qiskit Aer's
/// `method`): one of [`SimulationMethod::NAMES`].
pub const METHOD_OPTION: &str = "method";

impl SimulationMethod {
    /// Every method by the name `backends[].method` and the `method` run option give it.
    pub const NAMES: [&'static str; 3] = ["automatic", "statevector", "stabilizer"];

    /// The method named `name` ([`SimulationMethod::NAMES`]).
    pub fn from_name(name: &str) -> Option<SimulationMethod> {
        match name {
            "automatic" => Some(SimulationMethod::Automatic),
            "statevector" => Some(SimulationMethod::Statevector),
            "stabilizer" => Some(SimulationMethod::Stabilizer),
            _ => None,
        }
    }

    /// The engine's pinned method; `None` for automatic.
    pub fn pinned(self) -> Option<qrun_engine::Method> {
        match self {
            SimulationMethod::Automatic => None,
            SimulationMethod::Statevector => Some(qrun_engine::Method::StateVector),
            SimulationMethod::Stabilizer => Some(qrun_engine::Method::Stabilizer),
        }
    }
}

/// The run option that chooses the state vector's precision for one run (Qiskit Aer's
/// `precision`): `"double"` (the default) or `"single"` ([`qrun_engine::Precision`]).
pub const PRECISION_OPTION: &str = "precision";

/// What a run's `options` choose on the built-in simulator: its method ([`METHOD_OPTION`])
/// and the state vector's precision ([`PRECISION_OPTION`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SimulatorOptions {
    pub method: SimulationMethod,
    pub precision: qrun_engine::Precision,
}

impl SimulatorOptions {
    /// The simulator's options in a run's `options`: automatic and double where absent (or
    /// not a name: submissions are checked before a run exists).
    pub fn of_run(options: &crate::domain::RunOptions) -> SimulatorOptions {
        let name = |option: &str| options.get(option).and_then(serde_json::Value::as_str);
        SimulatorOptions {
            method: name(METHOD_OPTION)
                .and_then(SimulationMethod::from_name)
                .unwrap_or_default(),
            precision: name(PRECISION_OPTION)
                .and_then(qrun_engine::Precision::from_name)
                .unwrap_or_default(),
        }
    }

    /// A backend's `limits` for a run with these options: a pinned method replaces the
    /// backend's (automatic leaves the backend's own choice), and the precision is the run's.
    pub fn apply(self, mut limits: qrun_engine::Limits) -> qrun_engine::Limits {
        if let Some(method) = self.method.pinned() {
            limits.method = Some(method);
        }
        limits.precision = self.precision;
        limits
    }
}

/// `[otel]`: OpenTelemetry traces exported over OTLP/HTTP (docs/DESIGN.md §8); off while
/// `otlp_endpoint` is empty.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtelConfig {
    /// The receiver's traces URL, e.g. `http://127.0.0.1:4318/v1/traces` (the OTLP/HTTP
    /// path included); empty: no traces.
    pub otlp_endpoint: String,
    /// The resource's `service.name`.
    pub service_name: String,
    /// More resource attributes, e.g. `deployment.environment`.
    pub resource_attributes: BTreeMap<String, String>,
}

impl OtelConfig {
    /// Whether traces are exported.
    pub fn enabled(&self) -> bool {
        !self.otlp_endpoint.is_empty()
    }
}

/// One execution backend.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
#[allow(clippy::large_enum_variant)] // a few per process, read once at start-up
pub enum BackendConfig {
    /// The built-in simulator: the state vector, and the stabilizer method for Clifford
    /// circuits (docs/DESIGN.md §5).
    Simulator {
        name: String,
        /// Circuit formats it accepts: `openqasm2`, `openqasm3` (both by default).
        #[serde(default = "default_simulator_formats")]
        formats: Vec<String>,
        /// Most qubits on the state vector (`16 · 2^n` bytes per state).
        max_qubits: u32,
        /// Most qubits of a Clifford circuit on the stabilizer method (about `n² / 2` bytes);
        /// 0 turns the method off.
        max_stabilizer_qubits: u32,
        /// `automatic` (the stabilizer for a circuit of Clifford operations only, else the
        /// state vector), or the one method this backend runs.
        method: SimulationMethod,
        max_shots: u64,
        max_gates: u64,
        max_source_bytes: usize,
        timeout_s: u64,
    },
    /// An external program run as a sandboxed child process (docs/DESIGN.md §13).
    Command {
        name: String,
        program: PathBuf,
        #[serde(default)]
        args: Vec<String>,
        /// Circuit formats the program accepts (docs/DESIGN.md §12); `["openqasm2"]` by
        /// default, the only format command backends were ever given before formats were
        /// declared.
        #[serde(default = "default_command_formats")]
        formats: Vec<String>,
        timeout_s: u64,
        #[serde(default = "default_command_max_shots")]
        max_shots: u64,
        #[serde(default = "default_command_max_source_bytes")]
        max_source_bytes: usize,
        #[serde(default = "default_command_max_output_bytes")]
        max_output_bytes: usize,
        /// The widest circuit the program runs, qubits, as `GET /api/backends` reports it
        /// (the program enforces it: the Qiskit runner's `--max-qubits`). Unknown if unset.
        #[serde(default)]
        max_qubits: Option<u32>,
        /// The gates the program executes natively, by Qiskit's names, as `GET /api/backends`
        /// reports them (e.g. Aer's basis gates); empty if unset.
        #[serde(default)]
        native_gates: Vec<String>,
        /// The run options a submission may give (`options`), by name, passed to the program
        /// in the job's `"options"` (e.g. `["method", "noise_model"]` for the Qiskit runner);
        /// any other is a 400 `invalid_options`. Empty if unset: none.
        #[serde(default)]
        options: Vec<String>,
        /// How many programs to keep started ahead of their runs, each in a sandbox of its
        /// own, waiting on stdin for its one job (docs/DESIGN.md §13); a run takes one and a
        /// replacement starts. 0 (the default): each run starts its program. Each waiting
        /// program holds its start-up memory (the Qiskit runner: ~100 MiB).
        #[serde(default)]
        warm: usize,
        /// `[backends.sandbox]`: how the program is confined.
        #[serde(default)]
        sandbox: SandboxConfig,
    },
}

/// The circuit formats qrun knows (docs/DESIGN.md §12).
pub const FORMATS: [&str; 4] = ["openqasm2", "openqasm3", "python", "qpy"];

/// `[backends.sandbox]` of a command backend (docs/DESIGN.md §13); every key has a default.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// Run the program under the sandbox (default). `false` runs it unconfined, with a
    /// warning at start-up.
    pub enabled: bool,
    /// Memory of the run's processes together, MiB (default 2048); past it: `resource_limit`.
    pub memory_mb: u64,
    /// CPU seconds of the whole run, all its processes together (default: the backend's
    /// `timeout_s`); past it: `timeout`.
    pub cpu_s: Option<u64>,
    /// Processes and threads at once (default 64); a fork past it fails inside the program.
    pub max_processes: u64,
    /// Size of each of the private writable `/tmp` and `/dev/shm`, MiB (default 64); also
    /// the largest file.
    pub tmp_mb: u64,
    /// The host user a root service runs the program as (default `nobody`); a service that
    /// is not root runs it as itself. Start-up fails (exit 2) if a root service's user does
    /// not exist.
    pub user: String,
    /// Network access (default false: none at all, loopback included).
    pub network: bool,
    /// Absolute host paths visible read-only inside (the program's own directory among them
    /// unless it is under `/usr`).
    pub read_only_paths: Vec<PathBuf>,
    /// The environment besides `PATH`, `HOME=/tmp` and `LANG`.
    pub env: BTreeMap<String, String>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            enabled: true,
            memory_mb: 2048,
            cpu_s: None,
            max_processes: 64,
            tmp_mb: 64,
            user: qrun_sandbox::DEFAULT_USER.to_owned(),
            network: false,
            read_only_paths: Vec::new(),
            env: BTreeMap::new(),
        }
    }
}

fn default_simulator_formats() -> Vec<String> {
    vec!["openqasm2".into(), "openqasm3".into()]
}
fn default_command_formats() -> Vec<String> {
    vec!["openqasm2".into()]
}

fn default_command_max_shots() -> u64 {
    100_000
}
fn default_command_max_source_bytes() -> usize {
    1 << 20
}
fn default_command_max_output_bytes() -> usize {
    16 << 20
}

impl BackendConfig {
    /// Every backend `type`, as [`BackendConfig::kind`] names them (a new variant is added
    /// to both, side by side).
    pub const KINDS: [&'static str; 2] = ["simulator", "command"];

    /// `simulator` or `command`: its `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            BackendConfig::Simulator { .. } => Self::KINDS[0],
            BackendConfig::Command { .. } => Self::KINDS[1],
        }
    }

    pub fn name(&self) -> &str {
        match self {
            BackendConfig::Simulator { name, .. } | BackendConfig::Command { name, .. } => name,
        }
    }

    /// The circuit formats it accepts.
    pub fn formats(&self) -> &[String] {
        match self {
            BackendConfig::Simulator { formats, .. } | BackendConfig::Command { formats, .. } => {
                formats
            }
        }
    }

    pub fn timeout(&self) -> Duration {
        match self {
            BackendConfig::Simulator { timeout_s, .. }
            | BackendConfig::Command { timeout_s, .. } => Duration::from_secs(*timeout_s),
        }
    }

    /// Shots per run, inclusive.
    pub fn max_shots(&self) -> u64 {
        match self {
            BackendConfig::Simulator { max_shots, .. }
            | BackendConfig::Command { max_shots, .. } => *max_shots,
        }
    }

    /// The widest circuit it runs, qubits: the widest of the simulator's methods, or what a
    /// command backend declares (unknown if it does not).
    pub fn max_qubits(&self) -> Option<u32> {
        match self {
            BackendConfig::Simulator { .. } => self.limits().map(|l| l.max_qubits_any()),
            BackendConfig::Command { max_qubits, .. } => *max_qubits,
        }
    }

    /// The simulator's limits and pinned method, as the engine takes them (`None` for a
    /// command backend): the one source for the simulator that runs, the check at
    /// submission and `GET /api/backends`.
    pub fn limits(&self) -> Option<qrun_engine::Limits> {
        let BackendConfig::Simulator {
            max_qubits,
            max_stabilizer_qubits,
            method,
            max_shots,
            max_gates,
            max_source_bytes,
            ..
        } = self
        else {
            return None;
        };
        Some(qrun_engine::Limits {
            max_qubits: *max_qubits,
            max_stabilizer_qubits: *max_stabilizer_qubits,
            method: method.pinned(),
            precision: qrun_engine::Precision::Double,
            max_shots: *max_shots,
            max_gates: *max_gates,
            max_source_bytes: *max_source_bytes,
            time_limit: self.timeout(),
        })
    }

    /// The gates it executes natively, by Qiskit's names: the engine's for the simulator,
    /// what a command backend declares (empty if it does not).
    pub fn native_gates(&self) -> Vec<String> {
        match self {
            BackendConfig::Simulator { .. } => qrun_engine::NATIVE_GATES
                .iter()
                .map(|g| g.to_string())
                .collect(),
            BackendConfig::Command { native_gates, .. } => native_gates.clone(),
        }
    }

    /// The run options a submission may give on this backend: the simulator's
    /// [`METHOD_OPTION`] and [`PRECISION_OPTION`], a command backend's `options`.
    pub fn options(&self) -> Vec<String> {
        match self {
            BackendConfig::Simulator { .. } => {
                vec![METHOD_OPTION.to_owned(), PRECISION_OPTION.to_owned()]
            }
            BackendConfig::Command { options, .. } => options.clone(),
        }
    }

    /// The simulator's expansion bound, gates (`None` for a command backend).
    pub fn max_gates(&self) -> Option<u64> {
        match self {
            BackendConfig::Simulator { max_gates, .. } => Some(*max_gates),
            BackendConfig::Command { .. } => None,
        }
    }
}

/// A configuration that cannot be used, with the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config: {0}")]
    Invalid(String),
    #[error("config: file {0} does not exist")]
    MissingFile(PathBuf),
}

impl ConfigError {
    fn key(key: &str, message: impl std::fmt::Display) -> Self {
        ConfigError::Invalid(format!("key `{key}`: {message}"))
    }
}

impl Config {
    /// Loads defaults ← `file` ← environment (`QRUN__SECTION__KEY`), then validates.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_from(file, Env::prefixed("QRUN__").split("__"))
    }

    /// As [`Config::load`], with the environment layer given (tests pass a fixed one).
    pub fn load_from(file: Option<&Path>, env: Env) -> Result<Config, ConfigError> {
        let defaults = Figment::from(Toml::string(DEFAULT_TOML));
        let mut figment = defaults.clone();
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::MissingFile(path.to_owned()));
            }
            let declared = Figment::from(Toml::file_exact(path));
            figment = figment.merge(declared.clone());
            if declared.find_value("backends").is_ok() {
                let backends = merge_backends(&defaults, &declared)?;
                check_backends(&backends, path)?;
                figment = figment.merge(Serialized::defaults(Backends { backends }));
            }
        }
        let figment = figment.merge(env);
        // A key that moved: say where to, not only that it is unknown here.
        if figment.find_value(MOVED_GRACE).is_ok() {
            return Err(ConfigError::key(
                MOVED_GRACE,
                "moved to `server.shutdown_grace_s` (one deadline for the whole node)",
            ));
        }
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(one_line(&e)))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what types alone cannot.
    fn validate(&self) -> Result<(), ConfigError> {
        if !self.server.enabled && !self.executor.enabled {
            return Err(ConfigError::key(
                "server.enabled",
                "a node with both server.enabled and executor.enabled false would do nothing: \
                 enable one",
            ));
        }
        let url = &self.database.url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::key(
                "database.url",
                format!("`{url}` is neither sqlite://PATH nor postgres://…"),
            ));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError::key(
                "database.max_connections",
                "must be at least 1",
            ));
        }
        for (key, value) in [
            ("server.max_body_bytes", self.server.max_body_bytes),
            ("server.body_timeout_s", self.server.body_timeout_s),
            (
                "server.header_read_timeout_s",
                self.server.header_read_timeout_s,
            ),
            ("server.max_connections", self.server.max_connections),
            ("watchdog.interval_s", self.watchdog.interval_s),
            (
                "executor.max_concurrent_runs",
                self.executor.max_concurrent_runs,
            ),
            ("executor.max_pending_runs", self.executor.max_pending_runs),
            (
                "executor.max_active_runs_per_user",
                self.executor.max_active_runs_per_user,
            ),
            (
                "executor.claim_interval_ms",
                self.executor.claim_interval_ms,
            ),
            ("executor.lease_ttl_s", self.executor.lease_ttl_s),
            (
                "executor.user_submissions_per_s",
                self.executor.user_submissions_per_s.into(),
            ),
            (
                "executor.user_submission_burst",
                self.executor.user_submission_burst.into(),
            ),
            (
                "analytics.flush_interval_ms",
                self.analytics.flush_interval_ms,
            ),
            ("analytics.batch_size", self.analytics.batch_size),
            (
                "analytics.request_timeout_s",
                self.analytics.request_timeout_s,
            ),
            ("analytics.max_backoff_s", self.analytics.max_backoff_s),
            ("watchdog.running_ttl_s", self.watchdog.running_ttl_s),
        ] {
            if value == 0 {
                return Err(ConfigError::key(key, "must be at least 1"));
            }
        }
        if let Some((handle, weight)) = self
            .scheduling
            .weights
            .iter()
            .find(|(_, w)| !(w.is_finite() && **w > 0.0))
        {
            return Err(ConfigError::key(
                &format!("scheduling.weights.{handle}"),
                format!("{weight} is not a positive number"),
            ));
        }
        if !(1..=MAX_SESSION_TTL_S).contains(&self.auth.session_ttl_s) {
            return Err(ConfigError::key(
                "auth.session_ttl_s",
                format!("must be 1 to {MAX_SESSION_TTL_S} (a year)"),
            ));
        }
        if self.recorder.max_batch == 0 {
            return Err(ConfigError::key("recorder.max_batch", "must be at least 1"));
        }
        if self.analytics.sink == SinkKind::Posthog {
            let host = &self.analytics.posthog_host;
            if !(host.starts_with("https://") || host.starts_with("http://")) {
                return Err(ConfigError::key(
                    "analytics.posthog_host",
                    format!("`{host}` is not an http(s) URL"),
                ));
            }
            if self.analytics.posthog_api_key.is_empty() {
                return Err(ConfigError::key(
                    "analytics.posthog_api_key",
                    "is required when analytics.sink = \"posthog\"",
                ));
            }
        }
        if self.otel.enabled()
            && !["http://", "https://"]
                .iter()
                .any(|scheme| self.otel.otlp_endpoint.starts_with(scheme))
        {
            return Err(ConfigError::key(
                "otel.otlp_endpoint",
                "must be an http:// or https:// URL (OTLP/HTTP), or empty for no traces",
            ));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.logging.level) {
            return Err(ConfigError::key("logging.level", e));
        }
        if self.executor.max_runs_per_job == 0 {
            return Err(ConfigError::key(
                "executor.max_runs_per_job",
                "must be at least 1",
            ));
        }
        if self.executor.frameworks.is_empty() {
            return Err(ConfigError::key(
                "executor.frameworks",
                "must name at least one framework",
            ));
        }
        for (i, framework) in self.executor.frameworks.iter().enumerate() {
            if !crate::domain::circuit::is_framework_name(framework) || framework == "other" {
                return Err(ConfigError::key(
                    &format!("executor.frameworks[{i}]"),
                    format!(
                        "`{framework}` is not a framework name (1–64 of a-z, 0-9, `-`, `_`, \
                         `.`; `other` is reserved)"
                    ),
                ));
            }
        }
        // Keys name a backend by type and name (`backends[command/aer].program`): the list is
        // the defaults merged with the file's, so a position would be neither's.
        for backend in &self.backends {
            let id = format!("{}/{}", backend.kind(), backend.name());
            if backend.timeout().is_zero() {
                return Err(ConfigError::key(
                    &format!("backends[{id}].timeout_s"),
                    "must be at least 1",
                ));
            }
            validate_formats(&id, backend)?;
            validate_methods(&id, backend)?;
            if let BackendConfig::Command {
                program,
                sandbox,
                max_qubits,
                warm,
                ..
            } = backend
            {
                if *warm > MAX_WARM {
                    return Err(ConfigError::key(
                        &format!("backends[{id}].warm"),
                        format!(
                            "{warm} is more than {MAX_WARM} programs started ahead of their runs"
                        ),
                    ));
                }
                if !program.is_absolute() {
                    return Err(ConfigError::key(
                        &format!("backends[{id}].program"),
                        "must be an absolute path",
                    ));
                }
                validate_sandbox(&id, sandbox)?;
                if let Some(qubits) = max_qubits {
                    validate_state_vector_fits(&id, *qubits, sandbox.memory_mb)?;
                }
            }
        }
        Ok(())
    }

    /// The backend declared as `kind`/`name`.
    pub fn backend(&self, kind: &str, name: &str) -> Option<&BackendConfig> {
        self.backends
            .iter()
            .find(|b| b.kind() == kind && b.name() == name)
    }
}

/// A simulator's qubit limits within the engine's, and a pinned method it has room for.
fn validate_methods(id: &str, backend: &BackendConfig) -> Result<(), ConfigError> {
    let BackendConfig::Simulator {
        max_qubits,
        max_stabilizer_qubits,
        method,
        ..
    } = backend
    else {
        return Ok(());
    };
    let key = |name: &str| format!("backends[{id}].{name}");
    for (name, value, most) in [
        ("max_qubits", *max_qubits, qrun_engine::ENGINE_MAX_QUBITS),
        (
            "max_stabilizer_qubits",
            *max_stabilizer_qubits,
            qrun_engine::ENGINE_MAX_STABILIZER_QUBITS,
        ),
    ] {
        if value > most {
            return Err(ConfigError::key(
                &key(name),
                format!("{value} is more than the engine simulates ({most})"),
            ));
        }
    }
    let room = match method {
        SimulationMethod::Statevector => ("max_qubits", *max_qubits),
        SimulationMethod::Stabilizer => ("max_stabilizer_qubits", *max_stabilizer_qubits),
        SimulationMethod::Automatic => ("max_qubits", (*max_qubits).max(*max_stabilizer_qubits)),
    };
    if room.1 == 0 {
        return Err(ConfigError::key(
            &key(room.0),
            "is 0: the backend would run no circuit with its method",
        ));
    }
    Ok(())
}

/// Most programs a command backend keeps started ahead of their runs (`warm`): each holds
/// its start-up memory (~100 MiB for the Qiskit runner) while it waits.
pub const MAX_WARM: usize = 32;

/// What a runner needs besides its state vector, MiB: the interpreter with Qiskit and Aer
/// imported peaks at about 100 MiB (the Qiskit runner, measured with `/usr/bin/time -v`:
/// 96 MiB for a 2-qubit run, 1,126 MiB for a 26-qubit one whose vector is 1,024 MiB).
pub const RUNNER_OVERHEAD_MB: u64 = 128;

/// A command backend's `max_qubits` is the width of the state vector its program may have to
/// hold (the Qiskit runner's `--max-qubits`): 16 bytes (a complex double) × 2^`max_qubits`,
/// plus [`RUNNER_OVERHEAD_MB`], must fit in `sandbox.memory_mb`, or the widest circuit the
/// backend advertises could only fail `resource_limit`. 2048 MiB fits 26 qubits (1024 + 128
/// MiB); 27 needs 2048 MiB for the vector alone.
fn validate_state_vector_fits(
    id: &str,
    max_qubits: u32,
    memory_mb: u64,
) -> Result<(), ConfigError> {
    // 16 B × 2^n in MiB is 2^(n - 16); below 16 qubits the vector is under 1 MiB.
    let vector_mb = 1u64
        .checked_shl(max_qubits.saturating_sub(16))
        .unwrap_or(u64::MAX);
    if vector_mb.saturating_add(RUNNER_OVERHEAD_MB) > memory_mb {
        let fits = (0..64u32)
            .take_while(|n| (1u64 << n.saturating_sub(16)) + RUNNER_OVERHEAD_MB <= memory_mb)
            .last();
        return Err(ConfigError::key(
            &format!("backends[{id}].max_qubits"),
            format!(
                "{max_qubits} qubits need a state vector of 16 B × 2^{max_qubits} = {vector_mb} \
                 MiB plus {RUNNER_OVERHEAD_MB} MiB for the runner, more than \
                 sandbox.memory_mb = {memory_mb}; {}",
                match fits {
                    Some(n) => format!("at most {n} qubits fit"),
                    None => "raise sandbox.memory_mb".to_owned(),
                }
            ),
        ));
    }
    Ok(())
}

fn validate_formats(id: &str, backend: &BackendConfig) -> Result<(), ConfigError> {
    let key = format!("backends[{id}].formats");
    if backend.formats().is_empty() {
        return Err(ConfigError::key(&key, "must name at least one format"));
    }
    for format in backend.formats() {
        if !FORMATS.contains(&format.as_str()) {
            return Err(ConfigError::key(
                &key,
                format!("`{format}` is not one of {}", FORMATS.join(", ")),
            ));
        }
        if matches!(backend, BackendConfig::Simulator { .. })
            && !["openqasm2", "openqasm3"].contains(&format.as_str())
        {
            return Err(ConfigError::key(
                &key,
                "the simulator executes only openqasm2 and openqasm3",
            ));
        }
    }
    Ok(())
}

fn validate_sandbox(id: &str, sandbox: &SandboxConfig) -> Result<(), ConfigError> {
    let key = |name: &str| format!("backends[{id}].sandbox.{name}");
    for (name, value) in [
        ("memory_mb", Some(sandbox.memory_mb)),
        ("cpu_s", sandbox.cpu_s),
        ("max_processes", Some(sandbox.max_processes)),
        ("tmp_mb", Some(sandbox.tmp_mb)),
    ] {
        if value == Some(0) {
            return Err(ConfigError::key(&key(name), "must be at least 1"));
        }
    }
    if sandbox.user.is_empty() {
        return Err(ConfigError::key(&key("user"), "must name a user"));
    }
    for (j, path) in sandbox.read_only_paths.iter().enumerate() {
        if !path.is_absolute() {
            return Err(ConfigError::key(
                &key(&format!("read_only_paths[{j}]")),
                format!("`{}` is not an absolute path", path.display()),
            ));
        }
    }
    for name in sandbox.env.keys() {
        if name.is_empty() || name.contains(['=', '\0']) {
            return Err(ConfigError::key(
                &key("env"),
                format!("`{name}` is not a variable name"),
            ));
        }
    }
    Ok(())
}

/// `backends` alone, to layer the merged list over the file's.
#[derive(serde::Serialize)]
struct Backends {
    backends: Vec<Dict>,
}

/// The default `[[backends]]` with a deployment file's merged in by `(type, name)`
/// (docs/DESIGN.md §9): an entry naming a default backend changes only the keys it sets; a
/// new entry starts from the default backend of its type, if there is one (so every simulator
/// limit has its documented default); `enabled = false` removes the backend.
fn merge_backends(defaults: &Figment, declared: &Figment) -> Result<Vec<Dict>, ConfigError> {
    let list = |figment: &Figment| -> Result<Vec<Dict>, ConfigError> {
        figment
            .extract_inner::<Vec<Dict>>("backends")
            .map_err(|e| ConfigError::Invalid(one_line(&e)))
    };
    let key = |entry: &Dict| {
        let text = |k: &str| entry.get(k).and_then(Value::as_str).map(str::to_owned);
        (text("type"), text("name"))
    };
    let built_in = list(defaults)?;
    let mut merged = built_in.clone();
    for (i, entry) in list(declared)?.into_iter().enumerate() {
        let (kind, name) = key(&entry);
        let enabled = match entry.get("enabled") {
            None => true,
            Some(value) => value.to_bool().ok_or_else(|| {
                ConfigError::key(&format!("backends[{i}].enabled"), "must be true or false")
            })?,
        };
        let mut entry = entry;
        entry.remove("enabled");
        match merged
            .iter()
            .position(|m| key(m) == (kind.clone(), name.clone()))
        {
            Some(at) if !enabled => {
                merged.remove(at);
            }
            Some(at) => merged[at].extend(entry),
            None if !enabled => {}
            None => {
                // The built-in backend of its type, never an entry of the file.
                let mut base = built_in
                    .iter()
                    .find(|m| kind.is_some() && key(m).0 == kind)
                    .cloned()
                    .unwrap_or_default();
                base.extend(entry);
                merged.push(base);
            }
        }
    }
    Ok(merged)
}

/// Each merged backend read on its own, so that a wrong key or value names the backend
/// (`backends[command/aer].sandbox`) and the file, not a position in the merged list.
fn check_backends(backends: &[Dict], file: &Path) -> Result<(), ConfigError> {
    for entry in backends {
        let text = |k: &str| entry.get(k).and_then(Value::as_str).unwrap_or("?");
        let id = format!("{}/{}", text("type"), text("name"));
        let value = Value::Dict(figment::value::Tag::Default, entry.clone());
        if let Err(e) = value.deserialize::<BackendConfig>() {
            let mut key = format!("backends[{id}]");
            for part in &e.path {
                key.push('.');
                key.push_str(part);
            }
            let kind = e.kind.to_string().replace('\n', " ");
            return Err(ConfigError::key(
                &key,
                format!("{kind} (from {})", file.display()),
            ));
        }
    }
    Ok(())
}

/// figment's error as one line: what is wrong, the key, and where the value came from.
fn one_line(error: &figment::Error) -> String {
    let key = error.path.join(".");
    let source = error
        .metadata
        .as_ref()
        .map(|m| match &m.source {
            Some(source) => format!(" (from {} {source})", m.name),
            None => format!(" (from {})", m.name),
        })
        .unwrap_or_default();
    let kind = error.kind.to_string().replace('\n', " ");
    if key.is_empty() {
        format!("{kind}{source}")
    } else {
        format!("key `{key}`: {kind}{source}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_toml(extra: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qrun.toml");
        std::fs::write(&path, extra).unwrap();
        Config::load_from(Some(&path), Env::prefixed("QRUN_TEST_NOTHING__"))
    }

    /// A command backend's `max_qubits` must leave its state vector room in `memory_mb`.
    #[test]
    fn a_command_backends_max_qubits_must_fit_its_memory() {
        let aer = |extra: &str| load_toml(&format!("{AER}{extra}"));
        assert!(aer("max_qubits = 26\n").is_ok());
        assert!(aer("max_qubits = 27\n[backends.sandbox]\nmemory_mb = 2176\n").is_ok());
        assert_eq!(
            aer("max_qubits = 27\n").unwrap_err().to_string(),
            "config: key `backends[command/aer].max_qubits`: 27 qubits need a state vector of \
             16 B × 2^27 = 2048 MiB plus 128 MiB for the runner, more than sandbox.memory_mb = \
             2048; at most 26 qubits fit"
        );
        assert_eq!(
            aer("max_qubits = 20\n[backends.sandbox]\nmemory_mb = 100\n")
                .unwrap_err()
                .to_string(),
            "config: key `backends[command/aer].max_qubits`: 20 qubits need a state vector of \
             16 B × 2^20 = 16 MiB plus 128 MiB for the runner, more than sandbox.memory_mb = \
             100; raise sandbox.memory_mb"
        );
    }

    /// `[scheduling]`: weights must be positive and finite, named in the error by handle; a
    /// cap of 0 is none.
    #[test]
    fn scheduling_weights_are_positive_and_a_zero_cap_is_none() {
        let config =
            load_toml("[scheduling]\nmax_running_per_user = 3\nweights = { alice = 3.0 }\n")
                .unwrap();
        assert_eq!(config.scheduling.max_running_per_user(), Some(3));
        assert_eq!(config.scheduling.weights["alice"], 3.0);
        assert_eq!(
            load_toml("").unwrap().scheduling.max_running_per_user(),
            None
        );
        for bad in ["0.0", "-1.0", "nan"] {
            let err = load_toml(&format!("[scheduling]\nweights = {{ bob = {bad} }}\n"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("key `scheduling.weights.bob`")
                    && err.contains("not a positive number"),
                "{bad}: {err}"
            );
        }
    }

    /// A simulator's `method` and qubit limits: automatic by default with both methods; a
    /// pinned method needs room; limits past the engine's and unknown methods are refused,
    /// naming the backend's key.
    #[test]
    fn simulator_methods_and_their_limits() {
        let simulator = |extra: &str| {
            load_toml(&format!(
                "[[backends]]\ntype = \"simulator\"\nname = \"statevector\"\n{extra}"
            ))
        };
        let limits = simulator("").unwrap().backends[0].limits().unwrap();
        assert_eq!(
            (
                limits.max_qubits,
                limits.max_stabilizer_qubits,
                limits.method
            ),
            (24, 10_000, None)
        );
        let pinned = simulator("method = \"stabilizer\"\n").unwrap().backends[0]
            .limits()
            .unwrap();
        assert_eq!(pinned.method, Some(qrun_engine::Method::Stabilizer));
        for (extra, key, says) in [
            (
                "method = \"mps\"\n",
                "backends[simulator/statevector]",
                "found `mps`, expected `one of `automatic`, `statevector`, `stabilizer``",
            ),
            (
                "max_stabilizer_qubits = 40000\n",
                "backends[simulator/statevector].max_stabilizer_qubits",
                "more than the engine simulates (32768)",
            ),
            (
                "max_qubits = 41\n",
                "backends[simulator/statevector].max_qubits",
                "more than the engine simulates (40)",
            ),
            (
                "method = \"stabilizer\"\nmax_stabilizer_qubits = 0\n",
                "backends[simulator/statevector].max_stabilizer_qubits",
                "would run no circuit",
            ),
            (
                "max_qubits = 0\nmax_stabilizer_qubits = 0\n",
                "backends[simulator/statevector].max_qubits",
                "would run no circuit",
            ),
        ] {
            let err = simulator(extra).unwrap_err().to_string();
            assert!(err.contains(key) && err.contains(says), "{extra}: {err}");
        }
    }

    #[test]
    fn backends_merge_with_the_defaults_by_type_and_name() {
        // One command backend added: the built-in simulator stays.
        let config = load_toml(AER).unwrap();
        let kinds: Vec<_> = config
            .backends
            .iter()
            .map(|b| (b.kind(), b.name()))
            .collect();
        assert_eq!(kinds, [("simulator", "statevector"), ("command", "aer")]);

        // The simulator re-declared with one limit: the others keep their defaults.
        let config = load_toml(
            "[[backends]]\ntype = \"simulator\"\nname = \"statevector\"\nmax_qubits = 10\n",
        )
        .unwrap();
        let Some(BackendConfig::Simulator {
            max_qubits,
            max_shots,
            max_gates,
            timeout_s,
            ..
        }) = config.backend("simulator", "statevector")
        else {
            panic!("no simulator");
        };
        assert_eq!(
            (*max_qubits, *max_shots, *max_gates, *timeout_s),
            (10, 100_000, 1_000_000, 300)
        );
        assert_eq!(config.backends.len(), 1);

        // A second simulator starts from the built-in one's keys.
        let config =
            load_toml("[[backends]]\ntype = \"simulator\"\nname = \"small\"\nmax_qubits = 5\n")
                .unwrap();
        assert!(config.backend("simulator", "statevector").is_some());
        assert!(matches!(
            config.backend("simulator", "small"),
            Some(BackendConfig::Simulator {
                max_qubits: 5,
                max_shots: 100_000,
                ..
            })
        ));

        // A second command backend does not inherit the first one's keys.
        let config = load_toml(&format!(
            "{AER}max_qubits = 26\n[[backends]]\ntype = \"command\"\nname = \"other\"\nprogram = \"/opt/other\"\ntimeout_s = 5\n"
        ))
        .unwrap();
        assert!(matches!(
            config.backend("command", "other"),
            Some(BackendConfig::Command {
                max_qubits: None,
                timeout_s: 5,
                ..
            })
        ));

        // enabled = false removes one.
        let config = load_toml(&format!(
            "[[backends]]\ntype = \"simulator\"\nname = \"statevector\"\nenabled = false\n{AER}"
        ))
        .unwrap();
        let kinds: Vec<_> = config
            .backends
            .iter()
            .map(|b| (b.kind(), b.name()))
            .collect();
        assert_eq!(kinds, [("command", "aer")]);

        let err =
            load_toml("[[backends]]\ntype = \"simulator\"\nname = \"statevector\"\nenabled = 3\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("backends[0].enabled"), "{err}");
    }

    #[test]
    fn defaults_load_and_validate() {
        let config = Config::load_from(None, Env::prefixed("QRUN_TEST_NOTHING__")).unwrap();
        assert_eq!(config.server.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(config.database.url, "sqlite://qrun.db?mode=rwc");
        assert!(config.backend("simulator", "statevector").is_some());
    }

    /// A valid command backend, to which a case appends keys.
    const AER: &str = "[[backends]]\ntype = \"command\"\nname = \"aer\"\nprogram = \"/opt/aer\"\ntimeout_s = 30\n";

    #[test]
    fn a_command_backend_gets_the_sandbox_defaults_and_can_set_each_key() {
        let config = load_toml(AER).unwrap();
        let Some(BackendConfig::Command {
            formats, sandbox, ..
        }) = config.backend("command", "aer")
        else {
            panic!("no command backend");
        };
        assert_eq!(formats, &["openqasm2"]);
        assert_eq!(sandbox, &SandboxConfig::default());
        assert!(sandbox.enabled && !sandbox.network && sandbox.cpu_s.is_none());
        assert_eq!(sandbox.user, "nobody");
        assert_eq!(
            (sandbox.memory_mb, sandbox.max_processes, sandbox.tmp_mb),
            (2048, 64, 64)
        );

        let config = load_toml(&format!(
            "{AER}formats = [\"python\", \"openqasm3\", \"qpy\"]\n[backends.sandbox]\nenabled = false\n\
             memory_mb = 256\ncpu_s = 2\nmax_processes = 32\ntmp_mb = 8\nnetwork = true\n\
             user = \"qrun-runner\"\nread_only_paths = [\"/opt/venv\"]\nenv = {{ OMP_NUM_THREADS = \"1\" }}\n"
        ))
        .unwrap();
        let Some(BackendConfig::Command {
            formats, sandbox, ..
        }) = config.backend("command", "aer")
        else {
            panic!("no command backend");
        };
        assert_eq!(formats, &["python", "openqasm3", "qpy"]);
        assert_eq!(
            sandbox,
            &SandboxConfig {
                enabled: false,
                memory_mb: 256,
                cpu_s: Some(2),
                max_processes: 32,
                tmp_mb: 8,
                user: "qrun-runner".into(),
                network: true,
                read_only_paths: vec![PathBuf::from("/opt/venv")],
                env: BTreeMap::from([("OMP_NUM_THREADS".into(), "1".into())]),
            }
        );
        let defaults = Config::load_from(None, Env::prefixed("QRUN_TEST_NOTHING__")).unwrap();
        assert_eq!(
            defaults
                .backend("simulator", "statevector")
                .unwrap()
                .formats(),
            ["openqasm2", "openqasm3"]
        );
    }

    #[test]
    fn bad_configs_name_the_key_on_one_line() {
        let cases: &[(&str, &str)] = &[
            ("[server]\nbnid = \"x\"\n", "server.bnid"),
            ("[server]\nbind = 42\n", "server.bind"),
            ("[recorder]\nmax_batch = \"lots\"\n", "recorder.max_batch"),
            ("[recorder]\nmax_batch = 0\n", "recorder.max_batch"),
            ("[database]\nurl = \"mysql://x\"\n", "database.url"),
            ("[logging]\nformat = \"xml\"\n", "logging.format"),
            ("[nonsense]\nx = 1\n", "nonsense"),
            (
                "[[backends]]\ntype = \"command\"\nname = \"aer\"\nprogram = \"aer\"\ntimeout_s = 3\n",
                "backends[command/aer].program",
            ),
            (
                &format!("{AER}formats = []\n"),
                "backends[command/aer].formats",
            ),
            (
                &format!("{AER}formats = [\"openqasm2\", \"quil\"]\n"),
                "backends[command/aer].formats",
            ),
            (
                "[[backends]]\ntype = \"simulator\"\nname = \"s\"\nmax_qubits = 2\nmax_shots = 1\n\
                 max_gates = 1\nmax_source_bytes = 1\ntimeout_s = 1\nformats = [\"python\"]\n",
                "backends[simulator/s].formats",
            ),
            (
                "[[backends]]\ntype = \"simulator\"\nname = \"s\"\nmax_qubits = 2\nmax_shots = 1\n\
                 max_gates = 1\nmax_source_bytes = 1\ntimeout_s = 1\nformats = [\"openqasm3\", \"qpy\"]\n",
                "backends[simulator/s].formats",
            ),
            (
                &format!("{AER}[backends.sandbox]\nmemory_mb = 0\n"),
                "backends[command/aer].sandbox.memory_mb",
            ),
            (
                &format!("{AER}max_qubits = 27\n"),
                "backends[command/aer].max_qubits",
            ),
            (&format!("{AER}warm = 33\n"), "backends[command/aer].warm"),
            (
                &format!("{AER}max_qubits = 4000000000\n[backends.sandbox]\nmemory_mb = 4096\n"),
                "backends[command/aer].max_qubits",
            ),
            (
                &format!("{AER}[backends.sandbox]\ncpu_s = 0\n"),
                "backends[command/aer].sandbox.cpu_s",
            ),
            (
                &format!("{AER}[backends.sandbox]\nmax_processes = 0\n"),
                "backends[command/aer].sandbox.max_processes",
            ),
            (
                &format!("{AER}[backends.sandbox]\ntmp_mb = 0\n"),
                "backends[command/aer].sandbox.tmp_mb",
            ),
            (
                &format!("{AER}[backends.sandbox]\nuser = \"\"\n"),
                "backends[command/aer].sandbox.user",
            ),
            (
                &format!("{AER}[backends.sandbox]\nread_only_paths = [\"/opt/venv\", \"venv\"]\n"),
                "backends[command/aer].sandbox.read_only_paths[1]",
            ),
            (
                &format!("{AER}[backends.sandbox]\nenv = {{ \"A=B\" = \"1\" }}\n"),
                "backends[command/aer].sandbox.env",
            ),
            (
                &format!("{AER}[backends.sandbox]\nmemroy_mb = 1\n"),
                // figment loses the path inside a tagged enum; the field is named.
                "backends[command/aer]`: unknown field: found `memroy_mb`",
            ),
            (
                &format!("{AER}[backends.sandbox]\nnetwork = \"yes\"\n"),
                // Likewise for a wrongly typed value (as for every backend key).
                "backends[command/aer]`: invalid type: found string \"yes\", expected a boolean",
            ),
        ];
        for &(toml, key) in cases {
            let err = load_toml(toml).expect_err(toml).to_string();
            assert!(err.contains(key), "{toml:?}: `{err}` does not name `{key}`");
            assert!(!err.contains('\n'), "{toml:?}: `{err}` is not one line");
        }
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's closure signature
    fn environment_overrides_file_and_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("QRUN__SERVER__BIND", "127.0.0.1:0");
            jail.set_env("QRUN__RECORDER__MAX_BATCH", "7");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config.server.bind.port(), 0);
            assert_eq!(config.recorder.max_batch, 7);
            jail.set_env("QRUN__RECORDER__MAX_BATCH", "seven");
            let err = Config::load(None).expect_err("typed").to_string();
            assert!(err.contains("recorder.max_batch"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn a_missing_config_file_is_an_error() {
        let err = Config::load_from(
            Some(Path::new("/nonexistent/qrun.toml")),
            Env::prefixed("X__"),
        )
        .expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/qrun.toml"));
    }
}
