//! Per-run cgroups (v1): one child of this process's own `memory`, `pids` and `cpuacct`
//! cgroups per run, so that memory is capped for the run as a whole, a fork bomb meets
//! `pids.max`, the cause of a kill can be read back exactly (`memory.oom_control`,
//! `pids.events`, `cpuacct.usage`), and every process of the run can be found and killed,
//! daemons that left the process group included.
//!
//! Children of our own cgroups nest inside whatever limits the host put on this service.
//! Where the hierarchies are missing or not writable (cgroup v2 only, no privilege),
//! [`Cgroups::find`] answers `None` and the caller falls back to rlimits.

use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::policy::Policy;

/// The controllers a run's cgroup is made in, in this order.
const CONTROLLERS: [&str; 3] = ["memory", "pids", "cpuacct"];
const ROOT: &str = "/sys/fs/cgroup";
/// Run cgroups are named `PREFIX<service pid>-<sequence>`.
const PREFIX: &str = "qrun-sandbox-";

/// This process's own cgroup directories, one per controller of [`CONTROLLERS`].
#[derive(Clone, Debug)]
pub struct Cgroups {
    parents: [PathBuf; 3],
}

impl Cgroups {
    /// This process's cgroups, if each controller is mounted as cgroup v1 under
    /// `/sys/fs/cgroup/NAME` and a child cgroup can be made in each.
    pub fn find() -> Option<Cgroups> {
        let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let parents = CONTROLLERS.map(|controller| {
            own.lines().find_map(|line| {
                let mut fields = line.splitn(3, ':');
                let (_, names, path) = (fields.next()?, fields.next()?, fields.next()?);
                names.split(',').any(|n| n == controller).then(|| {
                    Path::new(ROOT)
                        .join(controller)
                        .join(path.trim_start_matches('/'))
                })
            })
        });
        let parents = parents.map(|p| p.filter(|p| p.join("cgroup.procs").is_file()));
        if parents.iter().any(Option::is_none) {
            return None;
        }
        let cgroups = Cgroups {
            parents: parents.map(Option::unwrap),
        };
        // Writable: make (and remove) a child in each.
        let probe = cgroups.create(&Policy::default(), 0).ok()?;
        drop(probe);
        cgroups.remove_orphans();
        Some(cgroups)
    }

    /// Removes the run cgroups left behind by services that died (named after a pid that
    /// no longer runs). Only empty cgroups can be removed, so a live run is never touched.
    fn remove_orphans(&self) {
        for parent in &self.parents {
            let Ok(entries) = std::fs::read_dir(parent) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let owner = name
                    .to_str()
                    .and_then(|n| n.strip_prefix(PREFIX))
                    .and_then(|rest| rest.split('-').next())
                    .and_then(|pid| pid.parse::<u32>().ok());
                if owner.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
                    let _ = std::fs::remove_dir(entry.path());
                }
            }
        }
    }

    /// A new, empty cgroup for one run, with `policy`'s memory cap and its process cap
    /// raised by `extra_processes` (the sandbox's own).
    pub fn create(&self, policy: &Policy, extra_processes: u64) -> std::io::Result<RunCgroup> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "{PREFIX}{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut run = RunCgroup {
            dirs: Vec::new(),
            procs: Vec::new(),
        };
        for parent in &self.parents {
            let dir = parent.join(&name);
            std::fs::create_dir(&dir)?;
            run.dirs.push(dir);
        }
        let memory = policy.memory_mb.saturating_mul(1 << 20).to_string();
        std::fs::write(run.dirs[0].join("memory.limit_in_bytes"), &memory)?;
        // Swap counted too, where the kernel accounts it.
        let memsw = run.dirs[0].join("memory.memsw.limit_in_bytes");
        if memsw.exists() {
            std::fs::write(memsw, &memory)?;
        }
        std::fs::write(
            run.dirs[1].join("pids.max"),
            policy
                .max_processes
                .saturating_add(extra_processes)
                .to_string(),
        )?;
        for dir in &run.dirs {
            run.procs.push(
                OpenOptions::new()
                    .write(true)
                    .open(dir.join("cgroup.procs"))?,
            );
        }
        Ok(run)
    }
}

/// One run's cgroups. Dropping it kills whatever is left in them and removes them.
#[derive(Debug)]
pub struct RunCgroup {
    /// memory, pids, cpuacct.
    dirs: Vec<PathBuf>,
    /// Each directory's `cgroup.procs`, open for writing (close-on-exec).
    procs: Vec<File>,
}

impl RunCgroup {
    /// The descriptors a new process writes `0` to, between `fork` and `exec`, to join.
    pub fn join_fds(&self) -> Vec<RawFd> {
        self.procs.iter().map(AsRawFd::as_raw_fd).collect()
    }

    /// Whether the kernel's OOM killer killed a process of the run (`oom_kill` in
    /// `memory.oom_control`).
    pub fn memory_exceeded(&self) -> bool {
        counter(&self.dirs[0].join("memory.oom_control"), "oom_kill") > 0
    }

    /// Whether a `fork` of the run failed on `pids.max` (`max` in `pids.events`).
    pub fn processes_exceeded(&self) -> bool {
        counter(&self.dirs[1].join("pids.events"), "max") > 0
    }

    /// CPU time all the run's processes used (`cpuacct.usage`).
    pub fn cpu_time(&self) -> Duration {
        std::fs::read_to_string(self.dirs[2].join("cpuacct.usage"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .map_or(Duration::ZERO, Duration::from_nanos)
    }

    /// Sends SIGKILL to every process in the run's cgroup until none is left, or `within`
    /// has passed (a killed process leaves the cgroup once it has exited). Whether it is
    /// empty.
    pub fn kill_all(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let pids = self.pids();
            if pids.is_empty() {
                return true;
            }
            for pid in pids {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The processes in the run's cgroups (none if not even the first could be made: a
    /// [`Cgroups::create`] that failed half-way drops what it made).
    fn pids(&self) -> Vec<i32> {
        let Some(first) = self.dirs.first() else {
            return Vec::new();
        };
        std::fs::read_to_string(first.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.trim().parse().ok())
            .collect()
    }
}

impl Drop for RunCgroup {
    fn drop(&mut self) {
        self.procs.clear();
        if self.kill_all(Duration::from_secs(5)) {
            for dir in &self.dirs {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
}

/// The value of line `name N` in a cgroup key-value file, 0 when absent.
fn counter(file: &Path, name: &str) -> u64 {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            let (key, value) = line.split_once(' ')?;
            (key == name).then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0)
}
