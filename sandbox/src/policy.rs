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
    /// CPU seconds per process (`RLIMIT_CPU`: SIGXCPU at the limit, SIGKILL a second later).
    pub cpu_s: u64,
    /// Processes and threads of the run at once (a per-run pids cgroup; where none can be
    /// made, `RLIMIT_NPROC`, which does not bind root). `fork` past it fails inside the program.
    pub max_processes: u64,
    /// Size of the private writable `/tmp`, MiB.
    pub tmp_mb: u64,
    /// Largest file a process may write, MiB (`RLIMIT_FSIZE`: SIGXFSZ past it).
    pub max_file_mb: u64,
    /// Keep the host's network namespace. `false`: no network at all, loopback included.
    pub network: bool,
    /// Host paths visible read-only at the same place inside (absolute; each must exist).
    pub read_only_paths: Vec<PathBuf>,
    /// The environment besides `PATH`, `HOME` and `LANG` (which these may override).
    pub env: BTreeMap<String, String>,
}

impl Default for Policy {
    /// DESIGN §13's defaults: sandboxed, 2048 MiB, 300 CPU seconds, 64 processes, a 64 MiB
    /// `/tmp` (and files up to that size), no network, nothing visible beyond `/usr`.
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
        }
    }
}

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
