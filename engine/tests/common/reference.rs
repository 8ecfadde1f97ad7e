//! The Aer reference suites (`tests/data/qiskit_reference*.json`, written by
//! `scripts/qiskit_reference*.py`): their shape, and the engine's counts for one of their
//! circuits at the shots and seed every reference test uses.

use std::collections::BTreeMap;

use qrun_engine::{CancellationToken, Format, Limits, Method, Parameters, prepare, simulate};

/// Shots of the engine's side of every comparison.
pub const SHOTS: u64 = 20_000;
/// Seed of the engine's side of every comparison.
pub const SEED: u64 = 2026;

/// A reference file: the versions that made it, Aer's shots, and its circuits.
#[derive(serde::Deserialize)]
pub struct Reference {
    pub qiskit: String,
    pub qiskit_aer: String,
    /// The OpenQASM 3 importer's version (version 3 suites only).
    #[serde(default)]
    pub qiskit_qasm3_import: Option<String>,
    pub shots: u64,
    pub circuits: Vec<Circuit>,
}

/// One circuit: its source, the parameters it runs with (none for OpenQASM 2), Aer's counts.
#[derive(serde::Deserialize)]
pub struct Circuit {
    pub name: String,
    pub source: String,
    #[serde(default)]
    pub parameters: Parameters,
    pub counts: BTreeMap<String, u64>,
}

/// Parses a reference file's JSON.
pub fn load(json: &str) -> Reference {
    serde_json::from_str(json).expect("a reference suite")
}

/// The engine's counts for `circuit` read as `format`: [`SHOTS`] shots, seed [`SEED`], on
/// `method` (`None`: the method the engine chooses), with the method that ran.
pub fn engine_counts_on(
    circuit: &Circuit,
    format: Format,
    method: Option<Method>,
) -> (BTreeMap<String, u64>, Method) {
    let limits = Limits {
        method,
        ..Limits::default()
    };
    let program = prepare(&circuit.source, format, &circuit.parameters, SHOTS, &limits)
        .unwrap_or_else(|e| panic!("{}: {e:?}", circuit.name));
    let counts = simulate(
        &program,
        SHOTS,
        Some(SEED),
        &limits,
        &CancellationToken::new(),
    )
    .unwrap_or_else(|e| panic!("{}: {e:?}", circuit.name))
    .counts;
    (counts, program.method())
}

/// The engine's counts for `circuit` read as `format` on the state vector (the reference
/// sets of `scripts/qiskit_reference*.py` are the state vector's): [`SHOTS`] shots, seed
/// [`SEED`].
pub fn engine_counts(circuit: &Circuit, format: Format) -> BTreeMap<String, u64> {
    engine_counts_on(circuit, format, Some(Method::StateVector)).0
}
