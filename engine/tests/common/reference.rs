//! The Aer reference suites (`tests/data/qiskit_reference*.json`, written by
//! `scripts/qiskit_reference*.py`): their shape, and the engine's counts for one of their
//! circuits at the shots and seed every reference test uses; the comparison by total
//! variation distance every reference test makes, and the check that it has power.

use std::collections::BTreeMap;

use qrun_engine::{CancellationToken, Format, Limits, Method, Parameters, prepare, simulate};

use super::stats::{reversed_keys, tolerance, total_variation};

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

/// Reference sets with at most this many outcomes in a circuit's counts print both counts
/// when they differ.
const PRINTED_OUTCOMES: usize = 64;

/// A comparison of the engine's counts with a reference set's, circuit by circuit: a
/// circuit fails when the total variation distance exceeds the two samples' [`tolerance`].
pub struct Comparison<'a> {
    reference: &'a Reference,
    failures: Vec<String>,
}

impl<'a> Comparison<'a> {
    pub fn new(reference: &'a Reference) -> Self {
        Self {
            reference,
            failures: Vec::new(),
        }
    }

    /// Compares `counts` ([`SHOTS`] shots) with `circuit`'s reference counts; prints the
    /// distance and records a failure.
    pub fn check(&mut self, circuit: &Circuit, counts: &BTreeMap<String, u64>) {
        assert_eq!(counts.values().sum::<u64>(), SHOTS, "{}", circuit.name);
        let distance = total_variation(counts, &circuit.counts);
        let tolerance = tolerance(circuit.counts.len(), SHOTS, self.reference.shots);
        println!(
            "{:40} TVD {distance:.4} (tolerance {tolerance:.4})",
            circuit.name
        );
        if distance > tolerance {
            let mut failure = format!("{}: TVD {distance:.4} > {tolerance:.4}", circuit.name);
            if circuit.counts.len() <= PRINTED_OUTCOMES {
                failure += &format!("\n  engine {counts:?}\n  aer    {:?}", circuit.counts);
            }
            self.failures.push(failure);
        }
    }

    /// Panics listing every failed circuit, with the versions that made the reference.
    pub fn finish(self) {
        let reference = self.reference;
        let importer = reference
            .qiskit_qasm3_import
            .as_ref()
            .map(|version| format!(" / qiskit-qasm3-import {version}"))
            .unwrap_or_default();
        assert!(
            self.failures.is_empty(),
            "differs from Qiskit {} / Aer {}{importer}:\n{}",
            reference.qiskit,
            reference.qiskit_aer,
            self.failures.join("\n")
        );
    }
}

/// The comparison has power: for every circuit of `reference` whose distribution changes
/// visibly when its keys are read backwards (by three tolerances), the engine's counts
/// (`counts_of`) read backwards fail it; at least `at_least` circuits are such.
pub fn assert_detects_reversed_bit_order(
    reference: &Reference,
    at_least: usize,
    counts_of: impl Fn(&Circuit) -> BTreeMap<String, u64>,
) {
    let mut detectable = 0;
    for circuit in &reference.circuits {
        let tolerance = tolerance(circuit.counts.len(), SHOTS, reference.shots);
        if total_variation(&reversed_keys(&circuit.counts), &circuit.counts) < 3.0 * tolerance {
            continue;
        }
        detectable += 1;
        let distance = total_variation(&reversed_keys(&counts_of(circuit)), &circuit.counts);
        assert!(
            distance > tolerance,
            "{}: reversed keys pass (TVD {distance:.4} <= {tolerance:.4})",
            circuit.name
        );
    }
    assert!(
        detectable >= at_least,
        "only {detectable} circuits detect a reversal"
    );
}
