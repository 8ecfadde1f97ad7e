//! A hostile program tries each way out and reports what it reached; the host is checked
//! too (a canary file, a kernel setting, a log file, a memory cap). With every hardening
//! measure on it reaches nothing; with the measures that guard a probe switched off, that
//! probe succeeds (so no assertion passes vacuously); with one of them back on, it fails
//! again (each measure holds on its own).
//!
//! The program runs in a helper process — this test binary re-executed — that stands for
//! the service: it has a secret in its environment, a secret file open on descriptor 7 and
//! a log open for appending on descriptor 9 (as `qrun serve 7<secret 9>>log` would), and
//! the test's temporary directory stands for its database and configuration.
//!
//! Run as root (CI) and as an unprivileged user (`.ci/run` runs this suite again under a
//! dedicated uid): the probes that need host root to succeed are expected to fail there
//! whatever the measures.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{MIB, MINUTE, run_with};
use qrun_sandbox::{CancellationToken, Ending, Exit, Hardening, Policy};
use serde_json::{Value, json};

const SECRET: &str = "qrun-test-secret-5e5a1c";
/// A kernel-wide setting (seconds a lease holder gets, default 45) the program tries to
/// change; harmless, and restored if a weakened sandbox lets it through.
const SYSCTL: &str = "/proc/sys/fs/lease-break-time";
/// The run's memory cap, and what the program allocates last (only a raised cap lets it).
const MEMORY_MB: u64 = 256;
const ALLOCATE_MB: u64 = 384;
/// `/tmp` and `/dev/shm` size, and what the fill probes write.
const TMP_MB: u64 = 16;
const FILL_MB: u64 = 32;

/// Tries every escape, each in a child process of its own, and writes `{probe: reached}` as
/// JSON on stderr; then allocates `allocate_mb` (which only a raised memory cap allows).
/// argv[1]: JSON of the paths, numbers and names it needs; argv[2]: a marker for the host
/// to find its processes by.
const HOSTILE: &str = concat!(
    include_str!("hostile.py"),
    r#"
# What the sandbox always keeps out first: a remount below changes the sandbox's mounts.
probes = {
    "tcp": lambda: connect(a["port"]),
    "database": lambda: read(a["service_dir"] + "/qrun.db"),
    "config": lambda: read(a["service_dir"] + "/qrun.toml"),
    "write_service_dir": lambda: write(a["service_dir"] + "/pwned"),
    "write_read_only": lambda: write(a["read_only"] + "/pwned"),
    "secret": secret,
    "home": lambda: os.listdir("/root"),
    "host_process": lambda: os.stat(f"/proc/{a['host_pid']}"),
    "write_tmp": lambda: write("/tmp/mine"),
    "read_read_only": lambda: read(a["read_only"] + "/runner.py"),
    "remount_read_only_path": lambda: remount_write(a["read_only"], a["read_only"] + "/canary"),
    "remount_usr": lambda: remount_write("/usr", a["usr_canary"]),
    "sysctl": sysctl,
    "cgroup_raise": cgroup_raise,
    "nested_user_namespace": nested_user_namespace,
    "io_uring": io_uring,
    "ptrace": ptrace,
    "userfaultfd": userfaultfd,
    "keyctl": keyctl,
    "inherited_fds": inherited_fds,
    "fill_dev_shm": lambda: fill("/dev/shm/fill"),
    "fill_root": lambda: fill("/fill"),
    "host_hostname": host_hostname,
    "capabilities": capabilities,
}
report = {name: tried(probe) for name, probe in probes.items()}
sys.stderr.write("REPORT " + json.dumps(report, sort_keys=True) + "\n")
sys.stderr.flush()
import time
time.sleep(0.2)  # the host looks at the run's processes meanwhile
block = bytearray(a["allocate_mb"] << 20)
block[::4096] = b"x" * len(block[::4096])
"#
);

/// A hardening measure, by the name the probes' table uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Measure {
    UnprivilegedUser,
    DropCapabilities,
    NoNestedUserNamespaces,
    Seccomp,
    ReadOnlyRoot,
    TightRlimits,
    OnlyStandardFds,
    OwnHostname,
}

use Measure::*;

impl Measure {
    const ALL: [Measure; 8] = [
        UnprivilegedUser,
        DropCapabilities,
        NoNestedUserNamespaces,
        Seccomp,
        ReadOnlyRoot,
        TightRlimits,
        OnlyStandardFds,
        OwnHostname,
    ];

    fn flag(self, hardening: &mut Hardening) -> &mut bool {
        match self {
            UnprivilegedUser => &mut hardening.unprivileged_user,
            DropCapabilities => &mut hardening.drop_capabilities,
            NoNestedUserNamespaces => &mut hardening.no_nested_user_namespaces,
            Seccomp => &mut hardening.seccomp,
            ReadOnlyRoot => &mut hardening.read_only_root,
            TightRlimits => &mut hardening.tight_rlimits,
            OnlyStandardFds => &mut hardening.only_standard_fds,
            OwnHostname => &mut hardening.own_hostname,
        }
    }

    fn parse(name: &str) -> Measure {
        Measure::ALL
            .into_iter()
            .find(|m| format!("{m:?}") == name)
            .unwrap()
    }
}

/// What lets a program remount what the sandbox mounted.
const REMOUNT: &[Measure] = &[
    UnprivilegedUser,
    NoNestedUserNamespaces,
    DropCapabilities,
    Seccomp,
];

/// Each probe, the ways it can succeed — each a set of measures that, all switched off,
/// let it through — and whether it needs the service to be root to succeed at all.
const PROBES: &[(&str, &[&[Measure]], bool)] = &[
    // A remount needs capabilities in the user namespace that owns the sandbox's mounts,
    // which a nested one (`--disable-userns` enters one) does not.
    ("remount_read_only_path", &[REMOUNT], true),
    ("remount_usr", &[REMOUNT], true),
    // Written directly where /proc/sys is writable, or after remounting it.
    (
        "sysctl",
        &[&[UnprivilegedUser, ReadOnlyRoot], REMOUNT],
        true,
    ),
    // cgroup v1 mounts need capabilities in the host's user namespace.
    ("cgroup_raise", &[REMOUNT], true),
    (
        "nested_user_namespace",
        &[&[NoNestedUserNamespaces, Seccomp]],
        false,
    ),
    // Its rings are locked memory.
    ("io_uring", &[&[Seccomp, TightRlimits]], false),
    ("ptrace", &[&[Seccomp]], false),
    ("userfaultfd", &[&[Seccomp]], false),
    ("keyctl", &[&[Seccomp]], false),
    ("inherited_fds", &[&[OnlyStandardFds]], false),
    ("fill_dev_shm", &[&[ReadOnlyRoot]], false),
    ("fill_root", &[&[ReadOnlyRoot]], false),
    ("host_hostname", &[&[OwnHostname]], false),
    ("host_root", &[&[UnprivilegedUser]], true),
    (
        "capabilities",
        &[&[UnprivilegedUser, DropCapabilities]],
        true,
    ),
];

/// What the sandbox keeps out whatever the measures (its namespaces and mounts), and what
/// the program is meant to have.
const ALWAYS: &[(&str, bool)] = &[
    ("tcp", false),
    ("database", false),
    ("config", false),
    ("write_service_dir", false),
    ("write_read_only", false),
    ("secret", false),
    ("home", false),
    ("host_process", false),
    ("write_tmp", true),
    ("read_read_only", true),
];

fn root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Whether `probe` succeeds with the measures in `off` switched off.
fn expected(probe: &str, off: &BTreeSet<Measure>) -> bool {
    let (_, ways, root_only) = PROBES.iter().find(|(name, ..)| *name == probe).unwrap();
    (root() || !root_only) && ways.iter().any(|way| way.iter().all(|m| off.contains(m)))
}

/// The configurations to try: every measure on, every measure off; and for each way of
/// each probe, its measures off, then each of them back on alone.
fn configurations() -> Vec<BTreeSet<Measure>> {
    let every: BTreeSet<Measure> = PROBES
        .iter()
        .flat_map(|(_, ways, _)| ways.iter().flat_map(|way| way.iter().copied()))
        .collect();
    let mut all = BTreeSet::from([BTreeSet::new(), every]);
    for way in PROBES.iter().flat_map(|(_, ways, _)| ways.iter()) {
        let off: BTreeSet<Measure> = way.iter().copied().collect();
        for measure in way.iter() {
            let mut one_on = off.clone();
            one_on.remove(measure);
            all.insert(one_on);
        }
        all.insert(off);
    }
    all.into_iter().collect()
}

/// What one run under `off` reached, as the program and the host tell it.
struct Outcome {
    report: BTreeMap<String, bool>,
    /// The canary of the `/usr` remount exists on the host.
    usr_canary: bool,
    /// The canary of the read-only path's remount exists on the host.
    read_only_canary: bool,
    /// The kernel setting changed.
    sysctl_changed: bool,
    /// The service's log (descriptor 9) was written to.
    log_written: bool,
    /// The program allocated past its memory cap (it raised the cap).
    memory_cap_raised: bool,
}

#[test]
fn every_probe_fails_on_the_host_and_each_succeeds_without_its_measures() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let service = tempfile::tempdir().unwrap();
    std::fs::write(service.path().join("qrun.db"), "runs").unwrap();
    std::fs::write(service.path().join("qrun.toml"), "posthog_api_key = \"x\"").unwrap();
    let read_only = readable_dir();
    std::fs::write(read_only.path().join("runner.py"), "").unwrap();
    let secret_file = service.path().join("secret");
    std::fs::write(&secret_file, SECRET).unwrap();
    let log = service.path().join("log");
    std::fs::write(&log, "").unwrap();

    let configurations = configurations();
    let names: Vec<String> = configurations
        .iter()
        .map(|off| {
            off.iter()
                .map(|m| format!("{m:?}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    let args = json!({
        "port": listener.local_addr().unwrap().port(),
        "service_dir": service.path(),
        "host_pid": std::process::id(),
        "read_only": read_only.path(),
        "usr_canary": format!("/usr/qrun-canary-{}", std::process::id()),
        "sysctl": SYSCTL,
        "sysctl_value": "44",
        "hostname": nix::unistd::gethostname().unwrap().into_string().unwrap(),
        "fill_mb": FILL_MB,
        "allocate_mb": ALLOCATE_MB,
        "nr": {
            "io_uring_setup": libc::SYS_io_uring_setup,
            "userfaultfd": libc::SYS_userfaultfd,
            "keyctl": libc::SYS_keyctl,
        },
    });
    let mut helper = common::helper(
        "helper_runs_the_hostile_program",
        &[
            ("QRUN_TEST_SECRET", SECRET),
            ("QRUN_TEST_ARGS", &args.to_string()),
            ("QRUN_TEST_CONFIGURATIONS", &names.join(";")),
            ("QRUN_TEST_LOG", log.to_str().unwrap()),
        ],
    );
    // The helper inherits a secret on descriptor 7 and the log on 9, not close-on-exec. Both
    // are copied above 9 first: opened wherever this process's next free descriptors are, the
    // log could be 7 and the first dup2 would overwrite it (where two more descriptors were
    // open, the log never reached 9).
    let above_targets = |file: std::fs::File| -> std::os::fd::OwnedFd {
        let copy = nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(10)).unwrap();
        // SAFETY: fcntl just returned this new descriptor, owned by nothing else.
        unsafe { std::os::fd::FromRawFd::from_raw_fd(copy) }
    };
    let secret_fd = above_targets(std::fs::File::open(&secret_file).unwrap());
    let log_fd = above_targets(std::fs::OpenOptions::new().append(true).open(&log).unwrap());
    let (secret_raw, log_raw) = (
        std::os::fd::AsRawFd::as_raw_fd(&secret_fd),
        std::os::fd::AsRawFd::as_raw_fd(&log_fd),
    );
    // SAFETY: dup2 only, between fork and exec.
    unsafe {
        helper.pre_exec(move || {
            for (fd, target) in [(secret_raw, 7), (log_raw, 9)] {
                if libc::dup2(fd, target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let output = helper.output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let outcomes: Vec<Value> = stdout
        .lines()
        .filter_map(|l| l.split_once("OUTCOME ").map(|(_, o)| o))
        .map(|o| serde_json::from_str(o).unwrap())
        .collect();
    assert_eq!(
        outcomes.len(),
        configurations.len(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for (off, outcome) in configurations.iter().zip(&outcomes) {
        let outcome = Outcome::from_json(outcome);
        let context = format!("measures off: {off:?}; {:?}", outcome.report);
        for (probe, ..) in PROBES {
            assert_eq!(
                outcome.report[*probe],
                expected(probe, off),
                "{probe}: {context}"
            );
        }
        for (probe, reached) in ALWAYS {
            assert_eq!(outcome.report[*probe], *reached, "{probe}: {context}");
        }
        // On the host.
        for (seen, probe) in [
            (outcome.usr_canary, "remount_usr"),
            (outcome.read_only_canary, "remount_read_only_path"),
            (outcome.sysctl_changed, "sysctl"),
            (outcome.log_written, "inherited_fds"),
            (outcome.memory_cap_raised, "cgroup_raise"),
        ] {
            assert_eq!(
                seen,
                expected(probe, off),
                "on the host, {probe}: {context}"
            );
        }
    }
    drop(listener);
}

impl Outcome {
    fn from_json(value: &Value) -> Outcome {
        let flag = |name: &str| value[name].as_bool().unwrap();
        Outcome {
            report: serde_json::from_value(value["report"].clone()).unwrap(),
            usr_canary: flag("usr_canary"),
            read_only_canary: flag("read_only_canary"),
            sysctl_changed: flag("sysctl_changed"),
            log_written: flag("log_written"),
            memory_cap_raised: flag("memory_cap_raised"),
        }
    }
}

/// A temporary directory the program's user can read (a root service's programs run as
/// `nobody`).
fn readable_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Run by the test above in a process of its own (the service's stand-in): the hostile
/// program under each configuration, then what the host shows, one `OUTCOME` line each.
#[tokio::test]
#[ignore = "a helper process of every_probe_fails_on_the_host_and_each_succeeds…"]
async fn helper_runs_the_hostile_program() {
    let Ok(args) = std::env::var("QRUN_TEST_ARGS") else {
        return;
    };
    let parsed: Value = serde_json::from_str(&args).unwrap();
    let read_only = PathBuf::from(parsed["read_only"].as_str().unwrap());
    let usr_canary = PathBuf::from(parsed["usr_canary"].as_str().unwrap());
    let log = PathBuf::from(std::env::var("QRUN_TEST_LOG").unwrap());
    let sysctl_before = std::fs::read_to_string(SYSCTL).unwrap();
    let marker = common::marker("hostile");
    for configuration in std::env::var("QRUN_TEST_CONFIGURATIONS")
        .unwrap()
        .split(';')
    {
        let mut hardening = Hardening::ALL;
        for name in configuration.split(',').filter(|n| !n.is_empty()) {
            *Measure::parse(name).flag(&mut hardening) = false;
        }
        let policy = Policy {
            memory_mb: MEMORY_MB,
            tmp_mb: TMP_MB,
            read_only_paths: vec![read_only.clone()],
            hardening,
            ..Policy::default()
        };
        let watching = Arc::new(AtomicBool::new(true));
        let watcher = {
            let (watching, marker) = (Arc::clone(&watching), marker.clone());
            std::thread::spawn(move || host_uids(&watching, &marker))
        };
        let ending = run_with(
            policy,
            "/usr/bin/python3",
            &["-c", HOSTILE, &args, &marker],
            b"",
            MINUTE,
            MIB,
            &CancellationToken::new(),
        )
        .await;
        watching.store(false, Ordering::Relaxed);
        let uids = watcher.join().unwrap();
        assert!(
            !uids.is_empty(),
            "{configuration}: no process of the run seen"
        );
        // Where no cgroup can be made (an unprivileged service), RLIMIT_AS holds the cap
        // and Python's allocation fails instead.
        let memory_cap_raised = match &ending {
            Ending::Exited {
                exit: Exit::Code(0),
                ..
            } => true,
            Ending::MemoryExceeded { .. } => false,
            Ending::Exited {
                exit: Exit::Code(1),
                stderr,
                ..
            } if String::from_utf8_lossy(stderr).contains("MemoryError") => false,
            other => panic!("{configuration}: {other:?}"),
        };
        let mut stderr = String::new();
        ending.stderr().read_to_string(&mut stderr).unwrap();
        let mut report: Value = stderr
            .lines()
            .find_map(|l| l.strip_prefix("REPORT "))
            .map(|r| serde_json::from_str(r).unwrap())
            .unwrap_or_else(|| panic!("{configuration}: no report in {stderr}"));
        report["host_root"] = json!(uids.contains(&0));
        let sysctl_now = std::fs::read_to_string(SYSCTL).unwrap();
        let outcome = json!({
            "report": report,
            "usr_canary": remove(&usr_canary),
            "read_only_canary": remove(&read_only.join("canary")),
            "sysctl_changed": sysctl_now != sysctl_before,
            "log_written": std::fs::metadata(&log).unwrap().len() > 0,
            "memory_cap_raised": memory_cap_raised,
        });
        // Undo what a weakened sandbox let through, for the next configuration.
        if sysctl_now != sysctl_before {
            std::fs::write(SYSCTL, &sysctl_before).unwrap();
        }
        std::fs::write(&log, "").unwrap();
        println!("OUTCOME {outcome}");
    }
}

/// The host uids (real, effective, saved, filesystem) of every process whose command line
/// holds `marker`, looked at until `watching` turns false.
fn host_uids(watching: &AtomicBool, marker: &str) -> BTreeSet<u32> {
    let mut uids = BTreeSet::new();
    while watching.load(Ordering::Relaxed) {
        for pid in common::processes_with(marker) {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            if let Some(line) = status.lines().find(|l| l.starts_with("Uid:")) {
                uids.extend(
                    line.split_whitespace()
                        .skip(1)
                        .filter_map(|u| u.parse::<u32>().ok()),
                );
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    uids
}

/// Whether `path` existed; removed if it did.
fn remove(path: &Path) -> bool {
    std::fs::remove_file(path).is_ok()
}

/// Without the sandbox at all (and without the measures that do not need it), the same
/// escapes succeed: the baseline the sandbox is measured against.
#[tokio::test]
async fn without_the_sandbox_the_service_is_in_reach() {
    let service = tempfile::tempdir().unwrap();
    std::fs::write(service.path().join("qrun.db"), "runs").unwrap();
    let script = r#"
import os, sys
open(sys.argv[1] + "/qrun.db").read()
open(sys.argv[1] + "/pwned", "w").write("x")
print(os.getuid())
"#;
    let ending = run_with(
        Policy {
            enabled: false,
            hardening: Hardening::NONE,
            ..Policy::default()
        },
        "/usr/bin/python3",
        &["-c", script, service.path().to_str().unwrap()],
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
    assert_eq!(
        String::from_utf8(stdout).unwrap().trim(),
        nix::unistd::geteuid().to_string()
    );
    assert!(service.path().join("pwned").exists());
}
