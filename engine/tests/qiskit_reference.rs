//! The engine's counts against Qiskit Aer's on the suite of `scripts/qiskit_reference.py`
//! (data in `tests/data/qiskit_reference.json`, with the Qiskit versions that made it).
//!
//! # Tolerance
//!
//! Both sides are samples: the engine's `N` shots and the reference's `M` shots of the same
//! distribution `p` over `k` outcomes. For one outcome, `E|p̂ᵢ − q̂ᵢ| ≤ sqrt(pᵢ(1−pᵢ)(1/N + 1/M))`,
//! so by Cauchy–Schwarz the expected total variation distance is at most
//! `½ sqrt(k (1/N + 1/M))`. The distance changes by at most `1/N` (or `1/M`) when one
//! shot changes, so McDiarmid's inequality bounds the chance of exceeding the mean by `t`
//! with `exp(−2t² / (1/N + 1/M))`. With the failure probability `δ = 1e-9` per circuit:
//!
//! `tolerance = sqrt(1/N + 1/M) · (½ sqrt(k) + sqrt(ln(1/δ) / 2))`
//!
//! For N = 20 000, M = 1 000 000 and k = 16 that is 0.037; a wrong bit order moves the
//! distance far beyond it (see the second test).

mod common;

use common::reference::{
    Comparison, Reference, assert_detects_reversed_bit_order, engine_counts, load,
};

use qrun_engine::Format;

fn reference() -> Reference {
    load(include_str!("data/qiskit_reference.json"))
}

#[test]
fn engine_distributions_match_qiskit_aer() {
    let reference = reference();
    assert!(reference.circuits.len() >= 12);
    let mut comparison = Comparison::new(&reference);
    for circuit in &reference.circuits {
        comparison.check(circuit, &engine_counts(circuit, Format::OpenQasm2));
    }
    comparison.finish();
}

#[test]
fn the_comparison_detects_a_reversed_bit_order() {
    // Only circuits whose distribution changes visibly under reversal can tell.
    assert_detects_reversed_bit_order(&reference(), 10, |circuit| {
        engine_counts(circuit, Format::OpenQasm2)
    });
}
