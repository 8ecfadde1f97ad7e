//! The command backend: a configured program run as a sandboxed child process.
//!
//! Protocol: the child reads `{"source", "format", "shots", "seed"}` as JSON on stdin and
//! writes `{"counts": {key: shots, …}}` as JSON on stdout; the engine derives `shots`,
//! `unique_states` and `execution_time` itself after checking the counts (keys in the
//! count-key shape, sum equal to the requested shots).
//!
//! Sandboxing: a cleared environment (only `PATH=/usr/bin:/bin`), a fresh temporary working
//! directory removed afterwards, stdout and stderr each capped at `max_output_bytes`, and a
//! process group of its own so that the whole group — grandchildren included — is killed
//! with SIGKILL on timeout, cancellation, oversized output, when the run ends, and when the
//! future is dropped.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use crate::error::{EngineError, FailureKind, Result, Stage};
use crate::outcome::{Outcome, is_count_key};

/// At most this much of the end of the child's stderr goes into an error message.
const STDERR_TAIL_BYTES: usize = 2048;

/// A backend program and how to run it.
#[derive(Clone, Debug)]
pub struct CommandBackend {
    /// The executable.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Longest a run may take before the process group is killed.
    pub timeout: Duration,
    /// Cap on each of stdout and stderr; more output kills the run.
    pub max_output_bytes: usize,
}

#[derive(serde::Serialize)]
struct Request<'a> {
    source: &'a str,
    format: &'a str,
    shots: u64,
    seed: Option<u64>,
}

#[derive(serde::Deserialize)]
struct Response {
    counts: BTreeMap<String, u64>,
}

/// Why collecting the child's output stopped early.
enum OutputError {
    Exceeded(&'static str),
    Io(&'static str, std::io::Error),
}

impl CommandBackend {
    /// Runs the backend on `source` for `shots` shots.
    pub async fn run(
        &self,
        source: &str,
        format: &str,
        shots: u64,
        seed: Option<u64>,
        cancel: &CancellationToken,
    ) -> Result<Outcome> {
        let started = Instant::now();
        let workdir = tempfile::Builder::new()
            .prefix("qrun-backend-")
            .tempdir()
            .map_err(|e| backend_error(format!("could not create a working directory: {e}")))?;
        let input = serde_json::to_vec(&Request {
            source,
            format,
            shots,
            seed,
        })
        .map_err(|e| backend_error(format!("could not encode the request: {e}")))?;

        let mut child = Command::new(&self.program)
            .args(&self.args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .current_dir(workdir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                backend_error(format!("could not start {}: {e}", self.program.display()))
            })?;
        let group = ProcessGroup(child.id());
        let (stdin, stdout, stderr) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take());

        let exchange = async {
            let write = async {
                if let Some(mut stdin) = stdin {
                    match stdin.write_all(&input).await {
                        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                            return Err(OutputError::Io("stdin", e));
                        }
                        _ => {}
                    }
                }
                Ok(())
            };
            let (_, out, err) = tokio::try_join!(
                write,
                read_capped(stdout, self.max_output_bytes, "stdout"),
                read_capped(stderr, self.max_output_bytes, "stderr"),
            )?;
            let status = child.wait().await.map_err(|e| OutputError::Io("wait", e))?;
            Ok((status, out, err))
        };
        let finished = tokio::select! {
            finished = exchange => Ok(finished),
            () = tokio::time::sleep(self.timeout) => Err(EngineError::new(
                FailureKind::Timeout,
                Stage::Execute,
                format!(
                    "backend did not finish within the time limit of {} s",
                    self.timeout.as_secs_f64()
                ),
            )),
            () = cancel.cancelled() => Err(EngineError::cancelled()),
        };
        // Kill what is left of the group (the leader may have left children behind) and the
        // leader itself (in case the group kill was refused), then reap the leader. After a
        // clean exit the leader is already reaped: its id names the group only while members
        // remain, and could name another group only once the pid space has wrapped around.
        drop(group);
        let _ = child.start_kill();
        let _ = child.wait().await;

        let (status, stdout, stderr) = finished?.map_err(|e| match e {
            OutputError::Exceeded(stream) => backend_error(format!(
                "backend {stream} output exceeded {} bytes",
                self.max_output_bytes
            )),
            OutputError::Io(stream, e) => backend_error(format!("backend {stream} failed: {e}")),
        })?;
        check_status(status, &stderr)?;
        let response: Response = serde_json::from_slice(&stdout).map_err(|e| {
            backend_error(with_stderr(
                format!("backend wrote invalid JSON on stdout: {e}"),
                &stderr,
            ))
        })?;
        check_counts(&response.counts, shots)?;
        Ok(Outcome::from_counts(
            response.counts,
            started.elapsed().as_secs_f64(),
        ))
    }
}

/// Kills a process group with SIGKILL when dropped.
struct ProcessGroup(Option<u32>);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if let Some(id) = self.0.and_then(|id| i32::try_from(id).ok()) {
            // ESRCH (nothing left in the group) is the normal case after a clean exit.
            let _ = killpg(Pid::from_raw(id), Signal::SIGKILL);
        }
    }
}

async fn read_capped(
    stream: Option<impl AsyncRead + Unpin>,
    max: usize,
    name: &'static str,
) -> Result<Vec<u8>, OutputError> {
    let mut buffer = Vec::new();
    if let Some(stream) = stream {
        let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
        stream
            .take(limit)
            .read_to_end(&mut buffer)
            .await
            .map_err(|e| OutputError::Io(name, e))?;
    }
    if buffer.len() > max {
        return Err(OutputError::Exceeded(name));
    }
    Ok(buffer)
}

fn check_status(status: ExitStatus, stderr: &[u8]) -> Result<()> {
    use std::os::unix::process::ExitStatusExt;
    if status.success() {
        return Ok(());
    }
    let what = match (status.code(), status.signal()) {
        (Some(code), _) => format!("backend exited with status {code}"),
        (None, Some(signal)) => format!("backend was killed by signal {signal}"),
        (None, None) => format!("backend failed ({status})"),
    };
    Err(backend_error(with_stderr(what, stderr)))
}

fn check_counts(counts: &BTreeMap<String, u64>, shots: u64) -> Result<()> {
    if let Some(key) = counts.keys().find(|key| !is_count_key(key)) {
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

/// `message`, followed by the end of `stderr` (trimmed) if there is any.
fn with_stderr(message: String, stderr: &[u8]) -> String {
    let tail = &stderr[stderr.len().saturating_sub(STDERR_TAIL_BYTES)..];
    let tail = String::from_utf8_lossy(tail);
    let tail = tail.trim();
    if tail.is_empty() {
        message
    } else {
        format!("{message}; stderr: {tail}")
    }
}

fn backend_error(message: String) -> EngineError {
    EngineError::new(FailureKind::Backend, Stage::Execute, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_tail_is_trimmed_and_capped() {
        assert_eq!(with_stderr("failed".into(), b"  \n"), "failed");
        assert_eq!(
            with_stderr("failed".into(), b"boom\n"),
            "failed; stderr: boom"
        );
        let long = [b'x'; 5000];
        assert_eq!(
            with_stderr("f".into(), &long).len(),
            "f; stderr: ".len() + 2048
        );
    }

    #[test]
    fn counts_must_be_bit_keys_adding_up_to_the_shots() {
        let counts = |pairs: &[(&str, u64)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect::<BTreeMap<_, _>>()
        };
        assert!(check_counts(&counts(&[("00", 6), ("11", 4)]), 10).is_ok());
        assert!(check_counts(&counts(&[("00", 6)]), 10).is_err());
        assert!(check_counts(&counts(&[("0x", 10)]), 10).is_err());
        assert!(check_counts(&counts(&[("0", u64::MAX), ("1", 1)]), 10).is_err());
    }
}
