//! [`Sandbox`]: a [`Policy`] ready to run programs under, and its start-up [`Sandbox::probe`].

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::argv::BWRAP;
use crate::cgroup::Cgroups;
use crate::ending::{Ending, Exit, stderr_tail};
use crate::policy::Policy;

/// Why a sandbox cannot run programs on this machine.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SetupError {
    /// bubblewrap is missing.
    #[error("bubblewrap is not installed at {BWRAP} (Debian: apt-get install bubblewrap)")]
    NoBubblewrap,
    /// A read-only path is relative or does not exist.
    #[error("read-only path {0} is not an existing absolute path")]
    BadReadOnlyPath(PathBuf),
    /// The program is not an executable file where the run would look for it.
    #[error(
        "{0} is not an executable file inside the sandbox (is its directory in \
         read_only_paths, and can the sandbox's user read it?)"
    )]
    ProgramNotVisible(PathBuf),
    /// The service runs as root and the policy's `user` cannot run programs: why (it does
    /// not exist, or it is root too).
    #[error("{0}")]
    User(String),
    /// The seccomp filters cannot be built here: the reason.
    #[error("{0}")]
    Seccomp(String),
    /// The kernel runs x32-ABI system calls, which the seccomp filters cannot see.
    #[error(
        "this kernel accepts x32-ABI system calls, which the sandbox's seccomp filter cannot \
         see (boot with syscall.x32=n)"
    )]
    X32Abi,
    /// Running a no-op under the policy failed: the reason (bubblewrap's message).
    #[error("the sandbox cannot be set up: {0}")]
    Broken(String),
}

/// The host identity a run's processes get.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RunAs {
    /// The service's own (it is not root, or the policy keeps root: tests only).
    Service,
    /// This uid and gid, with no supplementary groups.
    User { uid: u32, gid: u32 },
    /// The policy's user cannot be used: why.
    Unusable(String),
}

impl RunAs {
    /// Who runs `policy`'s programs when the service's effective uid is `euid`.
    fn of(policy: &Policy, euid: u32) -> RunAs {
        if euid != 0 || !policy.hardening.unprivileged_user {
            return RunAs::Service;
        }
        match nix::unistd::User::from_name(&policy.user) {
            Ok(Some(user)) if user.uid.is_root() => RunAs::Unusable(format!(
                "user {:?} is uid 0: a root service's programs must run as an unprivileged user",
                policy.user
            )),
            Ok(Some(user)) => RunAs::User {
                uid: user.uid.as_raw(),
                gid: user.gid.as_raw(),
            },
            _ => RunAs::Unusable(format!(
                "user {:?} does not exist on this host (a root service runs programs as it)",
                policy.user
            )),
        }
    }
}

/// Programs run under one [`Policy`]. Cheap to share (`Arc`) between concurrent runs; each
/// [`Sandbox::run`] gets its own namespaces, `/tmp` and cgroup.
#[derive(Debug)]
pub struct Sandbox {
    pub(crate) policy: Policy,
    /// This process's cgroups to make each run's in, where cgroup v1 is writable.
    pub(crate) cgroups: Option<Cgroups>,
    /// Who the program runs as.
    pub(crate) run_as: RunAs,
}

/// One program to run: what, with which input, within which bounds.
#[derive(Clone, Debug)]
pub struct Invocation<'a> {
    /// The executable (absolute; under the sandbox it must be visible inside).
    pub program: &'a Path,
    /// Its arguments.
    pub args: &'a [OsString],
    /// Written to its stdin, which is then closed (a program that does not read it is fine).
    pub stdin: &'a [u8],
    /// Wall-clock limit, from the start to the end of the last of its processes.
    pub timeout: Duration,
    /// Cap on each of stdout and stderr, bytes; more kills the run.
    pub max_output_bytes: usize,
}

impl Sandbox {
    /// A sandbox for `policy`. Looks once per process for writable cgroup v1 hierarchies
    /// (memory, pids, cpuacct); without them memory and processes are capped by rlimits
    /// instead and their causes are not detected (see the crate docs). Where the service runs
    /// as root, looks up `policy.user` (a missing one, or one that is uid 0, fails
    /// [`Sandbox::probe`] and every run).
    pub fn new(policy: Policy) -> Sandbox {
        static CGROUPS: OnceLock<Option<Cgroups>> = OnceLock::new();
        Sandbox {
            run_as: RunAs::of(&policy, nix::unistd::geteuid().as_raw()),
            policy,
            cgroups: CGROUPS.get_or_init(Cgroups::find).clone(),
        }
    }

    /// The policy runs are under.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Whether each run gets its own cgroups (exact memory and process caps and causes, CPU
    /// time over the whole run), or rlimits stand in for them.
    pub fn has_cgroups(&self) -> bool {
        self.cgroups.is_some()
    }

    /// The host uid a run's processes have: the policy's user for a root service, the
    /// service's own otherwise.
    pub fn program_uid(&self) -> u32 {
        match &self.run_as {
            RunAs::User { uid, .. } => *uid,
            RunAs::Service | RunAs::Unusable(_) => nix::unistd::geteuid().as_raw(),
        }
    }

    /// Checks, at start-up, that `program` can be run under this sandbox on this machine:
    /// bubblewrap is installed, the read-only paths exist, the user exists (root service),
    /// the seccomp filters compile and the kernel has no x32 ABI they would miss, and
    /// `/usr/bin/test -x PROGRAM` succeeds under the policy (namespaces, capabilities,
    /// mounts, filters, cgroups, rlimits and user all set up, and the program an executable
    /// file for that user inside). Takes a few milliseconds.
    pub async fn probe(&self, program: &Path) -> Result<(), SetupError> {
        if let RunAs::Unusable(why) = &self.run_as {
            return Err(SetupError::User(why.clone()));
        }
        if self.policy.enabled && self.policy.hardening.seccomp {
            crate::seccomp::programs().map_err(SetupError::Seccomp)?;
            if crate::seccomp::x32_abi_enabled() {
                return Err(SetupError::X32Abi);
            }
        }
        if self.policy.enabled {
            if !Path::new(BWRAP).is_file() {
                return Err(SetupError::NoBubblewrap);
            }
            if let Some(path) = self
                .policy
                .read_only_paths
                .iter()
                .find(|p| !p.is_absolute() || !p.exists())
            {
                return Err(SetupError::BadReadOnlyPath(path.clone()));
            }
        }
        let args = [OsString::from("-x"), program.into()];
        let invocation = Invocation {
            program: Path::new("/usr/bin/test"),
            args: &args,
            stdin: b"",
            timeout: Duration::from_secs(30),
            max_output_bytes: 64 << 10,
        };
        match self.run(&invocation, &CancellationToken::new()).await {
            Ending::Exited {
                exit: Exit::Code(0),
                ..
            } => Ok(()),
            Ending::Exited {
                exit: Exit::Code(1),
                stderr,
                ..
            } if stderr.is_empty() => Err(SetupError::ProgramNotVisible(program.to_owned())),
            Ending::NotStarted { reason } => Err(SetupError::Broken(reason)),
            other => {
                let tail = stderr_tail(other.stderr());
                Err(SetupError::Broken(if tail.is_empty() {
                    other.to_string()
                } else {
                    format!("{other}: {tail}")
                }))
            }
        }
    }
}
