//! The seccomp-bpf filters every sandboxed program runs under, compiled with `seccompiler`
//! (rust-vmm's filter compiler) and handed to bubblewrap (`--add-seccomp-fd`) as raw
//! `struct sock_filter` arrays.
//!
//! A deny list: everything not named here is allowed, so ordinary programs (Python, Qiskit,
//! Aer's OpenMP threads) run unchanged. Each entry is a system call that an unprivileged
//! program has no business making and that public kernel escalations enter through; a
//! denied call fails with `EPERM` and the program goes on. The list, and why:
//!
//! | system calls | why they are denied |
//! |---|---|
//! | `io_uring_setup`, `io_uring_enter`, `io_uring_register` | io_uring bypasses per-call filtering (its operations are not system calls) and has been the source of a long series of kernel privilege escalations; Google, Docker and Android disable it for untrusted code |
//! | `userfaultfd` | stalls kernel page faults at an attacker-chosen moment: the standard way to win use-after-free races |
//! | `bpf` | loads programs into the kernel (verifier bugs) |
//! | `perf_event_open` | kernel performance counters: side channels and a history of privilege escalations |
//! | `keyctl`, `add_key`, `request_key` | the kernel keyring is not namespaced: keys of other users, and its own escalations |
//! | `ptrace`, `process_vm_readv`, `process_vm_writev`, `pidfd_getfd` | reading, writing or stealing descriptors from another process of the run |
//! | `mount`, `umount2`, `pivot_root`, `move_mount`, `open_tree`, `fsopen`, `fsconfig`, `fsmount`, `fspick`, `mount_setattr` | rearranging the filesystem view (remounting a read-only bind read-write, mounting cgroupfs to raise the run's own caps) |
//! | `unshare`, `setns`, and `clone` with any `CLONE_NEW*` flag | new namespaces: a nested user namespace gives back every capability inside it, including network administration |
//! | `kexec_load`, `kexec_file_load`, `init_module`, `finit_module`, `delete_module` | replacing the kernel or loading code into it |
//! | `ioctl` `TIOCSTI`, `TIOCLINUX` | pushing input into a terminal (CVE-2017-5226) |
//!
//! `clone3` takes its flags in memory a filter cannot read, so it fails with `ENOSYS` (a
//! second filter): C libraries then fall back to `clone`, whose flags the first one checks.
//!
//! The filters check the architecture first (seccompiler's prologue): a system call made
//! through another ABI (32-bit `int 0x80` on x86_64) kills the process. The x32 ABI (system
//! call numbers with bit 30 set) reaches the same kernel functions under other numbers, which
//! a per-number list does not see: [`x32_abi_enabled`] tells whether this kernel accepts it,
//! and the sandbox refuses to start where it does.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// The system calls denied outright (EPERM), with no condition on their arguments.
const DENIED: &[libc::c_long] = &[
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_userfaultfd,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_pidfd_getfd,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_mount_setattr,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
];

/// `clone` flags that make a namespace (`CLONE_NEWTIME` only exists for `clone3`/`unshare`).
const NAMESPACE_FLAGS: [libc::c_int; 7] = [
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWNS,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWCGROUP,
];

/// The terminal ioctls that inject input.
const TERMINAL_INJECTION: [libc::c_ulong; 2] = [libc::TIOCSTI, libc::TIOCLINUX];

/// The two filters, as the bytes bubblewrap reads from each `--add-seccomp-fd`: first the
/// deny list (EPERM), then `clone3` (ENOSYS). Compiled once per process.
///
/// Errors: the architecture is not one seccompiler targets (x86_64, aarch64, riscv64), or
/// the filter could not be compiled (the message says which).
pub fn programs() -> Result<&'static [Vec<u8>; 2], String> {
    static PROGRAMS: OnceLock<Result<[Vec<u8>; 2], String>> = OnceLock::new();
    PROGRAMS
        .get_or_init(|| {
            let arch = TargetArch::try_from(std::env::consts::ARCH)
                .map_err(|e| format!("no seccomp filter for this architecture: {e:?}"))?;
            Ok([
                compile(deny_list(), libc::EPERM, arch)?,
                compile(
                    BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
                    libc::ENOSYS,
                    arch,
                )?,
            ])
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The deny list as seccompiler's rules: an empty rule list matches every call of that
/// number; several rules match when any does.
fn deny_list() -> BTreeMap<i64, Vec<SeccompRule>> {
    let condition = |arg, len, op, value| {
        SeccompRule::new(vec![
            SeccompCondition::new(arg, len, op, value).expect("a valid seccomp condition"),
        ])
        .expect("a rule with one condition")
    };
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        DENIED.iter().map(|&nr| (nr, Vec::new())).collect();
    rules.insert(
        libc::SYS_clone,
        NAMESPACE_FLAGS
            .iter()
            .map(|&flag| {
                let flag = flag as u64;
                condition(
                    0,
                    SeccompCmpArgLen::Qword,
                    SeccompCmpOp::MaskedEq(flag),
                    flag,
                )
            })
            .collect(),
    );
    // The request is an `unsigned int`: compare its low 32 bits, as the kernel reads it.
    rules.insert(
        libc::SYS_ioctl,
        TERMINAL_INJECTION
            .iter()
            .map(|&request| condition(1, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, request))
            .collect(),
    );
    rules
}

fn compile(
    rules: BTreeMap<i64, Vec<SeccompRule>>,
    errno: i32,
    arch: TargetArch,
) -> Result<Vec<u8>, String> {
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(errno as u32),
        arch,
    )
    .map_err(|e| format!("seccomp filter: {e}"))?;
    let program: BpfProgram = filter
        .try_into()
        .map_err(|e| format!("seccomp filter: {e}"))?;
    Ok(program
        .iter()
        .flat_map(|insn| {
            let mut bytes = [0u8; 8];
            bytes[..2].copy_from_slice(&insn.code.to_ne_bytes());
            bytes[2] = insn.jt;
            bytes[3] = insn.jf;
            bytes[4..].copy_from_slice(&insn.k.to_ne_bytes());
            bytes
        })
        .collect())
}

/// Whether this kernel runs x32-ABI system calls (numbers with bit 30 set), which the
/// filters cannot see: tried with `getpid`, which answers `ENOSYS` where the ABI is off
/// (`CONFIG_X86_X32_ABI` unset, or `syscall.x32=n`, as distributions ship it). Always
/// `false` off x86_64.
pub fn x32_abi_enabled() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        const X32_SYSCALL_BIT: libc::c_long = 0x4000_0000;
        // SAFETY: getpid takes no arguments and has no effect.
        unsafe { libc::syscall(X32_SYSCALL_BIT | libc::SYS_getpid) != -1 }
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_filters_compile_to_whole_instructions() {
        let [deny, clone3] = programs().unwrap();
        // 8 bytes a `struct sock_filter`; far below the kernel's 4096 instructions.
        for program in [deny, clone3] {
            assert_eq!(program.len() % 8, 0);
            assert!((8..4096 * 8).contains(&program.len()), "{}", program.len());
        }
        assert!(deny.len() > clone3.len());
    }
}
