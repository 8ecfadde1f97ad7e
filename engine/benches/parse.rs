//! Parse-and-lower time of one 10,000-gate circuit written in OpenQASM 2.0 and in
//! OpenQASM 3 (the same gates, qubits and measurements), through `prepare`:
//!
//! ```text
//! cargo bench -p qrun-engine --bench parse
//! ```
//!
//! Prints the median and the fastest of `RUNS` timed runs after one warm-up, per version.

use std::hint::black_box;
use std::time::{Duration, Instant};

use qrun_engine::{Format, Limits, Parameters, prepare};

const GATES: usize = 10_000;
const QUBITS: usize = 20;
const RUNS: usize = 31;

/// The circuit's gate lines, the same in both versions (qelib1.inc and stdgates.inc share
/// these names): a deterministic mix of one-, two- and three-qubit gates with angles.
fn gates() -> Vec<String> {
    let mut state = 12345u64;
    let mut next = |n: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize % n
    };
    (0..GATES)
        .map(|_| {
            let a = next(QUBITS);
            let b = (a + 1 + next(QUBITS - 1)) % QUBITS;
            let c = (0..QUBITS).find(|q| *q != a && *q != b).unwrap_or(0);
            let angle = (next(20_000) as f64 - 10_000.0) / 3_000.0;
            match next(8) {
                0 => format!("h q[{a}];"),
                1 => format!("x q[{a}];"),
                2 => format!("rz({angle}) q[{a}];"),
                3 => format!("ry({angle}) q[{a}];"),
                4 => format!("u3({angle}, {}, pi / 4) q[{a}];", angle / 2.0),
                5 => format!("cx q[{a}], q[{b}];"),
                6 => format!("cp({angle}) q[{a}], q[{b}];"),
                _ => format!("ccx q[{a}], q[{b}], q[{c}];"),
            }
        })
        .collect()
}

fn time(source: &str, format: Format) -> (Duration, Duration) {
    let limits = Limits::default();
    let parameters = Parameters::new();
    let run = || {
        let started = Instant::now();
        let program = prepare(source, format, &parameters, 1, &limits).expect("the bench circuit");
        assert_eq!(program.gate_count(), GATES as u64);
        black_box(program);
        started.elapsed()
    };
    run();
    let mut times: Vec<Duration> = (0..RUNS).map(|_| run()).collect();
    times.sort();
    (times[RUNS / 2], times[0])
}

fn main() {
    let body = gates().join("\n");
    let v2 = format!(
        "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[{QUBITS}];\ncreg c[{QUBITS}];\n{body}\nmeasure q -> c;\n"
    );
    let v3 = format!(
        "OPENQASM 3.0;\ninclude \"stdgates.inc\";\nqubit[{QUBITS}] q;\nbit[{QUBITS}] c;\n{body}\nc = measure q;\n"
    );
    println!("parse + lower, {GATES} gates on {QUBITS} qubits, median (fastest) of {RUNS} runs:");
    for (name, source, format) in [
        ("OpenQASM 2.0", &v2, Format::OpenQasm2),
        ("OpenQASM 3", &v3, Format::OpenQasm3),
    ] {
        let (median, fastest) = time(source, format);
        println!(
            "  {name:12} {:7.2} ms ({:.2} ms)  {:6} KiB source  {:5.2} M gates/s",
            median.as_secs_f64() * 1e3,
            fastest.as_secs_f64() * 1e3,
            source.len() / 1024,
            GATES as f64 / median.as_secs_f64() / 1e6
        );
    }
}
