//! An external program as a backend (DESIGN §5, §13), run under the `qrun-sandbox` crate's
//! sandbox. qrun checks the source size and shots before, and the counts after.
//!
//! Protocol: the program reads `{"source", "format", "shots", "seed", "parameters"}` as JSON
//! on stdin and writes `{"counts": {key: shots, …}}` as JSON on stdout (other fields are
//! ignored); keys must have the count-key shape and add up to the shots. A mistake in the
//! user's source is exit status 65 with `{"error": {"line": N or null, "message": "…"}}`
//! (its message is cut as every failure's is, `Failure::new`).
//!
//! How each ending becomes a failure class: memory cap → `resource_limit`, process cap →
//! `resource_limit`, CPU or wall time → `timeout`, exit 65 with the error JSON →
//! `validation_error` at `prepare` naming the line, any other non-zero exit or death by
//! signal, oversized or invalid output, bad counts, a program that cannot start →
//! `backend_error` (with the tail of stderr where there is one).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use qrun_engine::CancellationToken;
use qrun_sandbox::{Ending, Exit, Hardening, Invocation, Policy, Sandbox, SetupError, stderr_tail};

use super::{Backend, ExecError, Job};
use crate::config::{BackendConfig, SandboxConfig};
use crate::domain::{ErrorClass, Failure, Parameters, RunResults, Stage};

/// The exit status by which a program says the user's source is at fault.
pub const EXIT_SOURCE_ERROR: i32 = 65;

/// A `command` backend: its program, the sandbox it runs in, and its limits.
pub struct CommandBackend {
    sandbox: Arc<Sandbox>,
    program: PathBuf,
    args: Arc<[OsString]>,
    timeout: Duration,
    max_output_bytes: usize,
    max_shots: u64,
    max_source_bytes: usize,
}

#[derive(serde::Serialize)]
struct Request<'a> {
    source: &'a str,
    format: &'a str,
    shots: u64,
    seed: Option<u64>,
    /// Values of the circuit's parameters by name (`{}` when none).
    parameters: &'a Parameters,
}

#[derive(serde::Deserialize)]
struct Response {
    counts: BTreeMap<String, u64>,
}

#[derive(serde::Deserialize)]
struct SourceErrorResponse {
    error: SourceError,
}

#[derive(serde::Deserialize)]
struct SourceError {
    line: Option<u64>,
    message: String,
}

impl CommandBackend {
    /// The backend `config` (a `command` configuration) declares.
    pub fn new(config: &BackendConfig) -> CommandBackend {
        let BackendConfig::Command {
            program,
            args,
            timeout_s,
            max_shots,
            max_source_bytes,
            max_output_bytes,
            sandbox,
            ..
        } = config
        else {
            unreachable!("CommandBackend::new takes a command configuration")
        };
        CommandBackend {
            sandbox: Arc::new(Sandbox::new(policy(sandbox, *timeout_s))),
            program: program.clone(),
            args: args.iter().map(OsString::from).collect(),
            timeout: Duration::from_secs(*timeout_s),
            max_output_bytes: *max_output_bytes,
            max_shots: *max_shots,
            max_source_bytes: *max_source_bytes,
        }
    }

    /// Whether the program runs under the sandbox (`sandbox.enabled`).
    pub fn sandboxed(&self) -> bool {
        self.sandbox.policy().enabled
    }

    /// The sandbox its runs are under.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// Checks that the program can be run under its sandbox on this machine (start-up).
    pub async fn probe(&self) -> Result<(), SetupError> {
        self.sandbox.probe(&self.program).await
    }

    fn prepare(&self, job: &Job) -> Result<(), Failure> {
        if job.source.len() > self.max_source_bytes {
            return Err(Failure::new(
                ErrorClass::ResourceLimit,
                Stage::Prepare,
                format!(
                    "source is {} bytes; this backend accepts at most {}",
                    job.source.len(),
                    self.max_source_bytes
                ),
            ));
        }
        if job.shots == 0 || job.shots > self.max_shots {
            return Err(Failure::new(
                ErrorClass::ValidationError,
                Stage::Prepare,
                format!("shots must be between 1 and {}", self.max_shots),
            ));
        }
        Ok(())
    }
}

/// The sandbox policy of a backend's `[backends.sandbox]`; `cpu_s` defaults to the wall
/// limit, and the largest file is the size of `/tmp`.
pub fn policy(config: &SandboxConfig, timeout_s: u64) -> Policy {
    Policy {
        enabled: config.enabled,
        memory_mb: config.memory_mb,
        cpu_s: config.cpu_s.unwrap_or(timeout_s),
        max_processes: config.max_processes,
        tmp_mb: config.tmp_mb,
        max_file_mb: config.tmp_mb,
        network: config.network,
        read_only_paths: config.read_only_paths.clone(),
        env: config.env.clone(),
        user: config.user.clone(),
        hardening: Hardening::ALL,
    }
}

impl Backend for CommandBackend {
    fn execute(
        &self,
        job: Job,
        cancel: CancellationToken,
    ) -> BoxFuture<'static, Result<RunResults, ExecError>> {
        let prepared = self.prepare(&job);
        let sandbox = self.sandbox.clone();
        let program = self.program.clone();
        let args = self.args.clone();
        let (timeout, max_output_bytes) = (self.timeout, self.max_output_bytes);
        async move {
            prepared.map_err(ExecError::Failed)?;
            let request = serde_json::to_vec(&Request {
                source: &job.source,
                format: &job.format,
                shots: job.shots,
                seed: job.seed,
                parameters: &job.parameters,
            })
            .map_err(|e| backend_error(format!("could not encode the request: {e}")))?;
            let started = Instant::now();
            let ending = sandbox
                .run(
                    &Invocation {
                        program: &program,
                        args: &args,
                        stdin: &request,
                        timeout,
                        max_output_bytes,
                    },
                    &cancel,
                )
                .await;
            let counts = counts(ending, job.shots)?;
            Ok(RunResults {
                shots: job.shots,
                unique_states: counts.len() as u64,
                counts,
                execution_time: started.elapsed().as_secs_f64(),
            })
        }
        .boxed()
    }
}

/// The counts of a run that ended with `ending`, or the failure it is.
fn counts(ending: Ending, shots: u64) -> Result<BTreeMap<String, u64>, ExecError> {
    let failure = |class, message: String| {
        Err(ExecError::Failed(Failure::new(
            class,
            Stage::Execute,
            message,
        )))
    };
    match ending {
        Ending::Exited {
            exit: Exit::Code(0),
            stdout,
            stderr,
        } => {
            let response: Response = serde_json::from_slice(&stdout).map_err(|e| {
                backend_error(with_stderr(
                    format!("backend wrote invalid JSON on stdout: {e}"),
                    &stderr,
                ))
            })?;
            check_counts(&response.counts, shots)?;
            Ok(response.counts)
        }
        Ending::Exited {
            exit: Exit::Code(EXIT_SOURCE_ERROR),
            stdout,
            stderr,
        } => match serde_json::from_slice::<SourceErrorResponse>(&stdout) {
            Ok(SourceErrorResponse { error }) => Err(ExecError::Failed(Failure::new(
                ErrorClass::ValidationError,
                Stage::Prepare,
                match error.line {
                    Some(line) => format!("line {line}: {}", error.message),
                    None => error.message,
                },
            ))),
            Err(_) => failure(
                ErrorClass::BackendError,
                with_stderr(
                    format!("backend exited with status {EXIT_SOURCE_ERROR}"),
                    &stderr,
                ),
            ),
        },
        Ending::Exited { exit, stderr, .. } => failure(
            ErrorClass::BackendError,
            with_stderr(format!("backend {exit}"), &stderr),
        ),
        ending @ (Ending::MemoryExceeded { .. } | Ending::TooManyProcesses { .. }) => {
            failure(ErrorClass::ResourceLimit, ending.to_string())
        }
        ending @ Ending::CpuExceeded { .. } => failure(ErrorClass::Timeout, ending.to_string()),
        ending @ Ending::WallTimeout { .. } => {
            failure(ErrorClass::Timeout, format!("backend {ending}"))
        }
        ending @ (Ending::OutputTooLarge { .. } | Ending::NotStarted { .. }) => {
            failure(ErrorClass::BackendError, format!("backend {ending}"))
        }
        Ending::Cancelled => Err(ExecError::Cancelled),
    }
}

fn check_counts(counts: &BTreeMap<String, u64>, shots: u64) -> Result<(), ExecError> {
    if let Some(key) = counts.keys().find(|key| !qrun_engine::is_count_key(key)) {
        let shown: String = key.chars().take(80).collect();
        return Err(backend_error(format!(
            "backend returned a count key that is not bits separated by single spaces: {shown:?}"
        )));
    }
    let total = counts.values().try_fold(0u64, |sum, &n| sum.checked_add(n));
    if total != Some(shots) {
        let total = total.map_or_else(|| "more than 2^64".to_owned(), |t| t.to_string());
        return Err(backend_error(format!(
            "backend counts add up to {total} shots, {shots} were requested"
        )));
    }
    Ok(())
}

/// `message`, followed by the end of `stderr` if there is any.
fn with_stderr(message: String, stderr: &[u8]) -> String {
    let tail = stderr_tail(stderr);
    if tail.is_empty() {
        message
    } else {
        format!("{message}; stderr: {tail}")
    }
}

fn backend_error(message: String) -> ExecError {
    ExecError::Failed(Failure::new(
        ErrorClass::BackendError,
        Stage::Execute,
        message,
    ))
}

#[cfg(test)]
mod tests {
    //! The protocol and every ending, through the real sandbox with small programs.

    use super::*;

    const MINUTE: u64 = 60;

    /// A command backend running `/bin/sh -c script` (or `python3 -c`), sandboxed, with
    /// `sandbox` tweaks.
    fn backend(
        program: &str,
        script: &str,
        timeout_s: u64,
        sandbox: SandboxConfig,
    ) -> CommandBackend {
        CommandBackend::new(&BackendConfig::Command {
            name: "test".into(),
            program: PathBuf::from(program),
            args: vec!["-c".into(), script.into()],
            formats: vec!["openqasm2".into()],
            timeout_s,
            max_shots: 1000,
            max_source_bytes: 1 << 20,
            max_output_bytes: 64 << 10,
            max_qubits: None,
            native_gates: Vec::new(),
            sandbox,
        })
    }

    fn sh(script: &str) -> CommandBackend {
        backend("/bin/sh", script, MINUTE, SandboxConfig::default())
    }

    async fn run(backend: &CommandBackend) -> Result<RunResults, ExecError> {
        backend
            .execute(
                Job {
                    source: "OPENQASM 2.0;".into(),
                    format: "openqasm2".into(),
                    shots: 10,
                    seed: Some(42),
                    parameters: Parameters::new(),
                },
                CancellationToken::new(),
            )
            .await
    }

    async fn failure_of(backend: &CommandBackend) -> Failure {
        match run(backend).await {
            Err(ExecError::Failed(failure)) => failure,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn the_job_goes_in_as_json_and_counts_come_back() {
        let checker = r#"
import json, sys
job = json.load(sys.stdin)
expected = {"source": "OPENQASM 2.0;", "format": "openqasm2", "shots": 10, "seed": 42, "parameters": {}}
if job != expected:
    sys.exit(f"got {job}")
print(json.dumps({"counts": {"0 00": 3, "1 11": 7}, "extra": True}))
"#;
        let results = run(&backend(
            "/usr/bin/python3",
            checker,
            MINUTE,
            SandboxConfig::default(),
        ))
        .await
        .unwrap();
        assert_eq!(results.shots, 10);
        assert_eq!(results.unique_states, 2);
        assert_eq!(results.counts["1 11"], 7);
        assert!(results.execution_time > 0.0);
    }

    #[tokio::test]
    async fn exit_65_with_an_error_is_a_validation_error_naming_the_line() {
        for (error, message) in [
            (
                r#"{"line": 3, "message": "ZeroDivisionError: division by zero"}"#,
                "line 3: ZeroDivisionError: division by zero",
            ),
            (
                r#"{"line": null, "message": "no module-level `circuit`"}"#,
                "no module-level `circuit`",
            ),
        ] {
            let failure = failure_of(&sh(&format!(
                "cat >/dev/null; printf '{{\"error\": {error}}}'; exit 65"
            )))
            .await;
            assert_eq!(
                (failure.class, failure.stage, failure.message()),
                (ErrorClass::ValidationError, Stage::Prepare, message)
            );
        }
        // Exit 65 without the error JSON is the backend's failure.
        let failure = failure_of(&sh("echo 'usage' >&2; exit 65")).await;
        assert_eq!(
            (failure.class, failure.message()),
            (
                ErrorClass::BackendError,
                "backend exited with status 65; stderr: usage"
            )
        );
    }

    #[tokio::test]
    async fn a_crash_is_a_backend_error_with_the_end_of_stderr() {
        let failure = failure_of(&sh(
            "echo 'lots of noise' >&2\necho '  qiskit exploded  ' >&2\nexit 3",
        ))
        .await;
        assert_eq!(
            (failure.class, failure.stage, failure.message()),
            (
                ErrorClass::BackendError,
                Stage::Execute,
                "backend exited with status 3; stderr: lots of noise\n  qiskit exploded"
            )
        );
        let failure = failure_of(&sh("kill -SEGV $$")).await;
        assert_eq!(failure.message(), "backend was killed by signal 11");
    }

    #[tokio::test]
    async fn invalid_json_and_bad_counts_are_backend_errors() {
        let failure = failure_of(&sh("echo 'not json'\necho 'warning: odd' >&2")).await;
        assert_eq!(failure.class, ErrorClass::BackendError);
        assert!(
            failure
                .message()
                .starts_with("backend wrote invalid JSON on stdout: ")
                && failure.message().ends_with("; stderr: warning: odd"),
            "{}",
            failure.message()
        );
        for (counts, message) in [
            (
                r#"{"00": 3}"#,
                "backend counts add up to 3 shots, 10 were requested",
            ),
            (
                r#"{"0x1": 10}"#,
                "backend returned a count key that is not bits separated by single spaces: \"0x1\"",
            ),
        ] {
            let failure = failure_of(&sh(&format!("printf '{{\"counts\": {counts}}}'"))).await;
            assert_eq!(
                (failure.class, failure.message()),
                (ErrorClass::BackendError, message)
            );
        }
    }

    #[tokio::test]
    async fn endless_output_is_a_backend_error() {
        let failure = failure_of(&sh("exec yes 0101")).await;
        assert_eq!(
            (failure.class, failure.message()),
            (
                ErrorClass::BackendError,
                "backend stdout output exceeded 65536 bytes"
            )
        );
    }

    #[tokio::test]
    async fn each_cap_is_its_class_with_the_cause_in_the_message() {
        let capped = SandboxConfig {
            memory_mb: 256,
            cpu_s: Some(2),
            ..SandboxConfig::default()
        };
        let memory = backend(
            "/usr/bin/python3",
            "x = bytearray(3 << 30)",
            MINUTE,
            capped.clone(),
        );
        let failure = failure_of(&memory).await;
        assert_eq!(
            (failure.class, failure.stage, failure.message()),
            (
                ErrorClass::ResourceLimit,
                Stage::Execute,
                "memory limit 256 MiB exceeded"
            )
        );
        let spin = backend("/bin/sh", "while :; do :; done", MINUTE, capped);
        let failure = failure_of(&spin).await;
        assert_eq!(
            (failure.class, failure.message()),
            (ErrorClass::Timeout, "CPU time limit 2 s exceeded")
        );
        let sleeper = backend("/bin/sh", "sleep 1000", 1, SandboxConfig::default());
        let failure = failure_of(&sleeper).await;
        assert_eq!(
            (failure.class, failure.message()),
            (
                ErrorClass::Timeout,
                "backend did not finish within the time limit of 1 s"
            )
        );
    }

    #[tokio::test]
    async fn cancelling_is_not_a_failure() {
        let backend = sh("sleep 1000");
        let cancel = CancellationToken::new();
        let job = Job {
            source: String::new(),
            format: "openqasm2".into(),
            shots: 1,
            seed: None,
            parameters: Parameters::new(),
        };
        let running = backend.execute(job, cancel.clone());
        cancel.cancel();
        assert!(matches!(running.await, Err(ExecError::Cancelled)));
    }

    #[tokio::test]
    async fn a_missing_program_is_a_backend_error_and_fails_the_probe() {
        let missing = backend("/nonexistent/backend", "", MINUTE, SandboxConfig::default());
        let failure = failure_of(&missing).await;
        assert_eq!(failure.class, ErrorClass::BackendError);
        assert!(
            failure.message().starts_with("backend could not start: ")
                && failure.message().contains("/nonexistent/backend"),
            "{}",
            failure.message()
        );
        assert_eq!(
            missing.probe().await,
            Err(SetupError::ProgramNotVisible("/nonexistent/backend".into()))
        );
        assert_eq!(sh("").probe().await, Ok(()));
    }
}
