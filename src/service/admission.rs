//! Whether a run's circuit fits what it asks for, checked at submission so that a run that
//! could only fail is never created (docs/DESIGN.md §5, §6): its parameters against the
//! circuit's `input` declarations (400 `invalid_parameters`), and, on the built-in simulator,
//! the whole program with those parameters against the backend's limits and methods (400
//! `resource_limit` for a circuit too large for every method it runs, `invalid_source` for
//! one it cannot run at all, e.g. a non-Clifford gate on a backend pinned to the stabilizer).
//!
//! A run's `options` are checked first ([`check_options`], 400 `invalid_options`): only the
//! names the backend accepts, and on the built-in simulator a `method` it runs.
//!
//! The simulator's check prepares the program as a run would (parse, expand, choose the
//! method: up to about a second of CPU for a source that expands to `max_gates` operations),
//! on the blocking pool. Its verdict depends only on the circuit version, the backend and the
//! parameters, so it is kept by those: the runs of one version check it once.

use qrun_engine::{FailureKind, Format, Limits};
use uuid::Uuid;

use super::ServiceError;
use super::rules::BackendRules;
use crate::cache::Immutable;
use crate::config::{METHOD_OPTION, SimulationMethod};
use crate::domain::{CircuitVersion, Parameters, RunOptions};

/// Verdicts kept (each a few hundred bytes at most).
const VERDICTS: usize = 1 << 16;

/// What a verdict is kept by: the circuit version, the backend `(type, name)`, the run's
/// simulation method, and the parameters' names with their values' bits.
type VerdictKey = (
    Uuid,
    i32,
    String,
    String,
    SimulationMethod,
    Vec<(String, u64)>,
);

/// A refusal's code and message, or none.
type Verdict = Option<(&'static str, String)>;

/// The checks of [`Admission::check`], with the simulator's verdicts kept.
pub struct Admission {
    verdicts: Immutable<VerdictKey, Verdict>,
}

impl Default for Admission {
    fn default() -> Self {
        Admission {
            verdicts: Immutable::new(VERDICTS, |_| 1),
        }
    }
}

impl Admission {
    /// Checks a run of `version` with `parameters` and `options` (already through
    /// [`check_options`]) on `backend`; on the built-in simulator with the method `options`
    /// choose. Errors:
    /// [`ServiceError::Invalid`] with `invalid_parameters` (a missing, unknown or ill-typed
    /// parameter, or any parameter given to an OpenQASM 2 circuit), `resource_limit` (the
    /// backend's limits: qubits per method, operations, source bytes; the engine's message,
    /// `LINE:COL: ` first when it has a position) or `invalid_source` (a program the
    /// backend cannot run with these parameters).
    pub async fn check(
        &self,
        backend: &BackendRules,
        version: &CircuitVersion,
        parameters: &Parameters,
        options: &RunOptions,
    ) -> Result<(), ServiceError> {
        let Some(format) = Format::from_manifest(&version.manifest.format) else {
            return Ok(()); // python: only its runner reads it
        };
        let method = SimulationMethod::of_run(options);
        let key = (
            version.circuit_id,
            version.version,
            backend.kind.clone(),
            backend.name.clone(),
            method,
            parameters
                .iter()
                .map(|(name, value)| (name.clone(), value.to_bits()))
                .collect(),
        );
        let verdict = match self.verdicts.get(&key) {
            Some(verdict) => verdict,
            None => {
                let (source, parameters) = (version.source.clone(), parameters.clone());
                let limits = backend.limits.clone().map(|limits| method.apply(limits));
                let verdict = tokio::task::spawn_blocking(move || {
                    judge(&source, format, &parameters, limits)
                })
                .await
                .map_err(|e| {
                    ServiceError::Internal(anyhow::anyhow!("checking the circuit: {e}"))
                })?;
                self.verdicts.put(key, verdict.clone());
                verdict
            }
        };
        match verdict {
            None => Ok(()),
            Some((code, message)) => Err(ServiceError::invalid(code, message)),
        }
    }
}

/// Refuses `options` that `backend` does not accept (400 `invalid_options`, naming the option
/// and what the backend accepts): a name it does not list ([`BackendRules::options`]), and on
/// the built-in simulator a `method` that is not one of [`SimulationMethod::NAMES`] or that the
/// backend does not run (`automatic` always: the backend's own choice). A command backend's
/// values are its program's to judge.
pub fn check_options(backend: &BackendRules, options: &RunOptions) -> Result<(), ServiceError> {
    let id = format!("{}/{}", backend.kind, backend.name);
    let accepts = match backend.options.as_slice() {
        [] => "none".to_owned(),
        names => names.join(", "),
    };
    if let Some(name) = options.keys().find(|name| !backend.options.contains(name)) {
        return Err(ServiceError::invalid(
            "invalid_options",
            format!("backend `{id}` does not take the option `{name}`; it takes: {accepts}"),
        ));
    }
    let (Some(value), Some(_)) = (options.get(METHOD_OPTION), &backend.limits) else {
        return Ok(());
    };
    let runs: Vec<&str> = backend.methods.iter().map(|m| m.name).collect();
    let method = value.as_str().and_then(SimulationMethod::from_name);
    let allowed = match method {
        Some(SimulationMethod::Automatic) => true,
        Some(method) => method
            .pinned()
            .is_some_and(|pinned| runs.contains(&pinned.as_str())),
        None => false,
    };
    if allowed {
        return Ok(());
    }
    Err(ServiceError::invalid(
        "invalid_options",
        format!(
            "option `{METHOD_OPTION}` is {value}; backend `{id}` runs: automatic, {}",
            runs.join(", ")
        ),
    ))
}

/// The verdict on `source` with `parameters`: its parameters against its inputs, then, with a
/// simulator's `limits`, the program as [`qrun_engine::prepare`] makes it. Blocking.
fn judge(source: &str, format: Format, parameters: &Parameters, limits: Option<Limits>) -> Verdict {
    let inputs = match qrun_engine::inputs(source, format) {
        Ok(inputs) => inputs,
        // A source the engine does not read was uploaded for a command backend's runner
        // (`Service::check_source`): the simulator refuses it with the engine's reason; on a
        // command backend the runner judges it and its parameters.
        Err(e) => return limits.and_then(|_| refusal(e)),
    };
    if format == Format::OpenQasm2 && !parameters.is_empty() {
        let names: Vec<&str> = parameters.keys().map(String::as_str).collect();
        return Some((
            "invalid_parameters",
            format!(
                "an OpenQASM 2 circuit has no parameters; got {}",
                names.join(", ")
            ),
        ));
    }
    if let Err(e) = qrun_engine::check_parameters(&inputs, parameters) {
        return Some(("invalid_parameters", e.to_string()));
    }
    let limits = limits?;
    refusal(qrun_engine::prepare(source, format, parameters, 1, &limits).err()?)
}

/// The 400 an engine error at submission is: `resource_limit` or `invalid_source`, its
/// message led by `LINE:COL: ` when it has a position; `None` for anything else (the run's to
/// meet and report).
fn refusal(e: qrun_engine::EngineError) -> Verdict {
    let code = match e.kind {
        FailureKind::ResourceLimit => "resource_limit",
        FailureKind::Validation => "invalid_source",
        _ => return None,
    };
    Some((
        code,
        match e.position {
            Some(p) => format!("{}:{}: {}", p.line, p.col, e.message),
            None => e.message,
        },
    ))
}
