//! An external program as a backend (DESIGN §5): the engine's sandbox runs it as a child
//! process with the JSON protocol; qrun checks the source size and shots first.

use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use qrun_engine::{CancellationToken, CommandBackend, EngineError, FailureKind, Stage};

use super::{Backend, ExecError, Job, results};
use crate::config::BackendConfig;
use crate::domain::RunResults;

pub struct Command {
    sandbox: Arc<CommandBackend>,
    max_shots: u64,
    max_source_bytes: usize,
}

impl Command {
    pub fn new(config: &BackendConfig) -> Command {
        let BackendConfig::Command {
            program,
            args,
            timeout_s,
            max_shots,
            max_source_bytes,
            max_output_bytes,
            ..
        } = config
        else {
            unreachable!("Command::new takes a command configuration")
        };
        Command {
            sandbox: Arc::new(CommandBackend {
                program: program.clone(),
                args: args.clone(),
                timeout: std::time::Duration::from_secs(*timeout_s),
                max_output_bytes: *max_output_bytes,
            }),
            max_shots: *max_shots,
            max_source_bytes: *max_source_bytes,
        }
    }

    fn prepare(&self, job: &Job) -> Result<(), EngineError> {
        if job.source.len() > self.max_source_bytes {
            return Err(EngineError::new(
                FailureKind::ResourceLimit,
                Stage::Prepare,
                format!(
                    "source is {} bytes; this backend accepts at most {}",
                    job.source.len(),
                    self.max_source_bytes
                ),
            ));
        }
        if job.shots == 0 || job.shots > self.max_shots {
            return Err(EngineError::new(
                FailureKind::Validation,
                Stage::Prepare,
                format!("shots must be between 1 and {}", self.max_shots),
            ));
        }
        Ok(())
    }
}

impl Backend for Command {
    fn execute(
        &self,
        job: Job,
        cancel: CancellationToken,
    ) -> BoxFuture<'static, Result<RunResults, ExecError>> {
        let prepared = self.prepare(&job);
        let sandbox = self.sandbox.clone();
        async move {
            prepared?;
            let outcome = sandbox
                .run(&job.source, &job.format, job.shots, job.seed, &cancel)
                .await?;
            Ok(results(outcome))
        }
        .boxed()
    }
}
