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
//! on the blocking pool. A run with per-shot memory needs the program's classical bits (its
//! bound, shots × bits): the verdict carries them, so such a run is lowered once, by the
//! simulator's check or, on a command backend, by [`qrun_engine::classical_bits`]. A verdict
//! depends only on the circuit version, the backend, the parameters and whether the bits were
//! asked for, so it is kept by those: the runs of one version check it once.

use qrun_engine::{FailureKind, Format, Limits};
use uuid::Uuid;

use super::ServiceError;
use super::rules::BackendRules;
use crate::cache::Immutable;
use crate::config::{METHOD_OPTION, PRECISION_OPTION, SimulationMethod, SimulatorOptions};
use crate::domain::{CircuitVersion, Parameters, RunOptions};

/// Verdicts kept (each a few hundred bytes at most).
const VERDICTS: usize = 1 << 16;

/// What a verdict is kept by: the circuit version, the backend `(type, name)`, the run's
/// simulation method and precision (its refusal names the state's size), the parameters'
/// names with their values' bits, and whether the classical bits were asked for on a backend
/// whose check does not lower the program anyway (a command backend).
type VerdictKey = (
    Uuid,
    i32,
    String,
    String,
    SimulatorOptions,
    Vec<(String, u64)>,
    bool,
);

/// Admitted, with the program's classical bits when it was lowered; or refused, with the
/// refusal's code and message.
type Verdict = Result<Option<u32>, (&'static str, String)>;

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
    /// [`check_options`]) on `backend` (on the built-in simulator with the method `options`
    /// choose), and returns the program's classical bits (the characters of its count keys,
    /// spaces not counted) when it was lowered: always on the built-in simulator; on a command
    /// backend only when `classical_bits` asks for them (per-shot memory), within the engine's
    /// own limits. `None` for a Python circuit (only its runner reads it) or a source that
    /// does not lower on a command backend (its runner judges it).
    ///
    /// Errors: [`ServiceError::Invalid`] with `invalid_parameters` (a missing, unknown or
    /// ill-typed parameter, or any parameter given to an OpenQASM 2 circuit),
    /// `resource_limit` (the backend's limits: qubits per method, operations, source bytes;
    /// the engine's message, `LINE:COL: ` first when it has a position) or `invalid_source` (a
    /// program the backend cannot run with these parameters).
    pub async fn check(
        &self,
        backend: &BackendRules,
        version: &CircuitVersion,
        parameters: &Parameters,
        options: &RunOptions,
        classical_bits: bool,
    ) -> Result<Option<u32>, ServiceError> {
        let Some(format) = Format::from_manifest(&version.manifest.format) else {
            return Ok(None); // python: only its runner reads it
        };
        // The simulator's check lowers the program whatever is asked.
        let classical_bits = classical_bits && backend.limits.is_none();
        let chosen = SimulatorOptions::of_run(options);
        let key = verdict_key(backend, version, chosen, parameters, classical_bits);
        let verdict = match self.verdicts.get(&key) {
            Some(verdict) => verdict,
            None => {
                let (source, parameters) = (version.source.clone(), parameters.clone());
                let limits = backend.limits.clone().map(|limits| chosen.apply(limits));
                let verdict = tokio::task::spawn_blocking(move || {
                    judge(&source, format, &parameters, limits, classical_bits)
                })
                .await
                .map_err(|e| {
                    ServiceError::Internal(anyhow::anyhow!("checking the circuit: {e}"))
                })?;
                self.verdicts.put(key, verdict.clone());
                verdict
            }
        };
        verdict.map_err(|(code, message)| ServiceError::invalid(code, message))
    }
}

/// The key of the verdict on a run of `version` with `parameters` on `backend`.
fn verdict_key(
    backend: &BackendRules,
    version: &CircuitVersion,
    chosen: SimulatorOptions,
    parameters: &Parameters,
    classical_bits: bool,
) -> VerdictKey {
    (
        version.circuit_id,
        version.version,
        backend.kind.clone(),
        backend.name.clone(),
        chosen,
        parameters
            .iter()
            .map(|(name, value)| (name.clone(), value.to_bits()))
            .collect(),
        classical_bits,
    )
}

/// Refuses `options` that `backend` does not accept (400 `invalid_options`, naming the option
/// and what the backend accepts): a name it does not list ([`BackendRules::options`]), and on
/// the built-in simulator a `method` that is not one of [`SimulationMethod::NAMES`] or that the
/// backend does not run (`automatic` always: the backend's own choice), or a `precision` that
/// is not `double` or `single`. A command backend's values are its program's to judge.
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
    if backend.limits.is_none() {
        return Ok(());
    }
    if let Some(value) = options.get(PRECISION_OPTION)
        && value
            .as_str()
            .and_then(qrun_engine::Precision::from_name)
            .is_none()
    {
        let names = qrun_engine::Precision::ALL.map(qrun_engine::Precision::as_str);
        return Err(ServiceError::invalid(
            "invalid_options",
            format!(
                "option `{PRECISION_OPTION}` is {value}; backend `{id}` takes: {}",
                names.join(", ")
            ),
        ));
    }
    let Some(value) = options.get(METHOD_OPTION) else {
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
/// simulator's `limits`, the program as [`qrun_engine::prepare`] makes it (its classical bits
/// when it is admitted); without `limits`, the program's classical bits within the engine's
/// limits if `classical_bits` asks for them. Blocking.
fn judge(
    source: &str,
    format: Format,
    parameters: &Parameters,
    limits: Option<Limits>,
    classical_bits: bool,
) -> Verdict {
    let inputs = match qrun_engine::inputs(source, format) {
        Ok(inputs) => inputs,
        // A source the engine does not read was uploaded for a command backend's runner
        // (`Service::check_source`): the simulator refuses it with the engine's reason; on a
        // command backend the runner judges it and its parameters.
        Err(e) => {
            return if limits.is_some() {
                refusal(e)
            } else {
                Ok(None)
            };
        }
    };
    if format == Format::OpenQasm2 && !parameters.is_empty() {
        let names: Vec<&str> = parameters.keys().map(String::as_str).collect();
        return Err((
            "invalid_parameters",
            format!(
                "an OpenQASM 2 circuit has no parameters; got {}",
                names.join(", ")
            ),
        ));
    }
    if let Err(e) = qrun_engine::check_parameters(&inputs, parameters) {
        return Err(("invalid_parameters", e.to_string()));
    }
    let Some(limits) = limits else {
        return Ok(classical_bits
            .then(|| qrun_engine::classical_bits(source, format, parameters).ok())
            .flatten());
    };
    match qrun_engine::prepare(source, format, parameters, 1, &limits) {
        Ok(program) => Ok(Some(program.num_clbits())),
        Err(e) => refusal(e),
    }
}

/// The 400 an engine error at submission is: `resource_limit` or `invalid_source`, its
/// message led by `LINE:COL: ` when it has a position; admitted (without the classical bits)
/// for anything else (the run's to meet and report).
fn refusal(e: qrun_engine::EngineError) -> Verdict {
    let code = match e.kind {
        FailureKind::ResourceLimit => "resource_limit",
        FailureKind::Validation => "invalid_source",
        _ => return Ok(None),
    };
    Err((
        code,
        match e.position {
            Some(p) => format!("{}:{}: {}", p.line, p.col, e.message),
            None => e.message,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Manifest;

    /// Three classical bits (`c` and `f`), one `input`.
    const THREE_BITS: &str = "OPENQASM 3.0;\ninclude \"stdgates.inc\";\ninput float[64] theta;\n\
        qubit[2] q;\nbit[2] c;\nbit[1] f;\nrx(theta) q[0];\nc = measure q;\nf[0] = measure q[1];\n";

    fn backend(kind: &str, limits: Option<Limits>) -> BackendRules {
        BackendRules {
            kind: kind.into(),
            name: "b".into(),
            max_shots: 1000,
            formats: vec!["openqasm3".into()],
            max_qubits: None,
            methods: Vec::new(),
            limits,
            native_gates: Vec::new(),
            options: Vec::new(),
        }
    }

    fn version(source: &str) -> CircuitVersion {
        CircuitVersion {
            circuit_id: Uuid::now_v7(),
            version: 1,
            source: source.into(),
            manifest: Manifest {
                framework: "qiskit".into(),
                format: "openqasm3".into(),
            },
            created_at: chrono::Utc::now(),
        }
    }

    #[tokio::test]
    async fn the_verdict_carries_the_classical_bits_a_memory_run_needs() {
        let admission = Admission::default();
        let version = version(THREE_BITS);
        let theta = Parameters::from([("theta".to_owned(), 0.5)]);
        let simulator = backend("simulator", Some(Limits::default()));
        let command = backend("command", None);
        for (backend, asked, bits) in [
            (&simulator, false, Some(3)),
            (&simulator, true, Some(3)),
            (&command, false, None),
            (&command, true, Some(3)),
        ] {
            let got = admission
                .check(backend, &version, &theta, &RunOptions::default(), asked)
                .await;
            assert_eq!(got.unwrap(), bits, "{} asked {asked}", backend.kind);
        }
        // The simulator's verdict is one whether the bits are asked or not.
        let kept = |asked| {
            admission.verdicts.get(&verdict_key(
                &simulator,
                &version,
                SimulatorOptions::default(),
                &theta,
                asked,
            ))
        };
        assert_eq!(kept(false), Some(Ok(Some(3))));
        assert_eq!(kept(true), None);
        let missing = admission
            .check(
                &command,
                &version,
                &Parameters::new(),
                &RunOptions::default(),
                true,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&missing, ServiceError::Invalid { code, .. } if *code == "invalid_parameters"),
            "{missing:?}"
        );
    }

    #[tokio::test]
    async fn a_kept_verdict_answers_without_lowering_the_program_again() {
        let admission = Admission::default();
        let version = version(THREE_BITS);
        let theta = Parameters::from([("theta".to_owned(), 0.5)]);
        let command = backend("command", None);
        assert_eq!(
            admission
                .check(&command, &version, &theta, &RunOptions::default(), true)
                .await
                .unwrap(),
            Some(3)
        );
        let key = verdict_key(
            &command,
            &version,
            SimulatorOptions::default(),
            &theta,
            true,
        );
        assert_eq!(admission.verdicts.get(&key), Some(Ok(Some(3))));
        // What is kept is what the next run of the version gets: nothing is lowered again.
        admission.verdicts.put(key, Ok(Some(7)));
        assert_eq!(
            admission
                .check(&command, &version, &theta, &RunOptions::default(), true)
                .await
                .unwrap(),
            Some(7)
        );
    }
}
