//! Physical qubits (`$0`, `$1`, …): the specification's hardware qubits, qubit `n` of one
//! device-wide register ("Physical Qubits" in the OpenQASM 3 specification's types
//! chapter), as `qiskit.qasm3.dumps` writes a transpiled circuit.
//!
//! The device is as wide as the highest index used plus one, and the backend's qubit limit
//! applies to that width: on a backend of 24 qubits, `$24` does not exist. The engine
//! simulates only the physical qubits the program names, in index order (qubits no
//! operation touches stay `|0⟩` and change no count, as Aer drops them), so a two-qubit
//! circuit on `$20` and `$23` is a two-qubit simulation. Count keys are classical bits, so
//! they are what Qiskit Aer writes for the same transpiled circuit.
//!
//! Declared qubits (`qubit[2] q;`) and physical ones in one program are refused at the
//! later of the two: the specification does not say which physical qubit a declared one
//! is (a compiler's layout decides that), and neither Qiskit's importer
//! (`qiskit-qasm3-import`: "Mixing modes not currently supported") nor Amazon Braket runs
//! such a program. The engine does not guess a layout.

use super::lexer::{Token, TokenKind};
use crate::error::{EngineError, Position, Result};

/// The physical qubits a program names, collected from its tokens before it is parsed.
#[derive(Debug, Default)]
pub(super) struct Physical {
    /// Every index named, ascending, once each: position `k` is simulated qubit `k`.
    indices: Vec<u32>,
    /// The first one written, for messages.
    first: Option<(u32, Position)>,
    /// The highest index and where it is first written: the limit applies there.
    highest: Option<(u32, Position)>,
}

impl Physical {
    /// The physical qubits of `tokens`.
    pub(super) fn of(tokens: &[Token]) -> Self {
        let mut physical = Self::default();
        for token in tokens {
            if let TokenKind::PhysicalQubit(index) = token.kind {
                physical.indices.push(index);
                physical.first.get_or_insert((index, token.pos));
                if physical.highest.is_none_or(|(highest, _)| index > highest) {
                    physical.highest = Some((index, token.pos));
                }
            }
        }
        physical.indices.sort_unstable();
        physical.indices.dedup();
        physical
    }

    /// Qubits to simulate: the distinct indices named.
    pub(super) fn count(&self) -> u32 {
        // At most one per token of a source bounded by `max_source_bytes`.
        self.indices.len() as u32
    }

    /// The device's width the program needs (the highest index plus one) and where that
    /// index is written; `None` for a program without physical qubits.
    pub(super) fn width(&self) -> Option<(u64, Position)> {
        self.highest.map(|(index, pos)| (u64::from(index) + 1, pos))
    }

    /// The simulated qubit of `name` (`$3`), if `name` is a physical qubit's.
    pub(super) fn qubit(&self, name: &str) -> Option<u32> {
        let index: u32 = name.strip_prefix('$')?.parse().ok()?;
        // Every `$n` the parser makes an operand of was collected by `of`.
        self.indices.binary_search(&index).ok().map(|k| k as u32)
    }

    /// Refuses a qubit declaration (`name` at `declared`) in a program that uses physical
    /// qubits, at whichever of the two comes later in the source (see the module doc).
    pub(super) fn refuse_declaration(&self, name: &str, declared: Position) -> Result<()> {
        let Some((index, first)) = self.first else {
            return Ok(());
        };
        let why = "OpenQASM 3 does not say which physical qubit a declared one is (a \
                   compiler's layout decides), so a program uses either physical qubits or \
                   declared ones";
        Err(if first < declared {
            EngineError::at(
                declared,
                format!(
                    "qubit '{name}' is declared in a program that uses physical qubits (${index} \
                     at {first}): {why}"
                ),
            )
        } else {
            EngineError::at(
                first,
                format!(
                    "physical qubit ${index} is used in a program that declares qubits ('{name}' \
                     at {declared}): {why}"
                ),
            )
        })
    }
}
