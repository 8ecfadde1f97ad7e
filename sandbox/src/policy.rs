//! [`Policy`]: what a sandboxed program may see and use, as plain data.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// What a sandboxed program may see and use. Plain data: [`crate::bwrap_argv`] turns it into
/// bubblewrap's arguments and [`crate::Sandbox`] enforces its caps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Run under bubblewrap (namespaces, private filesystem view). `false` runs the program
    /// directly: still a cleared environment, its own process group, a fresh working directory
    /// and the caps below, but it sees the host's files, network and processes.
    pub enabled: bool,
    /// Memory of all the run's processes together, MiB (a per-run memory cgroup; where none
    /// can be made, an address-space rlimit per process).
    pub memory_mb: u64,
    /// CPU seconds of the whole run, all its processes together (its cgroup's CPU
    /// accounting; the run is killed once it has used them). Each process also has it as
    /// `RLIMIT_CPU` (SIGXCPU at the limit, SIGKILL a second later), the only bound where no
    /// cgroup can be made.
    pub cpu_s: u64,
    /// Processes and threads of the run at once (a per-run pids cgroup; where none can be
    /// made, `RLIMIT_NPROC`, which does not bind root). `fork` past it fails inside the program.
    pub max_processes: u64,
    /// Size of each of the private writable `/tmp` and `/dev/shm`, MiB (nothing else is
    /// writable inside).
    pub tmp_mb: u64,
    /// Largest file a process may write, MiB (`RLIMIT_FSIZE`: SIGXFSZ past it).
    pub max_file_mb: u64,
    /// Keep the host's network namespace. `false`: no network at all, loopback included.
    pub network: bool,
    /// Host paths visible read-only at the same place inside (absolute; each must exist).
    pub read_only_paths: Vec<PathBuf>,
    /// The environment besides `PATH`, `HOME` and `LANG` (which these may override).
    pub env: BTreeMap<String, String>,
    /// The host user the program runs as when the service runs as root (its uid and primary
    /// group; supplementary groups are dropped). A service that is not root runs programs
    /// as its own user, the only one it can use.
    pub user: String,
    /// The hardening measures, every one on by default. Not configurable: turning one off
    /// exists so that the tests can show each probe succeeding without its measure.
    pub hardening: Hardening,
}

/// The measures that keep a sandboxed program from the host beyond bubblewrap's
/// namespaces. Each is on by default ([`Hardening::ALL`]); see the crate docs for what each
/// stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hardening {
    /// Run as [`Policy::user`] (when the service is root), in a user namespace of its own:
    /// never host uid 0, and uid 0 inside is not host root.
    pub unprivileged_user: bool,
    /// `--cap-drop ALL`: no capability inside, even for a root service.
    pub drop_capabilities: bool,
    /// `--disable-userns`: no nested user namespace (which would give back capabilities).
    pub no_nested_user_namespaces: bool,
    /// The seccomp filters of the `seccomp` module.
    pub seccomp: bool,
    /// The sandbox's root, `/dev` and `/proc/sys` read-only once set up, and `/dev/shm` a
    /// capped tmpfs.
    pub read_only_root: bool,
    /// [`crate::OPEN_FILES`] descriptors and no locked memory (`RLIMIT_NOFILE`,
    /// `RLIMIT_MEMLOCK`).
    pub tight_rlimits: bool,
    /// Only descriptors 0–2 reach the program (everything else close-on-exec).
    pub only_standard_fds: bool,
    /// A hostname of its own ([`crate::HOSTNAME`]), not the host's.
    pub own_hostname: bool,
    /// `cpu_s` is the run's total over all its processes (its cgroup's CPU accounting),
    /// not only each process's `RLIMIT_CPU`.
    pub run_cpu_total: bool,
}

impl Hardening {
    /// Every measure on: what the service runs with.
    pub const ALL: Hardening = Hardening {
        unprivileged_user: true,
        drop_capabilities: true,
        no_nested_user_namespaces: true,
        seccomp: true,
        read_only_root: true,
        tight_rlimits: true,
        only_standard_fds: true,
        own_hostname: true,
        run_cpu_total: true,
    };

    /// Every measure off: the sandbox as it was before them (namespaces, mounts, caps).
    pub const NONE: Hardening = Hardening {
        unprivileged_user: false,
        drop_capabilities: false,
        no_nested_user_namespaces: false,
        seccomp: false,
        read_only_root: false,
        tight_rlimits: false,
        only_standard_fds: false,
        own_hostname: false,
        run_cpu_total: false,
    };
}

impl Default for Hardening {
    fn default() -> Self {
        Hardening::ALL
    }
}

impl Default for Policy {
    /// The defaults of `[backends.sandbox]` (docs/DESIGN.md §13): sandboxed, 2048 MiB, 64
    /// processes, a 64 MiB `/tmp` (and files up to that size), no network, nothing visible
    /// beyond `/usr`, user `nobody`, every hardening measure on; and 300 CPU seconds (the
    /// service makes `cpu_s` the backend's `timeout_s` unless it is set).
    fn default() -> Self {
        Policy {
            enabled: true,
            memory_mb: 2048,
            cpu_s: 300,
            max_processes: 64,
            tmp_mb: 64,
            max_file_mb: 64,
            network: false,
            read_only_paths: Vec::new(),
            env: BTreeMap::new(),
            user: DEFAULT_USER.to_owned(),
            hardening: Hardening::ALL,
        }
    }
}

/// The user a root service runs programs as unless told otherwise: Debian's and most
/// distributions' unprivileged account that owns no files.
pub const DEFAULT_USER: &str = "nobody";

/// `PATH` inside the sandbox (and for a program run without it).
pub const PATH: &str = "/usr/bin:/bin";
/// `LANG` inside the sandbox.
pub const LANG: &str = "C.UTF-8";
/// `HOME` and the working directory inside the sandbox: the private `/tmp`.
pub const HOME: &str = "/tmp";

impl Policy {
    /// The program's whole environment, `home` being its `HOME`: `PATH`, `HOME`, `LANG`,
    /// then [`Policy::env`] (which wins on a clash), sorted by name.
    pub fn environment(&self, home: &str) -> BTreeMap<String, String> {
        let mut env = BTreeMap::from([
            ("PATH".to_owned(), PATH.to_owned()),
            ("HOME".to_owned(), home.to_owned()),
            ("LANG".to_owned(), LANG.to_owned()),
        ]);
        env.extend(self.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        env
    }
}
