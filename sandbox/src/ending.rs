//! [`Ending`]: how a sandboxed run ended, each known cause typed.

use std::fmt;
use std::time::Duration;

/// How a run's program ended, as far as its exit status tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status (0 is success).
    Code(i32),
    /// It was killed by this signal. Under bubblewrap a death by signal N is reported as
    /// status 128 + N, as a shell does, and read back as this.
    Signal(i32),
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "exited with status {code}"),
            Exit::Signal(signal) => write!(f, "was killed by signal {signal}"),
        }
    }
}

/// Which output stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        })
    }
}

/// How a sandboxed run ended. Every process it started is gone by the time this is
/// returned (where the run had a cgroup; otherwise its process group and, under bubblewrap,
/// its PID namespace are).
///
/// `Display` gives the human message: "memory limit 256 MiB exceeded", "CPU time limit 2 s
/// exceeded", "exited with status 3", …
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The program ended by itself, for no cause the sandbox knows of; `stdout` and `stderr`
    /// are everything it wrote (each at most the run's output cap).
    Exited {
        exit: Exit,
        stdout: Vec<u8>,
        stderr: Vec<u8>,
    },
    /// The run's processes together needed more than `limit_mb` MiB and the kernel killed
    /// one (exact: read from the run's memory cgroup).
    MemoryExceeded { limit_mb: u64, stderr: Vec<u8> },
    /// A process used `limit_s` CPU seconds and was killed (SIGXCPU, or SIGKILL a second
    /// later for one that caught it).
    CpuExceeded { limit_s: u64, stderr: Vec<u8> },
    /// The run took longer than its wall-clock `limit`.
    WallTimeout { limit: Duration },
    /// The program failed after a `fork` was refused at `limit` processes.
    TooManyProcesses { limit: u64, stderr: Vec<u8> },
    /// The program wrote more than `limit_bytes` on `stream`; it was killed.
    OutputTooLarge { stream: Stream, limit_bytes: usize },
    /// The caller cancelled the run.
    Cancelled,
    /// The program could not be started: `reason` says why (bubblewrap's own message when
    /// the sandbox could not be set up, or the `exec` error).
    NotStarted { reason: String },
}

impl Ending {
    /// What the program wrote on stderr before it ended, where that is known.
    pub fn stderr(&self) -> &[u8] {
        match self {
            Ending::Exited { stderr, .. }
            | Ending::MemoryExceeded { stderr, .. }
            | Ending::CpuExceeded { stderr, .. }
            | Ending::TooManyProcesses { stderr, .. } => stderr,
            Ending::WallTimeout { .. }
            | Ending::OutputTooLarge { .. }
            | Ending::Cancelled
            | Ending::NotStarted { .. } => &[],
        }
    }
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ending::Exited { exit, .. } => exit.fmt(f),
            Ending::MemoryExceeded { limit_mb, .. } => {
                write!(f, "memory limit {limit_mb} MiB exceeded")
            }
            Ending::CpuExceeded { limit_s, .. } => {
                write!(f, "CPU time limit {limit_s} s exceeded")
            }
            Ending::WallTimeout { limit } => write!(
                f,
                "did not finish within the time limit of {} s",
                limit.as_secs_f64()
            ),
            Ending::TooManyProcesses { limit, .. } => {
                write!(f, "process limit {limit} exceeded")
            }
            Ending::OutputTooLarge {
                stream,
                limit_bytes,
            } => write!(f, "{stream} output exceeded {limit_bytes} bytes"),
            Ending::Cancelled => f.write_str("cancelled"),
            Ending::NotStarted { reason } => write!(f, "could not start: {reason}"),
        }
    }
}

/// At most this many bytes of the end of stderr go into [`stderr_tail`].
pub const STDERR_TAIL_BYTES: usize = 2048;

/// The last [`STDERR_TAIL_BYTES`] of `stderr`, as text, trimmed.
pub fn stderr_tail(stderr: &[u8]) -> String {
    let tail = &stderr[stderr.len().saturating_sub(STDERR_TAIL_BYTES)..];
    String::from_utf8_lossy(tail).trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_cause_and_the_limit() {
        let cases = [
            (
                Ending::MemoryExceeded {
                    limit_mb: 256,
                    stderr: vec![],
                },
                "memory limit 256 MiB exceeded",
            ),
            (
                Ending::CpuExceeded {
                    limit_s: 2,
                    stderr: vec![],
                },
                "CPU time limit 2 s exceeded",
            ),
            (
                Ending::WallTimeout {
                    limit: Duration::from_millis(1500),
                },
                "did not finish within the time limit of 1.5 s",
            ),
            (
                Ending::TooManyProcesses {
                    limit: 32,
                    stderr: vec![],
                },
                "process limit 32 exceeded",
            ),
            (
                Ending::OutputTooLarge {
                    stream: Stream::Stderr,
                    limit_bytes: 10,
                },
                "stderr output exceeded 10 bytes",
            ),
            (
                Ending::Exited {
                    exit: Exit::Signal(11),
                    stdout: vec![],
                    stderr: vec![],
                },
                "was killed by signal 11",
            ),
        ];
        for (ending, message) in cases {
            assert_eq!(ending.to_string(), message);
        }
    }

    #[test]
    fn the_stderr_tail_is_trimmed_and_capped() {
        assert_eq!(stderr_tail(b"  \n"), "");
        assert_eq!(stderr_tail(b"boom\n"), "boom");
        assert_eq!(stderr_tail(&[b'x'; 5000]).len(), STDERR_TAIL_BYTES);
    }
}
