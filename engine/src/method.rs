//! Simulation methods and the choice between them (docs/DESIGN.md §5).
//!
//! A program runs on one of two simulators, each the only path for its method: the state
//! vector (`sim`, any circuit, memory `16 · 2^n` bytes) and the stabilizer tableau
//! (`stabilizer`, Clifford circuits only, memory about `n²/2` bytes). [`choose`] picks one
//! per program once it is lowered: the stabilizer when every operation is Clifford
//! ([`crate::ir::Op::is_clifford`]), the state vector otherwise — unless the backend pins a
//! method ([`Limits::method`]) — and refuses a program no method of the backend can run,
//! naming the first non-Clifford gate's line when the circuit is too wide for the state
//! vector.

use crate::error::{EngineError, FailureKind, Result, Stage};
use crate::ir::{OpKind, Program};
use crate::limits::Limits;

/// How a program is simulated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Method {
    /// The state vector: `2^n` amplitudes, any gate (`"statevector"`, as Qiskit Aer names
    /// it).
    #[serde(rename = "statevector")]
    StateVector,
    /// The Aaronson–Gottesman stabilizer tableau: Clifford circuits of thousands of qubits,
    /// exact (`"stabilizer"`).
    #[serde(rename = "stabilizer")]
    Stabilizer,
}

impl Method {
    /// Every method, in the order [`crate::Limits::methods`] lists them.
    pub const ALL: [Method; 2] = [Method::StateVector, Method::Stabilizer];

    /// The method's name in results, logs and configuration: `"statevector"` or
    /// `"stabilizer"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StateVector => "statevector",
            Self::Stabilizer => "stabilizer",
        }
    }

    /// The method named `name` (as [`Method::as_str`] writes it); `None` for any other.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The gates the stabilizer method runs, for messages.
const CLIFFORD_GATES: &str = "h, s, sdg, x, y, z, sx, sxdg, cx, cy, cz, swap";

/// The method `program` runs with on a backend of `limits` (see the module doc).
///
/// Errors, of [`Stage::Prepare`]: with a pinned stabilizer, a non-Clifford gate is
/// [`FailureKind::Validation`] at its statement; a circuit wider than the chosen method's
/// limit is [`FailureKind::ResourceLimit`], at the first non-Clifford gate's statement when
/// that gate is what keeps it off the stabilizer.
pub(crate) fn choose(program: &Program, limits: &Limits) -> Result<Method> {
    let num_qubits = u64::from(program.width());
    let fits = |method| num_qubits <= u64::from(limits.max_qubits_for(method));
    let stabilizer_allowed = limits.methods().contains(&Method::Stabilizer);
    let non_clifford = program.first_non_clifford().map(|(op, at)| {
        let name = match &op.kind {
            OpKind::Gate(gate) => gate.kind.name(),
            _ => "operation",
        };
        (name, at)
    });
    match (limits.method, non_clifford) {
        (Some(Method::Stabilizer), Some((name, at))) => Err(EngineError::at(
            at,
            format!(
                "'{name}' is not a Clifford gate; this backend runs only Clifford circuits \
                 (the stabilizer method: {CLIFFORD_GATES}, measure, reset, barrier, \
                 conditions)"
            ),
        )),
        (Some(method), _) => {
            limits.admit(method, num_qubits, Stage::Prepare)?;
            Ok(method)
        }
        (None, None) if stabilizer_allowed && fits(Method::Stabilizer) => Ok(Method::Stabilizer),
        (None, Some((name, at))) if !fits(Method::StateVector) => {
            let state_vector = limits.max_qubits_for(Method::StateVector);
            let mut message = format!(
                "'{name}' is not a Clifford gate, so this {num_qubits}-qubit circuit needs the \
                 state vector, which this backend runs up to {state_vector} qubits"
            );
            if stabilizer_allowed {
                message.push_str(&format!(
                    "; a Clifford circuit ({CLIFFORD_GATES}, measure, reset, barrier, \
                     conditions) runs up to {} qubits",
                    limits.max_qubits_for(Method::Stabilizer)
                ));
            }
            Err(EngineError {
                kind: FailureKind::ResourceLimit,
                ..EngineError::at(at, message)
            })
        }
        (None, _) => {
            limits.admit(Method::StateVector, num_qubits, Stage::Prepare)?;
            Ok(Method::StateVector)
        }
    }
}
