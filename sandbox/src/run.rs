//! [`Sandbox::run`]: one program under the policy, from spawn to the last process killed; in two
//! steps, [`Sandbox::start`] and [`Sandbox::finish`], for a program started before its input
//! is known (a warm pool: the start-up work done ahead, each started program used once).

use std::ffi::OsString;
use std::os::fd::{AsRawFd as _, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Gid, Pid, Uid};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::argv::{BWRAP, SECCOMP_FDS, bwrap_argv};
use crate::cgroup::RunCgroup;
use crate::ending::{Ending, Exit, Stream};
use crate::limits;
use crate::sandbox::{Invocation, RunAs, Sandbox};

/// Processes bubblewrap itself keeps in the run (its monitor and the namespace's init):
/// added to `max_processes` so that the program gets what the policy says.
const BWRAP_PROCESSES: u64 = 2;

/// How long killing a run's leftover processes may take before the run ends anyway.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// Why collecting the output stopped early.
enum Cut {
    TooLarge(Stream),
    Io(String),
}

/// A program started under the policy by [`Sandbox::start`], its stdin not yet written: its
/// own namespaces, `/tmp`, cgroup and processes, waiting for [`Sandbox::finish`]. Dropped
/// unfinished, every process it started is killed (its process group, its cgroup) and its
/// cgroup removed.
pub struct Started {
    child: tokio::process::Child,
    group: ProcessGroup,
    cgroup: Option<Arc<RunCgroup>>,
    /// Without the sandbox: its private working directory, removed when dropped.
    _workdir: Option<tempfile::TempDir>,
    /// What was started (bubblewrap, or the program without the sandbox), for messages.
    program: PathBuf,
}

impl Started {
    /// Whether its program (bubblewrap, under the sandbox) has not exited yet.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Sandbox {
    /// Runs `invocation` under the policy and says how it ended. Never fails: a program
    /// that cannot be started is [`Ending::NotStarted`]. [`Sandbox::start`] then
    /// [`Sandbox::finish`].
    ///
    /// Every process the run started — daemons that left its session included — is killed
    /// when the program exits, on timeout, on output past the cap, when `cancel` fires, and
    /// when the returned future is dropped; bubblewrap's `--die-with-parent` and PID
    /// namespace also kill them if this process dies (when the thread that called `run`
    /// exits, in fact: call it from a thread that lives as long as the run, as tokio's
    /// worker threads do). Without the sandbox (`enabled = false`) only the program itself
    /// gets that parent-death signal; the run's cgroup, where there is one, still finds the
    /// rest when the run ends.
    pub async fn run(&self, invocation: &Invocation<'_>, cancel: &CancellationToken) -> Ending {
        match self.start(invocation.program, invocation.args) {
            Ok(started) => {
                self.finish(
                    started,
                    invocation.stdin,
                    invocation.timeout,
                    invocation.max_output_bytes,
                    cancel,
                )
                .await
            }
            Err(ending) => ending,
        }
    }

    /// Starts `program` with `args` under the policy, in a cgroup, namespaces and `/tmp` of
    /// its own, its stdin open and unwritten: it runs (e.g. imports its libraries) until it
    /// reads its input. Its CPU time and memory count against the policy's caps from here
    /// on; its wall-clock limit runs from [`Sandbox::finish`]. The parent-death signal is
    /// tied to the calling thread: call it from a thread that lives as long as the program
    /// may wait (tokio's worker threads do; the blocking pool's do not). A program that
    /// cannot be started is the [`Ending::NotStarted`] it would end as.
    pub fn start(&self, program: &Path, args: &[OsString]) -> Result<Started, Ending> {
        let policy = &self.policy;
        let cgroup = match &self.cgroups {
            None => None,
            Some(cgroups) => {
                let extra = if policy.enabled { BWRAP_PROCESSES } else { 0 };
                match cgroups.create(policy, extra) {
                    Ok(cgroup) => Some(Arc::new(cgroup)),
                    Err(e) => {
                        return Err(Ending::NotStarted {
                            reason: format!("cannot create the run's cgroup: {e}"),
                        });
                    }
                }
            }
        };
        let workdir = if policy.enabled {
            None
        } else {
            match work_dir() {
                Ok(dir) => Some(dir),
                Err(e) => {
                    return Err(Ending::NotStarted {
                        reason: format!("cannot create a working directory: {e}"),
                    });
                }
            }
        };

        let run_as = match &self.run_as {
            RunAs::Unusable(why) => {
                return Err(Ending::NotStarted {
                    reason: why.clone(),
                });
            }
            RunAs::Service => None,
            RunAs::User { uid, gid } => Some((Uid::from_raw(*uid), Gid::from_raw(*gid))),
        };
        let seccomp = if policy.enabled && policy.hardening.seccomp {
            match seccomp_pipes() {
                Ok(fds) => Some(fds),
                Err(reason) => return Err(Ending::NotStarted { reason }),
            }
        } else {
            None
        };
        if let (Some(dir), Some((uid, gid))) = (&workdir, run_as)
            && let Err(e) = nix::unistd::chown(dir.path(), Some(uid), Some(gid))
        {
            return Err(Ending::NotStarted {
                reason: format!("cannot give the working directory to uid {uid}: {e}"),
            });
        }

        let mut command = match &workdir {
            None => {
                let argv = bwrap_argv(policy, program, args);
                let mut command = tokio::process::Command::new(BWRAP);
                // The service's own directory may be out of the program's user's reach.
                command.args(&argv[1..]).current_dir("/");
                command
            }
            Some(dir) => {
                let mut command = tokio::process::Command::new(program);
                command.args(args).current_dir(dir.path());
                command
            }
        };
        command
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if let Some(dir) = &workdir {
            command.envs(policy.environment(&dir.path().to_string_lossy()));
        }
        let rlimits = limits::rlimits(policy, cgroup.is_some());
        let join = cgroup.as_ref().map(|c| c.join_fds()).unwrap_or_default();
        let only_standard_fds = policy.hardening.only_standard_fds;
        let filters = seccomp
            .as_ref()
            .map(|[a, b]| [a.as_raw_fd(), b.as_raw_fd()]);
        let parent = Pid::from_raw(std::process::id() as i32);
        // SAFETY: the closure only makes system calls (write, close_range, fcntl, dup2,
        // setrlimit, setgroups, setgid, setuid, prctl, getppid) on data prepared before the
        // fork; it allocates nothing and takes no lock.
        unsafe {
            command.as_std_mut().pre_exec(move || {
                for &fd in &join {
                    nix::unistd::write(BorrowedFd::borrow_raw(fd), b"0")?;
                }
                if only_standard_fds {
                    close_on_exec_from(3)?;
                }
                if let Some(filters) = filters {
                    place_inherited(filters, SECCOMP_FDS)?;
                }
                limits::apply(&rlimits)?;
                if let Some((uid, gid)) = run_as {
                    nix::unistd::setgroups(&[])?;
                    nix::unistd::setgid(gid)?;
                    nix::unistd::setuid(uid)?;
                }
                // Killed with this process (bubblewrap sets its own too, but only once it
                // runs: this closes the window before). Set after the user change, which
                // clears it. If this process already died, it would never be.
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
                if nix::unistd::getppid() != parent {
                    return Err(std::io::Error::other("the service died"));
                }
                Ok(())
            });
        }

        let program = if policy.enabled {
            Path::new(BWRAP)
        } else {
            program
        };
        let spawned = command.spawn();
        // The child has its copies of the filters (bubblewrap reads them).
        drop(seccomp);
        let child = match spawned {
            Ok(child) => child,
            Err(e) => {
                return Err(Ending::NotStarted {
                    reason: format!("{}: {e}", program.display()),
                });
            }
        };
        Ok(Started {
            group: ProcessGroup(child.id()),
            child,
            cgroup,
            _workdir: workdir,
            program: program.to_owned(),
        })
    }

    /// Finishes what [`Sandbox::start`] started: writes `input` to its stdin and closes it,
    /// collects stdout and stderr up to `max` bytes each, within `timeout` of wall-clock time
    /// from now, and says how it ended, exactly as [`Sandbox::run`] does (every process of
    /// the run killed when it ends, when `cancel` fires, or when this future is dropped).
    pub async fn finish(
        &self,
        started: Started,
        input: &[u8],
        timeout: Duration,
        max: usize,
        cancel: &CancellationToken,
    ) -> Ending {
        let policy = &self.policy;
        let Started {
            mut child,
            group,
            cgroup,
            _workdir,
            program,
        } = started;
        let (stdin, stdout, stderr) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take());

        let exchange = async {
            let write = async {
                if let Some(mut stdin) = stdin {
                    match stdin.write_all(input).await {
                        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                            return Err(Cut::Io(format!("stdin: {e}")));
                        }
                        _ => {}
                    }
                }
                Ok(())
            };
            // Once the program has exited, whatever it left running is killed, so that
            // the output pipes close.
            let wait = async {
                let status = child
                    .wait()
                    .await
                    .map_err(|e| Cut::Io(format!("wait: {e}")))?;
                kill_leftovers(&group, cgroup.as_ref()).await;
                Ok(status)
            };
            let (_, out, err, status) = tokio::try_join!(
                write,
                read_capped(stdout, max, Stream::Stdout),
                read_capped(stderr, max, Stream::Stderr),
                wait,
            )?;
            Ok::<_, Cut>((status, out, err))
        };
        let cpu_budget = Duration::from_secs(policy.cpu_s);
        let cpu_spent = async {
            match &cgroup {
                Some(cgroup) if policy.hardening.run_cpu_total => {
                    spend(cgroup, cpu_budget).await;
                }
                _ => std::future::pending().await,
            }
        };
        let finished = tokio::select! {
            finished = exchange => Some(finished),
            () = tokio::time::sleep(timeout) => None,
            () = cpu_spent => {
                kill_leftovers(&group, cgroup.as_ref()).await;
                let _ = child.start_kill();
                let _ = child.wait().await;
                return Ending::CpuExceeded { limit_s: policy.cpu_s, stderr: Vec::new() };
            }
            () = cancel.cancelled() => {
                kill_leftovers(&group, cgroup.as_ref()).await;
                let _ = child.start_kill();
                let _ = child.wait().await;
                return Ending::Cancelled;
            }
        };
        kill_leftovers(&group, cgroup.as_ref()).await;
        let _ = child.start_kill();
        let _ = child.wait().await;

        let (status, stdout, stderr) = match finished {
            None => {
                return Ending::WallTimeout { limit: timeout };
            }
            Some(Err(Cut::TooLarge(stream))) => {
                return Ending::OutputTooLarge {
                    stream,
                    limit_bytes: max,
                };
            }
            Some(Err(Cut::Io(what))) => {
                return Ending::NotStarted {
                    reason: format!("{}: {what}", program.display()),
                };
            }
            Some(Ok(finished)) => finished,
        };
        let exit = exit_of(status, policy.enabled);
        let ending = self.cause(exit, cgroup.as_deref(), stderr, stdout);
        if let Some(cgroup) = cgroup {
            // Removing the cgroup waits for its last processes to be reaped.
            let _ = tokio::task::spawn_blocking(move || drop(cgroup)).await;
        }
        ending
    }

    /// The known cause of a run that ended with `exit`, read from its cgroup and status.
    fn cause(
        &self,
        exit: Exit,
        cgroup: Option<&RunCgroup>,
        stderr: Vec<u8>,
        stdout: Vec<u8>,
    ) -> Ending {
        let policy = &self.policy;
        if exit != Exit::Code(0) {
            let cpu_killed = exit == Exit::Signal(Signal::SIGXCPU as i32)
                || (exit == Exit::Signal(Signal::SIGKILL as i32)
                    && cgroup.is_some_and(|c| c.cpu_time() >= Duration::from_secs(policy.cpu_s)));
            if cgroup.is_some_and(RunCgroup::memory_exceeded) {
                return Ending::MemoryExceeded {
                    limit_mb: policy.memory_mb,
                    stderr,
                };
            }
            if cpu_killed {
                return Ending::CpuExceeded {
                    limit_s: policy.cpu_s,
                    stderr,
                };
            }
            if cgroup.is_some_and(RunCgroup::processes_exceeded) {
                return Ending::TooManyProcesses {
                    limit: policy.max_processes,
                    stderr,
                };
            }
            // bubblewrap's own failures (no such program, a mount refused) exit 1 with its
            // message on stderr.
            if policy.enabled && exit == Exit::Code(1) && stderr.starts_with(b"bwrap: ") {
                return Ending::NotStarted {
                    reason: crate::ending::stderr_tail(&stderr),
                };
            }
        }
        Ending::Exited {
            exit,
            stdout,
            stderr,
        }
    }
}

/// The program's exit; bubblewrap reports a death by signal N as status 128 + N.
fn exit_of(status: ExitStatus, bwrap: bool) -> Exit {
    match (status.code(), status.signal()) {
        (Some(code), _) if bwrap && (129..=128 + 64).contains(&code) => Exit::Signal(code - 128),
        (Some(code), _) => Exit::Code(code),
        (None, Some(signal)) => Exit::Signal(signal),
        (None, None) => Exit::Code(-1),
    }
}

/// Returns once the run's processes together have used `budget` of CPU time (its cgroup's
/// `cpuacct.usage`). Reads the counter only as often as the budget could run out: never
/// sooner than what is left of it spread over every CPU this process may use, and at most
/// every 10 ms near the end.
async fn spend(cgroup: &RunCgroup, budget: Duration) {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    loop {
        let used = cgroup.cpu_time();
        if used >= budget {
            return;
        }
        let earliest = (budget - used) / cpus;
        tokio::time::sleep(earliest.max(Duration::from_millis(10))).await;
    }
}

/// Kills what is left of a run: its process group and, where it has one, its cgroup.
async fn kill_leftovers(group: &ProcessGroup, cgroup: Option<&Arc<RunCgroup>>) {
    group.kill();
    if let Some(cgroup) = cgroup {
        let cgroup = Arc::clone(cgroup);
        let _ = tokio::task::spawn_blocking(move || cgroup.kill_all(KILL_WAIT)).await;
    }
}

/// The run's process group (its leader is bubblewrap, or the program without the sandbox);
/// killed with SIGKILL when dropped.
struct ProcessGroup(Option<u32>);

impl ProcessGroup {
    fn kill(&self) {
        if let Some(id) = self.0.and_then(|id| i32::try_from(id).ok()) {
            // ESRCH (nothing left in the group) is the normal case after a clean exit.
            let _ = killpg(Pid::from_raw(id), Signal::SIGKILL);
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The seccomp filters, each in a pipe of its own ready to be read to its end by bubblewrap
/// (a filter is far smaller than a pipe's buffer). Fresh per run: a shared descriptor would
/// share its read offset between concurrent runs.
fn seccomp_pipes() -> Result<[OwnedFd; 2], String> {
    let programs = crate::seccomp::programs()?;
    let pipe = |program: &Vec<u8>| -> std::io::Result<OwnedFd> {
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let mut write = std::fs::File::from(write);
        std::io::Write::write_all(&mut write, program)?;
        Ok(read)
    };
    let seccomp = |e| format!("cannot hand the seccomp filter over: {e}");
    Ok([
        pipe(&programs[0]).map_err(seccomp)?,
        pipe(&programs[1]).map_err(seccomp)?,
    ])
}

/// Marks every descriptor from `first` up close-on-exec (`close_range`, Linux 5.11), so
/// that nothing the service inherited or opened reaches the program. Between `fork` and
/// `exec`: system calls only.
fn close_on_exec_from(first: u32) -> std::io::Result<()> {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags on descriptors.
    let marked = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    // The bare OS error: formatting a message would allocate between fork and exec.
    if marked == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Makes `fds[i]` available as `targets[i]`, inherited across `exec` (the originals stay
/// close-on-exec). Copies first to above every target, so that one target can never
/// overwrite a source still to be moved. Between `fork` and `exec`: system calls only.
fn place_inherited(fds: [RawFd; 2], targets: [RawFd; 2]) -> std::io::Result<()> {
    let above = targets.iter().max().copied().unwrap_or(2) + 1;
    let mut copies = [0; 2];
    for (copy, fd) in copies.iter_mut().zip(fds) {
        // SAFETY: fcntl/dup2 on descriptors this process owns.
        *copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, above) };
        if *copy < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    for (copy, target) in copies.into_iter().zip(targets) {
        // SAFETY: as above; dup2's copy is not close-on-exec.
        if unsafe { libc::dup2(copy, target) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A fresh private directory (mode 0700, a random name under the temporary directory) for a
/// run without the sandbox: its `HOME` and working directory, removed with everything in it
/// when dropped. A random name, not the service's pid and a counter, so a directory left
/// behind by a killed process whose pid comes round again cannot refuse a run.
fn work_dir() -> std::io::Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .prefix("qrun-run-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
}

async fn read_capped(
    stream: Option<impl AsyncRead + Unpin>,
    max: usize,
    which: Stream,
) -> Result<Vec<u8>, Cut> {
    let mut buffer = Vec::new();
    if let Some(stream) = stream {
        let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
        stream
            .take(limit)
            .read_to_end(&mut buffer)
            .await
            .map_err(|e| Cut::Io(format!("{which}: {e}")))?;
    }
    if buffer.len() > max {
        return Err(Cut::TooLarge(which));
    }
    Ok(buffer)
}
