//! qrun's circuit engine: OpenQASM 2.0 or 3 in, measurement counts out.
//!
//! [`prepare`] parses and checks a source of a [`Format`], with the run's [`Parameters`],
//! against a backend's [`Limits`] and returns a [`Program`]; [`inputs`] lists the
//! parameters a source declares and [`check_parameters`] checks a run's against them; [`classical_bits`] counts the bits of its count keys;
//! [`simulate`] runs a program for a number of shots with the [`Method`] `prepare` chose for
//! it (the state vector, or a stabilizer tableau for Clifford circuits).
//! Every failure is an [`EngineError`] with the service's error class ([`FailureKind`]) and
//! stage ([`Stage`]); source errors carry a `line:col` [`Position`]. Counts are keyed as
//! Qiskit's `get_counts()` keys them (see [`Outcome`], [`is_count_key`]). Running external
//! programs is not the engine's: see the `qrun-sandbox` crate.
//!
//! # Layout
//!
//! - `error` — [`EngineError`], [`FailureKind`], [`Stage`], [`Position`].
//! - `limits` — [`Limits`] and the admission checks (qubits → memory per method, shots).
//! - `method` — [`Method`] and the choice of one per program.
//! - `precision` — [`Precision`], the state vector's f64 or f32 amplitudes.
//! - `ir` — the intermediate representation the front ends produce and the simulator runs.
//! - `literal` — integer literals of any width (register comparisons), for both front ends.
//! - `qasm` — the OpenQASM 2.0 front end: lexer, parser, lowering, in-memory `qelib1.inc`.
//! - `qasm3` — the OpenQASM 3 front end: lexer, parser, lowering (modifiers, loops,
//!   conditions, `input` parameters), in-memory `stdgates.inc`.
//! - `branching` — shots split where an outcome is random, for both simulators.
//! - `sim` — the state-vector simulator: kernels, fusion, shot branching, sampling.
//! - `stabilizer` — the stabilizer-tableau simulator for Clifford circuits.
//! - `outcome` — [`Outcome`] and the count-key format.
//! - `parameters` — [`Parameters`], [`Input`] and [`check_parameters`] (the submission check).
//!
//! Architecture invariant: the front ends (`qasm`, `qasm3`) and the simulators (`sim`,
//! `stabilizer`) meet only in `ir`; any of them can be replaced. Each method has exactly one
//! simulator, and [`simulate`] is the one place that dispatches on it.

mod branching;
mod error;
mod interrupt;
pub mod ir;
mod limits;
mod literal;
mod method;
mod outcome;
mod parameters;
mod precision;
mod qasm;
mod qasm3;
mod sim;
mod stabilizer;

pub use error::{EngineError, FailureKind, Position, Stage};
pub use ir::Program;
pub use limits::{
    DEFAULT_MAX_STABILIZER_QUBITS, ENGINE_MAX_QUBITS, ENGINE_MAX_STABILIZER_QUBITS, Limits,
    MAX_CLBITS,
};
pub use method::Method;
pub use num_complex::Complex64;
pub use outcome::{Outcome, is_count_key};
pub use parameters::{Input, ParameterError, Parameters, check_parameters};
pub use precision::Precision;
pub use tokio_util::sync::CancellationToken;

use error::Result;

/// The gates the simulator executes with kernels of their own (after a circuit's definitions
/// are expanded), by Qiskit's standard names: what a client's transpiler should target.
pub const NATIVE_GATES: &[&str] = &[
    "id", "u", "p", "x", "y", "z", "h", "s", "sdg", "t", "tdg", "sx", "sxdg", "rx", "ry", "rz",
    "cx", "cy", "cz", "ch", "csx", "crx", "cry", "crz", "cp", "cu", "swap", "rxx", "rzz", "ccx",
    "cswap", "mcx", "mcp", "reset", "measure", "barrier",
];

/// The language of a source: the manifest's `format` (docs/DESIGN.md §12).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// OpenQASM 2.0 (`"openqasm2"`).
    OpenQasm2,
    /// OpenQASM 3 (`"openqasm3"`).
    OpenQasm3,
}

impl Format {
    /// The format of a manifest's `format` value: `"openqasm2"` or `"openqasm3"`; `None`
    /// for anything else (including `"python"`, which the built-in engine does not run).
    pub fn from_manifest(format: &str) -> Option<Self> {
        match format {
            "openqasm2" => Some(Self::OpenQasm2),
            "openqasm3" => Some(Self::OpenQasm3),
            _ => None,
        }
    }

    /// The manifest value: `"openqasm2"` or `"openqasm3"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenQasm2 => "openqasm2",
            Self::OpenQasm3 => "openqasm3",
        }
    }

    /// The format a source declares in its header, `OPENQASM 2…;` or `OPENQASM 3…;` (after
    /// any blank lines and comments), as `qrun exec` picks it; `None` without such a header.
    pub fn detect(source: &str) -> Option<Self> {
        let mut rest = source;
        loop {
            rest = rest.trim_start();
            if let Some(comment) = rest.strip_prefix("//") {
                rest = comment.split_once('\n').map_or("", |(_, after)| after);
            } else if let Some(comment) = rest.strip_prefix("/*") {
                rest = comment.split_once("*/")?.1;
            } else {
                break;
            }
        }
        let version = rest.strip_prefix("OPENQASM")?;
        if !version.starts_with(char::is_whitespace) {
            return None;
        }
        let version = version.trim_start();
        let major: String = version.chars().take_while(char::is_ascii_digit).collect();
        let after = &version[major.len()..];
        if !(after.starts_with(['.', ';']) || after.starts_with(char::is_whitespace)) {
            return None;
        }
        match major.as_str() {
            "2" => Some(Self::OpenQasm2),
            "3" => Some(Self::OpenQasm3),
            _ => None,
        }
    }
}

/// The `input` parameters `source` declares, in declaration order, so that a service can
/// check a run's parameters at submission (a missing or unknown one is the caller's 400).
/// An OpenQASM 2 source declares none. Errors: a source that does not parse
/// ([`FailureKind::Validation`], [`Stage::Prepare`], with its position).
pub fn inputs(source: &str, format: Format) -> Result<Vec<Input>> {
    match format {
        Format::OpenQasm2 => Ok(Vec::new()),
        Format::OpenQasm3 => qasm3::inputs(source),
    }
}

/// The classical bits of `source`, a program in `format`, with `parameters` bound to its
/// `input` declarations: the characters of each of its count keys, not counting the spaces
/// between registers ([`Outcome`]). For a service that checks counts from elsewhere (an
/// external backend) against the circuit they claim to be of.
///
/// The program is lowered as [`prepare`] lowers it (no other reading of the source), within
/// the engine's own qubit limits ([`ENGINE_MAX_QUBITS`] on the state vector,
/// [`ENGINE_MAX_STABILIZER_QUBITS`] for a Clifford circuit) and the default
/// [`Limits::max_gates`] of expanded operations,
/// whatever a backend's own limits: blocking, up to about a second of CPU for a source that
/// expands that far, so call it from a blocking thread.
///
/// Errors, all of [`Stage::Prepare`], as [`prepare`]'s: [`FailureKind::Validation`] for a
/// source that does not parse or lower, or parameters that do not fit its inputs;
/// [`FailureKind::ResourceLimit`] for more qubits than those limits, more than
/// [`MAX_CLBITS`] classical bits, or more operations than the default `max_gates`.
pub fn classical_bits(source: &str, format: Format, parameters: &Parameters) -> Result<u32> {
    let limits = Limits {
        max_qubits: ENGINE_MAX_QUBITS,
        max_stabilizer_qubits: ENGINE_MAX_STABILIZER_QUBITS,
        method: None,
        max_shots: 1,
        max_source_bytes: usize::MAX,
        ..Limits::default()
    };
    prepare(source, format, parameters, 1, &limits).map(|program| program.num_clbits())
}

/// Parses and validates `source`, a program in `format`, for a run of `shots` shots
/// within `limits`, with `parameters` bound to its `input` declarations: the source size,
/// syntax, names and arities, parameters, qubits (memory), expanded operations, opaque
/// gates and the shot range; then chooses the simulation [`Method`] ([`Program::method`]):
/// the stabilizer when every operation is Clifford and the backend runs it, the state
/// vector otherwise, or the method `limits` pins.
///
/// Errors, all of [`Stage::Prepare`]: [`FailureKind::ResourceLimit`] for a source larger
/// than `max_source_bytes`, more operations than `max_gates`, or more qubits than the
/// chosen method's limit ([`Limits::max_qubits_for`]: a register past every method's limit
/// at its declaration; a non-Clifford gate in a circuit wider than the state vector's
/// limit at that gate's statement); [`FailureKind::Validation`] for everything else,
/// including a non-Clifford gate on a backend pinned to the stabilizer (at its statement),
/// a missing parameter (at the `input` declaration's position), an unknown one, a
/// non-finite one, or any parameter given to an OpenQASM 2 source (these three without a
/// position).
pub fn prepare(
    source: &str,
    format: Format,
    parameters: &Parameters,
    shots: u64,
    limits: &Limits,
) -> Result<Program> {
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
    if let Some((name, value)) = parameters.iter().find(|(_, value)| !value.is_finite()) {
        return Err(EngineError::new(
            FailureKind::Validation,
            Stage::Prepare,
            format!("parameter '{name}' is {value}; parameters must be finite numbers"),
        ));
    }
    let mut program = match format {
        Format::OpenQasm2 => {
            if let Some(name) = parameters.keys().next() {
                return Err(EngineError::new(
                    FailureKind::Validation,
                    Stage::Prepare,
                    format!(
                        "parameter '{name}' given to an OpenQASM 2 program, which has no \
                         inputs (parameters need OpenQASM 3 'input' declarations)"
                    ),
                ));
            }
            qasm::parse(source, limits)?
        }
        Format::OpenQasm3 => qasm3::parse(source, parameters, limits)?,
    };
    program.method = method::choose(&program, limits)?;
    Ok(program)
}

/// Runs `program` for `shots` shots with its method ([`Program::method`]: the state-vector
/// simulator or the stabilizer tableau) and returns the counts.
///
/// Blocking and CPU-bound (multi-threaded on rayon's pool for large states): call it from a
/// blocking thread. `seed` makes the result reproducible (on any thread count); `None`
/// seeds from the operating system. `cancel` and `limits.time_limit` are polled at least
/// every few milliseconds of work, so either stops the run promptly with
/// [`FailureKind::Cancelled`] or [`FailureKind::Timeout`] ([`Stage::Execute`]). The
/// program's width is checked again against `limits` for its method
/// ([`FailureKind::ResourceLimit`]).
pub fn simulate(
    program: &Program,
    shots: u64,
    seed: Option<u64>,
    limits: &Limits,
    cancel: &CancellationToken,
) -> Result<Outcome> {
    match program.method() {
        Method::StateVector => sim::simulate(program, shots, seed, limits, cancel),
        Method::Stabilizer => stabilizer::simulate(program, shots, seed, limits, cancel),
    }
}

/// The final state vector of a program without measurements, resets or conditions, whatever
/// its method: amplitude `i` is basis state `i`, qubit 0 least significant (Qiskit's
/// order). Errors: [`FailureKind::ResourceLimit`] past `limits.max_qubits`.
pub fn statevector(
    program: &Program,
    limits: &Limits,
    cancel: &CancellationToken,
) -> Result<StateAmplitudes> {
    sim::statevector(program, limits, cancel).map(StateAmplitudes)
}

/// A final state ([`statevector`]): its amplitudes as a slice (through `Deref`), in the
/// simulator's own storage, so that returning it copies nothing (the memory the limits
/// admitted is all it holds).
pub struct StateAmplitudes(sim::state::StateVector<f64>);

impl std::ops::Deref for StateAmplitudes {
    type Target = [Complex64];

    fn deref(&self) -> &[Complex64] {
        self.0.amplitudes()
    }
}

impl std::fmt::Debug for StateAmplitudes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// What the state-vector simulator's plan does with a program, for benchmarks: how many
/// passes over the state its unitary parts take after fusion and cache blocking.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PlanProfile {
    /// Gate applications of the program.
    pub gates: u64,
    /// Passes over the state its kernels make: one per fused kernel, one per blocked run.
    pub passes: usize,
    /// Runs of kernels applied block by block (cache blocking), each one pass.
    pub blocked_runs: usize,
    /// Kernels inside those runs.
    pub blocked_kernels: usize,
}

/// The state-vector plan's [`PlanProfile`] for `program` (whatever its method), and the
/// seconds one plain pass over a state of its width takes on this machine with the current
/// thread pool: a run's simulate time over `passes ×` that is its distance from the memory
/// bound. Allocates a state of the program's width: call it for benchmarks only. Errors:
/// [`FailureKind::ResourceLimit`] when the state cannot be allocated.
pub fn state_vector_profile(program: &Program) -> Result<(PlanProfile, f64)> {
    Ok((
        sim::profile(program)?,
        sim::plain_pass_seconds(program.num_qubits())?,
    ))
}
