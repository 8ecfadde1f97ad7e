//! The engine's counts for OpenQASM 3 programs against Qiskit Aer's, on the suite of
//! `scripts/qiskit_reference3.py` (data in `tests/data/qiskit_reference3.json`, with the
//! Qiskit versions that made it): programs written by `qiskit.qasm3.dumps` and one
//! hand-written program per construct, compared by total variation distance with the
//! tolerance derived in `qiskit_reference.rs`.

mod common;

use common::reference::{Reference, SHOTS, engine_counts, load};
use common::stats::{reversed_keys, tolerance, total_variation};
use qrun_engine::{Format, inputs};

fn reference() -> Reference {
    load(include_str!("data/qiskit_reference3.json"))
}

#[test]
fn engine_distributions_match_qiskit_aer() {
    let reference = reference();
    assert!(reference.circuits.len() >= 18);
    let mut failures = Vec::new();
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
        let counts = engine_counts(circuit, Format::OpenQasm3);
        assert_eq!(counts.values().sum::<u64>(), SHOTS, "{}", circuit.name);
        let distance = total_variation(&counts, &circuit.counts);
        let tolerance = tolerance(circuit.counts.len(), SHOTS, reference.shots);
        println!(
            "{:40} TVD {distance:.4} (tolerance {tolerance:.4})",
            circuit.name
        );
        if distance > tolerance {
            failures.push(format!(
                "{}: TVD {distance:.4} > {tolerance:.4}\n  engine {counts:?}\n  aer    {:?}",
                circuit.name, circuit.counts
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "differs from Qiskit {} / Aer {} / qiskit-qasm3-import {}:\n{}",
        reference.qiskit,
        reference.qiskit_aer,
        reference.qiskit_qasm3_import.as_deref().unwrap_or("?"),
        failures.join("\n")
    );
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
    let reference = reference();
    let mut detectable = 0;
    for circuit in &reference.circuits {
        let tolerance = tolerance(circuit.counts.len(), SHOTS, reference.shots);
        if total_variation(&reversed_keys(&circuit.counts), &circuit.counts) < 3.0 * tolerance {
            continue;
        }
        detectable += 1;
        let reversed = reversed_keys(&engine_counts(circuit, Format::OpenQasm3));
        let distance = total_variation(&reversed, &circuit.counts);
        assert!(
            distance > tolerance,
            "{}: reversed keys pass (TVD {distance:.4} <= {tolerance:.4})",
            circuit.name
        );
    }
    assert!(
        detectable >= 10,
        "only {detectable} circuits detect a reversal"
    );
}
