//! The built-in simulator as a backend: prepare (parse, limits, the method) and simulate on
//! tokio's blocking pool; the engine polls the cancel token and the time limit as it goes.
//!
//! A run's `method` option (Qiskit Aer's name) pins the method for that run, within the
//! backend's, and its `precision` option chooses the state vector's
//! ([`SimulatorOptions::apply`]; checked at submission).
//!
//! A parsed program depends on nothing but the source, its format, the run's parameters,
//! its method and this backend's limits (not the precision, which only the simulation reads), so it is kept by those: the runs of one circuit version (with the
//! same parameters) parse it once (on a small circuit that includes `qelib1.inc`, parsing
//! costs more than simulating).

use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use qrun_engine::{CancellationToken, EngineError, FailureKind, Format, Limits, Program, Stage};

use super::{Backend, ExecError, Executed, Job, executed};
use crate::cache::Immutable;
use crate::config::{BackendConfig, SimulationMethod, SimulatorOptions};

/// The programs kept, in operations (an operation is tens of bytes); a program of more than a
/// sixteenth of this is not kept: its simulation dwarfs its parse anyway.
const PROGRAM_CACHE_OPS: usize = 1 << 20;

/// What a parsed program is kept by: the format, the source, the run's method, and the
/// parameters' names with their values' bits.
type ProgramKey = (Format, String, SimulationMethod, Vec<(String, u64)>);

pub struct Simulator {
    limits: Limits,
    programs: Arc<Immutable<ProgramKey, Arc<Program>>>,
}

impl Simulator {
    pub fn new(config: &BackendConfig) -> Simulator {
        let limits = config
            .limits()
            .expect("Simulator::new takes a simulator configuration");
        Simulator {
            limits,
            programs: Arc::new(Immutable::new(PROGRAM_CACHE_OPS, |program| {
                usize::try_from(program.gate_count())
                    .unwrap_or(usize::MAX)
                    .max(1)
            })),
        }
    }
}

impl Backend for Simulator {
    fn execute(
        &self,
        job: Job,
        cancel: CancellationToken,
    ) -> BoxFuture<'static, Result<Executed, ExecError>> {
        let options = SimulatorOptions::of_run(&job.options);
        let (method, limits) = (options.method, options.apply(self.limits.clone()));
        let programs = self.programs.clone();
        async move {
            let (memory, seed) = (job.memory, job.seed);
            let work = tokio::task::spawn_blocking(move || {
                let format = Format::from_manifest(&job.format).ok_or_else(|| {
                    EngineError::new(
                        FailureKind::Validation,
                        Stage::Prepare,
                        format!("the simulator does not execute {} sources", job.format),
                    )
                })?;
                let key = (
                    format,
                    job.source,
                    method,
                    job.parameters
                        .iter()
                        .map(|(name, value)| (name.clone(), value.to_bits()))
                        .collect(),
                );
                let program = match programs.get(&key) {
                    Some(program) => {
                        limits.check_shots(job.shots)?;
                        program
                    }
                    None => {
                        let program = Arc::new(qrun_engine::prepare(
                            &key.1,
                            format,
                            &job.parameters,
                            job.shots,
                            &limits,
                        )?);
                        programs.put(key, program.clone());
                        program
                    }
                };
                qrun_engine::simulate(&program, job.shots, job.seed, &limits, &cancel)
            });
            match work.await {
                Ok(outcome) => Ok(executed(outcome?, memory, seed)),
                // A panic in the engine is the RunActor's to report: re-raise it there.
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => Err(ExecError::Cancelled),
            }
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ErrorClass;

    const BELL: &str = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n";

    fn job(source: &str, shots: u64) -> Job {
        Job {
            source: source.to_owned(),
            format: "openqasm2".into(),
            shots,
            seed: Some(7),
            parameters: Default::default(),
            memory: false,
            options: Default::default(),
        }
    }

    #[tokio::test]
    async fn a_kept_program_runs_the_same_and_still_checks_shots() {
        let simulator = Simulator::new(&BackendConfig::Simulator {
            name: "statevector".into(),
            formats: vec!["openqasm2".into()],
            max_qubits: 4,
            max_stabilizer_qubits: 0,
            method: Default::default(),
            max_shots: 1000,
            max_gates: 1000,
            max_source_bytes: 10_000,
            timeout_s: 10,
        });
        let run = |shots| simulator.execute(job(BELL, shots), CancellationToken::new());
        let first = run(100).await.expect("parsed and run");
        let key = (
            Format::OpenQasm2,
            BELL.to_owned(),
            SimulationMethod::Automatic,
            Vec::new(),
        );
        assert!(simulator.programs.get(&key).is_some(), "kept");
        let again = run(100).await.expect("run from the kept program");
        assert_eq!(
            first.results.counts, again.results.counts,
            "same seed, same program"
        );
        match run(1001).await {
            Err(ExecError::Failed(failure)) => {
                assert_eq!(failure.class, ErrorClass::ValidationError, "{failure:?}")
            }
            other => panic!("1001 shots on a kept program: {other:?}"),
        }
    }
}
