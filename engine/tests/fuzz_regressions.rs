//! Regression tests from fuzzing the OpenQASM front end and the simulator (issue #9,
//! `fuzz/fuzz_targets/qasm.rs`, run by `scripts/fuzz.sh`): every input that crashed, hung or
//! blew up is kept here with its fix, and a handful of corpus inputs that exercise the error
//! paths (recursion, huge sizes and numbers, malformed text) are replayed to check that they
//! end in a clean error, not a panic.

use std::time::{Duration, Instant};

use qrun_engine::ir::{GateKind, OpKind};
use qrun_engine::{
    CancellationToken, FailureKind, Format, Limits, Parameters, Precision, Program, Stage, prepare,
    simulate, statevector,
};

const HEADER: &str = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\n";

/// The fuzz target's limits.
fn fuzz_limits() -> Limits {
    Limits {
        max_qubits: 15,
        max_stabilizer_qubits: 64,
        method: None,
        precision: Precision::Double,
        max_shots: 8,
        max_gates: 256,
        max_source_bytes: 64 * 1024,
        time_limit: Duration::from_secs(5),
    }
}

fn program(source: &str, limits: &Limits) -> Program {
    prepare(source, Format::OpenQasm2, &Parameters::new(), 1, limits)
        .unwrap_or_else(|e| panic!("{e:?}"))
}

/// (kind, line, col, message) of the error `source` gives.
fn error(source: &str, limits: &Limits) -> (FailureKind, u32, u32, String) {
    let err = prepare(source, Format::OpenQasm2, &Parameters::new(), 1, limits)
        .expect_err("the source should be rejected");
    assert_eq!(err.stage, Stage::Prepare, "{err:?}");
    let pos = err.position.expect("a source error has a position");
    (err.kind, pos.line, pos.col, err.message)
}

/// Fuzz finding: `u3(θ, φ, λ)` with finite angles whose sum overflows built the matrix entry
/// `e^{i(φ+λ)}` as `cis(∞)` = NaN, so the state vector was NaN and sampling dropped every
/// shot (counts summing to 0). Fixed by computing it as `e^{iφ}·e^{iλ}` (`sim/gates.rs`).
#[test]
fn angles_whose_sum_overflows_keep_the_state_finite() {
    let source = format!(
        "{HEADER}qreg q[2];\nu3(1e300, 1e308, 1e308) q[0];\ncu3(1e308,1e308,1e308) q[0],q[1];\n\
         u2(1e308,1e308) q[1];\n"
    );
    let limits = fuzz_limits();
    let state = statevector(
        &program(&source, &limits),
        &limits,
        &CancellationToken::new(),
    )
    .unwrap();
    assert!(
        state.iter().all(|a| a.re.is_finite() && a.im.is_finite()),
        "{state:?}"
    );
    let norm: f64 = state.iter().map(|a| a.norm_sqr()).sum();
    assert!((norm - 1.0).abs() < 1e-9, "{norm}");

    let measured = format!("{source}creg c[2];\nmeasure q -> c;\n");
    let outcome = simulate(
        &program(&measured, &limits),
        8,
        Some(1),
        &limits,
        &CancellationToken::new(),
    )
    .unwrap();
    assert_eq!(outcome.shots, 8, "{outcome:?}");
}

/// Fuzz finding (timeout): gates that emit nothing, called exponentially often, expanded
/// for hours — the `max_gates` count never moved. Expansion work is now bounded too
/// (64 steps per operation of `max_gates`), and this fails at once.
#[test]
fn empty_gates_called_exponentially_often_stop_at_the_work_bound() {
    let mut source = String::from("gate g0 a { }\n");
    for i in 1..48 {
        source.push_str(&format!("gate g{i} a {{ g{} a; g{} a; }}\n", i - 1, i - 1));
    }
    source.push_str("qreg q[1];\ng47 q[0];\n");
    let started = Instant::now();
    let (kind, line, col, message) = error(&source, &fuzz_limits());
    assert_eq!((kind, line, col), (FailureKind::ResourceLimit, 50, 1));
    assert_eq!(
        message,
        "circuit takes more than 16384 steps to expand its gate definitions (64 per operation \
         of the backend's max_gates of 256)"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Review of the same finding at the service's limits: a long chain of one-call definitions
/// called many times (each call walks the whole chain to emit one gate) and a huge parameter
/// expression evaluated for every emitted gate both ran for minutes under `max_gates`.
#[test]
fn long_call_chains_and_huge_expressions_stop_at_the_work_bound() {
    let limits = Limits {
        max_gates: 1000,
        ..fuzz_limits()
    };
    let mut chain = String::from("gate g0 a { U(0, 0, 0) a; }\n");
    for i in 1..2000 {
        chain.push_str(&format!("gate g{i} a {{ g{} a; }}\n", i - 1));
    }
    chain.push_str("qreg q[2];\n");
    // One call walks 2000 definitions: about 30 calls fit in 64 000 steps, 100 do not.
    let fits = chain.clone() + &"g1999 q[0];\n".repeat(20);
    assert_eq!(program(&fits, &limits).gate_count(), 20);
    let (kind, _, _, message) = error(&(chain + &"g1999 q[1];\n".repeat(100)), &limits);
    assert_eq!(kind, FailureKind::ResourceLimit);
    assert_eq!(
        message,
        "circuit takes more than 64000 steps to expand its gate definitions (64 per operation \
         of the backend's max_gates of 1000)"
    );

    let mut expr = String::from("a");
    for _ in 0..12 {
        expr = format!("({expr} + {expr})");
    }
    let source = format!(
        "gate f(a) x {{ U({expr}, 0, 0) x; }}\ngate g x {{ f(1) x; f(2) x; }}\nqreg q[1];\n\
         g q[0];\ng q[0];\ng q[0];\ng q[0];\ng q[0];\ng q[0];\ng q[0];\ng q[0];\n"
    );
    let (kind, line, _, _) = error(&source, &limits);
    // Each call of g evaluates 2 × 8191 nodes: the fourth one passes 64 000.
    assert_eq!((kind, line), (FailureKind::ResourceLimit, 7));
}

/// Review finding: duplicate checks and name lookups over a gate's parameters and qubit
/// arguments were quadratic — a source under the default 1 MiB declaring one gate with
/// 120 000 qubit arguments took half a minute to prepare. They use maps now.
#[test]
fn gates_with_very_many_arguments_prepare_in_linear_time() {
    let limits = Limits::default();
    let qubits: Vec<String> = (0..80_000).map(|i| format!("a{i}")).collect();
    let params: Vec<String> = (0..30_000).map(|i| format!("p{i}")).collect();
    let source = format!(
        "gate g({}) {} {{ {} }}\n",
        params.join(","),
        qubits.join(","),
        "U(p29999, p0, p15000) a79999;\n".repeat(3_000)
    );
    assert!(source.len() < limits.max_source_bytes);
    let started = Instant::now();
    assert!(program(&source, &limits).ops().is_empty());
    let duplicate = format!("gate g {},a0 {{ }}\n", qubits.join(","));
    let (kind, line, col, message) = error(&duplicate, &limits);
    assert_eq!((kind, line), (FailureKind::Validation, 1));
    assert_eq!(col as usize, duplicate.find(",a0 ").unwrap() + 2);
    assert_eq!(message, "duplicate qubit argument 'a0'");
    // The quadratic checks took 34 s here even optimised; the linear ones take well under a
    // second unoptimised.
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
}

/// Review finding: a barrier repeating its arguments (`barrier a, a, …` in a gate body
/// expanded a million times) produced one index per repetition, an unbounded amount of
/// memory per operation. Repeated arguments are kept once now.
#[test]
fn repeated_barrier_arguments_are_kept_once() {
    let limits = fuzz_limits();
    let source = format!(
        "gate b x, y {{ barrier x, y, x, y, x; }}\nqreg q[3];\nb q[2], q[0];\n\
         barrier q, q[1], q;\nbarrier {};\n",
        vec!["q"; 1000].join(", ")
    );
    let barriers: Vec<Vec<u32>> = program(&source, &limits)
        .ops()
        .iter()
        .filter_map(|op| match &op.kind {
            OpKind::Barrier(qubits) => Some(qubits.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(barriers, vec![vec![2, 0], vec![0, 1, 2], vec![0, 1, 2]]);
}

/// Field report (issue 20, item 12): a flat chain of 129 terms was refused as "nested too
/// deeply", a depth its source does not have. Chains now fold in loops; the longest that fit
/// in the default 1 MiB source limit parse, evaluate at the top level and in a gate body,
/// and are dropped, in both versions, on a thread with a 256 KiB stack, where recursing
/// once per term would overflow.
#[test]
fn the_longest_flat_chains_run_on_a_small_stack() {
    let terms = 100_000;
    let v2 = format!(
        "{HEADER}gate g(a) x {{ rz(a{}) x; }}\nqreg q[1];\nrz(1{}) q[0];\ng(1) q[0];\n",
        "+a".repeat(terms - 1),
        "+1".repeat(terms - 1)
    );
    let v3 = format!(
        "OPENQASM 3.0;\ninclude \"stdgates.inc\";\ngate g(a) x {{ rz(a{}) x; }}\nqubit q;\n\
         rz(1{}) q;\ng(1) q;\n",
        "+a".repeat(terms - 1),
        "+1".repeat(terms - 1)
    );
    let limits = Limits::default();
    assert!(v2.len().max(v3.len()) < limits.max_source_bytes);
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            for (source, format) in [(v2, Format::OpenQasm2), (v3, Format::OpenQasm3)] {
                let program = prepare(&source, format, &Parameters::new(), 1, &limits)
                    .unwrap_or_else(|e| panic!("{format:?}: {e:?}"));
                let angles: Vec<_> = program
                    .ops()
                    .iter()
                    .map(|op| match &op.kind {
                        OpKind::Gate(gate) => gate.kind,
                        other => panic!("{other:?}"),
                    })
                    .collect();
                assert_eq!(angles, vec![GateKind::Rz(1e5); 2], "{format:?}");
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

/// Review of the same fix: with chains no longer bounded by nesting, a condition chaining
/// tests on bits (`!c && !c && …`, `c || c || …`) built its conjunctions in quadratic time
/// (20,000 terms took over a second, the longest that fit in 1 MiB would take minutes).
/// A case holds at most 256 tests now: the longest such chains are refused at once.
#[test]
fn the_longest_condition_chains_stop_at_the_case_bound_at_once() {
    let limits = Limits::default();
    for (first, link) in [("!c", " && !c"), ("c", " || c")] {
        let source = format!(
            "OPENQASM 3.0;\nqubit q;\nbit c;\nc = measure q;\nif ({first}{}) {{ U(0, 0, 0) q; }}\n",
            link.repeat(150_000)
        );
        assert!(source.len() < limits.max_source_bytes);
        let started = Instant::now();
        let err = prepare(&source, Format::OpenQasm3, &Parameters::new(), 1, &limits)
            .expect_err("the source should be rejected");
        assert_eq!(
            (err.kind, err.message.as_str()),
            (
                FailureKind::Validation,
                "condition expands to a case of more than 256 tests"
            )
        );
        let elapsed = started.elapsed();
        // Quadratic, this took minutes; bounded, well under a second optimised.
        assert!(elapsed < Duration::from_secs(20), "{link}: {elapsed:?}");
    }
}

/// A corpus input: (what it is, source, error kind, (line, col), part of the message).
type Case = (&'static str, String, FailureKind, (u32, u32), &'static str);

/// Corpus inputs that exercise the error paths: each ends in its clean error.
#[test]
fn hostile_corpus_inputs_end_in_clean_errors() {
    let exponential = {
        let mut s = String::from("gate g0 a { U(0,0,0) a; U(0,0,0) a; }\n");
        for i in 1..40 {
            s.push_str(&format!("gate g{i} a {{ g{} a; g{} a; }}\n", i - 1, i - 1));
        }
        s + "qreg q[1];\ng39 q[0];\n"
    };
    let deep_parens = format!(
        "qreg q[1];\nU({}1{}, 0, 0) q[0];\n",
        "(".repeat(200),
        ")".repeat(200)
    );
    let deep_negation = format!("qreg q[1];\nU({}1, 0, 0) q[0];\n", "-".repeat(200));
    let cases: Vec<Case> = vec![
        (
            "self recursion",
            "qreg q[1];\ngate g a { g a; }\ng q[0];\n".into(),
            FailureKind::Validation,
            (2, 12),
            "gate 'g' cannot call itself",
        ),
        (
            "mutual recursion",
            "qreg q[1];\ngate f a { g a; }\ngate g a { f a; }\nf q[0];\n".into(),
            FailureKind::Validation,
            (2, 12),
            "unknown gate 'g' (a gate must be defined before it is used)",
        ),
        (
            "exponential expansion",
            exponential,
            FailureKind::ResourceLimit,
            (42, 1),
            "circuit expands to more than 256 operations",
        ),
        (
            "register of 2^64 - 1 qubits",
            "qreg q[18446744073709551615];\ncreg c[18446744073709551615];\n".into(),
            FailureKind::ResourceLimit,
            (1, 6),
            "circuit uses 18446744073709551615 qubits; this backend allows at most 15",
        ),
        (
            "register size past 2^64",
            "qreg q[99999999999999999999999];\n".into(),
            FailureKind::Validation,
            (1, 8),
            "integer '99999999999999999999999' is too large",
        ),
        (
            "registers adding up past the limit (the stabilizer's, the widest)",
            (0..70).map(|i| format!("qreg q{i}[1];\n")).collect(),
            FailureKind::ResourceLimit,
            (65, 6),
            "circuit uses 65 qubits",
        ),
        (
            "classical bits past the limit",
            "creg c[18446744073709551615];\n".into(),
            FailureKind::ResourceLimit,
            (1, 6),
            "circuit declares 18446744073709551615 classical bits",
        ),
        (
            "index 2^64 - 1",
            "qreg q[2];\nU(0,0,0) q[18446744073709551615];\n".into(),
            FailureKind::Validation,
            (2, 10),
            "index 18446744073709551615 is out of range for register 'q' of size 2",
        ),
        (
            "parameter overflowing to infinity",
            format!("{HEADER}qreg q[1];\nU(1e308*10, 0, 0) q[0];\n"),
            FailureKind::Validation,
            (4, 8),
            "gate parameter evaluates to inf",
        ),
        (
            "2^1024",
            format!("{HEADER}qreg q[1];\nrz(2^1024) q[0];\n"),
            FailureKind::Validation,
            (4, 5),
            "gate parameter evaluates to inf",
        ),
        (
            "0/0 inside a gate body",
            "gate g(t) a { U(t/0*0, 0, 0) a; }\nqreg q[1];\ng(1) q[0];\n".into(),
            FailureKind::Validation,
            (1, 20),
            "gate parameter evaluates to NaN",
        ),
        (
            "ln(0)",
            format!("{HEADER}qreg q[1];\nrx(ln(0)) q[0];\n"),
            FailureKind::Validation,
            (4, 4),
            "gate parameter evaluates to -inf",
        ),
        (
            "malformed number",
            "qreg q[1];\nU(1.2.3, 0, 0) q[0];\n".into(),
            FailureKind::Validation,
            (2, 6),
            "expected ',' or ')' after the gate parameters, found number 0.3",
        ),
        (
            "hex literal",
            "qreg q[1];\nU(0x10, 0, 0) q[0];\n".into(),
            FailureKind::Validation,
            (2, 4),
            "expected an operator or delimiter after the number '0'",
        ),
        (
            "dangling exponent",
            "qreg q[1];\nU(1e, 0, 0) q[0];\n".into(),
            FailureKind::Validation,
            (2, 4),
            "expected an operator or delimiter after the number '1'",
        ),
        (
            "unicode identifier",
            "OPENQASM 2.0;\nqreg q[1]; // ünïcödé ✓ 量子\nU(π, 0, 0) q[0];\n".into(),
            FailureKind::Validation,
            (3, 3),
            "unexpected character 'π'",
        ),
        (
            "unicode line separator",
            "qreg q[1];\n\u{2028}U(0, 0, 0) q\u{0}[0];\n".into(),
            FailureKind::Validation,
            (2, 14),
            "unexpected character '\\0'",
        ),
        (
            "include of another file",
            "OPENQASM 2.0;\ninclude \"/etc/passwd\";\n".into(),
            FailureKind::Validation,
            (2, 1),
            "cannot include \"/etc/passwd\": the only includable file is \"qelib1.inc\"",
        ),
        (
            "include clashing with an earlier gate",
            "gate h a { U(pi/2,0,pi) a; }\ninclude \"qelib1.inc\";\n".into(),
            FailureKind::Validation,
            (2, 1),
            "qelib1.inc:32:6: 'h' is already defined at 1:6",
        ),
        (
            "unterminated include",
            "include \"qelib1.inc\nqreg q[1];\n".into(),
            FailureKind::Validation,
            (1, 9),
            "unterminated string",
        ),
        (
            "deep parentheses",
            deep_parens,
            FailureKind::Validation,
            (2, 131),
            "expression is nested too deeply",
        ),
        (
            "deep negation",
            deep_negation,
            FailureKind::Validation,
            (2, 131),
            "expression is nested too deeply",
        ),
        (
            "OpenQASM 3",
            "OPENQASM 3.0;\nqubit q;\n".into(),
            FailureKind::Validation,
            (1, 10),
            "only OpenQASM 2.0 is supported, this program is version 3",
        ),
        (
            "opaque gate called",
            "opaque magic(a, b) x, y;\nqreg q[2];\nmagic(1, 2) q[0], q[1];\n".into(),
            FailureKind::Validation,
            (3, 1),
            "gate 'magic' is opaque",
        ),
        (
            "measure inside a gate body",
            "gate g a { measure a -> c; }\n".into(),
            FailureKind::Validation,
            (1, 12),
            "keyword 'measure' is not allowed inside a gate body",
        ),
        (
            "broadcast over registers of different sizes",
            format!("{HEADER}qreg a[2];\nqreg b[3];\ncx a, b;\n"),
            FailureKind::Validation,
            (5, 7),
            "cannot broadcast over registers of different sizes",
        ),
    ];
    let mut mismatches = Vec::new();
    for (name, source, kind, (line, col), message) in cases {
        let got = error(&source, &fuzz_limits());
        if (got.0, got.1, got.2) != (kind, line, col) || !got.3.contains(message) {
            mismatches.push(format!(
                "{name}: got {got:?}, expected {kind:?} at {line}:{col} with {message:?}"
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
