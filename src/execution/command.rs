//! An external program as a backend (docs/DESIGN.md §5, §13), run under the `qrun-sandbox` crate's
//! sandbox. qrun checks the source size and shots before, and the counts after.
//!
//! Protocol: the program reads `{"source", "format", "shots", "seed", "parameters", "memory",
//! "options"}` as JSON on stdin and writes `{"counts": {key: shots, …}}` as JSON on stdout (other fields are
//! ignored); the counts must fit the circuit (`check_counts`: count-key shape, one register
//! shape, the circuit's classical bits, every count at least 1) and add up to the shots. A
//! mistake in the user's source is exit status 65 with `{"error": {"line": N or null,
//! "message": "…"}}` (its message is cut as every failure's is, `Failure::new`).
//!
//! How each ending becomes a failure class: memory cap → `resource_limit`, process cap →
//! `resource_limit`, CPU or wall time → `timeout`, exit 65 with the error JSON →
//! `validation_error` at `prepare` naming the line, any other non-zero exit or death by
//! signal, oversized or invalid output, counts that do not fit, a program that cannot start →
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

use super::warm::WarmPool;
use super::{Backend, ExecError, Executed, Job};
use crate::config::{BackendConfig, SandboxConfig};
use crate::domain::{ErrorClass, ErrorStage, Failure, Memory, Parameters, RunOptions, RunResults};

/// The exit status by which a program says the user's source is at fault.
pub const EXIT_SOURCE_ERROR: i32 = 65;

/// A `command` backend: its program, the sandbox it runs in, and its limits.
pub struct CommandBackend {
    sandbox: Arc<Sandbox>,
    /// Programs started ahead of their runs (`warm` > 0), else none: each run starts its own.
    pool: Option<Arc<WarmPool>>,
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
    /// Whether the run asked for per-shot memory: then the response must carry `memory`.
    memory: bool,
    /// The run options the submission gave, among the backend's `options` (`{}` when none).
    options: &'a RunOptions,
}

#[derive(serde::Deserialize)]
struct Response {
    counts: BTreeMap<String, u64>,
    /// Every shot's count key in shot order, when the request asked for `memory`.
    #[serde(default)]
    memory: Option<Vec<String>>,
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
            warm,
            ..
        } = config
        else {
            unreachable!("CommandBackend::new takes a command configuration")
        };
        let sandbox = Arc::new(Sandbox::new(policy(sandbox, *timeout_s)));
        let args: Arc<[OsString]> = args.iter().map(OsString::from).collect();
        CommandBackend {
            pool: (*warm > 0).then(|| {
                Arc::new(WarmPool::new(
                    sandbox.clone(),
                    program.clone(),
                    args.clone(),
                    *warm,
                ))
            }),
            sandbox,
            program: program.clone(),
            args,
            timeout: config.timeout(),
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

    /// The warm pool, when `warm` > 0.
    pub fn pool(&self) -> Option<&Arc<WarmPool>> {
        self.pool.as_ref()
    }

    fn prepare(&self, job: &Job) -> Result<(), Failure> {
        if job.source.len() > self.max_source_bytes {
            return Err(Failure::new(
                ErrorClass::ResourceLimit,
                ErrorStage::Prepare,
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
                ErrorStage::Prepare,
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
    fn warm_up(&self) {
        if let Some(pool) = &self.pool {
            pool.refill();
        }
    }

    fn close(&self) {
        if let Some(pool) = &self.pool {
            pool.close();
        }
    }

    fn execute(
        &self,
        job: Job,
        cancel: CancellationToken,
    ) -> BoxFuture<'static, Result<Executed, ExecError>> {
        let prepared = self.prepare(&job);
        let sandbox = self.sandbox.clone();
        let pool = self.pool.clone();
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
                memory: job.memory,
                options: &job.options,
            })
            .map_err(|e| backend_error(format!("could not encode the request: {e}")))?;
            let started = Instant::now();
            let ending = match &pool {
                None => {
                    sandbox
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
                        .await
                }
                Some(pool) => match pool.take() {
                    Ok(warm) => {
                        sandbox
                            .finish(warm, &request, timeout, max_output_bytes, &cancel)
                            .await
                    }
                    Err(ending) => ending,
                },
            };
            let Response { counts, memory } = response(ending)?;
            let execution_time = started.elapsed().as_secs_f64();
            let (shots, wants_memory) = (job.shots, job.memory);
            let bits = match tokio::task::spawn_blocking(move || KeyBits::of(&job)).await {
                Ok(bits) => bits,
                // A panic in the engine is the RunActor's to report: re-raise it there.
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => return Err(ExecError::Cancelled),
            };
            check_counts(&counts, shots, bits)?;
            let memory = match (wants_memory, memory) {
                (false, _) => None,
                (true, Some(keys)) => Some(check_memory(&keys, &counts)?),
                (true, None) => {
                    return Err(backend_error(
                        "the run asked for per-shot memory and the backend returned none (no \
                         \"memory\" in its response)"
                            .into(),
                    ));
                }
            };
            Ok(Executed {
                results: RunResults {
                    shots,
                    unique_states: counts.len() as u64,
                    counts,
                    execution_time,
                    method: None,
                    precision: None,
                },
                memory,
            })
        }
        .boxed()
    }
}

/// A program's `memory` as the run's [`Memory`], checked against its counts (already checked
/// against the circuit): one key per shot, whose tally is the counts exactly, so what it
/// stores is bounded as the counts are.
fn check_memory(keys: &[String], counts: &BTreeMap<String, u64>) -> Result<Memory, ExecError> {
    Memory::from_keys(keys.iter().map(String::as_str))
        .and_then(|memory| memory.check_counts(counts).map(|()| memory))
        .map_err(|e| {
            backend_error(format!(
                "backend returned memory that does not fit its counts: {e}"
            ))
        })
}

/// The response of a run that ended with `ending`, as the program wrote it (unchecked), or
/// the failure it is.
fn response(ending: Ending) -> Result<Response, ExecError> {
    let failure = |class, message: String| {
        Err(ExecError::Failed(Failure::new(
            class,
            ErrorStage::Execute,
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
            Ok(response)
        }
        Ending::Exited {
            exit: Exit::Code(EXIT_SOURCE_ERROR),
            stdout,
            stderr,
        } => match serde_json::from_slice::<SourceErrorResponse>(&stdout) {
            Ok(SourceErrorResponse { error }) => Err(ExecError::Failed(Failure::new(
                ErrorClass::ValidationError,
                ErrorStage::Prepare,
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

/// How many bits (spaces not counted) each count key of a job has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyBits {
    /// Exactly the circuit's classical bits, as qrun's engine reads its OpenQASM source.
    Exactly(u64),
    /// At most [`qrun_engine::MAX_CLBITS`]: a source the engine does not read.
    AtMost(u64),
}

impl KeyBits {
    /// The bits of `job`'s keys: the circuit's classical bits when `job` is OpenQASM 2 or 3
    /// that qrun's engine lowers with the job's parameters ([`qrun_engine::classical_bits`],
    /// within the engine's own limits); at most [`qrun_engine::MAX_CLBITS`] otherwise (a
    /// Python source, or one wider or longer than the engine takes). Blocking (it lowers the
    /// program).
    fn of(job: &Job) -> KeyBits {
        qrun_engine::Format::from_manifest(&job.format)
            .and_then(|format| {
                qrun_engine::classical_bits(&job.source, format, &job.parameters).ok()
            })
            .map_or(KeyBits::AtMost(qrun_engine::MAX_CLBITS), |bits| {
                KeyBits::Exactly(u64::from(bits))
            })
    }
}

/// Checks a program's counts against its job, so that what is stored is bounded by the
/// circuit: every key has the count-key shape (groups of bits separated by single spaces),
/// every count is at least 1 (with zero counts allowed, a program could send any number of
/// keys and still add up to the shots), every key has the shape of the others (the same
/// register widths), its bits (spaces not counted) are as `bits` says, and the counts add up
/// to `shots`. A key that does not fit is named in the `backend_error`, cut to 80 characters.
fn check_counts(
    counts: &BTreeMap<String, u64>,
    shots: u64,
    bits: KeyBits,
) -> Result<(), ExecError> {
    let shown = |key: &str| -> String { key.chars().take(80).collect() };
    let mut first: Option<&str> = None;
    for (key, &count) in counts {
        if !qrun_engine::is_count_key(key) {
            return Err(backend_error(format!(
                "backend returned a count key that is not bits separated by single spaces: {:?}",
                shown(key)
            )));
        }
        if count == 0 {
            return Err(backend_error(format!(
                "backend returned a count of 0 for {:?}; every count must be at least 1",
                shown(key)
            )));
        }
        match first {
            Some(first) if !same_shape(first, key) => {
                return Err(backend_error(format!(
                    "backend returned count keys of different shapes (register widths): \
                     {:?} and {:?}",
                    shown(first),
                    shown(key)
                )));
            }
            Some(_) => {}
            None => {
                let n = key.bytes().filter(|&b| b != b' ').count() as u64;
                let fits = match bits {
                    KeyBits::Exactly(bits) => n == bits,
                    KeyBits::AtMost(bits) => n <= bits,
                };
                if !fits {
                    let allowed = match bits {
                        KeyBits::Exactly(bits) => format!("this circuit's keys are {bits}-bit"),
                        KeyBits::AtMost(bits) => format!("keys are at most {bits}-bit"),
                    };
                    return Err(backend_error(format!(
                        "backend returned a {n}-bit count key; {allowed}: {:?}",
                        shown(key)
                    )));
                }
                first = Some(key);
            }
        }
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

/// Whether count keys `a` and `b` have the same register widths: the same length, with their
/// spaces in the same places.
fn same_shape(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .all(|(x, y)| (x == b' ') == (y == b' '))
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
        ErrorStage::Execute,
        message,
    ))
}

#[cfg(test)]
mod tests {
    //! The protocol and every ending, through the real sandbox with small programs.

    use super::*;

    const MINUTE: u64 = 60;

    /// The circuit of [`job`]: 3 classical bits in registers of 2 and 1, so its keys are
    /// shaped `d cc` (`"0 00"`).
    const CIRCUIT: &str = "OPENQASM 2.0;\ncreg c[2];\ncreg d[1];\n";

    /// The configuration of a command backend running `/bin/sh -c script` (or `python3 -c`),
    /// sandboxed, with `sandbox` tweaks.
    fn config(
        program: &str,
        script: &str,
        timeout_s: u64,
        sandbox: SandboxConfig,
    ) -> BackendConfig {
        BackendConfig::Command {
            name: "test".into(),
            program: PathBuf::from(program),
            args: vec!["-c".into(), script.into()],
            formats: vec!["openqasm2".into(), "python".into()],
            timeout_s,
            max_shots: 1000,
            max_source_bytes: 1 << 20,
            max_output_bytes: 64 << 10,
            max_qubits: None,
            native_gates: Vec::new(),
            options: Vec::new(),
            warm: 0,
            sandbox,
        }
    }

    fn backend(
        program: &str,
        script: &str,
        timeout_s: u64,
        sandbox: SandboxConfig,
    ) -> CommandBackend {
        CommandBackend::new(&config(program, script, timeout_s, sandbox))
    }

    fn sh(script: &str) -> CommandBackend {
        backend("/bin/sh", script, MINUTE, SandboxConfig::default())
    }

    /// 10 shots of `source` in `format`.
    fn job(source: &str, format: &str) -> Job {
        Job {
            source: source.into(),
            format: format.into(),
            shots: 10,
            seed: Some(42),
            parameters: Parameters::new(),
            memory: false,
            options: RunOptions::new(),
        }
    }

    async fn run(backend: &CommandBackend) -> Result<RunResults, ExecError> {
        backend
            .execute(job(CIRCUIT, "openqasm2"), CancellationToken::new())
            .await
            .map(|executed| executed.results)
    }

    async fn failure_of(backend: &CommandBackend) -> Failure {
        failure_in(backend, job(CIRCUIT, "openqasm2")).await
    }

    async fn failure_in(backend: &CommandBackend, job: Job) -> Failure {
        match backend.execute(job, CancellationToken::new()).await {
            Err(ExecError::Failed(failure)) => failure,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn the_job_goes_in_as_json_and_counts_come_back() {
        let checker = r#"
import json, sys
job = json.load(sys.stdin)
expected = {"source": "OPENQASM 2.0;\ncreg c[2];\ncreg d[1];\n", "format": "openqasm2", "shots": 10, "seed": 42, "parameters": {}, "memory": False, "options": {"method": "statevector"}}
if job != expected:
    sys.exit(f"got {job}")
print(json.dumps({"counts": {"0 00": 3, "1 11": 7}, "extra": True}))
"#;
        let with_options = Job {
            options: RunOptions::from([("method".to_owned(), "statevector".into())]),
            ..job(CIRCUIT, "openqasm2")
        };
        let results = backend(
            "/usr/bin/python3",
            checker,
            MINUTE,
            SandboxConfig::default(),
        )
        .execute(with_options, CancellationToken::new())
        .await
        .unwrap()
        .results;
        assert_eq!(results.shots, 10);
        assert_eq!(results.unique_states, 2);
        assert_eq!(results.counts["1 11"], 7);
        assert!(results.execution_time > 0.0);
    }

    #[tokio::test]
    async fn memory_asked_for_comes_back_in_shot_order_fitting_the_counts() {
        let with_memory = Job {
            memory: true,
            ..job(CIRCUIT, "openqasm2")
        };
        let answer = |memory: &str| {
            sh(&format!(
                "cat >/dev/null; printf '{{\"counts\": {{\"0 00\": 3, \"1 11\": 7}}{memory}}}'"
            ))
        };
        let shots = r#""1 11","0 00","1 11","1 11","0 00","1 11","1 11","0 00","1 11","1 11""#;
        let executed = answer(&format!(", \"memory\": [{shots}]"))
            .execute(with_memory.clone(), CancellationToken::new())
            .await
            .unwrap();
        let memory = executed.memory.expect("memory");
        assert_eq!(
            memory.keys().take(3).collect::<Vec<_>>(),
            ["1 11", "0 00", "1 11"]
        );
        assert_eq!(memory.shots(), 10);
        // Not asked for: ignored.
        let executed = answer(&format!(", \"memory\": [{shots}]"))
            .execute(job(CIRCUIT, "openqasm2"), CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(executed.memory, None);
        for (memory, message) in [
            (
                String::new(),
                "the run asked for per-shot memory and the backend returned none (no \"memory\" \
                 in its response)",
            ),
            (
                r#", "memory": ["0 00", "0 00", "0 00", "0 00", "1 11", "1 11", "1 11", "1 11", "1 11", "1 11"]"#.to_owned(),
                "backend returned memory that does not fit its counts: the memory has 4 shots of \
                 \"0 00\", the counts 3",
            ),
            (
                r#", "memory": ["0 00", "1 1"]"#.to_owned(),
                "backend returned memory that does not fit its counts: shot 1 is \"1 1\", which \
                 is not 4 characters as the first shot's key",
            ),
        ] {
            let failure = failure_in(&answer(&memory), with_memory.clone()).await;
            assert_eq!(
                (failure.class, failure.message()),
                (ErrorClass::BackendError, message),
                "{memory}"
            );
        }
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
                (ErrorClass::ValidationError, ErrorStage::Prepare, message)
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
                ErrorStage::Execute,
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
                r#"{"0 00": 3}"#,
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
    async fn counts_that_do_not_fit_the_circuit_are_backend_errors() {
        for (counts, message) in [
            (
                r#"{"0 000": 10}"#,
                "backend returned a 4-bit count key; this circuit's keys are 3-bit: \"0 000\"",
            ),
            (
                r#"{"0 00": 5, "00 0": 5}"#,
                "backend returned count keys of different shapes (register widths): \"0 00\" and \"00 0\"",
            ),
            (
                r#"{"0 00": 10, "1 11": 0}"#,
                "backend returned a count of 0 for \"1 11\"; every count must be at least 1",
            ),
        ] {
            let failure = failure_of(&sh(&format!("printf '{{\"counts\": {counts}}}'"))).await;
            assert_eq!(
                (failure.class, failure.stage, failure.message()),
                (ErrorClass::BackendError, ErrorStage::Execute, message),
                "{counts}"
            );
        }
    }

    #[tokio::test]
    async fn an_openqasm_3_circuit_has_the_bits_its_parameters_make() {
        let two_bits = sh(r#"printf '{"counts": {"00": 10}}'"#);
        let sized = |n: f64| Job {
            parameters: Parameters::from([("n".to_owned(), n)]),
            ..job("OPENQASM 3;\ninput int n;\nbit[n] c;\n", "openqasm3")
        };
        let results = two_bits
            .execute(sized(2.0), CancellationToken::new())
            .await
            .unwrap()
            .results;
        assert_eq!(results.counts, BTreeMap::from([("00".to_owned(), 10)]));
        let failure = failure_in(&two_bits, sized(3.0)).await;
        assert_eq!(
            (failure.class, failure.message()),
            (
                ErrorClass::BackendError,
                "backend returned a 2-bit count key; this circuit's keys are 3-bit: \"00\""
            )
        );
    }

    #[tokio::test]
    async fn a_python_circuit_has_at_most_the_engines_classical_bits() {
        // All the shots on one key of as many bits as the source says.
        let mut wide = config(
            "/usr/bin/python3",
            "import json, sys\njob = json.load(sys.stdin)\n\
             print(json.dumps({'counts': {'1' * int(job['source']): job['shots']}}))",
            MINUTE,
            SandboxConfig::default(),
        );
        if let BackendConfig::Command {
            max_output_bytes, ..
        } = &mut wide
        {
            *max_output_bytes = 4 << 20;
        }
        let wide = CommandBackend::new(&wide);
        let results = wide
            .execute(job("1024", "python"), CancellationToken::new())
            .await
            .unwrap()
            .results;
        assert_eq!(results.counts.keys().next().unwrap().len(), 1024);
        let failure = failure_in(&wide, job("1048576", "python")).await;
        assert_eq!(
            (failure.class, failure.message()),
            (
                ErrorClass::BackendError,
                format!(
                    "backend returned a 1048576-bit count key; keys are at most 1024-bit: {:?}",
                    "1".repeat(80)
                )
                .as_str()
            )
        );
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
                ErrorStage::Execute,
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
            memory: false,
            options: RunOptions::new(),
        };
        let running = backend.execute(job, cancel.clone());
        cancel.cancel();
        assert!(matches!(running.await, Err(ExecError::Cancelled)));
    }

    /// `backend(...)` with `warm` programs started ahead of their runs.
    fn warm(program: &str, script: &str, timeout_s: u64, sandbox: SandboxConfig) -> CommandBackend {
        let mut config = config(program, script, timeout_s, sandbox);
        if let BackendConfig::Command { warm, .. } = &mut config {
            *warm = 1;
        }
        let backend = CommandBackend::new(&config);
        backend.warm_up();
        assert_eq!(backend.pool().map(|p| p.waiting()), Some(1));
        backend
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_warm_run_ends_as_a_cold_one_does() {
        // Each run leaves a file in its /tmp and lists what it found there: a used program
        // (and its sandbox) is never used again.
        let marks = warm(
            "/bin/sh",
            "cat >/dev/null; ls -A /tmp >&2; touch /tmp/used; exit 3",
            MINUTE,
            SandboxConfig::default(),
        );
        for _ in 0..3 {
            assert_eq!(
                failure_of(&marks).await.message(),
                "backend exited with status 3",
                "a fresh /tmp"
            );
        }
        let answer = warm(
            "/bin/sh",
            "cat >/dev/null; printf '{\"counts\": {\"0 00\": 3, \"1 11\": 7}}'",
            MINUTE,
            SandboxConfig::default(),
        );
        assert_eq!(run(&answer).await.unwrap().counts["1 11"], 7);
        assert_eq!(
            run(&answer).await.unwrap().counts["1 11"],
            7,
            "its replacement"
        );

        let capped = SandboxConfig {
            memory_mb: 256,
            ..SandboxConfig::default()
        };
        let memory = warm(
            "/usr/bin/python3",
            "import sys\nsys.stdin.read()\nx = bytearray(3 << 30)",
            MINUTE,
            capped,
        );
        let failure = failure_of(&memory).await;
        assert_eq!(
            (failure.class, failure.message()),
            (ErrorClass::ResourceLimit, "memory limit 256 MiB exceeded")
        );
        // The wall clock runs from the job, not from the start: a program that waited longer
        // than its limit still gets all of it.
        let sleeper = warm(
            "/bin/sh",
            "cat >/dev/null; sleep 1000",
            1,
            SandboxConfig::default(),
        );
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let failure = failure_of(&sleeper).await;
        assert_eq!(
            (failure.class, failure.message()),
            (
                ErrorClass::Timeout,
                "backend did not finish within the time limit of 1 s"
            )
        );
        let failure = failure_of(&warm(
            "/bin/sh",
            "exec yes 0101",
            MINUTE,
            SandboxConfig::default(),
        ))
        .await;
        assert_eq!(
            failure.message(),
            "backend stdout output exceeded 65536 bytes"
        );

        let cancelled = warm(
            "/bin/sh",
            "cat >/dev/null; sleep 1000",
            MINUTE,
            SandboxConfig::default(),
        );
        let cancel = CancellationToken::new();
        let running = cancelled.execute(job(CIRCUIT, "openqasm2"), cancel.clone());
        cancel.cancel();
        assert!(matches!(running.await, Err(ExecError::Cancelled)));
        cancelled.close();
        assert_eq!(cancelled.pool().map(|p| p.waiting()), Some(0));
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
