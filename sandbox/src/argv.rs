//! [`bwrap_argv`]: a [`Policy`] as bubblewrap's command line.

use std::ffi::{OsStr, OsString};
use std::path::Path;

use crate::policy::{HOME, Policy};

/// Where bubblewrap is installed (Debian's `bubblewrap`).
pub const BWRAP: &str = "/usr/bin/bwrap";

/// The top-level links of a merged-`/usr` system, recreated inside pointing into `/usr`.
const USR_LINKS: [(&str, &str); 4] = [
    ("usr/bin", "/bin"),
    ("usr/sbin", "/sbin"),
    ("usr/lib", "/lib"),
    ("usr/lib64", "/lib64"),
];

/// The descriptors bubblewrap reads the two seccomp filters from (`--add-seccomp-fd`): the
/// run puts them there between `fork` and `exec`, after every other descriptor above 2 has
/// been marked close-on-exec.
pub const SECCOMP_FDS: [i32; 2] = [3, 4];

/// The sandbox's hostname (its own UTS namespace): the host's name does not reach it.
pub const HOSTNAME: &str = "qrun-sandbox";

/// The whole command line that runs `program` with `args` under `policy`: [`BWRAP`] first,
/// then its options, `--`, `program` and `args`. Pure: the same policy always gives the
/// same argv (tested by exact comparison), and nothing on the host is looked at.
///
/// Inside: new user, PID, IPC, UTS, cgroup and (unless `policy.network`) network namespaces
/// (`--unshare-all`, `--share-net`); a new session (no terminal to inject input into); death
/// with the caller (`--die-with-parent`); `/usr` read-only with `/bin`, `/sbin`, `/lib`,
/// `/lib64` linking into it; `/proc` of its own PID namespace; a minimal `/dev`; a private
/// `/tmp` of `policy.tmp_mb` MiB that is also `HOME` and the working directory; each of
/// `policy.read_only_paths` read-only at its own path (bound after `/tmp`, so one under
/// `/tmp` stays visible); the environment exactly [`Policy::environment`].
///
/// With `policy.hardening` (each measure only where it is on): a user namespace of its own
/// with no nested one (`--unshare-user --disable-userns`); no capabilities (`--cap-drop
/// ALL`); the filters on [`SECCOMP_FDS`]; hostname [`HOSTNAME`]; `/dev/shm` a tmpfs of
/// `policy.tmp_mb` MiB, `/proc/sys` read-only, then `/dev` and the root read-only
/// (`--remount-ro`), so that only `/tmp` and `/dev/shm` can be written.
pub fn bwrap_argv(policy: &Policy, program: &Path, args: &[OsString]) -> Vec<OsString> {
    let hardening = policy.hardening;
    let mut argv: Vec<OsString> = vec![BWRAP.into(), "--unshare-all".into()];
    if policy.network {
        argv.push("--share-net".into());
    }
    if hardening.unprivileged_user || hardening.no_nested_user_namespaces {
        argv.push("--unshare-user".into());
    }
    if hardening.no_nested_user_namespaces {
        argv.push("--disable-userns".into());
    }
    if hardening.drop_capabilities {
        push(&mut argv, ["--cap-drop", "ALL"]);
    }
    if hardening.seccomp {
        for fd in SECCOMP_FDS {
            argv.extend(["--add-seccomp-fd".into(), fd.to_string().into()]);
        }
    }
    if hardening.own_hostname {
        push(&mut argv, ["--hostname", HOSTNAME]);
    }
    argv.extend(["--new-session", "--die-with-parent"].map(OsString::from));
    push(&mut argv, ["--ro-bind", "/usr", "/usr"]);
    for (target, link) in USR_LINKS {
        push(&mut argv, ["--symlink", target, link]);
    }
    push(&mut argv, ["--proc", "/proc", "--dev", "/dev"]);
    let tmp_bytes = policy.tmp_mb.saturating_mul(1 << 20).to_string();
    if hardening.read_only_root {
        push(&mut argv, ["--size", &tmp_bytes, "--tmpfs", "/dev/shm"]);
    }
    push(&mut argv, ["--size", &tmp_bytes, "--tmpfs", HOME]);
    for path in &policy.read_only_paths {
        argv.extend(["--ro-bind".into(), path.into(), path.into()]);
    }
    if hardening.read_only_root {
        // bubblewrap covers /proc/sys only where its directory is writable, which it is not
        // (0555), while the files in it are writable for (mapped) root.
        push(&mut argv, ["--ro-bind", "/proc/sys", "/proc/sys"]);
        push(&mut argv, ["--remount-ro", "/dev", "--remount-ro", "/"]);
    }
    push(&mut argv, ["--chdir", HOME, "--clearenv"]);
    for (name, value) in policy.environment(HOME) {
        argv.extend(["--setenv".into(), name.into(), value.into()]);
    }
    argv.push("--".into());
    argv.push(program.into());
    argv.extend(args.iter().cloned());
    argv
}

fn push<const N: usize>(argv: &mut Vec<OsString>, items: [&str; N]) {
    argv.extend(items.into_iter().map(|s| OsStr::new(s).to_owned()));
}
