//! `bwrap_argv` turns each policy into exactly the expected command line.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use qrun_sandbox::{Hardening, Policy, bwrap_argv};

fn argv(policy: &Policy, program: &str, args: &[&str]) -> Vec<String> {
    let args: Vec<OsString> = args.iter().map(OsString::from).collect();
    bwrap_argv(policy, Path::new(program), &args)
        .into_iter()
        .map(|a| a.into_string().unwrap())
        .collect()
}

/// The options every policy starts with, after `--unshare-all` (and `--share-net`).
const SESSION_AND_USR: [&str; 17] = [
    "--new-session",
    "--die-with-parent",
    "--ro-bind",
    "/usr",
    "/usr",
    "--symlink",
    "usr/bin",
    "/bin",
    "--symlink",
    "usr/sbin",
    "/sbin",
    "--symlink",
    "usr/lib",
    "/lib",
    "--symlink",
    "usr/lib64",
    "/lib64",
];

/// The hardening options of the default policy, after `--unshare-all` (and `--share-net`).
const HARDENING: [&str; 10] = [
    "--unshare-user",
    "--disable-userns",
    "--cap-drop",
    "ALL",
    "--add-seccomp-fd",
    "3",
    "--add-seccomp-fd",
    "4",
    "--hostname",
    "qrun-sandbox",
];

fn expected(
    network: bool,
    hardened: bool,
    tmp_bytes: &str,
    middle: &[&str],
    tail: &[&str],
) -> Vec<String> {
    let mut all = vec!["/usr/bin/bwrap", "--unshare-all"];
    if network {
        all.push("--share-net");
    }
    if hardened {
        all.extend(HARDENING);
    }
    all.extend(SESSION_AND_USR);
    all.extend(["--proc", "/proc", "--dev", "/dev"]);
    if hardened {
        all.extend(["--size", tmp_bytes, "--tmpfs", "/dev/shm"]);
    }
    all.extend(["--size", tmp_bytes, "--tmpfs", "/tmp"]);
    all.extend(middle);
    if hardened {
        all.extend(["--ro-bind", "/proc/sys", "/proc/sys"]);
        all.extend(["--remount-ro", "/dev", "--remount-ro", "/"]);
    }
    all.extend(["--chdir", "/tmp", "--clearenv"]);
    all.extend(tail);
    all.into_iter().map(str::to_owned).collect()
}

/// The default environment (sorted), `--` and `rest`: the tail of a policy without `env`.
fn with_default_env<'a>(rest: &[&'a str]) -> Vec<&'a str> {
    let mut tail = vec![
        "--setenv",
        "HOME",
        "/tmp",
        "--setenv",
        "LANG",
        "C.UTF-8",
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
        "--",
    ];
    tail.extend(rest);
    tail
}

#[test]
fn the_default_policy_has_no_network_and_only_usr() {
    assert_eq!(
        argv(&Policy::default(), "/usr/bin/python3", &["-c", "print(1)"]),
        expected(
            false,
            true,
            "67108864",
            &[],
            &with_default_env(&["/usr/bin/python3", "-c", "print(1)"])
        )
    );
}

#[test]
fn network_true_keeps_the_host_network() {
    let policy = Policy {
        network: true,
        tmp_mb: 1,
        ..Policy::default()
    };
    assert_eq!(
        argv(&policy, "/usr/bin/true", &[]),
        expected(
            true,
            true,
            "1048576",
            &[],
            &with_default_env(&["/usr/bin/true"])
        )
    );
}

#[test]
fn read_only_paths_are_bound_after_tmp_in_order_and_env_is_sorted_and_may_override() {
    let policy = Policy {
        read_only_paths: vec![
            PathBuf::from("/opt/qrun-venv"),
            PathBuf::from("/tmp/runners"),
        ],
        env: BTreeMap::from([
            ("OMP_NUM_THREADS".to_owned(), "1".to_owned()),
            ("LANG".to_owned(), "en_GB.UTF-8".to_owned()),
            ("A_FIRST".to_owned(), "x y".to_owned()),
        ]),
        ..Policy::default()
    };
    assert_eq!(
        argv(
            &policy,
            "/opt/qrun-venv/bin/python",
            &["/tmp/runners/run.py"]
        ),
        expected(
            false,
            true,
            "67108864",
            &[
                "--ro-bind",
                "/opt/qrun-venv",
                "/opt/qrun-venv",
                "--ro-bind",
                "/tmp/runners",
                "/tmp/runners",
            ],
            &[
                "--setenv",
                "A_FIRST",
                "x y",
                "--setenv",
                "HOME",
                "/tmp",
                "--setenv",
                "LANG",
                "en_GB.UTF-8",
                "--setenv",
                "OMP_NUM_THREADS",
                "1",
                "--setenv",
                "PATH",
                "/usr/bin:/bin",
                "--",
                "/opt/qrun-venv/bin/python",
                "/tmp/runners/run.py",
            ]
        )
    );
}

#[test]
fn arguments_after_the_separator_are_never_read_as_options() {
    let args = argv(&Policy::default(), "/usr/bin/env", &["--share-net", "--"]);
    assert_eq!(
        &args[args.len() - 4..],
        ["--", "/usr/bin/env", "--share-net", "--"]
    );
    assert_eq!(args.iter().filter(|a| *a == "--share-net").count(), 1);
}

#[test]
fn without_the_hardening_measures_only_the_namespaces_and_mounts_remain() {
    let policy = Policy {
        hardening: Hardening::NONE,
        ..Policy::default()
    };
    assert_eq!(
        argv(&policy, "/usr/bin/true", &[]),
        expected(
            false,
            false,
            "67108864",
            &[],
            &with_default_env(&["/usr/bin/true"])
        )
    );
}
