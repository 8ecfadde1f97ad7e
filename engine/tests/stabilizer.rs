//! The stabilizer method: which programs it gets (method choice both ways, a pinned method,
//! the refusal of a non-Clifford gate in a circuit too wide for the state vector, at its
//! line), exact answers on wide deterministic circuits, and agreement with the state-vector
//! simulator on random small Clifford circuits with mid-circuit measurements, resets and
//! conditions. Aer's `stabilizer` method is the reference in `clifford_reference.rs`.

mod common;

use std::collections::BTreeMap;

use common::stats::{tolerance, total_variation};
use proptest::prelude::*;
use qrun_engine::{
    CancellationToken, FailureKind, Format, Limits, Method, Parameters, Program, Stage, prepare,
    simulate,
};

const HEADER: &str = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\n";

fn prepared(source: &str, limits: &Limits) -> Program {
    prepare(source, Format::OpenQasm2, &Parameters::new(), 1, limits)
        .unwrap_or_else(|e| panic!("{e:?}\n{source}"))
}

fn counts(program: &Program, shots: u64, seed: u64) -> BTreeMap<String, u64> {
    simulate(
        program,
        shots,
        Some(seed),
        &Limits::default(),
        &CancellationToken::new(),
    )
    .unwrap()
    .counts
}

fn pinned(method: Method) -> Limits {
    Limits {
        method: Some(method),
        ..Limits::default()
    }
}

#[test]
fn clifford_programs_choose_the_stabilizer_and_others_the_state_vector() {
    let clifford = format!(
        "{HEADER}qreg q[3];\ncreg c[3];\nh q[0];\ncx q[0], q[1];\ncy q[1], q[2];\ncz q[0], q[2];\n\
         s q[1];\nsdg q[2];\nsx q[0];\nsxdg q[1];\nswap q[0], q[2];\nx q[0];\ny q[1];\nz q[2];\n\
         id q[0];\nbarrier q;\nreset q[1];\nmeasure q[0] -> c[0];\nif (c == 1) x q[2];\n\
         measure q -> c;\n"
    );
    assert_eq!(
        prepared(&clifford, &Limits::default()).method(),
        Method::Stabilizer
    );
    for gate in [
        "t q[0];",
        "rz(pi/2) q[0];",
        "ccx q[0], q[1], q[2];",
        "u2(0, pi) q[0];",
    ] {
        let source = format!("{HEADER}qreg q[3];\nh q[0];\n{gate}\n");
        let program = prepared(&source, &Limits::default());
        assert_eq!(program.method(), Method::StateVector, "{gate}");
        assert!(!program.is_clifford());
    }
    // A pinned method is the method, whatever the circuit.
    assert_eq!(
        prepared(&clifford, &pinned(Method::StateVector)).method(),
        Method::StateVector
    );
    // A backend without the stabilizer (limit 0) runs everything on the state vector.
    let off = Limits {
        max_stabilizer_qubits: 0,
        ..Limits::default()
    };
    assert_eq!(prepared(&clifford, &off).method(), Method::StateVector);
}

#[test]
fn a_non_clifford_gate_in_a_wide_circuit_is_refused_at_its_line() {
    let source = format!("{HEADER}qreg q[500];\nh q[0];\ncx q[0], q[1];\nt q[7];\nh q[2];\n");
    let err = prepare(
        &source,
        Format::OpenQasm2,
        &Parameters::new(),
        1,
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(
        (err.kind, err.stage),
        (FailureKind::ResourceLimit, Stage::Prepare)
    );
    assert_eq!(err.position.map(|p| (p.line, p.col)), Some((6, 1)));
    assert_eq!(
        err.message,
        "'t' is not a Clifford gate, so this 500-qubit circuit needs the state vector, which \
         this backend runs up to 24 qubits; a Clifford circuit (h, s, sdg, x, y, z, sx, sxdg, \
         cx, cy, cz, swap, measure, reset, barrier, conditions) runs up to 10000 qubits"
    );
    // Inside a gate definition, the call's line: the statement the user wrote.
    let defined = format!("{HEADER}gate g a {{ h a; t a; }}\nqreg q[30];\nh q[0];\ng q[3];\n");
    let err = prepare(
        &defined,
        Format::OpenQasm2,
        &Parameters::new(),
        1,
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(err.position.map(|p| (p.line, p.col)), Some((6, 1)));
    // OpenQASM 3 says where too.
    let v3 = "OPENQASM 3.0;\ninclude \"stdgates.inc\";\nqubit[100] q;\nh q[0];\nrx(0.1) q[1];\n";
    let err = prepare(
        v3,
        Format::OpenQasm3,
        &Parameters::new(),
        1,
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind, FailureKind::ResourceLimit);
    assert_eq!(err.position.map(|p| (p.line, p.col)), Some((5, 1)));
    assert!(
        err.message.starts_with("'rx' is not a Clifford gate"),
        "{}",
        err.message
    );
}

#[test]
fn a_backend_pinned_to_the_stabilizer_refuses_a_non_clifford_gate_at_its_line() {
    let source = format!("{HEADER}qreg q[2];\nh q[0];\ncp(0.5) q[0], q[1];\n");
    let err = prepare(
        &source,
        Format::OpenQasm2,
        &Parameters::new(),
        1,
        &pinned(Method::Stabilizer),
    )
    .unwrap_err();
    assert_eq!(
        (err.kind, err.position.map(|p| (p.line, p.col))),
        (FailureKind::Validation, Some((5, 1)))
    );
    assert!(
        err.message
            .starts_with("'cp' is not a Clifford gate; this backend runs only")
    );
}

#[test]
fn a_clifford_circuit_past_the_stabilizer_limit_is_refused_at_its_register() {
    let limits = Limits {
        max_stabilizer_qubits: 100,
        ..Limits::default()
    };
    let err = prepare(
        &format!("{HEADER}qreg q[60];\nqreg r[41];\n"),
        Format::OpenQasm2,
        &Parameters::new(),
        1,
        &limits,
    )
    .unwrap_err();
    assert_eq!(err.kind, FailureKind::ResourceLimit);
    assert_eq!(err.position.map(|p| (p.line, p.col)), Some((4, 6)));
    assert!(
        err.message.contains("or 100 for a Clifford circuit"),
        "{}",
        err.message
    );
}

#[test]
fn ghz_1000_is_all_zeros_or_all_ones() {
    let n = 1000;
    let mut source = format!("{HEADER}qreg q[{n}];\ncreg c[{n}];\nh q[0];\n");
    for i in 1..n {
        source.push_str(&format!("cx q[{}], q[{i}];\n", i - 1));
    }
    source.push_str("measure q -> c;\n");
    let program = prepared(&source, &Limits::default());
    assert_eq!(program.method(), Method::Stabilizer);
    let counts = counts(&program, 1000, 1);
    let zeros = "0".repeat(n);
    let ones = "1".repeat(n);
    assert_eq!(counts.keys().collect::<Vec<_>>(), vec![&zeros, &ones]);
    assert_eq!(counts.values().sum::<u64>(), 1000);
    assert!((counts[&zeros] as f64 - 500.0).abs() < 100.0, "{counts:?}");
}

#[test]
fn deterministic_wide_circuits_give_their_one_key_exactly() {
    // 600 qubits: a GHZ state undone, X on chosen qubits, mid-circuit measurement and reset,
    // a condition on a measured bit: every shot is the same key.
    let n = 600;
    let mut source = format!("{HEADER}qreg q[{n}];\ncreg a[4];\ncreg b[3];\nh q[0];\n");
    for i in 1..n {
        source.push_str(&format!("cx q[0], q[{i}];\n"));
    }
    for i in (1..n).rev() {
        source.push_str(&format!("cx q[0], q[{i}];\n"));
    }
    source.push_str(
        "h q[0];\nx q[599];\nx q[300];\nmeasure q[599] -> a[0];\nreset q[599];\n\
         measure q[599] -> a[1];\nif (a == 1) x q[5];\nsx q[7];\nsx q[7];\n\
         s q[9];\ns q[9];\nh q[10];\ns q[10];\ns q[10];\nh q[10];\n\
         measure q[300] -> a[3];\nmeasure q[5] -> b[0];\nmeasure q[7] -> b[1];\n\
         measure q[10] -> b[2];\nmeasure q[9] -> a[2];\n",
    );
    let program = prepared(&source, &Limits::default());
    assert_eq!(program.method(), Method::Stabilizer);
    assert_eq!(
        counts(&program, 300, 9),
        BTreeMap::from([("111 1001".to_owned(), 300)])
    );
}

#[test]
fn a_cancelled_run_stops() {
    let program = prepared(
        &format!("{HEADER}qreg q[100];\ncreg c[1];\nh q;\nmeasure q[0] -> c[0];\n"),
        &Limits::default(),
    );
    let cancel = CancellationToken::new();
    cancel.cancel();
    let err = simulate(&program, 10, Some(1), &Limits::default(), &cancel).unwrap_err();
    assert_eq!(err.kind, FailureKind::Cancelled);
}

/// One operation of a random Clifford circuit on `n` qubits and `n` classical bits.
fn operation(n: usize) -> impl Strategy<Value = String> {
    let gates1 = ["h", "s", "sdg", "x", "y", "z", "sx", "sxdg", "id"];
    let gates2 = ["cx", "cy", "cz", "swap"];
    let qubit = 0..n;
    prop_oneof![
        4 => (prop::sample::select(gates1.to_vec()), qubit.clone())
            .prop_map(|(g, q)| format!("{g} q[{q}];")),
        3 => (prop::sample::select(gates2.to_vec()), qubit.clone(), qubit.clone())
            .prop_filter("distinct", |(_, a, b)| a != b)
            .prop_map(|(g, a, b)| format!("{g} q[{a}], q[{b}];")),
        1 => (qubit.clone(), qubit.clone()).prop_map(|(q, c)| format!("measure q[{q}] -> c[{c}];")),
        1 => qubit.clone().prop_map(|q| format!("reset q[{q}];")),
        1 => (0u64..1 << n, prop::sample::select(gates1.to_vec()), qubit)
            .prop_map(|(v, g, q)| format!("if (c == {v}) {g} q[{q}];")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The stabilizer and the state vector sample one distribution: the same program run
    /// both ways agrees within the two samples' noise.
    #[test]
    fn the_stabilizer_agrees_with_the_state_vector(
        (n, body) in (2usize..=5).prop_flat_map(|n| (Just(n), prop::collection::vec(operation(n), 1..30)))
    ) {
        let source = format!(
            "{HEADER}qreg q[{n}];\ncreg c[{n}];\n{}\nmeasure q -> c;\n",
            body.join("\n")
        );
        let shots = 4000;
        let stabilizer = prepared(&source, &pinned(Method::Stabilizer));
        let state_vector = prepared(&source, &pinned(Method::StateVector));
        prop_assert_eq!(stabilizer.method(), Method::Stabilizer);
        let a = counts(&stabilizer, shots, 11);
        let b = counts(&state_vector, shots, 12);
        let outcomes = a.len().max(b.len());
        let distance = total_variation(&a, &b);
        let limit = tolerance(outcomes, shots, shots);
        prop_assert!(distance <= limit, "TVD {} > {}\n{}\n{:?}\n{:?}", distance, limit, source, a, b);
    }
}
