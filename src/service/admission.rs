//! Whether a run's circuit fits what it asks for, checked at submission so that a run that
//! could only fail is never created (docs/DESIGN.md §5, §6): its parameters against the
//! circuit's `input` declarations (400 `invalid_parameters`), and, on the built-in simulator,
//! the whole program with those parameters against the backend's limits and methods (400
//! `resource_limit` for a circuit too large for every method it runs, `invalid_source` for
//! one it cannot run at all, e.g. a non-Clifford gate on a backend pinned to the stabilizer).
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
use crate::domain::{CircuitVersion, Parameters};

/// Verdicts kept (each a few hundred bytes at most).
const VERDICTS: usize = 1 << 16;

/// What a verdict is kept by: the circuit version, the backend `(type, name)`, and the
/// parameters' names with their values' bits.
type VerdictKey = (Uuid, i32, String, String, Vec<(String, u64)>);

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
    /// Checks a run of `version` with `parameters` on `backend`. Errors:
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
    ) -> Result<(), ServiceError> {
        let Some(format) = Format::from_manifest(&version.manifest.format) else {
            return Ok(()); // python: only its runner reads it
        };
        let key = (
            version.circuit_id,
            version.version,
            backend.kind.clone(),
            backend.name.clone(),
            parameters
                .iter()
                .map(|(name, value)| (name.clone(), value.to_bits()))
                .collect(),
        );
        let verdict = match self.verdicts.get(&key) {
            Some(verdict) => verdict,
            None => {
                let (source, parameters) = (version.source.clone(), parameters.clone());
                let limits = backend.limits.clone();
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

/// The verdict on `source` with `parameters`: its parameters against its inputs, then, with a
/// simulator's `limits`, the program as [`qrun_engine::prepare`] makes it. Blocking.
fn judge(source: &str, format: Format, parameters: &Parameters, limits: Option<Limits>) -> Verdict {
    let inputs = match qrun_engine::inputs(source, format) {
        Ok(inputs) => inputs,
        // Uploaded sources parse; one that does not fails its run with the reason.
        Err(_) => return None,
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
    let e = qrun_engine::prepare(source, format, parameters, 1, &limits).err()?;
    let code = match e.kind {
        FailureKind::ResourceLimit => "resource_limit",
        FailureKind::Validation => "invalid_source",
        // Anything else is the run's to meet and report.
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
