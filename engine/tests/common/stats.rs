//! Comparing sampled distributions: total variation distance and the tolerance that two
//! samples of one distribution stay within (derivation in `qiskit_reference.rs`).

use std::collections::{BTreeMap, BTreeSet};

/// Chance, per compared circuit, that two samples of one distribution exceed the tolerance.
pub const FAILURE_PROBABILITY: f64 = 1e-9;

/// Total variation distance between the empirical distributions of two samples.
pub fn total_variation(a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>) -> f64 {
    let (na, nb) = (
        a.values().sum::<u64>() as f64,
        b.values().sum::<u64>() as f64,
    );
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .map(|k| {
            let pa = a.get(k).copied().unwrap_or(0) as f64 / na;
            let pb = b.get(k).copied().unwrap_or(0) as f64 / nb;
            (pa - pb).abs()
        })
        .sum::<f64>()
        / 2.0
}

/// The distance two samples of `shots` and `reference_shots` shots of one distribution over
/// `outcomes` outcomes exceed with probability at most [`FAILURE_PROBABILITY`].
pub fn tolerance(outcomes: usize, shots: u64, reference_shots: u64) -> f64 {
    let spread = (1.0 / shots as f64 + 1.0 / reference_shots as f64).sqrt();
    spread * (0.5 * (outcomes as f64).sqrt() + ((1.0 / FAILURE_PROBABILITY).ln() / 2.0).sqrt())
}

/// The counts with every key read backwards (a wrong bit order).
pub fn reversed_keys(counts: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    counts
        .iter()
        .map(|(k, v)| (k.chars().rev().collect(), *v))
        .collect()
}
