//! The rlimits a run's processes start with, chosen from a [`Policy`] (pure) and applied
//! between `fork` and `exec`.

use nix::sys::resource::{Resource, setrlimit};

use crate::policy::Policy;

const MIB: u64 = 1 << 20;

/// Descriptors a run's process may have open at once (`RLIMIT_NOFILE`, soft and hard): a
/// Qiskit program with Aer's threads holds a few dozen; the kernel's default hard limit
/// (often 2^20) would let one run pin that many kernel objects.
pub const OPEN_FILES: u64 = 256;

/// One rlimit: the resource, its soft and its hard limit.
pub type Rlimit = (Resource, u64, u64);

/// The rlimits for a run under `policy`, `cgroups` saying whether a per-run cgroup already
/// caps memory and processes.
///
/// Always: `RLIMIT_CPU` at `cpu_s` (SIGXCPU) with the hard limit one second later (SIGKILL
/// for a program that catches SIGXCPU), `RLIMIT_FSIZE` at `max_file_mb`, and no core files.
/// With `policy.hardening.tight_rlimits` (the default): [`OPEN_FILES`] descriptors and no
/// locked memory (`RLIMIT_MEMLOCK` 0: nothing a run does needs pages pinned, and what pins
/// them — io_uring rings, BPF maps, `mlock` — is what the sandbox keeps from it).
/// Without cgroups, also `RLIMIT_AS` at `memory_mb` (per process, and counting address
/// space reserved but never touched) and `RLIMIT_NPROC` at `max_processes` (which the
/// kernel does not apply to root).
pub fn rlimits(policy: &Policy, cgroups: bool) -> Vec<Rlimit> {
    let file = policy.max_file_mb.saturating_mul(MIB);
    let mut limits = vec![
        (
            Resource::RLIMIT_CPU,
            policy.cpu_s,
            policy.cpu_s.saturating_add(1),
        ),
        (Resource::RLIMIT_FSIZE, file, file),
        (Resource::RLIMIT_CORE, 0, 0),
    ];
    if policy.hardening.tight_rlimits {
        limits.push((Resource::RLIMIT_NOFILE, OPEN_FILES, OPEN_FILES));
        limits.push((Resource::RLIMIT_MEMLOCK, 0, 0));
    }
    if !cgroups {
        let memory = policy.memory_mb.saturating_mul(MIB);
        limits.push((Resource::RLIMIT_AS, memory, memory));
        limits.push((
            Resource::RLIMIT_NPROC,
            policy.max_processes,
            policy.max_processes,
        ));
    }
    limits
}

/// Applies `limits` to the calling process. Allocates nothing, so it is safe between `fork`
/// and `exec`.
pub fn apply(limits: &[Rlimit]) -> std::io::Result<()> {
    for &(resource, soft, hard) in limits {
        setrlimit(resource, soft, hard)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroups_replace_the_memory_and_process_rlimits() {
        let policy = Policy {
            cpu_s: 2,
            max_file_mb: 3,
            memory_mb: 256,
            max_processes: 32,
            ..Policy::default()
        };
        let always = vec![
            (Resource::RLIMIT_CPU, 2, 3),
            (Resource::RLIMIT_FSIZE, 3 << 20, 3 << 20),
            (Resource::RLIMIT_CORE, 0, 0),
            (Resource::RLIMIT_NOFILE, 256, 256),
            (Resource::RLIMIT_MEMLOCK, 0, 0),
        ];
        assert_eq!(rlimits(&policy, true), always);
        let mut without = always;
        without.push((Resource::RLIMIT_AS, 256 << 20, 256 << 20));
        without.push((Resource::RLIMIT_NPROC, 32, 32));
        assert_eq!(rlimits(&policy, false), without);
    }
}
