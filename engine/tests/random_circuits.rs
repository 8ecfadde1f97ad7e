//! Random circuits against a dense-matrix reference: the reference applies each gate's known
//! matrix to the state by brute force, independently of the engine's kernels and fusion.

mod common;

use common::{C, KNOWN_GATES, Matrix, call, final_state, relative_phase};
use proptest::prelude::*;

/// One gate application: index into `KNOWN_GATES`, parameters, qubits.
#[derive(Clone, Debug)]
struct Application {
    gate: usize,
    params: Vec<f64>,
    qubits: Vec<usize>,
}

fn application(num_qubits: usize) -> impl Strategy<Value = Application> {
    let usable: Vec<usize> = (0..KNOWN_GATES.len())
        .filter(|&g| KNOWN_GATES[g].num_qubits <= num_qubits)
        .collect();
    prop::sample::select(usable).prop_flat_map(move |gate| {
        let spec = &KNOWN_GATES[gate];
        (
            prop::collection::vec(-7.0..7.0f64, spec.num_params),
            Just((0..num_qubits).collect::<Vec<_>>()).prop_shuffle(),
        )
            .prop_map(move |(params, order)| Application {
                gate,
                params,
                qubits: order[..spec.num_qubits].to_vec(),
            })
    })
}

fn circuit(
    max_qubits: usize,
    max_gates: usize,
) -> impl Strategy<Value = (usize, Vec<Application>)> {
    (1..=max_qubits)
        .prop_flat_map(move |n| (Just(n), prop::collection::vec(application(n), 0..max_gates)))
}

fn qasm(applications: &[Application]) -> String {
    applications
        .iter()
        .map(|a| call(KNOWN_GATES[a.gate].name, &a.params, &a.qubits) + "\n")
        .collect()
}

/// Applies `matrix` (on `qubits`, argument `i` = bit `i` of the matrix index) to `state`.
fn apply_dense(state: &[C], matrix: &Matrix, qubits: &[usize]) -> Vec<C> {
    let local = |index: usize| {
        qubits
            .iter()
            .enumerate()
            .fold(0, |acc, (i, &q)| acc | (index >> q & 1) << i)
    };
    let mask: usize = qubits.iter().map(|q| 1 << q).sum();
    let mut out = vec![C::new(0.0, 0.0); state.len()];
    for (row, amplitude) in out.iter_mut().enumerate() {
        let outside = row & !mask;
        for (column, m) in matrix[local(row)].iter().enumerate() {
            let source = qubits
                .iter()
                .enumerate()
                .fold(outside, |acc, (i, &q)| acc | (column >> i & 1) << q);
            *amplitude += m * state[source];
        }
    }
    out
}

fn reference(num_qubits: usize, applications: &[Application]) -> Vec<C> {
    let mut state = vec![C::new(0.0, 0.0); 1 << num_qubits];
    state[0] = C::new(1.0, 0.0);
    for a in applications {
        state = apply_dense(&state, &(KNOWN_GATES[a.gate].matrix)(&a.params), &a.qubits);
    }
    state
}

fn check(num_qubits: usize, applications: &[Application]) -> Result<(), TestCaseError> {
    let body = qasm(applications);
    let actual = final_state("include \"qelib1.inc\";", num_qubits, &body);
    let expected = reference(num_qubits, applications);
    let norm: f64 = actual.iter().map(|a| a.norm_sqr()).sum();
    prop_assert!((norm - 1.0).abs() < 1e-9, "norm {norm}");
    // rccx/rc3x run their qelib1 definitions, which may differ from Qiskit's matrix by a
    // global phase; every other gate is exact.
    let phase = relative_phase(&actual, &expected);
    for (i, (a, e)) in actual.iter().zip(&expected).enumerate() {
        prop_assert!(
            (a - phase * e).norm() < 1e-9,
            "amplitude {i}: {a} vs {}\n{body}",
            phase * e
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_circuits_match_the_dense_reference((n, applications) in circuit(8, 40)) {
        check(n, &applications)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4))]

    /// 14 qubits: the size from which the simulator fuses gates.
    #[test]
    fn fused_random_circuits_match_the_dense_reference(
        applications in prop::collection::vec(application(14), 20..60)
    ) {
        check(14, &applications)?;
    }
}
