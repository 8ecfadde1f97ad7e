//! qrun's process sandbox: a configured program run under bubblewrap with its input on
//! stdin, its output captured and capped, and memory, CPU time, processes, file size and
//! wall-clock time bounded.
//!
//! [`Policy`] is plain data (what the program may see and use); [`bwrap_argv`] is a pure
//! function from a policy to bubblewrap's command line; [`Sandbox::run`] runs one
//! [`Invocation`] and returns its [`Ending`], every known cause typed (in two steps,
//! [`Sandbox::start`] then [`Sandbox::finish`], for a program started before its input is
//! known: a [`Started`] program is one run's, never reused); [`Sandbox::probe`]
//! checks at start-up that the sandbox can be set up on this machine (fail closed: the
//! service refuses to start rather than run a program unconfined).
//!
//! # What it guarantees
//!
//! Under the default policy (`enabled = true`, [`Hardening::ALL`]), for a service running as
//! root and for one running as an unprivileged user alike, a run's program:
//!
//! - is never host root and has no capability: a root service runs it as [`Policy::user`]
//!   (default [`DEFAULT_USER`], no supplementary groups), a service that is not root as
//!   itself; in a user namespace of its own that cannot make another (`--unshare-user
//!   --disable-userns`), with every capability dropped (`--cap-drop ALL`);
//! - sees only `/usr` (read-only, with the `/bin`, `/sbin`, `/lib`, `/lib64` links), the
//!   policy's `read_only_paths` (read-only), a private `/tmp` of `tmp_mb` MiB that is also its
//!   `HOME` and working directory, a private `/dev/shm` of `tmp_mb` MiB, `/proc` of its own
//!   PID namespace with `/proc/sys` read-only, a minimal `/dev`, and its own hostname
//!   ([`HOSTNAME`]). The root and `/dev` are read-only once set up, so `/tmp` and `/dev/shm`
//!   are all it can write. Not the service's working directory, database, configuration or
//!   secrets, not `/root` or `/home`, not `/etc`, not other runs' files;
//! - has exactly `PATH`, `HOME`, `LANG` and the policy's `env` as its environment, and only
//!   descriptors 0–2 (every other descriptor of the service, inherited ones included, is
//!   close-on-exec before bubblewrap starts);
//! - runs under a seccomp filter (the `seccomp` module lists each system call it denies and
//!   why: io_uring, userfaultfd, bpf, perf_event_open, the keyring, ptrace, mounts,
//!   namespaces, kexec and modules, terminal injection), which makes them fail with `EPERM`;
//! - has no network at all, loopback included, unless `network = true` (then the host's);
//! - sees no host process and cannot signal one (PID namespace), has no terminal (new
//!   session);
//! - is capped: memory of all its processes together at `memory_mb` (a per-run memory cgroup;
//!   the kernel kills past it), `max_processes` processes and threads at once (a per-run
//!   pids cgroup; `fork` fails past it), `cpu_s` CPU seconds for the whole run (its cgroup's
//!   `cpuacct.usage`; each process also has `RLIMIT_CPU`), `max_file_mb` per file written
//!   (`RLIMIT_FSIZE`), [`OPEN_FILES`] descriptors and no locked memory, each of stdout and
//!   stderr at the invocation's byte cap, and the invocation's wall-clock time;
//! - dies with everything it started — daemons that double-forked into a new session
//!   included — when it exits, times out, overflows its output, is cancelled, when the
//!   run's future is dropped, and when the service process dies (`--die-with-parent` plus
//!   the PID namespace, whose end kills all its members).
//!
//! Each cap that ends a run is reported as itself ([`Ending::MemoryExceeded`],
//! [`Ending::CpuExceeded`], [`Ending::TooManyProcesses`], …), read from the run's cgroup
//! counters, never guessed from an exit status. [`Sandbox::probe`] refuses to start where
//! any of this cannot be had (no bubblewrap, a missing or root `user`, no user namespaces,
//! a kernel with the x32 ABI the filter cannot see, …).
//!
//! # What it does not protect against
//!
//! - Kernel exploits through what the filter allows: the program shares the host's kernel,
//!   and the filter is a deny list of known entry points.
//! - Side channels: CPU time, caches and memory bandwidth are shared with the service and
//!   other runs (timing, Spectre-class attacks); nothing reserves CPU for the service.
//! - What is under `/usr`: everything installed there is readable (and executable) inside,
//!   so secrets must never live under `/usr` or a `read_only_paths` entry.
//! - Disk: `/tmp` and `/dev/shm` are capped, but their pages count against the run's memory,
//!   not a disk quota.
//! - One user for every run of a root service: runs cannot see or signal one another, but
//!   they are the same host user.
//! - `enabled = false`: none of the isolation above; only a cleared environment, a fresh
//!   working directory, its own process group, the user, descriptors 0–2, the rlimits, and
//!   (where cgroups are available) the memory, process and CPU caps. A daemon of such a run
//!   outlives a service that is killed (it is killed when the run ends while the service
//!   lives, if cgroups are available).
//! - Machines without a writable cgroup v1 `memory`/`pids`/`cpuacct` hierarchy (cgroup v2
//!   only, or a service that is not root): memory is then capped per process by
//!   `RLIMIT_AS` (which counts reserved address space, so a program that reserves much and
//!   touches little fails early), processes by `RLIMIT_NPROC` (which the kernel does not
//!   apply to root, and which counts every process of the user, so one run's fork bomb can
//!   keep another from starting), and CPU per process only; a run that dies of any of them
//!   is reported by its exit status, not as the cap.
//!
//! # Layout
//!
//! - `policy` — [`Policy`], the environment a program gets, and its [`Hardening`].
//! - `argv` — [`bwrap_argv`], the policy as bubblewrap's command line.
//! - `limits` — the rlimits a run starts with.
//! - `cgroup` — per-run cgroups: caps, cause counters, killing every member.
//! - `sandbox` — [`Sandbox`], [`Invocation`], [`Sandbox::probe`], [`SetupError`], who a
//!   run's processes run as.
//! - `seccomp` — the seccomp filters, compiled with `seccompiler`.
//! - `run` — [`Sandbox::run`]: spawn (descriptors, filters, rlimits, user), feed, capture,
//!   wait, watch the CPU budget, kill, classify.
//! - `ending` — [`Ending`], [`Exit`], [`Stream`], [`stderr_tail`].

mod argv;
mod cgroup;
mod ending;
mod limits;
mod policy;
mod run;
mod sandbox;
mod seccomp;

pub use argv::{BWRAP, HOSTNAME, SECCOMP_FDS, bwrap_argv};
pub use ending::{Ending, Exit, STDERR_TAIL_BYTES, Stream, stderr_tail};
pub use limits::OPEN_FILES;
pub use policy::{DEFAULT_USER, HOME, Hardening, LANG, PATH, Policy};
pub use run::Started;
pub use sandbox::{Invocation, Sandbox, SetupError};
pub use tokio_util::sync::CancellationToken;
