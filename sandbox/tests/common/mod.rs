//! Helpers shared by the sandbox's integration tests: running a shell or Python snippet,
//! finding a run's processes on the host by a marker in their command line, waiting on
//! conditions with deadlines, and re-executing the test binary as a helper process.

#![allow(dead_code)] // each test binary uses its own subset

use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant};

use qrun_sandbox::{CancellationToken, Ending, Invocation, Policy, Sandbox};

pub const MINUTE: Duration = Duration::from_secs(60);
pub const MIB: usize = 1 << 20;

/// The default policy, sandboxed or not.
pub fn policy(enabled: bool) -> Policy {
    Policy {
        enabled,
        ..Policy::default()
    }
}

/// The sandbox modes in which a run's daemon is killed with it: always under bubblewrap (its
/// PID namespace ends with the run), and without it only where the run has a cgroup to
/// find it by — not for an unprivileged service without cgroups, as the crate docs say.
pub fn daemon_modes() -> Vec<bool> {
    if Sandbox::new(Policy::default()).has_cgroups() {
        vec![true, false]
    } else {
        vec![true]
    }
}

/// Runs `program args` under `policy` with `stdin`, a wall limit and an output cap.
pub async fn run_with(
    policy: Policy,
    program: &str,
    args: &[&str],
    stdin: &[u8],
    timeout: Duration,
    max_output_bytes: usize,
    cancel: &CancellationToken,
) -> Ending {
    let args: Vec<OsString> = args.iter().map(OsString::from).collect();
    Sandbox::new(policy)
        .run(
            &Invocation {
                program: Path::new(program),
                args: &args,
                stdin,
                timeout,
                max_output_bytes,
            },
            cancel,
        )
        .await
}

/// Runs `/bin/sh -c script marker` under `policy` (a minute, 1 MiB of output).
pub async fn sh(policy: Policy, script: &str, stdin: &[u8]) -> Ending {
    run_with(
        policy,
        "/bin/sh",
        &["-c", script, "sh"],
        stdin,
        MINUTE,
        MIB,
        &CancellationToken::new(),
    )
    .await
}

/// A string unique to this test, to put in a run's command lines.
pub fn marker(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("qrun-sandbox-test-{name}-{}-{nanos}", std::process::id())
}

/// Host pids of the processes other than this one whose `/proc/PID/FILE` satisfies `test`.
fn other_processes(file: &str, test: impl Fn(&[u8]) -> bool) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != std::process::id() as i32)
        .filter(|pid| std::fs::read(format!("/proc/{pid}/{file}")).is_ok_and(|c| test(&c)))
        .collect()
}

/// Host pids of live processes whose command line contains `marker` (zombies have none).
pub fn processes_with(marker: &str) -> Vec<i32> {
    other_processes("cmdline", |cmdline| {
        cmdline
            .windows(marker.len())
            .any(|w| w == marker.as_bytes())
    })
}

/// Host pids of processes (zombies included) whose real uid is this process's, other than
/// this one: what `RLIMIT_NPROC` counts against a run of this user besides our threads.
pub fn other_processes_of_my_user() -> Vec<i32> {
    let me = nix::unistd::getuid().as_raw().to_string();
    other_processes("status", |status| {
        String::from_utf8_lossy(status)
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|uids| uids.split_whitespace().next().map(|u| u == me))
            .unwrap_or(false)
    })
}

/// Waits until `condition` holds, failing the test with `what` after `within`.
pub fn wait_until(what: &str, within: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until no process carries `marker` (signal delivery and reaping take a moment).
pub fn assert_all_gone(marker: &str) {
    let deadline = Instant::now() + MINUTE;
    loop {
        let left = processes_with(marker);
        if left.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            let stats: Vec<String> = left
                .iter()
                .map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default())
                .collect();
            panic!("processes outlived their run: {stats:#?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether `pid` is the daemon [`DAEMON`] starts (not the program starting it).
pub fn is_daemon(pid: i32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|cmdline| cmdline.starts_with(b"/usr/bin/python3\0-c\0import time"))
}

/// A Python program that starts a daemon — forked twice, in a new session, its command line
/// carrying argv[1] — waits until it runs, prints `daemon ready`, then sleeps `argv[2]`
/// seconds (0: exit at once).
pub const DAEMON: &str = r#"
import os, sys, time
marker, linger = sys.argv[1], float(sys.argv[2])
r, w = os.pipe()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.close(r)
        for fd in (0, 1, 2):
            os.close(fd)
        os.write(w, b"ready")
        os.close(w)
        os.execv("/usr/bin/python3", ["/usr/bin/python3", "-c", "import time; time.sleep(1000)", marker])
    os._exit(0)
os.close(w)
os.wait()
assert os.read(r, 5) == b"ready"
print("daemon ready", flush=True)
time.sleep(linger)
"#;

/// The command that re-runs this test binary for just `test` (an ignored helper test),
/// with `env` set.
pub fn helper(test: &str, env: &[(&str, &str)]) -> std::process::Command {
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command.args([
        "--exact",
        test,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    command.envs(env.iter().copied());
    command
}
