//! The engine's counts for OpenQASM 3 programs against Qiskit Aer's, on the suite of
//! `scripts/qiskit_reference3.py` (data in `tests/data/qiskit_reference3.json`, with the
//! Qiskit versions that made it): programs written by `qiskit.qasm3.dumps` and one
//! hand-written program per construct, compared by total variation distance with the
//! tolerance derived in `qiskit_reference.rs`.

mod common;

use common::reference::{
    Comparison, Reference, assert_detects_reversed_bit_order, engine_counts, load,
};
use qrun_engine::{Format, inputs};

fn reference() -> Reference {
    load(include_str!("data/qiskit_reference3.json"))
}

#[test]
fn engine_distributions_match_qiskit_aer() {
    let reference = reference();
    assert!(reference.circuits.len() >= 18);
    let mut comparison = Comparison::new(&reference);
    for circuit in &reference.circuits {
        assert_eq!(
            Format::detect(&circuit.source),
            Some(Format::OpenQasm3),
            "{}",
            circuit.name
        );
        let declared: Vec<String> = inputs(&circuit.source, Format::OpenQasm3)
            .unwrap()
            .into_iter()
            .map(|input| input.name)
            .collect();
        let given: Vec<String> = circuit.parameters.keys().cloned().collect();
        assert_eq!(declared.len(), given.len(), "{}", circuit.name);
        comparison.check(circuit, &engine_counts(circuit, Format::OpenQasm3));
    }
    comparison.finish();
}

#[test]
fn count_keys_have_the_reference_register_layout() {
    // Every key the engine writes has the groups (registers, last declared leftmost) and
    // widths of Qiskit's keys for the same program.
    let layout = |key: &str| key.split(' ').map(str::len).collect::<Vec<_>>();
    for circuit in reference().circuits {
        let expected = layout(circuit.counts.keys().next().unwrap());
        for key in engine_counts(&circuit, Format::OpenQasm3).keys() {
            assert_eq!(layout(key), expected, "{}: key {key:?}", circuit.name);
        }
    }
}

#[test]
fn the_comparison_detects_a_reversed_bit_order() {
    assert_detects_reversed_bit_order(&reference(), 10, |circuit| {
        engine_counts(circuit, Format::OpenQasm3)
    });
}
