//! `simulate` end to end: Qiskit's count-key order, mid-circuit measurement, reset and
//! conditions, seeds, limits, timeout and cancellation.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::Duration;

use qrun_engine::{
    CancellationToken, FailureKind, Format, Limits, Method, Outcome, Parameters, Stage, prepare,
    simulate, statevector,
};

const HEADER: &str = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\n";

fn run_with(body: &str, shots: u64, seed: u64, limits: &Limits) -> Outcome {
    let source = format!("{HEADER}{body}");
    let program = prepare(
        &source,
        Format::OpenQasm2,
        &Parameters::new(),
        shots,
        limits,
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    simulate(
        &program,
        shots,
        Some(seed),
        limits,
        &CancellationToken::new(),
    )
    .unwrap_or_else(|e| panic!("{e:?}"))
}

fn run(body: &str, shots: u64) -> Outcome {
    run_with(body, shots, 11, &Limits::default())
}

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn a_register_reads_most_significant_bit_first() {
    let outcome = run("qreg q[3];\ncreg c[3];\nx q[0];\nmeasure q -> c;", 100);
    assert_eq!(outcome.counts, counts(&[("001", 100)]));
    assert_eq!((outcome.shots, outcome.unique_states), (100, 1));
}

#[test]
fn the_last_declared_register_is_leftmost() {
    let outcome = run(
        "qreg q[4];\ncreg a[2];\ncreg b[3];\nx q[0];\nx q[3];\n\
         measure q[0] -> a[0];\nmeasure q[3] -> b[1];",
        10,
    );
    assert_eq!(outcome.counts, counts(&[("010 01", 10)]));
}

#[test]
fn unmeasured_bits_read_zero_and_bits_go_where_they_are_measured_to() {
    let outcome = run(
        "qreg q[2];\ncreg c[4];\nx q[1];\nmeasure q[1] -> c[2];\nmeasure q[0] -> c[3];",
        10,
    );
    assert_eq!(outcome.counts, counts(&[("0100", 10)]));
}

#[test]
fn later_quantum_registers_take_higher_qubit_indices() {
    // b[0] is qubit 1: after X on it, measuring all of a then b gives a=0, b=1.
    let outcome = run(
        "qreg a[1];\nqreg b[1];\ncreg ca[1];\ncreg cb[1];\nx b[0];\nmeasure a -> ca;\nmeasure b -> cb;",
        10,
    );
    assert_eq!(outcome.counts, counts(&[("1 0", 10)]));
}

#[test]
fn a_circuit_without_classical_bits_has_one_empty_key() {
    let outcome = run("qreg q[1];\nh q[0];", 5);
    assert_eq!(outcome.counts, counts(&[("", 5)]));
}

#[test]
fn bell_pairs_are_correlated_and_roughly_even() {
    let outcome = run(
        "qreg q[2];\ncreg c[2];\nh q[0];\ncx q[0], q[1];\nmeasure q -> c;",
        10_000,
    );
    assert_eq!(outcome.counts.keys().collect::<Vec<_>>(), vec!["00", "11"]);
    let zeros = outcome.counts["00"] as f64;
    assert!((zeros - 5000.0).abs() < 300.0, "{zeros}"); // 6 standard deviations
}

#[test]
fn conditions_read_mid_circuit_measurements() {
    let outcome = run(
        "qreg q[2];\ncreg c[2];\nh q[0];\nmeasure q[0] -> c[0];\nif (c == 1) x q[1];\n\
         measure q[1] -> c[1];",
        2000,
    );
    assert_eq!(outcome.counts.keys().collect::<Vec<_>>(), vec!["00", "11"]);
}

#[test]
fn reset_returns_a_qubit_to_zero_whatever_its_state() {
    let outcome = run(
        "qreg q[2];\ncreg c[2];\nh q[0];\nx q[1];\nreset q;\nmeasure q -> c;",
        500,
    );
    assert_eq!(outcome.counts, counts(&[("00", 500)]));
}

#[test]
fn measuring_collapses_the_state_for_later_gates() {
    // After measuring |+>, H gives |+> or |-> again: the second measurement is 50/50 and
    // independent of the first (without the collapse it would always read 0).
    let outcome = run(
        "qreg q[1];\ncreg c[2];\nh q[0];\nmeasure q[0] -> c[0];\nh q[0];\nmeasure q[0] -> c[1];",
        4000,
    );
    assert_eq!(outcome.unique_states, 4);
    for count in outcome.counts.values() {
        assert!(
            (*count as f64 - 1000.0).abs() < 200.0,
            "{:?}",
            outcome.counts
        );
    }
}

#[test]
fn replaying_branches_gives_the_same_counts_as_saving_them() {
    // With max_qubits equal to the circuit's qubits only one branch state can be saved,
    // so most branches are rebuilt by replay; the draws, and so the counts, are the same.
    let body = "qreg q[4];\ncreg m[4];\ncreg f[4];\nh q;\nmeasure q -> m;\nx q;\ncx q[0], q[1];\n\
                reset q[2];\nmeasure q -> f;";
    let saving = run_with(body, 3000, 5, &Limits::default());
    let replaying = run_with(
        body,
        3000,
        5,
        &Limits {
            max_qubits: 4,
            ..Limits::default()
        },
    );
    assert_eq!(saving.counts, replaying.counts);
    assert_eq!(saving.unique_states, 16);
    for key in saving.counts.keys() {
        let (f, m) = key.split_once(' ').unwrap();
        let m: Vec<bool> = m.chars().rev().map(|c| c == '1').collect();
        let f: Vec<bool> = f.chars().rev().map(|c| c == '1').collect();
        assert_eq!(f[0], !m[0], "{key}");
        assert_eq!(f[1], !m[1] ^ !m[0], "{key}");
        assert!(!f[2], "{key}");
        assert_eq!(f[3], !m[3], "{key}");
    }
}

#[test]
fn a_seed_reproduces_counts_on_any_thread_count() {
    // 16 qubits: large enough for the multi-threaded paths.
    let body = "qreg q[16];\ncreg c[16];\nh q;\nrx(0.3) q;\ncx q[0], q[15];\nmeasure q -> c;";
    let on = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| run(body, 2000).counts)
    };
    let one = on(1);
    assert_eq!(one, on(2));
    assert_eq!(one, on(2));
}

#[test]
fn different_seeds_give_different_samples() {
    let body = "qreg q[8];\ncreg c[8];\nh q;\nmeasure q -> c;";
    let limits = Limits::default();
    assert_ne!(
        run_with(body, 1000, 1, &limits).counts,
        run_with(body, 1000, 2, &limits).counts
    );
}

#[test]
fn statevector_refuses_circuits_that_measure() {
    let limits = Limits::default();
    let program = prepare(
        &format!("{HEADER}qreg q[1];\ncreg c[1];\nmeasure q -> c;"),
        Format::OpenQasm2,
        &Parameters::new(),
        1,
        &limits,
    )
    .unwrap();
    let err = statevector(&program, &limits, &CancellationToken::new()).unwrap_err();
    assert_eq!(err.kind, FailureKind::Validation);
}

#[test]
fn prepare_enforces_source_qubit_and_shot_limits() {
    let limits = Limits {
        max_qubits: 4,
        max_shots: 100,
        max_source_bytes: 64,
        method: Some(Method::StateVector),
        ..Limits::default()
    };
    let err = prepare(
        &"// padding\n".repeat(10),
        Format::OpenQasm2,
        &Parameters::new(),
        1,
        &limits,
    )
    .unwrap_err();
    assert_eq!(
        (err.kind, err.stage),
        (FailureKind::ResourceLimit, Stage::Prepare)
    );
    assert_eq!(
        err.message,
        "source is 110 bytes; this backend accepts at most 64"
    );

    let err = prepare(
        "qreg a[3];\nqreg b[2];",
        Format::OpenQasm2,
        &Parameters::new(),
        1,
        &limits,
    )
    .unwrap_err();
    assert_eq!(
        (err.kind, err.stage),
        (FailureKind::ResourceLimit, Stage::Prepare)
    );
    assert_eq!(err.position.map(|p| (p.line, p.col)), Some((2, 6)));
    assert_eq!(
        err.message,
        "circuit uses 5 qubits; this backend allows at most 4 (a state vector of 4 qubits takes 256 B)"
    );

    for shots in [0, 101] {
        let err = prepare(
            "qreg q[1];",
            Format::OpenQasm2,
            &Parameters::new(),
            shots,
            &limits,
        )
        .unwrap_err();
        assert_eq!(
            (err.kind, err.stage),
            (FailureKind::Validation, Stage::Prepare)
        );
    }
}

#[test]
fn simulate_admits_memory_against_its_own_limits() {
    for (source, method) in [
        ("qreg q[10];", Method::Stabilizer),
        (
            "include \"qelib1.inc\";\nqreg q[10];\nt q[0];",
            Method::StateVector,
        ),
    ] {
        let program = prepare(
            source,
            Format::OpenQasm2,
            &Parameters::new(),
            1,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(program.method(), method);
        let small = Limits {
            max_qubits: 8,
            max_stabilizer_qubits: 8,
            ..Limits::default()
        };
        let err = simulate(&program, 1, None, &small, &CancellationToken::new()).unwrap_err();
        assert_eq!(
            (err.kind, err.stage),
            (FailureKind::ResourceLimit, Stage::Execute),
            "{method}"
        );
    }
}

#[test]
fn the_time_limit_stops_a_simulation() {
    let limits = Limits {
        time_limit: Duration::from_millis(1),
        ..Limits::default()
    };
    // Each far more than a millisecond of work on either method, however fast its gates.
    let state_vector = format!(
        "{HEADER}qreg q[20];\ncreg c[20];\n{}measure q -> c;",
        "h q;\nt q;\ncx q[0], q[19];\n".repeat(200)
    );
    let stabilizer = format!(
        "{HEADER}qreg q[1000];\nqreg r[1000];\ncreg c[1000];\n{}measure q -> c;",
        "h q;\ncx q, r;\nh r;\ncx r, q;\n".repeat(10)
    );
    for (source, method) in [
        (state_vector, Method::StateVector),
        (stabilizer, Method::Stabilizer),
    ] {
        let program = prepare(&source, Format::OpenQasm2, &Parameters::new(), 1, &limits).unwrap();
        assert_eq!(program.method(), method);
        let err = simulate(&program, 1, Some(1), &limits, &CancellationToken::new()).unwrap_err();
        assert_eq!(
            (err.kind, err.stage),
            (FailureKind::Timeout, Stage::Execute),
            "{method}"
        );
        assert_eq!(err.message, "simulation exceeded the time limit of 0.001 s");
    }
}

#[test]
fn cancelling_from_another_thread_stops_a_large_simulation() {
    // 22 qubits and thousands of gates: minutes of work if the cancel were ignored.
    let limits = Limits::default();
    let source = format!(
        "{HEADER}qreg q[22];\ncreg c[22];\n{}measure q -> c;",
        "h q;\nrx(0.1) q;\ncx q[0], q[21];\n".repeat(500)
    );
    let program = prepare(
        &source,
        Format::OpenQasm2,
        &Parameters::new(),
        1000,
        &limits,
    )
    .unwrap();
    let cancel = CancellationToken::new();
    let (started, running) = mpsc::channel();
    let worker = {
        let cancel = cancel.clone();
        std::thread::spawn(move || {
            started.send(()).unwrap();
            simulate(&program, 1000, Some(1), &limits, &cancel)
        })
    };
    running.recv().unwrap();
    cancel.cancel();
    let err = worker.join().unwrap().unwrap_err();
    assert_eq!(
        (err.kind, err.stage),
        (FailureKind::Cancelled, Stage::Execute)
    );
}
