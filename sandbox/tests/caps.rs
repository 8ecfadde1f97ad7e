//! Each cap ends a run as itself: memory, CPU time, processes; and a run's processes die
//! with the process that runs the sandbox.

mod common;

use std::time::Duration;

use common::{DAEMON, MIB, MINUTE, assert_all_gone, marker, processes_with, run_with};
use qrun_sandbox::{CancellationToken, Ending, Exit, Policy, Sandbox};

fn capped(enabled: bool) -> Policy {
    Policy {
        enabled,
        memory_mb: 256,
        cpu_s: 2,
        max_processes: 32,
        ..Policy::default()
    }
}

/// Whether runs get cgroups here. A root service on this machine kind always does (cgroup
/// v1); an unprivileged one (`.ci/run` runs this suite again under a dedicated uid) does
/// not, and the caps fall back to rlimits, whose endings are asserted instead.
fn cgroups() -> bool {
    let cgroups = Sandbox::new(Policy::default()).has_cgroups();
    assert!(
        cgroups || !nix::unistd::geteuid().is_root(),
        "no writable cgroup v1 memory/pids/cpuacct hierarchy for a root service: the causes \
         cannot be detected"
    );
    cgroups
}

/// Python's exit when an allocation or a fork fails on an rlimit: status 1, the exception
/// named on stderr.
fn python_failed_with(ending: &Ending, exception: &str) -> bool {
    matches!(ending, Ending::Exited { exit: Exit::Code(1), stderr, .. }
        if String::from_utf8_lossy(stderr).contains(exception))
}

#[tokio::test]
async fn allocating_3_gib_under_256_mib_is_a_memory_ending() {
    let cgroups = cgroups();
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
        if !cgroups {
            assert!(
                python_failed_with(&ending, "MemoryError"),
                "enabled = {enabled}: {ending:?}"
            );
            continue;
        }
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
    // Without cgroups the SIGKILL of RLIMIT_CPU's hard limit is not told from any other.
    if !cgroups() {
        return;
    }
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
    let cgroups = cgroups();
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
        if cgroups {
            assert!(
                matches!(ending, Ending::TooManyProcesses { limit: 32, .. }),
                "enabled = {enabled}: {ending:?}"
            );
            assert_eq!(ending.to_string(), "process limit 32 exceeded");
        } else {
            assert!(
                python_failed_with(&ending, "BlockingIOError"),
                "enabled = {enabled}: {ending:?}"
            );
        }
        assert_all_gone(&mark);
        if !cgroups {
            // Killed processes count against the user's RLIMIT_NPROC until reaped: wait,
            // or the next run of this user could not start (this suite runs alone then).
            common::wait_until("the bomb's processes are reaped", MINUTE, || {
                common::other_processes_of_my_user().is_empty()
            });
        }
    }
}

/// Five processes of 1.2 CPU seconds each, 6 in all, under `cpu_s = 3`: the run's total
/// is over, though no process is.
const FIVE_SPINNERS: &str = r#"
import os, time
def spin():
    while time.process_time() < 1.2:
        pass
children = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        spin()
        os._exit(0)
    children.append(pid)
spin()
for pid in children:
    os.waitpid(pid, 0)
print("all done")
"#;

#[tokio::test]
async fn five_processes_share_one_cpu_budget() {
    let cgroups = cgroups();
    for run_cpu_total in [true, false] {
        let mut policy = Policy {
            cpu_s: 3,
            ..Policy::default()
        };
        policy.hardening.run_cpu_total = run_cpu_total;
        let ending = run_with(
            policy,
            "/usr/bin/python3",
            &["-c", FIVE_SPINNERS],
            b"",
            MINUTE,
            MIB,
            &CancellationToken::new(),
        )
        .await;
        // Without a cgroup the total cannot be counted: each process has its own 3 s.
        if run_cpu_total && cgroups {
            assert!(
                matches!(ending, Ending::CpuExceeded { limit_s: 3, .. }),
                "{ending:?}"
            );
        } else {
            assert!(
                matches!(&ending, Ending::Exited { exit: Exit::Code(0), stdout, .. }
                    if stdout == b"all done\n"),
                "run_cpu_total = {run_cpu_total}: {ending:?}"
            );
        }
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
