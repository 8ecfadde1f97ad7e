//! Each cap ends a run as itself: memory, CPU time, processes; and a run's processes die
//! with the process that runs the sandbox.

mod common;

use std::time::Duration;

use common::{DAEMON, MIB, MINUTE, assert_all_gone, marker, processes_with, run_with};
use qrun_sandbox::{CancellationToken, Ending, Policy, Sandbox};

fn capped(enabled: bool) -> Policy {
    Policy {
        enabled,
        memory_mb: 256,
        cpu_s: 2,
        max_processes: 32,
        ..Policy::default()
    }
}

/// The caps below are read from per-run cgroups; this machine kind has them (cgroup v1).
fn assert_cgroups() {
    assert!(
        Sandbox::new(Policy::default()).has_cgroups(),
        "no writable cgroup v1 memory/pids/cpuacct hierarchy: the causes cannot be detected"
    );
}

#[tokio::test]
async fn allocating_3_gib_under_256_mib_is_a_memory_ending() {
    assert_cgroups();
    for enabled in [true, false] {
        let ending = run_with(
            capped(enabled),
            "/usr/bin/python3",
            &["-c", "x = bytearray(3 << 30); print(len(x))"],
            b"",
            MINUTE,
            MIB,
            &CancellationToken::new(),
        )
        .await;
        assert!(
            matches!(ending, Ending::MemoryExceeded { limit_mb: 256, .. }),
            "enabled = {enabled}: {ending:?}"
        );
        assert_eq!(ending.to_string(), "memory limit 256 MiB exceeded");
    }
}

#[tokio::test]
async fn a_cpu_spin_under_2_cpu_seconds_is_a_cpu_ending() {
    for enabled in [true, false] {
        let started = std::time::Instant::now();
        let ending = run_with(
            capped(enabled),
            "/bin/sh",
            &["-c", "while :; do :; done"],
            b"",
            MINUTE,
            MIB,
            &CancellationToken::new(),
        )
        .await;
        assert!(
            matches!(ending, Ending::CpuExceeded { limit_s: 2, .. }),
            "enabled = {enabled}: {ending:?}"
        );
        assert_eq!(ending.to_string(), "CPU time limit 2 s exceeded");
        assert!(started.elapsed() < Duration::from_secs(30));
    }
}

#[tokio::test]
async fn a_program_catching_sigxcpu_is_killed_a_second_later_as_a_cpu_ending() {
    assert_cgroups();
    let ending = run_with(
        capped(true),
        "/usr/bin/python3",
        &[
            "-c",
            "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True: pass",
        ],
        b"",
        MINUTE,
        MIB,
        &CancellationToken::new(),
    )
    .await;
    assert!(
        matches!(ending, Ending::CpuExceeded { limit_s: 2, .. }),
        "{ending:?}"
    );
}

#[tokio::test]
async fn a_fork_bomb_under_32_processes_fails_and_leaves_nothing() {
    assert_cgroups();
    for enabled in [true, false] {
        let mark = marker("bomb");
        let ending = run_with(
            capped(enabled),
            "/usr/bin/python3",
            &["-c", "import os\nwhile True: os.fork()", &mark],
            b"",
            MINUTE,
            MIB,
            &CancellationToken::new(),
        )
        .await;
        assert!(
            matches!(ending, Ending::TooManyProcesses { limit: 32, .. }),
            "enabled = {enabled}: {ending:?}"
        );
        assert_eq!(ending.to_string(), "process limit 32 exceeded");
        assert_all_gone(&mark);
    }
}

#[tokio::test]
async fn a_daemon_dies_when_the_process_running_the_sandbox_is_killed() {
    let mark = marker("parent");
    let mut helper = common::helper(
        "helper_runs_a_daemon_until_killed",
        &[("QRUN_TEST_MARKER", &mark)],
    )
    .stdout(std::process::Stdio::null())
    .spawn()
    .unwrap();
    common::wait_until("the daemon runs", MINUTE, || {
        processes_with(&mark).into_iter().any(common::is_daemon)
    });
    helper.kill().unwrap();
    helper.wait().unwrap();
    assert_all_gone(&mark);
}

/// Run by the test above in a process of its own: a sandboxed daemon, then wait forever.
#[tokio::test]
#[ignore = "a helper process of a_daemon_dies_when_the_process_running_the_sandbox_is_killed"]
async fn helper_runs_a_daemon_until_killed() {
    let Ok(mark) = std::env::var("QRUN_TEST_MARKER") else {
        return;
    };
    run_with(
        Policy::default(),
        "/usr/bin/python3",
        &["-c", DAEMON, &mark, "1000"],
        b"",
        Duration::from_secs(600),
        MIB,
        &CancellationToken::new(),
    )
    .await;
}
