//! The built-in state-vector simulator as a backend: prepare (parse, limits) and simulate on
//! tokio's blocking pool; the engine polls the cancel token and the time limit as it goes.

use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use qrun_engine::{CancellationToken, Limits};

use super::{Backend, ExecError, Job, results};
use crate::config::BackendConfig;
use crate::domain::RunResults;

pub struct Simulator {
    limits: Limits,
}

impl Simulator {
    pub fn new(config: &BackendConfig) -> Simulator {
        let BackendConfig::Simulator {
            max_qubits,
            max_shots,
            max_gates,
            max_source_bytes,
            timeout_s,
            ..
        } = config
        else {
            unreachable!("Simulator::new takes a simulator configuration")
        };
        Simulator {
            limits: Limits {
                max_qubits: *max_qubits,
                max_shots: *max_shots,
                max_gates: *max_gates,
                max_source_bytes: *max_source_bytes,
                time_limit: Duration::from_secs(*timeout_s),
            },
        }
    }
}

impl Backend for Simulator {
    fn execute(
        &self,
        job: Job,
        cancel: CancellationToken,
    ) -> BoxFuture<'static, Result<RunResults, ExecError>> {
        let limits = self.limits.clone();
        async move {
            let work = tokio::task::spawn_blocking(move || {
                let program = qrun_engine::prepare(&job.source, job.shots, &limits)?;
                qrun_engine::simulate(&program, job.shots, job.seed, &limits, &cancel)
            });
            match work.await {
                Ok(outcome) => Ok(results(outcome?)),
                // A panic in the engine is the RunActor's to report: re-raise it there.
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => Err(ExecError::Cancelled),
            }
        }
        .boxed()
    }
}
