//! A hostile program tries each way out and reports what it reached: with the sandbox
//! nothing, without it everything (so the test cannot pass vacuously).
//!
//! The program runs in a helper process — this test binary re-executed — that stands for
//! the service: it has a secret in its environment, and the test's temporary directory
//! stands for its database and configuration.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::path::PathBuf;

use common::{MIB, MINUTE, run_with};
use qrun_sandbox::{CancellationToken, Ending, Exit, Policy};

const SECRET: &str = "qrun-test-secret-5e5a1c";

/// argv: port, service directory, host pid to look for, read-only directory.
const HOSTILE: &str = r#"
import json, os, socket, sys
port, service_dir, host_pid, read_only = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
def reached(attempt):
    try:
        return bool(attempt()) or True
    except Exception:
        return False
def connect():
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        return True
def read(path):
    with open(path) as f:
        return f.read()
def write(path):
    with open(path, "w") as f:
        f.write("pwned")
def secret():
    if "QRUN_TEST_SECRET" in os.environ:
        return True
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if b"QRUN_TEST_SECRET=" in f.read():
                    return True
        except OSError:
            pass
    raise LookupError("no secret")
print(json.dumps({
    "tcp": reached(connect),
    "database": reached(lambda: read(f"{service_dir}/qrun.db")),
    "config": reached(lambda: read(f"{service_dir}/qrun.toml")),
    "write_service_dir": reached(lambda: write(f"{service_dir}/pwned")),
    "write_read_only": reached(lambda: write(f"{read_only}/pwned")),
    "write_tmp": reached(lambda: write("/tmp/mine")),
    "read_read_only": reached(lambda: read(f"{read_only}/runner.py")),
    "secret": reached(secret),
    "home": reached(lambda: os.listdir("/root")),
    "host_process": reached(lambda: os.stat(f"/proc/{host_pid}")),
}, sort_keys=True))
"#;

fn report(enabled: bool) -> serde_json::Value {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let service = tempfile::tempdir().unwrap();
    std::fs::write(service.path().join("qrun.db"), "runs").unwrap();
    std::fs::write(service.path().join("qrun.toml"), "posthog_api_key = \"x\"").unwrap();
    let read_only = tempfile::tempdir().unwrap();
    std::fs::write(read_only.path().join("runner.py"), "").unwrap();

    let output = common::helper(
        "helper_runs_the_hostile_program",
        &[
            ("QRUN_TEST_SECRET", SECRET),
            ("QRUN_TEST_ENABLED", if enabled { "1" } else { "0" }),
            ("QRUN_TEST_PORT", &port),
            ("QRUN_TEST_SERVICE_DIR", service.path().to_str().unwrap()),
            ("QRUN_TEST_HOST_PID", &std::process::id().to_string()),
            ("QRUN_TEST_READ_ONLY", read_only.path().to_str().unwrap()),
        ],
    )
    .output()
    .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("REPORT ").map(|(_, report)| report))
        .unwrap_or_else(|| {
            panic!(
                "no report: {stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    // Whatever reached the host's files is cleaned up with the directories.
    drop(listener);
    serde_json::from_str(line).unwrap()
}

#[test]
fn the_sandbox_lets_the_hostile_program_reach_nothing_and_without_it_everything() {
    let inside = report(true);
    let outside = report(false);
    for (what, sandboxed, unsandboxed) in [
        ("tcp", false, true),
        ("database", false, true),
        ("config", false, true),
        ("write_service_dir", false, true),
        ("write_read_only", false, true),
        ("secret", false, true),
        ("home", false, true),
        ("host_process", false, true),
        // What the program is meant to have, either way.
        ("write_tmp", true, true),
        ("read_read_only", true, true),
    ] {
        assert_eq!(
            inside[what], sandboxed,
            "with the sandbox, {what}: {inside}"
        );
        assert_eq!(outside[what], unsandboxed, "without it, {what}: {outside}");
    }
}

/// Run by the test above in a process of its own, with the secret in its environment.
#[tokio::test]
#[ignore = "a helper process of the_sandbox_lets_the_hostile_program_reach_nothing…"]
async fn helper_runs_the_hostile_program() {
    let Ok(enabled) = std::env::var("QRUN_TEST_ENABLED") else {
        return;
    };
    let var = |name: &str| std::env::var(name).unwrap();
    let read_only = PathBuf::from(var("QRUN_TEST_READ_ONLY"));
    let policy = Policy {
        enabled: enabled == "1",
        read_only_paths: vec![read_only.clone()],
        ..Policy::default()
    };
    let ending = run_with(
        policy,
        "/usr/bin/python3",
        &[
            "-c",
            HOSTILE,
            &var("QRUN_TEST_PORT"),
            &var("QRUN_TEST_SERVICE_DIR"),
            &var("QRUN_TEST_HOST_PID"),
            read_only.to_str().unwrap(),
        ],
        b"",
        MINUTE,
        MIB,
        &CancellationToken::new(),
    )
    .await;
    let Ending::Exited {
        exit: Exit::Code(0),
        stdout,
        ..
    } = ending
    else {
        panic!("{ending:?}");
    };
    let mut report = String::new();
    stdout.as_slice().read_to_string(&mut report).unwrap();
    println!("REPORT {}", report.trim());
}
