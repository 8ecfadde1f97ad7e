//! The command backend against small shell scripts written by each test: the protocol, the
//! sandbox (environment, working directory), and every way a backend can fail.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use qrun_engine::{CancellationToken, CommandBackend, FailureKind, Stage};

/// A test's directory with one script in it.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    /// Writes `script` (a `/bin/sh` body; `$1` is the fixture directory) as an executable.
    fn new(script: &str) -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backend.sh");
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn backend(&self, timeout: Duration, max_output_bytes: usize) -> CommandBackend {
        CommandBackend {
            program: self.path("backend.sh"),
            args: vec![self.dir.path().display().to_string()],
            timeout,
            max_output_bytes,
        }
    }

    /// A FIFO the script can write to; reading it waits until the script has got there.
    fn fifo(&self, name: &str) -> PathBuf {
        let path = self.path(name);
        let status = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success());
        path
    }
}

const MINUTE: Duration = Duration::from_secs(60);
const MIB: usize = 1 << 20;

async fn run(
    backend: &CommandBackend,
    shots: u64,
) -> Result<qrun_engine::Outcome, qrun_engine::EngineError> {
    backend
        .run(
            "OPENQASM 2.0;",
            "openqasm2",
            shots,
            Some(42),
            &CancellationToken::new(),
        )
        .await
}

/// Reads a pid the script wrote to a FIFO (blocks until it does).
async fn read_pid(fifo: PathBuf) -> i32 {
    tokio::task::spawn_blocking(move || std::fs::read_to_string(fifo).unwrap())
        .await
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Whether `pid` is gone: no such process, or a zombie waiting to be reaped.
fn is_dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => matches!(
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next()),
            Some('Z' | 'X')
        ),
    }
}

/// Waits (polling, with a generous deadline) until `pid` has died of the SIGKILL sent to
/// its group; signal delivery is asynchronous, so "not yet" is possible for a moment.
fn assert_dies(pid: i32) {
    let deadline = Instant::now() + MINUTE;
    while !is_dead(pid) {
        assert!(
            Instant::now() < deadline,
            "process {pid} survived its group's SIGKILL"
        );
        std::thread::yield_now();
    }
}

fn read_pid_file(path: &Path) -> i32 {
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn success_passes_the_request_on_stdin_in_a_clean_sandbox() {
    let fixture = Fixture::new(
        "cat > \"$1/stdin.json\"\nenv > \"$1/env.txt\"\npwd > \"$1/pwd.txt\"\n\
         printf '{\"counts\": {\"0 00\": 3, \"1 11\": 7}, \"extra\": true}'",
    );
    let outcome = run(&fixture.backend(MINUTE, MIB), 10).await.unwrap();
    assert_eq!(outcome.shots, 10);
    assert_eq!(outcome.unique_states, 2);
    assert_eq!(outcome.counts["1 11"], 7);
    assert!(outcome.execution_time > 0.0);

    let request: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.path("stdin.json")).unwrap())
            .unwrap();
    assert_eq!(
        request,
        serde_json::json!({"source": "OPENQASM 2.0;", "format": "openqasm2", "shots": 10, "seed": 42})
    );
    let env = std::fs::read_to_string(fixture.path("env.txt")).unwrap();
    for line in env.lines() {
        // dash exports PWD itself; everything else must have been cleared.
        assert!(
            line == "PATH=/usr/bin:/bin" || line.starts_with("PWD="),
            "leaked: {line}"
        );
    }
    let workdir = std::fs::read_to_string(fixture.path("pwd.txt")).unwrap();
    let workdir = Path::new(workdir.trim());
    assert!(
        workdir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("qrun-backend-")
    );
    assert!(
        !workdir.exists(),
        "the working directory is removed afterwards"
    );
}

#[tokio::test]
async fn timeout_kills_the_whole_process_group() {
    let fixture = Fixture::new(
        "sleep 1000 &\necho $! > \"$1/grandchild.pid\"\necho $$ > \"$1/leader.pid\"\nwait",
    );
    let err = run(&fixture.backend(Duration::from_secs(1), MIB), 10)
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, err.stage),
        (FailureKind::Timeout, Stage::Execute)
    );
    assert_eq!(
        err.message,
        "backend did not finish within the time limit of 1 s"
    );
    assert_dies(read_pid_file(&fixture.path("leader.pid")));
    assert_dies(read_pid_file(&fixture.path("grandchild.pid")));
}

#[tokio::test]
async fn cancel_kills_the_whole_process_group() {
    let fixture = Fixture::new("sleep 1000 &\necho $! > \"$1/ready\"\nwait");
    let ready = fixture.fifo("ready");
    let backend = fixture.backend(MINUTE, MIB);
    let cancel = CancellationToken::new();
    let running = {
        let cancel = cancel.clone();
        tokio::spawn(async move { backend.run("", "openqasm2", 1, None, &cancel).await })
    };
    let grandchild = read_pid(ready).await;
    cancel.cancel();
    let err = running.await.unwrap().unwrap_err();
    assert_eq!(
        (err.kind, err.stage),
        (FailureKind::Cancelled, Stage::Execute)
    );
    assert_dies(grandchild);
}

#[tokio::test]
async fn dropping_the_run_kills_the_whole_process_group() {
    let fixture = Fixture::new("sleep 1000 &\necho $! > \"$1/ready\"\nwait");
    let ready = fixture.fifo("ready");
    let backend = fixture.backend(MINUTE, MIB);
    let running = tokio::spawn(async move { run(&backend, 1).await });
    let grandchild = read_pid(ready).await;
    running.abort();
    assert!(running.await.unwrap_err().is_cancelled());
    assert_dies(grandchild);
}

#[tokio::test]
async fn non_zero_exit_reports_the_status_and_stderr() {
    let fixture = Fixture::new("echo 'lots of noise' >&2\necho '  qiskit exploded  ' >&2\nexit 3");
    let err = run(&fixture.backend(MINUTE, MIB), 10).await.unwrap_err();
    assert_eq!(
        (err.kind, err.stage),
        (FailureKind::Backend, Stage::Execute)
    );
    assert_eq!(
        err.message,
        "backend exited with status 3; stderr: lots of noise\n  qiskit exploded"
    );
}

#[tokio::test]
async fn death_by_signal_is_a_backend_error() {
    let fixture = Fixture::new("kill -SEGV $$");
    let err = run(&fixture.backend(MINUTE, MIB), 10).await.unwrap_err();
    assert_eq!(err.kind, FailureKind::Backend);
    assert_eq!(err.message, "backend was killed by signal 11");
}

#[tokio::test]
async fn bad_json_is_a_backend_error() {
    let fixture = Fixture::new("echo 'not json'\necho 'warning: odd' >&2");
    let err = run(&fixture.backend(MINUTE, MIB), 10).await.unwrap_err();
    assert_eq!(
        (err.kind, err.stage),
        (FailureKind::Backend, Stage::Execute)
    );
    assert!(
        err.message
            .starts_with("backend wrote invalid JSON on stdout: "),
        "{}",
        err.message
    );
    assert!(
        err.message.ends_with("; stderr: warning: odd"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn counts_that_do_not_add_up_or_are_not_bits_are_refused() {
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
        let fixture = Fixture::new(&format!("printf '{{\"counts\": {counts}}}'"));
        let err = run(&fixture.backend(MINUTE, MIB), 10).await.unwrap_err();
        assert_eq!(
            (err.kind, err.message.as_str()),
            (FailureKind::Backend, message)
        );
    }
}

#[tokio::test]
async fn endless_output_is_capped_and_the_backend_killed() {
    for stream in ["", ">&2"] {
        let fixture = Fixture::new(&format!(
            "echo $$ > \"$1/leader.pid\"\nexec yes 0101 {stream}"
        ));
        let err = run(&fixture.backend(MINUTE, 64 * 1024), 10)
            .await
            .unwrap_err();
        assert_eq!(err.kind, FailureKind::Backend);
        let which = if stream.is_empty() {
            "stdout"
        } else {
            "stderr"
        };
        assert_eq!(
            err.message,
            format!("backend {which} output exceeded 65536 bytes")
        );
        assert_dies(read_pid_file(&fixture.path("leader.pid")));
    }
}

#[tokio::test]
async fn a_missing_program_is_a_backend_error() {
    let backend = CommandBackend {
        program: PathBuf::from("/nonexistent/backend"),
        args: Vec::new(),
        timeout: MINUTE,
        max_output_bytes: MIB,
    };
    let err = run(&backend, 1).await.unwrap_err();
    assert_eq!(err.kind, FailureKind::Backend);
    assert!(
        err.message
            .starts_with("could not start /nonexistent/backend: "),
        "{}",
        err.message
    );
}
