//! Whether a run's circuit fits what it asks for, checked at submission so that a run that
//! could only fail is never created (docs/DESIGN.md §5, §6): its parameters against the
//! circuit's `input` declarations (400 `invalid_parameters`), and, on the built-in simulator,
//! the whole program with those parameters against the backend's limits and methods (400
//! `resource_limit` for a circuit too large for every method it runs, `invalid_source` for
//! one it cannot run at all, e.g. a non-Clifford gate on a backend pinned to the stabilizer).
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
use crate::domain::{CircuitVersion, Parameters};

/// Verdicts kept (each a few hundred bytes at most).
const VERDICTS: usize = 1 << 16;

/// What a verdict is kept by: the circuit version, the backend `(type, name)`, the
/// parameters' names with their values' bits, and whether the classical bits were asked for on
/// a backend whose check does not lower the program anyway (a command backend).
type VerdictKey = (Uuid, i32, String, String, Vec<(String, u64)>, bool);

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
    /// Checks a run of `version` with `parameters` on `backend`, and returns the program's
    /// classical bits (the characters of its count keys, spaces not counted) when it was
    /// lowered: always on the built-in simulator; on a command backend only when
    /// `classical_bits` asks for them (per-shot memory), within the engine's own limits.
    /// `None` for a Python circuit (only its runner reads it) or a source that does not lower
    /// (its run fails with the reason).
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
        classical_bits: bool,
    ) -> Result<Option<u32>, ServiceError> {
        let Some(format) = Format::from_manifest(&version.manifest.format) else {
            return Ok(None); // python: only its runner reads it
        };
        // The simulator's check lowers the program whatever is asked.
        let classical_bits = classical_bits && backend.limits.is_none();
        let key = verdict_key(backend, version, parameters, classical_bits);
        let verdict = match self.verdicts.get(&key) {
            Some(verdict) => verdict,
            None => {
                let (source, parameters) = (version.source.clone(), parameters.clone());
                let limits = backend.limits.clone();
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
    parameters: &Parameters,
    classical_bits: bool,
) -> VerdictKey {
    (
        version.circuit_id,
        version.version,
        backend.kind.clone(),
        backend.name.clone(),
        parameters
            .iter()
            .map(|(name, value)| (name.clone(), value.to_bits()))
            .collect(),
        classical_bits,
    )
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
        // Uploaded sources parse; one that does not fails its run with the reason.
        Err(_) => return Ok(None),
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
    let e = match qrun_engine::prepare(source, format, parameters, 1, &limits) {
        Ok(program) => return Ok(Some(program.num_clbits())),
        Err(e) => e,
    };
    let code = match e.kind {
        FailureKind::ResourceLimit => "resource_limit",
        FailureKind::Validation => "invalid_source",
        // Anything else is the run's to meet and report.
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
            let got = admission.check(backend, &version, &theta, asked).await;
            assert_eq!(got.unwrap(), bits, "{} asked {asked}", backend.kind);
        }
        // The simulator's verdict is one whether the bits are asked or not.
        let kept = |asked| {
            admission
                .verdicts
                .get(&verdict_key(&simulator, &version, &theta, asked))
        };
        assert_eq!(kept(false), Some(Ok(Some(3))));
        assert_eq!(kept(true), None);
        let missing = admission
            .check(&command, &version, &Parameters::new(), true)
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
                .check(&command, &version, &theta, true)
                .await
                .unwrap(),
            Some(3)
        );
        let key = verdict_key(&command, &version, &theta, true);
        assert_eq!(admission.verdicts.get(&key), Some(Ok(Some(3))));
        // What is kept is what the next run of the version gets: nothing is lowered again.
        admission.verdicts.put(key, Ok(Some(7)));
        assert_eq!(
            admission
                .check(&command, &version, &theta, true)
                .await
                .unwrap(),
            Some(7)
        );
    }
}
