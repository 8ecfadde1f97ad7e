//! The JSON shapes of the API (docs/DESIGN.md §6, §11), and only those: requests in, views out.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer, Unexpected};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::schema::{AdditionalProperties, Object, ObjectBuilder, SchemaType, Type};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::config::BackendConfig;
use crate::domain::QueueStanding;
use crate::domain::job::JobMetadata;
use crate::domain::{
    Action, ApiToken, AuditEntry, Caller, Circuit, CircuitVersion, Credential, ErrorClass,
    ErrorStage, Job, JobSummary, MemoryPage, Run, RunResults, RunSpec, RunStatus,
};
use crate::service::circuits::UPLOAD_FORMATS;
use crate::service::health::RunsHealth;
use crate::service::rules::BackendRules;
use crate::service::runs::MAX_IDEMPOTENCY_KEY;

/// A string schema that admits exactly `values`.
fn one_of_strings<'a>(description: &str, values: impl IntoIterator<Item = &'a str>) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(values))
        .build()
}

/// [`one_of_strings`], or null.
fn optional_one_of_strings<'a>(
    description: &str,
    values: impl IntoIterator<Item = &'a str>,
) -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .description(Some(description))
        .enum_values(Some(
            values
                .into_iter()
                .map(Value::from)
                .chain([Value::Null])
                .collect::<Vec<_>>(),
        ))
        .build()
}

/// The JSON Schema `pattern` of a string that holds no U+0000. Every string of a request body
/// and every query value is refused with a 400 if it holds one (`extract::parse_json`,
/// `extract::check_query_value`: PostgreSQL's text cannot store it), so each string a request
/// declares says so: with this pattern, or with one of its own that excludes `\u0000` too
/// (`#[schema(pattern)]` takes only a literal, so those spell it out; a test walks the
/// document for any string that admits it).
const NO_NUL: &str = "^[^\\u0000]*$";

/// `POST /api/runs`. Name the circuit by exactly one of `circuit_id` or `circuit` ("owner/name").
// The document's `oneOf` that says "exactly one" is added in `openapi.rs` (utoipa cannot).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitRun {
    pub circuit_id: Option<Uuid>,
    /// `owner/name` (a well-formed name that no circuit has is a 404).
    #[schema(pattern = "^[^/\\u0000]+/[^/\\u0000]+$")]
    pub circuit: Option<String>,
    /// The circuit version; the latest when absent (one the circuit does not have is a 404).
    #[serde(default, deserialize_with = "optional_whole")]
    #[schema(minimum = 1, maximum = 2147483647)]
    pub version: Option<i32>,
    pub backend: BackendRef,
    /// 1 to the chosen backend's `max_shots` (`GET /api/backends`; a larger count is a 400
    /// `invalid_shots`). The maximum here is the largest of this deployment's backends; the
    /// object's `oneOf` holds each backend's own.
    // The maximum is this deployment's, set in `openapi.rs` from the running configuration.
    #[serde(deserialize_with = "whole")]
    #[schema(minimum = 1)]
    pub shots: u64,
    /// Values for the circuit's parameters by name (OpenQASM 3 `input float[64] theta;` →
    /// `{"theta": 0.5}`; a Python circuit's free parameters). Each must be a number; a missing
    /// or unknown one, or any for an OpenQASM 2 circuit, is a 400 `invalid_parameters`.
    #[serde(default)]
    #[schema(schema_with = parameters_schema)]
    pub parameters: Option<serde_json::Map<String, serde_json::Value>>,
    /// The sampling seed, 0 to 2^63 - 1: the same seed, circuit, parameters and shots give
    /// the same counts (on the built-in simulator, and on runners that honour it). Absent: a
    /// fresh seed.
    #[serde(default, deserialize_with = "optional_whole")]
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub seed: Option<i64>,
    /// Record every shot's outcome (Qiskit's `memory=True`), served by `GET
    /// /api/runs/{id}/memory`. Shots × the circuit's classical bits must not exceed the
    /// service's `executor.max_memory_bits` (a Python circuit counts 1024 bits): else a 400
    /// `memory_too_large`. Default false.
    #[serde(default)]
    pub memory: bool,
    /// The backend's run options by Qiskit Aer's names (`GET /api/backends` lists each
    /// backend's): on the built-in simulator `method` (`automatic`, `statevector` or
    /// `stabilizer`, among the backend's methods) and `precision` (`double`, the default, or
    /// `single`: the state vector's amplitudes in f32); on a command backend the names its
    /// configuration lists, passed to its program (the Qiskit runner: `method`, and
    /// `noise_model` as `NoiseModel.to_dict(serializable=True)` writes it). Any other name or
    /// value is a 400 `invalid_options`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub options: Option<serde_json::Map<String, serde_json::Value>>,
    /// The run's name in its job (Qiskit's `circuit.name`), 1–255 characters: only in `POST
    /// /api/jobs` (in `POST /api/runs`, a 400 `invalid_body`).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255, pattern = "^[^\\u0000]*$")]
    pub name: Option<String>,
}

fn parameters_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .description(Some(
            "Values for the circuit's parameters by name (OpenQASM 3 `input float[64] theta;` → \
             `{\"theta\": 0.5}`; a Python circuit's free parameters). Each must be a number; a \
             missing or unknown one, or any for an OpenQASM 2 circuit, is a 400 \
             `invalid_parameters`.",
        ))
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(NO_NUL)),
        ))
        .additional_properties(Some(AdditionalProperties::from(
            ObjectBuilder::new().schema_type(Type::Number),
        )))
        .build()
}

/// A JSON integer as JSON Schema's `integer` counts them: any number whose value is whole, so
/// `100`, `100.0` and `1e2` alike (a client that computes a count as a float sends it so). A
/// fraction, or a value outside `T`, is refused.
fn whole<'de, D: Deserializer<'de>, T: TryFrom<i128>>(deserializer: D) -> Result<T, D::Error> {
    whole_number(serde_json::Number::deserialize(deserializer)?)
}

fn optional_whole<'de, D: Deserializer<'de>, T: TryFrom<i128>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    Option::<serde_json::Number>::deserialize(deserializer)?
        .map(whole_number)
        .transpose()
}

fn whole_number<T: TryFrom<i128>, E: de::Error>(number: serde_json::Number) -> Result<T, E> {
    let (value, unexpected) = if let Some(n) = number.as_u64() {
        (Some(i128::from(n)), Unexpected::Unsigned(n))
    } else if let Some(n) = number.as_i64() {
        (Some(i128::from(n)), Unexpected::Signed(n))
    } else {
        let f = number.as_f64().unwrap_or(f64::NAN);
        // Whole and within i128 (so the cast is exact); `T` decides the range.
        let whole = f.fract() == 0.0 && f.abs() < 2f64.powi(100);
        (whole.then_some(f as i128), Unexpected::Float(f))
    };
    value
        .and_then(|v| T::try_from(v).ok())
        .ok_or_else(|| E::invalid_value(unexpected, &"a whole number in range"))
}

/// A backend the deployment declares (`[[backends]]` in its configuration), e.g.
/// `{"type": "simulator", "name": "statevector"}`; any other is a 400 `unknown_backend`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackendRef {
    #[serde(rename = "type")]
    #[schema(schema_with = backend_kind_schema)]
    pub kind: String,
    /// The backend's name in the configuration (the built-in simulator: `statevector`).
    // Which `(type, name)` pairs exist is this deployment's: an `enum` set in `openapi.rs`.
    pub name: String,
}

fn backend_kind_schema() -> Object {
    one_of_strings(
        "`simulator` (the built-in state-vector simulator) or `command` (an external program)",
        BackendConfig::KINDS,
    )
}

/// The headers of `POST /api/runs` (documentation only: the handler reads them with filters).
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct SubmitHeaders {
    #[param(rename = "X-Analytics-Consent", schema_with = consent_schema)]
    consent: Option<String>,
    /// 1–255 visible ASCII characters. A replay with the same key returns the original run
    /// (200); the same key for a different submission is a 422.
    #[param(
        rename = "Idempotency-Key",
        min_length = 1,
        max_length = 255,
        pattern = "^[!-~]+$"
    )]
    idempotency_key: Option<String>,
}

const _: () = assert!(
    MAX_IDEMPOTENCY_KEY == 255,
    "update SubmitHeaders' max_length"
);

/// `granted` or `denied` in any case (`extract::parse_consent`): a pattern, not an `enum`,
/// because `Granted` is accepted too.
fn consent_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "`granted` or `denied` (case-insensitive): whether the run's analytics events may be \
             captured; absent means `denied`",
        ))
        .pattern(Some(
            "^(?:[Gg][Rr][Aa][Nn][Tt][Ee][Dd]|[Dd][Ee][Nn][Ii][Ee][Dd])$",
        ))
        .build()
}

/// The query of `GET /api/runs` (documentation only: the handler reads the query itself, to
/// refuse unknown keys).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListRunsQuery {
    #[param(schema_with = run_status_schema)]
    status: Option<String>,
    /// Only runs of this circuit, `owner/name`.
    #[param(pattern = "^[^/\\u0000]+/[^/\\u0000]+$")]
    circuit: Option<String>,
    /// Only runs of this circuit.
    circuit_id: Option<Uuid>,
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u64>,
    /// The `next_cursor` of the previous page (opaque; any other value is a 400
    /// `invalid_cursor`).
    #[param(pattern = "^[A-Za-z0-9_-]+$")]
    cursor: Option<String>,
}

fn run_status_schema() -> Object {
    one_of_strings(
        "Only runs in this status",
        RunStatus::ALL.map(RunStatus::as_str),
    )
}

/// A run's outcome.
#[derive(Serialize, ToSchema)]
pub struct ResultsView {
    /// Counts keyed like Qiskit's `get_counts()`.
    pub counts: BTreeMap<String, u64>,
    #[schema(minimum = 1)]
    pub shots: u64,
    /// Seconds the backend spent executing the circuit.
    #[schema(minimum = 0)]
    pub execution_time: f64,
    pub unique_states: u64,
    /// The simulation method that ran it (`statevector`, `stabilizer`); null when the backend
    /// does not say (a command backend).
    pub method: Option<String>,
    /// The state vector's precision (`double`, `single`) where the built-in simulator ran it
    /// on the state vector; null otherwise.
    pub precision: Option<String>,
    /// When the run completed (its `completed_at`): Qiskit's `Result.date`.
    pub date: DateTime<Utc>,
    /// Seconds from the run's start to its completion (`completed_at - started_at`: prepare,
    /// execute and store on its executor): Qiskit's `Result.time_taken`.
    #[schema(minimum = 0)]
    pub time_taken: f64,
}

impl ResultsView {
    /// The view of `results` of a run that started at `started_at` and completed at
    /// `completed_at` (a completed run has both; `None` otherwise).
    pub fn of(
        results: &RunResults,
        started_at: Option<DateTime<Utc>>,
        completed_at: Option<DateTime<Utc>>,
    ) -> Option<Self> {
        let (started, date) = (started_at?, completed_at?);
        let RunResults {
            counts,
            shots,
            execution_time,
            unique_states,
            method,
            precision,
        } = results;
        Some(ResultsView {
            counts: counts.clone(),
            shots: *shots,
            execution_time: *execution_time,
            unique_states: *unique_states,
            method: method.clone(),
            precision: precision.clone(),
            date,
            time_taken: seconds_between(started, date),
        })
    }
}

/// Seconds from `from` to `to` (0 if `to` is earlier).
pub fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from)
        .to_std()
        .map_or(0.0, |elapsed| elapsed.as_secs_f64())
}

/// `POST /api/jobs`: runs submitted together as one job.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitJob {
    /// The job's runs in order (Qiskit's experiments), each as `POST /api/runs` takes one,
    /// with its `name`; 1 to the service's `executor.max_runs_per_job` (1000 by default).
    #[schema(min_items = 1)]
    pub runs: Vec<SubmitRun>,
    /// Tags to find the job by (`GET /api/jobs?tag=`): at most 32, each 1–255 characters
    /// without control characters.
    #[serde(default)]
    #[schema(schema_with = tags_schema)]
    pub tags: Vec<String>,
    /// A JSON object of the submitter's own, kept with the job as given and returned by
    /// `GET /api/jobs/{id}` (the Qiskit client keeps a Sampler's PUB shapes and register
    /// layout there); at most 65536 bytes as compact JSON (else 400 `invalid_job`). Compared
    /// by an idempotent replay.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: JobMetadata,
}

/// At most 32 tags, each 1–255 characters without control characters (U+0000 included).
fn tags_schema() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .description(Some(
            "Tags: at most 32, each 1-255 characters without control characters",
        ))
        .max_items(Some(32))
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255))
                .pattern(Some("^[^\\u0000-\\u001f\\u007f-\\u009f]*$")),
        )
        .build()
}

/// `PUT /api/jobs/{id}/tags`: the job's new tags, replacing the old.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobTags {
    #[schema(schema_with = tags_schema)]
    pub tags: Vec<String>,
}

/// A job: its runs in submission order, how many are in each status, and its usage.
#[derive(Serialize, ToSchema)]
pub struct JobView {
    pub id: Uuid,
    /// Sorted, each once.
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// `pending` while every run is pending; `running` while any run is pending or running
    /// and not every one pending; once all are terminal: `completed` when all completed,
    /// `failed` when any failed (the others' results stand: each run says its own),
    /// `cancelled` otherwise.
    #[schema(schema_with = job_status_schema)]
    pub status: String,
    /// How many of its runs are in each status (every status, zeros included).
    pub status_counts: BTreeMap<String, u64>,
    pub usage: JobUsage,
    /// The `metadata` the submission gave (`{}` when none).
    #[schema(value_type = Object)]
    pub metadata: JobMetadata,
    pub runs: Vec<JobRunView>,
}

fn job_status_schema() -> Object {
    one_of_strings(
        "The job's status, from its runs'",
        ["pending", "running", "completed", "failed", "cancelled"],
    )
}

/// What a job's runs used (Qiskit's `job.usage()`).
#[derive(Serialize, ToSchema)]
pub struct JobUsage {
    /// The sum of its runs' `time_taken` (seconds from start to completion of each run that
    /// completed, failed or was cancelled after starting).
    #[schema(minimum = 0)]
    pub seconds: f64,
}

/// One run of a job: its name (Qiskit's `circuit.name`) and the run.
#[derive(Serialize, ToSchema)]
pub struct JobRunView {
    pub name: Option<String>,
    pub run: RunView,
}

impl JobView {
    /// The view of `job`, whose runs' circuits are `circuits` (in the same order); its owner
    /// is the viewer, who sees each run's submitter.
    pub fn new(job: &Job, circuits: &[Circuit]) -> Self {
        let mut status_counts: BTreeMap<String, u64> = RunStatus::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), 0))
            .collect();
        let mut seconds = 0.0;
        for member in &job.runs {
            *status_counts
                .entry(member.run.status.as_str().to_owned())
                .or_default() += 1;
            if let (Some(started), Some(completed)) =
                (member.run.started_at, member.run.completed_at)
            {
                seconds += seconds_between(started, completed);
            }
        }
        let count = |status: RunStatus| status_counts[status.as_str()];
        let total = job.runs.len() as u64;
        let status = if count(RunStatus::Pending) == total {
            "pending"
        } else if count(RunStatus::Pending) + count(RunStatus::Running) > 0 {
            "running"
        } else if count(RunStatus::Completed) == total {
            "completed"
        } else if count(RunStatus::Failed) > 0 {
            "failed"
        } else {
            "cancelled"
        };
        JobView {
            id: job.id,
            tags: job.tags.clone(),
            created_at: job.created_at,
            status: status.to_owned(),
            status_counts,
            usage: JobUsage { seconds },
            metadata: job.metadata.clone(),
            runs: job
                .runs
                .iter()
                .zip(circuits)
                .map(|(member, circuit)| JobRunView {
                    name: member.name.clone(),
                    run: RunView::new(&member.run, circuit, true, None),
                })
                .collect(),
        }
    }
}

/// A job in a listing: no runs, their number.
#[derive(Serialize, ToSchema)]
pub struct JobSummaryView {
    pub id: Uuid,
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// How many runs it holds.
    pub runs: u64,
}

impl From<&JobSummary> for JobSummaryView {
    fn from(job: &JobSummary) -> Self {
        JobSummaryView {
            id: job.id,
            tags: job.tags.clone(),
            created_at: job.created_at,
            runs: job.runs,
        }
    }
}

/// A page of the caller's jobs, newest first.
#[derive(Serialize, ToSchema)]
pub struct JobPage {
    pub jobs: Vec<JobSummaryView>,
    /// The `cursor` of the next page; null after the last.
    pub next_cursor: Option<String>,
}

/// The query of `GET /api/runs/{id}/memory` (documentation only: the handler reads the
/// query itself, to refuse unknown keys).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct MemoryQuery {
    /// The first shot of the page, from 0 (default 0).
    #[param(minimum = 0)]
    offset: Option<u64>,
    /// Shots in the page, 1–10000 (default 10000).
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<u64>,
}

/// A page of a run's per-shot memory: shots `offset .. offset + memory.len()` of `shots`.
#[derive(Serialize, ToSchema)]
pub struct MemoryPageView {
    /// Every shot's count key (keyed exactly as `results.counts`), in shot order: Qiskit's
    /// `result.get_memory()`.
    pub memory: Vec<String>,
    /// The page's first shot, from 0.
    pub offset: u64,
    /// The run's shots in all.
    pub shots: u64,
    /// The `offset` of the next page; null after the last.
    pub next_offset: Option<u64>,
}

impl From<MemoryPage> for MemoryPageView {
    fn from(page: MemoryPage) -> Self {
        let end = page.offset + page.keys.len() as u64;
        MemoryPageView {
            next_offset: (end < page.shots).then_some(end),
            memory: page.keys,
            offset: page.offset,
            shots: page.shots,
        }
    }
}

/// A backend runs can choose (`GET /api/backends`): what a client needs to build its
/// transpiler target.
#[derive(Serialize, ToSchema)]
pub struct BackendView {
    #[serde(rename = "type")]
    #[schema(schema_with = backend_kind_schema)]
    pub kind: String,
    pub name: String,
    /// The circuit formats it executes: `openqasm2`, `openqasm3`, `python`, `qpy`.
    #[schema(schema_with = backend_formats_schema)]
    pub formats: Vec<String>,
    /// The widest circuit it runs, qubits, by any of its methods; null when the backend does
    /// not say.
    pub max_qubits: Option<u32>,
    /// The simulation methods it runs, each with its widest circuit: a circuit of Clifford
    /// operations only may use the `stabilizer`'s, any other the `statevector`'s. Empty for
    /// a command backend.
    pub methods: Vec<MethodView>,
    /// Shots per run, at most.
    #[schema(minimum = 1)]
    pub max_shots: u64,
    /// The gates it executes natively, by Qiskit's standard names.
    pub native_gates: Vec<String>,
    /// The run options a submission may give it (`options` of `POST /api/runs`), by Qiskit
    /// Aer's names: `method` and `precision` on the built-in simulator, what a command backend's
    /// configuration lists (e.g. `method`, `noise_model`).
    pub options: Vec<String>,
}

/// A simulation method of a backend.
#[derive(Serialize, ToSchema)]
pub struct MethodView {
    /// `statevector` or `stabilizer` (Qiskit Aer's names).
    #[schema(schema_with = method_name_schema)]
    pub name: &'static str,
    /// The widest circuit it runs on this backend, qubits.
    pub max_qubits: u32,
}

fn method_name_schema() -> Object {
    one_of_strings(
        "A simulation method",
        qrun_engine::Method::ALL.map(qrun_engine::Method::as_str),
    )
}

fn backend_formats_schema() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .description(Some(
            "The circuit formats it executes: `openqasm2`, `openqasm3`, `python`, `qpy`.",
        ))
        .items(one_of_strings("A circuit format", UPLOAD_FORMATS))
        .build()
}

/// `GET /api/backends`.
#[derive(Serialize, ToSchema)]
pub struct BackendList {
    pub backends: Vec<BackendView>,
    /// The most runs one job holds (`POST /api/jobs`; `executor.max_runs_per_job`, 1000 by
    /// default): a Qiskit client's `backend.max_circuits`, so a larger batch is split.
    #[schema(minimum = 1)]
    pub max_runs_per_job: u64,
}

impl From<&BackendRules> for BackendView {
    fn from(b: &BackendRules) -> Self {
        BackendView {
            kind: b.kind.clone(),
            name: b.name.clone(),
            formats: b.formats.clone(),
            max_qubits: b.max_qubits,
            methods: b
                .methods
                .iter()
                .map(|m| MethodView {
                    name: m.name,
                    max_qubits: m.max_qubits,
                })
                .collect(),
            max_shots: b.max_shots,
            native_gates: b.native_gates.clone(),
            options: b.options.clone(),
        }
    }
}

/// A run. `user_id` and `analytics_consent` are null unless the viewer is the submitter or
/// the circuit's owner.
#[derive(Serialize, ToSchema)]
pub struct RunView {
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub circuit_id: Uuid,
    /// `owner/name`
    pub circuit: String,
    #[schema(minimum = 1)]
    pub circuit_version: i32,
    #[schema(schema_with = run_status_view_schema)]
    pub status: String,
    #[schema(schema_with = backend_kind_schema)]
    pub backend_type: String,
    pub backend_name: String,
    pub framework: String,
    #[schema(minimum = 1)]
    pub shots: u64,
    /// The values bound to the circuit's parameters (`{}` when none).
    pub parameters: BTreeMap<String, f64>,
    /// The sampling seed, if the submission gave one.
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub seed: Option<u64>,
    /// Whether the run records every shot's outcome (`GET /api/runs/{id}/memory`).
    pub memory: bool,
    /// The backend's run options the submission gave (`{}` when none).
    #[schema(value_type = Object)]
    pub options: BTreeMap<String, serde_json::Value>,
    pub results: Option<ResultsView>,
    /// Why a failed run failed (null unless failed).
    #[schema(schema_with = error_class_schema)]
    pub error_class: Option<String>,
    pub error_message: Option<String>,
    /// Where a failed run failed (null unless failed).
    #[schema(schema_with = error_stage_schema)]
    pub error_stage: Option<String>,
    pub analytics_consent: Option<bool>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// A pending run's place in the order the claims will start pending runs in (fair share,
    /// as the queues are now): 1 is next. Null unless pending, and in listings and the
    /// submission's answer.
    #[schema(minimum = 1)]
    pub queue_position: Option<u64>,
    /// When a pending run may start: an estimate from its backend's recent execution times.
    /// Null unless pending, before the backend has completed a run, and in listings and the
    /// submission's answer.
    pub estimated_start_at: Option<DateTime<Utc>>,
}

fn run_status_view_schema() -> Object {
    one_of_strings("The run's status", RunStatus::ALL.map(RunStatus::as_str))
}

fn error_class_schema() -> Object {
    optional_one_of_strings(
        "Why a failed run failed (null unless failed)",
        ErrorClass::ALL.map(ErrorClass::as_str),
    )
}

fn error_stage_schema() -> Object {
    optional_one_of_strings(
        "Where a failed run failed (null unless failed)",
        ErrorStage::ALL.map(ErrorStage::as_str),
    )
}

impl RunView {
    /// Every field of the run is taken apart by name (no `..`): a field added to [`Run`] or
    /// [`RunSpec`] does not compile until this view shows it or says why not.
    /// `standing`: where the run stands if it is pending and was asked
    /// ([`crate::service::Service::standing`]).
    pub fn new(
        run: &Run,
        circuit: &Circuit,
        show_submitter: bool,
        standing: Option<&QueueStanding>,
    ) -> Self {
        let Run {
            id,
            user_id,
            idempotency_key: _, // the submitter's own key; never shown back
            spec,
            status,
            results,
            error_class,
            error_message,
            error_stage,
            created_at,
            started_at,
            completed_at,
            claimed_by: _, // executor bookkeeping: `qrun run show` has it
            lease_expires_at: _,
        } = run;
        let RunSpec {
            circuit_id,
            circuit_version,
            backend_type,
            backend_name,
            framework,
            shots,
            analytics_consent,
            parameters,
            seed,
            memory,
            options,
        } = spec;
        RunView {
            id: *id,
            user_id: show_submitter.then_some(*user_id),
            circuit_id: *circuit_id,
            circuit: format!("{}/{}", circuit.owner_handle, circuit.name),
            circuit_version: *circuit_version,
            status: status.as_str().to_owned(),
            backend_type: backend_type.clone(),
            backend_name: backend_name.clone(),
            framework: framework.clone(),
            shots: *shots,
            parameters: parameters.clone(),
            seed: *seed,
            memory: *memory,
            options: options.clone(),
            results: results
                .as_ref()
                .and_then(|r| ResultsView::of(r, *started_at, *completed_at)),
            error_class: error_class.map(|c| c.as_str().to_owned()),
            error_message: error_message.clone(),
            error_stage: error_stage.map(|s| s.as_str().to_owned()),
            analytics_consent: if show_submitter {
                *analytics_consent
            } else {
                None
            },
            created_at: *created_at,
            started_at: *started_at,
            completed_at: *completed_at,
            queue_position: standing.map(|s| s.position),
            estimated_start_at: standing.and_then(|s| s.estimated_start_at),
        }
    }
}

/// A page of the caller's runs, newest first.
#[derive(Serialize, ToSchema)]
pub struct RunPage {
    pub runs: Vec<RunView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// One transition of a run's timeline.
#[derive(Serialize, ToSchema)]
pub struct AuditEntryView {
    pub id: Uuid,
    #[schema(schema_with = audit_action_schema)]
    pub action: String,
    /// The run's owner; null unless the viewer may see the submitter.
    pub actor_user_id: Option<Uuid>,
    /// The transition's context: framework, backend, error class and stage, who caused it.
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
}

fn audit_action_schema() -> Object {
    one_of_strings("The transition", Action::ALL.map(Action::audit_action))
}

/// Metadata keys that identify a person (who cancelled) or one of the service's machines (the
/// node that claimed, handed back or recovered the run: its default id is `HOSTNAME-PID-…`);
/// dropped for viewers who may not see the submitter (anonymous viewers and other users of a
/// public circuit's runs). The submitter and the circuit's owner see them, and operators
/// (`qrun run show`).
const PRIVATE_METADATA: [&str; 2] = ["cancelled_by", "node"];

impl AuditEntryView {
    pub fn new(entry: &AuditEntry, show_submitter: bool) -> Self {
        let mut metadata = entry.metadata.clone();
        if !show_submitter && let Value::Object(map) = &mut metadata {
            for key in PRIVATE_METADATA {
                map.remove(key);
            }
        }
        AuditEntryView {
            id: entry.id,
            action: entry.action.clone(),
            actor_user_id: show_submitter.then_some(entry.actor_user_id),
            metadata,
            created_at: entry.created_at,
        }
    }
}

/// A run's transition timeline, oldest first.
#[derive(Serialize, ToSchema)]
pub struct AuditTimeline {
    pub run_id: Uuid,
    pub entries: Vec<AuditEntryView>,
}

/// `POST /api/circuits`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCircuit {
    /// Unique among the owner's circuits: 1–100 of `a–z`, `0–9`, `-`, `_`, `.`, starting with a
    /// letter or digit.
    #[schema(min_length = 1, max_length = 100, pattern = "^[a-z0-9][a-z0-9._-]*$")]
    pub name: String,
    pub visibility: VisibilityView,
    /// The source in `manifest.format`; OpenQASM is syntax-checked on upload (a 400
    /// `invalid_source` with line:col); `qpy` is a QPY file in standard base64, checked for
    /// the encoding and QPY's magic (400 `invalid_source`).
    #[schema(pattern = "^[^\\u0000]*$")]
    pub source: String,
    pub manifest: ManifestView,
}

/// `POST /api/circuits/{owner}/{name}/versions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddVersion {
    /// The source in `manifest.format`; OpenQASM is syntax-checked on upload (a 400
    /// `invalid_source` with line:col); `qpy` is a QPY file in standard base64, checked for
    /// the encoding and QPY's magic (400 `invalid_source`).
    #[schema(pattern = "^[^\\u0000]*$")]
    pub source: String,
    pub manifest: ManifestView,
}

/// `PUT /api/circuits/{owner}/{name}/visibility`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetVisibility {
    pub visibility: VisibilityView,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum VisibilityView {
    Public,
    Private,
}

impl From<VisibilityView> for crate::domain::Visibility {
    fn from(view: VisibilityView) -> Self {
        match view {
            VisibilityView::Public => crate::domain::Visibility::Public,
            VisibilityView::Private => crate::domain::Visibility::Private,
        }
    }
}

/// `{"framework": "qiskit", "format": "openqasm2"}`
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManifestView {
    /// The SDK the circuit was written for: one of the server's `executor.frameworks` (by
    /// default qiskit, cirq, pennylane, braket, pytket, openqasm); another is 400
    /// `invalid_manifest`.
    #[schema(min_length = 1, max_length = 64, pattern = "^[a-z0-9._-]+$")]
    pub framework: String,
    #[schema(schema_with = manifest_format_schema)]
    pub format: String,
}

fn manifest_format_schema() -> Object {
    one_of_strings("The source format", UPLOAD_FORMATS)
}

/// A circuit at one version.
// Named `Circuit` in the document, the resource a submission's `circuit_id` names (so a
// client, or a test generator inferring links, connects the two).
#[derive(Serialize, ToSchema)]
#[schema(as = Circuit)]
pub struct CircuitView {
    pub id: Uuid,
    pub owner: String,
    pub name: String,
    pub visibility: VisibilityView,
    pub created_at: DateTime<Utc>,
    /// The version this view shows (the latest on reads, the new one on writes).
    pub version: i32,
    pub version_created_at: DateTime<Utc>,
    pub manifest: ManifestView,
    /// The source of `version` (reads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl CircuitView {
    pub fn new(circuit: &Circuit, version: &CircuitVersion, with_source: bool) -> Self {
        CircuitView {
            id: circuit.id,
            owner: circuit.owner_handle.clone(),
            name: circuit.name.clone(),
            visibility: match circuit.visibility {
                crate::domain::Visibility::Public => VisibilityView::Public,
                crate::domain::Visibility::Private => VisibilityView::Private,
            },
            created_at: circuit.created_at,
            version: version.version,
            version_created_at: version.created_at,
            manifest: ManifestView {
                framework: version.manifest.framework.clone(),
                format: version.manifest.format.clone(),
            },
            source: with_source.then(|| version.source.clone()),
        }
    }
}

/// `/api/health/runs`: counts and ages only.
#[derive(Serialize, ToSchema)]
pub struct RunsHealthView {
    /// Seconds a run may run before it counts as stranded.
    pub window_s: u64,
    /// Runs running past the window or past their executor's lease.
    pub stranded: u64,
    pub pending: u64,
    pub running: u64,
    pub oldest_pending_age_s: Option<f64>,
    pub oldest_running_age_s: Option<f64>,
    pub checked_at: DateTime<Utc>,
}

impl From<RunsHealth> for RunsHealthView {
    fn from(h: RunsHealth) -> Self {
        RunsHealthView {
            window_s: h.window_s,
            stranded: h.stranded,
            pending: h.pending,
            running: h.running,
            oldest_pending_age_s: h.oldest_pending_age_s,
            oldest_running_age_s: h.oldest_running_age_s,
            checked_at: h.checked_at,
        }
    }
}

/// `GET /api/me`: who the bearer token belongs to.
#[derive(Serialize, ToSchema)]
pub struct MeView {
    /// The user's id (`user_id` in runs).
    pub id: Uuid,
    /// The user's handle: the `owner` of their circuits.
    pub handle: String,
    pub created_at: DateTime<Utc>,
    /// The roles the user holds (`qrun user grant HANDLE ROLE`): `[]`, or `["operator"]`,
    /// who sees every user's runs in the console (`/admin/runs`).
    #[schema(schema_with = roles_schema)]
    pub roles: Vec<&'static str>,
    /// The token this request presented.
    pub token: CurrentTokenView,
}

fn roles_schema() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::Array::new(one_of_strings(
        "A role",
        crate::domain::Role::ALL.map(crate::domain::Role::as_str),
    ))
}

/// The token a request presented.
#[derive(Serialize, ToSchema)]
pub struct CurrentTokenView {
    pub id: Uuid,
    /// What the operator called it (`default` for a user's first token).
    pub name: String,
}

impl MeView {
    /// `caller`, who authenticated with an API token (the JSON API is bearer-only).
    pub fn new(caller: &Caller) -> Option<Self> {
        let Credential::Token { id, name } = &caller.credential else {
            return None;
        };
        Some(MeView {
            id: caller.user.id,
            handle: caller.user.handle.clone(),
            created_at: caller.user.created_at,
            roles: caller
                .user
                .roles()
                .into_iter()
                .map(|r| r.as_str())
                .collect(),
            token: CurrentTokenView {
                id: *id,
                name: name.clone(),
            },
        })
    }
}

/// One of the caller's API tokens: never its secret (only its SHA-256 is stored).
#[derive(Serialize, ToSchema)]
#[schema(as = Token)]
pub struct TokenView {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// When a request last presented it (recorded at most once per `auth.token_cache_ttl_s`);
    /// null if never.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked; null while it works.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Whether it is the token this request presented.
    pub current: bool,
}

impl TokenView {
    /// `token`, as seen by a request that presented the token `current`.
    pub fn new(token: &ApiToken, current: Option<Uuid>) -> Self {
        let ApiToken {
            id,
            user_id: _,
            name,
            created_at,
            last_used_at,
            revoked_at,
        } = token;
        TokenView {
            id: *id,
            name: name.clone(),
            created_at: *created_at,
            last_used_at: *last_used_at,
            revoked_at: *revoked_at,
            current: current == Some(*id),
        }
    }
}

/// `GET /api/tokens`: the caller's tokens, revoked ones included, newest first.
#[derive(Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
}
