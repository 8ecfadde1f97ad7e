//! The engine's intermediate representation: a flat list of operations on global qubit and
//! classical-bit indices, with gate parameters already evaluated to `f64`.
//!
//! The front ends (`qasm` for OpenQASM 2.0, `qasm3` for OpenQASM 3) produce it and the
//! simulator (`sim`) consumes it; neither side knows the other. Qubit `i` is bit `i` of a basis-state index (Qiskit's little-endian convention);
//! registers take consecutive indices in declaration order.

use crate::error::Position;
use crate::method::Method;

/// A named register: bits `offset .. offset + size` of its kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Register {
    /// The register's name in the source.
    pub name: String,
    /// Global index of its bit 0.
    pub offset: u32,
    /// Number of bits.
    pub size: u32,
}

/// A parsed, expanded and checked circuit, with the simulation method that runs it.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    pub(crate) qregs: Vec<Register>,
    pub(crate) cregs: Vec<Register>,
    pub(crate) ops: Vec<Op>,
    /// Where the first operation that is not Clifford ([`Op::is_clifford`]) was written:
    /// the statement that emitted it (a gate call, for a gate of a definition's body).
    pub(crate) non_clifford_at: Option<Position>,
    /// The method chosen for it (`crate::method::choose`).
    pub(crate) method: Method,
    /// The device width a program on physical qubits (`$n`) needs, the highest index plus
    /// one, when it is more than the qubits simulated ([`Program::width`]).
    pub(crate) device_width: Option<u32>,
}

impl Program {
    /// A program of the front ends, before a method is chosen.
    pub(crate) fn lowered(
        qregs: Vec<Register>,
        cregs: Vec<Register>,
        ops: Vec<Op>,
        non_clifford_at: Option<Position>,
    ) -> Self {
        Self {
            qregs,
            cregs,
            ops,
            non_clifford_at,
            method: Method::StateVector,
            device_width: None,
        }
    }

    /// The program on physical qubits of a device `width` qubits wide, of which it
    /// simulates only those it names (`qasm3::physical`).
    pub(crate) fn on_device_of(self, width: u32) -> Self {
        Self {
            device_width: Some(width),
            ..self
        }
    }

    /// The qubits a backend must have to run the program, which its limits apply to: for a
    /// program on physical qubits (`$n`), the highest index plus one; else
    /// [`Program::num_qubits`].
    pub fn width(&self) -> u32 {
        self.device_width.unwrap_or_else(|| self.num_qubits())
    }

    /// The simulation method [`crate::simulate`] runs this program with, chosen by
    /// [`crate::prepare`] (docs/DESIGN.md §5): [`Method::Stabilizer`] when every operation is
    /// Clifford and the backend allows it, [`Method::StateVector`] otherwise, unless the
    /// backend pins one ([`crate::Limits::method`]).
    pub fn method(&self) -> Method {
        self.method
    }

    /// Whether every operation is Clifford ([`Op::is_clifford`]): what the stabilizer method
    /// runs.
    pub fn is_clifford(&self) -> bool {
        self.non_clifford_at.is_none()
    }

    /// The first operation that is not Clifford, with where its statement is in the source.
    pub fn first_non_clifford(&self) -> Option<(&Op, Position)> {
        let at = self.non_clifford_at?;
        self.ops
            .iter()
            .find(|op| !op.is_clifford())
            .map(|op| (op, at))
    }

    /// Total qubits over all quantum registers: the qubits simulated (for a program on
    /// physical qubits, those it names, in index order).
    pub fn num_qubits(&self) -> u32 {
        self.qregs.iter().map(|r| r.size).sum()
    }

    /// Total classical bits over all classical registers.
    pub fn num_clbits(&self) -> u32 {
        self.cregs.iter().map(|r| r.size).sum()
    }

    /// Number of gate applications (after expanding definitions and broadcasts).
    pub fn gate_count(&self) -> u64 {
        self.ops
            .iter()
            .filter(|op| matches!(op.kind, OpKind::Gate(_)))
            .count() as u64
    }

    /// Quantum registers in declaration order.
    pub fn qregs(&self) -> &[Register] {
        &self.qregs
    }

    /// Classical registers in declaration order.
    pub fn cregs(&self) -> &[Register] {
        &self.cregs
    }

    /// The operations in program order.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }
}

/// One operation, optionally guarded by a classical condition.
#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    /// What the operation does.
    pub kind: OpKind,
    /// Run only when the condition holds (`if (creg == value)`, an OpenQASM 3 `if` block).
    pub condition: Option<Condition>,
}

impl Op {
    /// Whether the stabilizer method runs the operation: a Clifford gate
    /// ([`GateKind::is_clifford`]), a measurement, a reset or a barrier, with or without a
    /// condition.
    pub fn is_clifford(&self) -> bool {
        match &self.kind {
            OpKind::Gate(gate) => gate.kind.is_clifford(),
            OpKind::Measure { .. } | OpKind::Reset { .. } | OpKind::Barrier(_) => true,
        }
    }
}

/// What an operation does.
#[derive(Clone, Debug, PartialEq)]
pub enum OpKind {
    /// A unitary gate.
    Gate(Gate),
    /// Measure `qubit` in the computational basis into `clbit`.
    Measure {
        /// Measured qubit.
        qubit: u32,
        /// Classical bit receiving the outcome.
        clbit: u32,
    },
    /// Reset `qubit` to |0⟩.
    Reset {
        /// The qubit.
        qubit: u32,
    },
    /// A barrier: no effect on the state.
    Barrier(Vec<u32>),
}

/// A classical condition: it holds when every one of its tests holds (an empty condition
/// always holds). OpenQASM 2's `if (creg == n)` is one test; OpenQASM 3's `if`/`else`, nested
/// blocks, `!=`, `!`, `&&` and comparisons become conjunctions of tests (see `qasm3::cond`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Condition {
    /// The tests, all of which must hold.
    pub tests: Vec<BitsTest>,
}

impl Condition {
    /// The condition of one test.
    pub fn single(test: BitsTest) -> Self {
        Self { tests: vec![test] }
    }

    /// Evaluates the condition against classical bits (indexed globally).
    pub fn holds(&self, clbits: &[bool]) -> bool {
        self.tests.iter().all(|test| test.holds(clbits))
    }
}

/// `bits == value` (or `bits != value` when `equal` is false): the classical bits
/// `offset .. offset + size`, read as an unsigned integer with bit `offset` least
/// significant, against `value`'s low `size` bits. `value` is little-endian 64-bit words,
/// so a register of any width compares exactly; bits of `value` beyond the register are
/// ignored, as Qiskit Aer 0.18 does (`if (c == 5)` on a 2-bit `c` holds when `c` is 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BitsTest {
    /// Global index of the first (least significant) bit.
    pub offset: u32,
    /// Number of bits compared.
    pub size: u32,
    /// The compared value, little-endian words.
    pub value: Vec<u64>,
    /// `true` for `==`, `false` for `!=`.
    pub equal: bool,
}

impl BitsTest {
    /// `bits offset..offset+size == value` for a value that fits in 64 bits.
    pub fn equals(offset: u32, size: u32, value: u64) -> Self {
        Self {
            offset,
            size,
            value: vec![value],
            equal: true,
        }
    }

    /// Bit `i` of the compared value (0 beyond its words).
    pub fn value_bit(&self, i: u32) -> bool {
        let word = (i / 64) as usize;
        word < self.value.len() && (self.value[word] >> (i % 64)) & 1 == 1
    }

    /// Evaluates the test against classical bits (indexed globally).
    pub fn holds(&self, clbits: &[bool]) -> bool {
        let same = (0..self.size).all(|i| clbits[(self.offset + i) as usize] == self.value_bit(i));
        same == self.equal
    }
}

/// A gate applied to qubits; `qubits` are in argument order (controls first, target last).
#[derive(Clone, Debug, PartialEq)]
pub struct Gate {
    /// Which gate, with its evaluated parameters.
    pub kind: GateKind,
    /// Global qubit indices, one per gate argument.
    pub qubits: Vec<u32>,
}

/// The gates the IR knows natively: the builtins `U` and `CX`, the gates of `qelib1.inc`
/// (and OpenQASM 3's `stdgates.inc`) that have a compact exact form, and the
/// multi-controlled forms [`GateKind::Mcu`] and [`GateKind::Mcphase`] that OpenQASM 3's
/// `ctrl @` modifier needs for any number of controls. Aliases are folded (`u3`, `u` and `U` are
/// [`GateKind::U`]; `u1` and `p` are [`GateKind::Phase`]; `cu1`, `cp` are
/// [`GateKind::CPhase`]; `id` and `u0` are [`GateKind::Id`]). Matrices follow Qiskit; they
/// may differ from the `qelib1.inc` definitions by a global phase only.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GateKind {
    Id,
    U {
        theta: f64,
        phi: f64,
        lambda: f64,
    },
    Phase(f64),
    X,
    Y,
    Z,
    H,
    S,
    Sdg,
    T,
    Tdg,
    Sx,
    Sxdg,
    Rx(f64),
    Ry(f64),
    Rz(f64),
    Cx,
    Cy,
    Cz,
    Ch,
    Csx,
    Crx(f64),
    Cry(f64),
    Crz(f64),
    CPhase(f64),
    /// Controlled `e^{iγ} U(θ, φ, λ)` (qelib1's `cu`; `cu3` is `γ = 0`).
    Cu {
        theta: f64,
        phi: f64,
        lambda: f64,
        gamma: f64,
    },
    Swap,
    Rxx(f64),
    Rzz(f64),
    Ccx,
    Cswap,
    C3x,
    C3sqrtx,
    C4x,
    /// `e^{iγ} U(θ, φ, λ)` on the last qubit, applied where the first `controls` qubits
    /// are all |1⟩.
    Mcu {
        controls: u32,
        theta: f64,
        phi: f64,
        lambda: f64,
        gamma: f64,
    },
    /// Multiplies by `e^{iλ}` the amplitudes where all `controls + 1` qubits are |1⟩ (a
    /// phase gate with `controls` controls; symmetric in its qubits).
    Mcphase {
        controls: u32,
        lambda: f64,
    },
}

impl GateKind {
    /// Whether the gate is one of the Clifford gates the stabilizer method runs, by name:
    /// `id`, `x`, `y`, `z`, `h`, `s`, `sdg`, `sx`, `sxdg`, `cx`, `cy`, `cz`, `swap` (Qiskit
    /// Aer's `stabilizer` method's set). A parametrised gate is not, whatever its angle.
    pub fn is_clifford(&self) -> bool {
        use GateKind::*;
        matches!(
            self,
            Id | X | Y | Z | H | S | Sdg | Sx | Sxdg | Cx | Cy | Cz | Swap
        )
    }

    /// The gate's name as Qiskit writes it (`u` for `U`, `p` for a phase, `cp`, `mcx`-style
    /// names for the wide forms: `mcu`, `mcphase`).
    pub fn name(&self) -> &'static str {
        use GateKind::*;
        match self {
            Id => "id",
            U { .. } => "u",
            Phase(_) => "p",
            X => "x",
            Y => "y",
            Z => "z",
            H => "h",
            S => "s",
            Sdg => "sdg",
            T => "t",
            Tdg => "tdg",
            Sx => "sx",
            Sxdg => "sxdg",
            Rx(_) => "rx",
            Ry(_) => "ry",
            Rz(_) => "rz",
            Cx => "cx",
            Cy => "cy",
            Cz => "cz",
            Ch => "ch",
            Csx => "csx",
            Crx(_) => "crx",
            Cry(_) => "cry",
            Crz(_) => "crz",
            CPhase(_) => "cp",
            Cu { .. } => "cu",
            Swap => "swap",
            Rxx(_) => "rxx",
            Rzz(_) => "rzz",
            Ccx => "ccx",
            Cswap => "cswap",
            C3x => "c3x",
            C3sqrtx => "c3sqrtx",
            C4x => "c4x",
            Mcu { .. } => "mcu",
            Mcphase { .. } => "mcphase",
        }
    }

    /// Number of qubits the gate acts on.
    pub fn num_qubits(&self) -> usize {
        use GateKind::*;
        match self {
            Id
            | U { .. }
            | Phase(_)
            | X
            | Y
            | Z
            | H
            | S
            | Sdg
            | T
            | Tdg
            | Sx
            | Sxdg
            | Rx(_)
            | Ry(_)
            | Rz(_) => 1,
            Cx
            | Cy
            | Cz
            | Ch
            | Csx
            | Crx(_)
            | Cry(_)
            | Crz(_)
            | CPhase(_)
            | Cu { .. }
            | Swap
            | Rxx(_)
            | Rzz(_) => 2,
            Ccx | Cswap => 3,
            C3x | C3sqrtx => 4,
            C4x => 5,
            Mcu { controls, .. } | Mcphase { controls, .. } => *controls as usize + 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_compare_the_register_bits_least_significant_first() {
        let condition = |value| Condition::single(BitsTest::equals(1, 2, value));
        // Register bits 1..3 of [x, 1, 0, x]: the register reads 0b01 = 1.
        let clbits = [true, true, false, true];
        assert!(condition(1).holds(&clbits));
        assert!(!condition(2).holds(&clbits));
        assert!(
            condition(5).holds(&clbits),
            "high bits are ignored, as in Aer"
        );
    }

    #[test]
    fn tests_compare_wide_values_and_negate() {
        // 70 bits, value 2^65 + 1: words [1 | 1 << 1... ] little-endian.
        let mut clbits = vec![false; 70];
        clbits[0] = true;
        clbits[65] = true;
        let test = BitsTest {
            offset: 0,
            size: 70,
            value: vec![1, 2],
            equal: true,
        };
        assert!(test.holds(&clbits));
        clbits[64] = true;
        assert!(!test.holds(&clbits));
        let not_equal = BitsTest {
            equal: false,
            ..test
        };
        assert!(not_equal.holds(&clbits));
        let both = Condition {
            tests: vec![not_equal, BitsTest::equals(64, 1, 1)],
        };
        assert!(both.holds(&clbits));
        assert!(Condition::default().holds(&clbits));
    }
}
