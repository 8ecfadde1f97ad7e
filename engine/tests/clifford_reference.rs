//! The stabilizer method against Qiskit Aer's `stabilizer` method on the suite of
//! `scripts/clifford_reference.py` (data in `tests/data/clifford_reference.json`): random
//! Clifford circuits of 50 to 1,000 qubits with mid-circuit measurements, resets and
//! conditions, compared by total variation distance within the two samples' noise (the
//! tolerance of `qiskit_reference.rs`), and deterministic circuits key for key. Also the
//! Clifford circuits of the state-vector reference sets, run with the method the engine
//! chooses for them (the stabilizer).

mod common;

use common::reference::{
    Comparison, Reference, SHOTS, assert_detects_reversed_bit_order, engine_counts_on, load,
};
use common::stats::{tolerance, total_variation};

use qrun_engine::{Format, Method};

fn reference() -> Reference {
    load(include_str!("data/clifford_reference.json"))
}

#[test]
fn stabilizer_distributions_match_aer_stabilizer() {
    let reference = reference();
    assert!(reference.circuits.len() >= 8);
    let mut comparison = Comparison::new(&reference);
    let mut deterministic = 0;
    for circuit in &reference.circuits {
        let (counts, method) = engine_counts_on(circuit, Format::OpenQasm2, None);
        assert_eq!(method, Method::Stabilizer, "{}", circuit.name);
        assert_eq!(counts.values().sum::<u64>(), SHOTS, "{}", circuit.name);
        if circuit.counts.len() == 1 {
            // One key: exactly that key, every shot.
            deterministic += 1;
            assert_eq!(
                counts.keys().collect::<Vec<_>>(),
                circuit.counts.keys().collect::<Vec<_>>(),
                "{}",
                circuit.name
            );
            continue;
        }
        comparison.check(circuit, &counts);
    }
    assert!(deterministic >= 2);
    comparison.finish();
}

/// The comparison has power: the engine's counts with a wrong bit order fail it.
#[test]
fn the_clifford_comparison_detects_a_reversed_bit_order() {
    assert_detects_reversed_bit_order(&reference(), 3, |circuit| {
        engine_counts_on(circuit, Format::OpenQasm2, None).0
    });
}

/// The state-vector reference sets' Clifford circuits agree with Aer when the engine picks
/// the stabilizer for them.
#[test]
fn clifford_circuits_of_the_state_vector_sets_agree_on_the_stabilizer() {
    let sets = [
        (
            load(include_str!("data/qiskit_reference.json")),
            Format::OpenQasm2,
        ),
        (
            load(include_str!("data/qiskit_reference3.json")),
            Format::OpenQasm3,
        ),
    ];
    let mut on_stabilizer = 0;
    for (reference, format) in &sets {
        for circuit in &reference.circuits {
            let (counts, method) = engine_counts_on(circuit, *format, None);
            if method != Method::Stabilizer {
                continue;
            }
            on_stabilizer += 1;
            let distance = total_variation(&counts, &circuit.counts);
            let tolerance = tolerance(circuit.counts.len(), SHOTS, reference.shots);
            assert!(
                distance <= tolerance,
                "{}: TVD {distance:.4} > {tolerance:.4}",
                circuit.name
            );
        }
    }
    // qiskit_ghz_6 at least: most of those circuits have rotations.
    assert!(on_stabilizer >= 1, "no Clifford circuit");
}
