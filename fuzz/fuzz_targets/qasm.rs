//! Fuzz target `qasm`: arbitrary bytes → (if UTF-8) `qrun_engine::prepare` under small limits,
//! as OpenQASM 2 and as OpenQASM 3 (only the version its header names, if it has one; the
//! OpenQASM 3 `input` parameters bound to values derived from the input), then — when the
//! source prepares — `simulate` for a few shots and `statevector` when the program is
//! purely unitary.
//!
//! Properties beyond "no panic, no hang, no unbounded allocation": every error is of the
//! prepare stage with a position for source errors; a prepared program respects the limits;
//! a simulation returns exactly the requested shots with well-formed count keys; a state
//! vector is finite and normalised.
//!
//! Run with `scripts/fuzz.sh` (or `cargo +nightly fuzz run qasm`).

#![no_main]

use std::sync::Once;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use qrun_engine::ir::OpKind;
use qrun_engine::{
    CancellationToken, FailureKind, Format, Limits, Parameters, Stage, inputs, prepare, simulate,
    statevector,
};

/// Small enough that a run is milliseconds; 15 qubits still reaches the fused (≥ 14 qubits)
/// and multi-threaded (≥ 2^15 amplitudes) simulator paths.
fn limits() -> Limits {
    Limits {
        max_qubits: 15,
        // Both methods: a Clifford input runs on the stabilizer, any other on the state vector.
        max_stabilizer_qubits: 64,
        method: None,
        max_shots: 8,
        max_gates: 256,
        max_source_bytes: 64 * 1024,
        time_limit: Duration::from_secs(5),
    }
}

static INIT: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    // One fuzzing job uses one core: rayon's pool gets a single worker.
    INIT.call_once(|| {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build_global();
    });
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let formats = match Format::detect(source) {
        Some(format) => vec![format],
        None => vec![Format::OpenQasm2, Format::OpenQasm3],
    };
    for format in formats {
        check(data, source, format);
    }
});

fn check(data: &[u8], source: &str, format: Format) {
    let limits = limits();
    let shots = 1 + (data.len() as u64 % limits.max_shots);
    let parameters: Parameters = match inputs(source, format) {
        Ok(inputs) => inputs
            .into_iter()
            .enumerate()
            .map(|(i, input)| (input.name, (data.len() + i) as f64 * 0.37))
            .collect(),
        Err(err) => {
            assert_eq!(
                (err.kind, err.stage),
                (FailureKind::Validation, Stage::Prepare)
            );
            assert!(err.position.is_some(), "{err:?}");
            Parameters::new()
        }
    };
    let program = match prepare(source, format, &parameters, shots, &limits) {
        Ok(program) => program,
        Err(err) => {
            assert_eq!(err.stage, Stage::Prepare, "{err:?}");
            assert!(
                matches!(
                    err.kind,
                    FailureKind::Validation | FailureKind::ResourceLimit
                ),
                "{err:?}"
            );
            return;
        }
    };
    assert!(program.num_qubits() <= limits.max_qubits);
    assert!(program.ops().len() as u64 <= limits.max_gates);

    let cancel = CancellationToken::new();
    let outcome = simulate(&program, shots, Some(data.len() as u64), &limits, &cancel)
        .unwrap_or_else(|err| panic!("a prepared program failed to simulate: {err:?}"));
    assert_eq!(outcome.shots, shots, "{outcome:?}");
    assert_eq!(outcome.counts.values().sum::<u64>(), shots, "{outcome:?}");
    assert_eq!(outcome.unique_states, outcome.counts.len() as u64);
    let cregs = program.cregs();
    let key_len = program.num_clbits() as usize + cregs.len().saturating_sub(1);
    for key in outcome.counts.keys() {
        assert_eq!(key.len(), key_len, "{key:?}");
        let groups: Vec<usize> = key.split(' ').map(str::len).collect();
        if !cregs.is_empty() {
            let sizes: Vec<usize> = cregs.iter().rev().map(|r| r.size as usize).collect();
            assert_eq!(groups, sizes, "{key:?}");
        }
        assert!(
            key.bytes().all(|b| matches!(b, b'0' | b'1' | b' ')),
            "{key:?}"
        );
    }

    let unitary = program.ops().iter().all(|op| {
        op.condition.is_none() && matches!(op.kind, OpKind::Gate(_) | OpKind::Barrier(_))
    });
    match statevector(&program, &limits, &cancel) {
        Ok(amplitudes) => {
            assert!(unitary);
            assert_eq!(amplitudes.len(), 1 << program.num_qubits());
            let norm: f64 = amplitudes.iter().map(|a| a.norm_sqr()).sum();
            assert!((norm - 1.0).abs() < 1e-6, "norm {norm}");
        }
        Err(err) => assert!(!unitary, "{err:?}"),
    }
}
