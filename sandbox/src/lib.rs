//! qrun's process sandbox: a configured program run under bubblewrap with its input on
//! stdin, its output captured and capped, and memory, CPU time, processes, file size and
//! wall-clock time bounded.
//!
//! [`Policy`] is plain data (what the program may see and use); [`bwrap_argv`] is a pure
//! function from a policy to bubblewrap's command line; [`Sandbox::run`] runs one
//! [`Invocation`] and returns its [`Ending`], every known cause typed; [`Sandbox::probe`]
//! checks at start-up that the sandbox can be set up on this machine (fail closed: the
//! service refuses to start rather than run a program unconfined).
//!
//! # What it guarantees
//!
//! Under the default policy (`enabled = true`), a run's program:
//!
//! - sees only `/usr` (read-only, with the `/bin`, `/sbin`, `/lib`, `/lib64` links), the
//!   policy's `read_only_paths` (read-only), a private `/tmp` of `tmp_mb` MiB that is also its
//!   `HOME` and working directory, `/proc` of its own PID namespace and a minimal `/dev`.
//!   Not the service's working directory, database, configuration or secrets, not `/root`
//!   or `/home`, not `/etc`, not other runs' files;
//! - has exactly `PATH`, `HOME`, `LANG` and the policy's `env` as its environment;
//! - has no network at all, loopback included, unless `network = true` (then the host's);
//! - sees no host process and cannot signal one (PID namespace), has no terminal (new
//!   session), and runs with no capabilities (bubblewrap drops them, even for root);
//! - is capped: memory of all its processes together at `memory_mb` (a per-run memory cgroup;
//!   the kernel kills past it), `max_processes` processes and threads at once (a per-run
//!   pids cgroup; `fork` fails past it), `cpu_s` CPU seconds per process (`RLIMIT_CPU`),
//!   `max_file_mb` per file written (`RLIMIT_FSIZE`), each of stdout and stderr at the
//!   invocation's byte cap, and the invocation's wall-clock time;
//! - dies with everything it started — daemons that double-forked into a new session
//!   included — when it exits, times out, overflows its output, is cancelled, when the
//!   run's future is dropped, and when the service process dies (`--die-with-parent` plus
//!   the PID namespace, whose end kills all its members).
//!
//! Each cap that ends a run is reported as itself ([`Ending::MemoryExceeded`],
//! [`Ending::CpuExceeded`], [`Ending::TooManyProcesses`], …), read from the run's cgroup
//! counters, never guessed from an exit status.
//!
//! # What it does not protect against
//!
//! - Kernel exploits: the program shares the host's kernel; a kernel bug reachable from an
//!   unprivileged user namespace is a way out. No seccomp filter narrows the system calls.
//! - Side channels: CPU time, caches and memory bandwidth are shared with the service and
//!   other runs (timing, Spectre-class attacks); nothing reserves CPU for the service.
//! - What is under `/usr`: everything installed there is readable (and executable) inside,
//!   so secrets must never live under `/usr` or a `read_only_paths` entry.
//! - Running as root: with a service running as root, the program is uid 0 inside its user
//!   namespace (mapped to root, without capabilities): files it can reach read-only are
//!   still readable whatever their mode.
//! - Disk: only `/tmp` is writable and it is capped, but its pages count against the run's
//!   memory, not a disk quota.
//! - `enabled = false`: none of the isolation above; only a cleared environment, a fresh
//!   working directory, its own process group, the rlimits, and (where cgroups are
//!   available) the memory and process caps. A daemon of such a run outlives a service that
//!   is killed (it is killed when the run ends while the service lives, if cgroups are
//!   available).
//! - Machines without a writable cgroup v1 `memory`/`pids`/`cpuacct` hierarchy (cgroup v2
//!   only, or a service without the right to make cgroups): memory is then capped per
//!   process by `RLIMIT_AS` (which counts reserved address space, so a program that reserves
//!   much and touches little fails early) and processes by `RLIMIT_NPROC` (which the kernel
//!   does not apply to root, and which counts every process of the user); a run that dies of
//!   either is reported by its exit status, not as the cap.
//!
//! # Layout
//!
//! - `policy` — [`Policy`], the environment a program gets.
//! - `argv` — [`bwrap_argv`], the policy as bubblewrap's command line.
//! - `limits` — the rlimits a run starts with.
//! - `cgroup` — per-run cgroups: caps, cause counters, killing every member.
//! - `sandbox` — [`Sandbox`], [`Invocation`], [`Sandbox::probe`], [`SetupError`].
//! - `run` — [`Sandbox::run`]: spawn, feed, capture, wait, kill, classify.
//! - `ending` — [`Ending`], [`Exit`], [`Stream`], [`stderr_tail`].

mod argv;
mod cgroup;
mod ending;
mod limits;
mod policy;
mod run;
mod sandbox;

pub use argv::{BWRAP, bwrap_argv};
pub use ending::{Ending, Exit, STDERR_TAIL_BYTES, Stream, stderr_tail};
pub use policy::{HOME, LANG, PATH, Policy};
pub use sandbox::{Invocation, Sandbox, SetupError};
pub use tokio_util::sync::CancellationToken;
