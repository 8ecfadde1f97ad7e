//! qrun's circuit engine: OpenQASM 2.0 in, measurement counts out.
//!
//! [`prepare`] parses and checks a source against a backend's [`Limits`] and returns a
//! [`Program`]; [`simulate`] runs it on the built-in state-vector simulator for a number of
//! shots. Every failure is an [`EngineError`] with the service's error class ([`FailureKind`]) and
//! stage ([`Stage`]); source errors carry a `line:col` [`Position`]. Counts are keyed as
//! Qiskit's `get_counts()` keys them (see [`Outcome`], [`is_count_key`]). Running external
//! programs is not the engine's: see the `qrun-sandbox` crate.
//!
//! # Layout
//!
//! - `error` — [`EngineError`], [`FailureKind`], [`Stage`], [`Position`].
//! - `limits` — [`Limits`] and the admission checks (qubits → memory, shots).
//! - `ir` — the intermediate representation the parser produces and the simulator runs.
//! - `qasm` — the OpenQASM 2.0 front end: lexer, parser, lowering, in-memory `qelib1.inc`.
//! - `sim` — the state-vector simulator: kernels, fusion, shot branching, sampling.
//! - `outcome` — [`Outcome`] and the count-key format.
//!
//! Architecture invariant: `qasm` and `sim` meet only in `ir`; either can be replaced.

mod error;
pub mod ir;
mod limits;
mod outcome;
mod qasm;
mod sim;

pub use error::{EngineError, FailureKind, Position, Stage};
pub use ir::Program;
pub use limits::{ENGINE_MAX_QUBITS, Limits, MAX_CLBITS};
pub use num_complex::Complex64;
pub use outcome::{Outcome, is_count_key};
pub use tokio_util::sync::CancellationToken;

use error::Result;

/// Parses and validates `source` for a run of `shots` shots within `limits`: the source
/// size, syntax, names and arities, qubits (memory), expanded operations, opaque gates and
/// the shot range. All errors are of [`Stage::Prepare`].
pub fn prepare(source: &str, shots: u64, limits: &Limits) -> Result<Program> {
    if source.len() > limits.max_source_bytes {
        return Err(EngineError::new(
            FailureKind::ResourceLimit,
            Stage::Prepare,
            format!(
                "source is {} bytes; this backend accepts at most {}",
                source.len(),
                limits.max_source_bytes
            ),
        ));
    }
    limits.check_shots(shots)?;
    qasm::parse(source, limits)
}

/// Runs `program` for `shots` shots on the state-vector simulator and returns the counts.
///
/// Blocking and CPU-bound (multi-threaded on rayon's pool for large states): call it from a
/// blocking thread. `seed` makes the result reproducible (on any thread count); `None`
/// seeds from the operating system. `cancel` and `limits.time_limit` are polled at least
/// every few milliseconds of work, so either stops the run promptly with
/// [`FailureKind::Cancelled`] or [`FailureKind::Timeout`] ([`Stage::Execute`]).
pub fn simulate(
    program: &Program,
    shots: u64,
    seed: Option<u64>,
    limits: &Limits,
    cancel: &CancellationToken,
) -> Result<Outcome> {
    sim::simulate(program, shots, seed, limits, cancel)
}

/// The final state vector of a program without measurements, resets or conditions:
/// amplitude `i` is basis state `i`, qubit 0 least significant (Qiskit's order).
pub fn statevector(
    program: &Program,
    limits: &Limits,
    cancel: &CancellationToken,
) -> Result<Vec<Complex64>> {
    sim::statevector(program, limits, cancel)
}
