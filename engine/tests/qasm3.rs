//! The OpenQASM 3 front end through `prepare`: formats, parameters, the gates of
//! `stdgates.inc` and their modifiers against known matrices, count keys, bounds, and the
//! table of refused constructs with their exact `line:col` and message.

mod common;

use std::collections::BTreeMap;
use std::f64::consts::PI;
use std::time::Duration;

use common::{C, KNOWN_GATES, Matrix, adjoint, flatten, identity};
use qrun_engine::ir::{Gate, GateKind, OpKind};
use qrun_engine::{
    CancellationToken, FailureKind, Format, Input, Limits, ParameterError, Parameters, Program,
    Stage, check_parameters, classical_bits, inputs, prepare, simulate, statevector,
};

const STD: &str = "OPENQASM 3.0;\ninclude \"stdgates.inc\";\n";

fn program_with(source: &str, parameters: &Parameters) -> Program {
    prepare(source, Format::OpenQasm3, parameters, 1, &Limits::default())
        .unwrap_or_else(|e| panic!("{e:?}\n{source}"))
}

fn program(source: &str) -> Program {
    program_with(source, &Parameters::new())
}

/// The counts of a deterministic or seeded run of `source`.
fn counts(source: &str, shots: u64) -> BTreeMap<String, u64> {
    let limits = Limits::default();
    let program = prepare(
        source,
        Format::OpenQasm3,
        &Parameters::new(),
        shots,
        &limits,
    )
    .unwrap_or_else(|e| panic!("{e:?}\n{source}"));
    simulate(&program, shots, Some(7), &limits, &CancellationToken::new())
        .unwrap()
        .counts
}

fn single(key: &str, shots: u64) -> BTreeMap<String, u64> {
    BTreeMap::from([(key.to_owned(), shots)])
}

/// (kind, position, message) of the error `source` gives.
fn failure(
    source: &str,
    parameters: &Parameters,
    limits: &Limits,
) -> (FailureKind, Option<(u32, u32)>, String) {
    let err = prepare(source, Format::OpenQasm3, parameters, 1, limits)
        .expect_err("the source should be rejected");
    assert_eq!(err.stage, Stage::Prepare, "{err:?}");
    (err.kind, err.position.map(|p| (p.line, p.col)), err.message)
}

fn params(pairs: &[(&str, f64)]) -> Parameters {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

// --- formats -----------------------------------------------------------------------------

#[test]
fn formats_come_from_the_manifest_and_the_header() {
    for format in [Format::OpenQasm2, Format::OpenQasm3] {
        assert_eq!(Format::from_manifest(format.as_str()), Some(format));
    }
    assert_eq!(Format::from_manifest("python"), None);
    assert_eq!(Format::from_manifest("OpenQASM3"), None);
    let cases = [
        ("OPENQASM 2.0;\nqreg q[1];", Some(Format::OpenQasm2)),
        ("OPENQASM 3.0;", Some(Format::OpenQasm3)),
        ("OPENQASM 3;", Some(Format::OpenQasm3)),
        (
            "  // a comment\n/* another\n */ OPENQASM 3.1;",
            Some(Format::OpenQasm3),
        ),
        ("OPENQASM\t2.0 ;", Some(Format::OpenQasm2)),
        ("qubit q;", None),
        ("OPENQASM 4.0;", None),
        ("OPENQASM 30;", None),
        ("OPENQASM3;", None),
        ("/* unterminated OPENQASM 3;", None),
        ("", None),
    ];
    for (source, expected) in cases {
        assert_eq!(Format::detect(source), expected, "{source:?}");
    }
}

#[test]
fn each_format_reads_its_own_language() {
    let v2 = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[1];\nx q[0];";
    assert!(
        prepare(
            v2,
            Format::OpenQasm2,
            &Parameters::new(),
            1,
            &Limits::default()
        )
        .is_ok()
    );
    let (kind, at, message) = failure(v2, &Parameters::new(), &Limits::default());
    assert_eq!(kind, FailureKind::Validation);
    assert_eq!(at, Some((1, 10)));
    assert!(message.contains("OpenQASM 2 program"), "{message}");
}

// --- parameters ----------------------------------------------------------------------------

#[test]
fn inputs_lists_the_declared_parameters_in_order() {
    let source = format!("{STD}input float[64] theta;\ninput angle[32] a;\ninput int n;\nqubit q;");
    let expected = vec![
        Input {
            name: "theta".into(),
            ty: "float[64]".into(),
        },
        Input {
            name: "a".into(),
            ty: "angle[32]".into(),
        },
        Input {
            name: "n".into(),
            ty: "int".into(),
        },
    ];
    assert_eq!(inputs(&source, Format::OpenQasm3).unwrap(), expected);
    assert_eq!(inputs("qreg q[1];", Format::OpenQasm2).unwrap(), vec![]);
    let err = inputs("input float x", Format::OpenQasm3).unwrap_err();
    assert_eq!(err.kind, FailureKind::Validation);
    assert_eq!(err.position.map(|p| (p.line, p.col)), Some((1, 14)));
}

#[test]
fn parameters_bind_inputs_in_gate_arguments_and_expressions() {
    // ry(θ) then rx(2φ) with θ = π, φ = π/2: |0⟩ → |1⟩ → |0⟩ (up to phase).
    let source = format!(
        "{STD}input float[64] theta;\ninput angle[32] phi;\nqubit q;\nbit c;\n\
         ry(theta) q;\nrx(2 * phi) q;\nc = measure q;"
    );
    let run = |theta: f64, phi: f64| {
        let limits = Limits::default();
        let program = program_with(&source, &params(&[("theta", theta), ("phi", phi)]));
        simulate(&program, 100, Some(1), &limits, &CancellationToken::new())
            .unwrap()
            .counts
    };
    let pi = std::f64::consts::PI;
    assert_eq!(run(pi, pi / 2.0), single("0", 100));
    assert_eq!(run(pi, 0.0), single("1", 100));
    // An angle is reduced into [0, 2π): φ = 5π/2 is π/2.
    assert_eq!(run(pi, 2.5 * pi), single("0", 100));
}

/// The angle of the first `rx` of `program`.
fn first_rx(program: &Program) -> f64 {
    program
        .ops()
        .iter()
        .find_map(|op| match &op.kind {
            OpKind::Gate(Gate {
                kind: GateKind::Rx(theta),
                ..
            }) => Some(*theta),
            _ => None,
        })
        .expect("an rx gate")
}

/// The specification's "Casting from float" (types, angle): a float cast to `angle[m]` is
/// rounded to the nearest multiple of `2π / 2^m`, a tie to the even multiple.
#[test]
fn a_float_cast_to_a_sized_angle_rounds_a_tie_to_even() {
    for (declaration, expected) in [
        // π/2 is half a step of angle[1] (steps of π): between 0 (even) and π (odd).
        ("const angle[1] b = pi/2;", 0.0),
        // 5π/4 is between π (2 steps of π/2, even) and 3π/2 (odd).
        ("const angle[2] b = 5*pi/4;", PI),
        // 3π/4 is between π/2 (odd) and π (even).
        ("const angle[2] b = 3*pi/4;", PI),
        // 7π/4 rounds to 2π, which wraps to 0.
        ("const angle[2] b = 7*pi/4;", 0.0),
        // Not a tie: to the nearest.
        ("const angle[2] b = 0.3*pi;", PI / 2.0),
    ] {
        let source = format!("{STD}{declaration}\nqubit q;\nrx(b) q;");
        let angle = first_rx(&program(&source));
        assert!((angle - expected).abs() < 1e-12, "{declaration}: {angle}");
    }
    let source = format!("{STD}input angle[2] a;\nqubit q;\nrx(a) q;");
    for (value, expected) in [(PI / 4.0, 0.0), (3.0 * PI / 4.0, PI), (5.0 * PI / 4.0, PI)] {
        let angle = first_rx(&program_with(&source, &params(&[("a", value)])));
        assert!((angle - expected).abs() < 1e-12, "a = {value}: {angle}");
    }
}

/// Every shot of a program with a tie is as the rounding says: `rx(0)` never flips.
#[test]
fn an_input_angle_at_a_tie_runs_as_its_even_neighbour() {
    let source = format!("{STD}input angle[2] a;\nqubit q;\nbit c;\nrx(2 * a) q;\nc = measure q;");
    let limits = Limits::default();
    let program = program_with(&source, &params(&[("a", PI / 4.0)]));
    let outcome = simulate(&program, 200, Some(3), &limits, &CancellationToken::new()).unwrap();
    assert_eq!(outcome.counts, single("0", 200));
}

#[test]
fn integer_inputs_can_size_loops_and_index() {
    let source = format!(
        "{STD}input int n;\nqubit[4] q;\nbit[4] c;\nfor int i in [0:n - 1] {{ x q[i]; }}\nc = measure q;"
    );
    let limits = Limits::default();
    let program = program_with(&source, &params(&[("n", 3.0)]));
    let outcome = simulate(&program, 10, Some(1), &limits, &CancellationToken::new()).unwrap();
    assert_eq!(outcome.counts, single("0111", 10));
    let (kind, at, message) = failure(&source, &params(&[("n", 2.5)]), &limits);
    assert_eq!(kind, FailureKind::Validation);
    assert_eq!(at, Some((3, 11)));
    assert_eq!(
        message,
        "parameter 'n' is 2.5; input 'n' (int) needs an integer"
    );
}

/// The submission check: what `prepare` would refuse for the parameters alone, without
/// lowering, each error naming the parameter.
#[test]
fn check_parameters_refuses_values_their_inputs_do_not_take() {
    let source = format!(
        "{STD}input int n;\ninput uint m;\ninput int[8] small;\ninput angle[2] a;\nqubit q;"
    );
    let declared = inputs(&source, Format::OpenQasm3).unwrap();
    let good = params(&[("n", -2.0), ("m", 3.0), ("small", -128.0), ("a", 0.4)]);
    assert_eq!(check_parameters(&declared, &good), Ok(()));
    prepare(&source, Format::OpenQasm3, &good, 1, &Limits::default()).unwrap();
    for (name, value, message) in [
        (
            "n",
            2.5,
            "parameter 'n' is 2.5; input 'n' (int) needs an integer",
        ),
        (
            "m",
            -1.0,
            "parameter 'm' is -1; input 'm' (uint) needs a non-negative integer",
        ),
        (
            "small",
            128.0,
            "parameter 'small' is 128; input 'small' (int[8]) needs an integer from -128 to 127",
        ),
        (
            "a",
            f64::INFINITY,
            "parameter 'a' is inf; input 'a' (angle[2]) needs a finite number",
        ),
    ] {
        let mut bad = good.clone();
        bad.insert(name.into(), value);
        let err = check_parameters(&declared, &bad).unwrap_err();
        assert_eq!(err.name(), name);
        assert!(matches!(err, ParameterError::Invalid { .. }), "{err:?}");
        assert_eq!(err.to_string(), message);
        // `prepare` refuses the same value with the same sentence, at the input's name.
        if value.is_finite() {
            let (kind, at, prepared) = failure(&source, &bad, &Limits::default());
            assert_eq!(
                (kind, prepared.as_str()),
                (FailureKind::Validation, message)
            );
            assert!(at.is_some());
        }
    }
    let mut missing = good.clone();
    missing.remove("m");
    assert_eq!(
        check_parameters(&declared, &missing)
            .unwrap_err()
            .to_string(),
        "missing parameter 'm' (input uint m)"
    );
    let mut unknown = good.clone();
    unknown.insert("theta".into(), 1.0);
    assert_eq!(
        check_parameters(&declared, &unknown)
            .unwrap_err()
            .to_string(),
        "unknown parameter 'theta': the circuit declares n, m, small, a"
    );
    // OpenQASM 2 declares nothing; a bool input takes nothing.
    assert_eq!(
        check_parameters(&[], &params(&[("x", 1.0)]))
            .unwrap_err()
            .to_string(),
        "unknown parameter 'x': the circuit declares no input"
    );
    let flag = Input {
        name: "flag".into(),
        ty: "bool".into(),
    };
    assert!(flag.check(1.0).is_err());
}

#[test]
fn classical_bits_are_the_count_keys_bits_with_the_parameters_bound() {
    let v2 = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[2];\ncreg a[2];\ncreg b[3];\n";
    assert_eq!(
        classical_bits(v2, Format::OpenQasm2, &Parameters::new()),
        Ok(5)
    );
    assert_eq!(
        classical_bits("OPENQASM 2.0;", Format::OpenQasm2, &Parameters::new()),
        Ok(0)
    );
    // Scalar bits are one-bit registers; a register may be sized by an input.
    let v3 = format!("{STD}input int n;\nqubit[2] q;\nbit flag;\nbit[n] c;\nc[0] = measure q[0];");
    assert_eq!(
        classical_bits(&v3, Format::OpenQasm3, &params(&[("n", 6.0)])),
        Ok(7)
    );
    let missing = classical_bits(&v3, Format::OpenQasm3, &Parameters::new()).unwrap_err();
    assert_eq!(
        (missing.kind, missing.stage),
        (FailureKind::Validation, Stage::Prepare)
    );
    // Whatever a backend's limits, up to the engine's own: a wide circuit still counts, a
    // wider one than the engine admits does not.
    let wide = "OPENQASM 2.0;\nqreg q[40];\ncreg c[1024];\n";
    assert_eq!(
        classical_bits(wide, Format::OpenQasm2, &Parameters::new()),
        Ok(1024)
    );
    // A Clifford circuit counts up to the stabilizer's width.
    let clifford = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[32768];\ncreg c[2];\nh q[0];\n";
    assert_eq!(
        classical_bits(clifford, Format::OpenQasm2, &Parameters::new()),
        Ok(2)
    );
    for too_much in [
        "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[41];\ncreg c[1];\nt q[0];\n",
        "OPENQASM 2.0;\nqreg q[32769];\ncreg c[1];\n",
        "OPENQASM 2.0;\ncreg c[1025];\n",
    ] {
        let err = classical_bits(too_much, Format::OpenQasm2, &Parameters::new()).unwrap_err();
        assert_eq!(err.kind, FailureKind::ResourceLimit, "{too_much}");
    }
}

#[test]
fn missing_unknown_and_non_finite_parameters_are_named() {
    let source = format!("{STD}input float[64] theta;\nqubit q;\nrx(theta) q;");
    let limits = Limits::default();
    assert_eq!(
        failure(&source, &Parameters::new(), &limits),
        (
            FailureKind::Validation,
            Some((3, 17)),
            "input 'theta' (float[64]) has no value: the run must give the parameter 'theta'"
                .into()
        )
    );
    assert_eq!(
        failure(&source, &params(&[("theta", 1.0), ("phi", 2.0)]), &limits),
        (
            FailureKind::Validation,
            None,
            "parameter 'phi' is not an input of this program (its inputs: theta)".into()
        )
    );
    assert_eq!(
        failure(&format!("{STD}qubit q;"), &params(&[("phi", 2.0)]), &limits),
        (
            FailureKind::Validation,
            None,
            "parameter 'phi' is not an input of this program (the program declares no input)"
                .into()
        )
    );
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let (kind, at, message) = failure(&source, &params(&[("theta", bad)]), &limits);
        assert_eq!((kind, at), (FailureKind::Validation, None));
        assert_eq!(
            message,
            format!("parameter 'theta' is {bad}; parameters must be finite numbers")
        );
    }
    let (kind, at, message) = failure(
        &format!("{STD}input bool flag;"),
        &params(&[("flag", 1.0)]),
        &limits,
    );
    assert_eq!((kind, at), (FailureKind::Validation, Some((3, 12))));
    assert_eq!(
        message,
        "parameter 'flag' is 1; input 'flag' (bool) needs a numeric type (bool inputs are not \
         supported)"
    );
}

#[test]
fn openqasm2_sources_take_no_parameters() {
    let err = prepare(
        "OPENQASM 2.0;\nqreg q[1];",
        Format::OpenQasm2,
        &params(&[("theta", 0.5)]),
        1,
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(
        (err.kind, err.stage, err.position),
        (FailureKind::Validation, Stage::Prepare, None)
    );
    assert_eq!(
        err.message,
        "parameter 'theta' given to an OpenQASM 2 program, which has no inputs (parameters \
         need OpenQASM 3 'input' declarations)"
    );
}

// --- gates and modifiers against known matrices ----------------------------------------------

/// The unitary of `body` on `n` qubits `q[0..n]` (bit `i` of an index is `q[i]`),
/// column by column from basis states prepared with `x`.
fn unitary(prelude: &str, n: usize, body: &str) -> Matrix {
    let dim = 1 << n;
    let columns: Vec<Vec<C>> = (0..dim)
        .map(|column| {
            let flips: String = (0..n)
                .filter(|bit| column >> bit & 1 == 1)
                .map(|bit| format!("x q[{bit}];\n"))
                .collect();
            let source = format!("{STD}{prelude}\nqubit[{n}] q;\n{flips}{body}\n");
            let limits = Limits::default();
            statevector(&program(&source), &limits, &CancellationToken::new())
                .unwrap()
                .to_vec()
        })
        .collect();
    (0..dim)
        .map(|r| (0..dim).map(|c| columns[c][r]).collect())
        .collect()
}

/// `m` with one more control as its first argument (bit 0), active on `on`.
fn with_control(m: &Matrix, on: bool) -> Matrix {
    let dim = 2 * m.len();
    let mut out = identity(dim);
    for r in 0..dim {
        for c in 0..dim {
            if (r & 1 == 1) == on && (c & 1 == 1) == on {
                out[r][c] = m[r >> 1][c >> 1];
            } else if (r & 1 == 1) == on || (c & 1 == 1) == on {
                out[r][c] = C::new(0.0, 0.0);
            }
        }
    }
    out
}

fn product(a: &Matrix, b: &Matrix) -> Matrix {
    (0..a.len())
        .map(|r| {
            (0..a.len())
                .map(|c| (0..a.len()).map(|k| a[r][k] * b[k][c]).sum())
                .collect()
        })
        .collect()
}

/// Entry-wise equality, global phase included.
fn assert_same(actual: &Matrix, expected: &Matrix, what: &str) {
    for (i, (a, e)) in flatten(actual).iter().zip(flatten(expected)).enumerate() {
        assert!(
            (a - e).norm() < 1e-9,
            "{what}: entry {i} is {a}, expected {e}"
        );
    }
}

/// `name(params) q[a], q[b], …;`
fn call(
    modifiers: &str,
    name: &str,
    params: &[f64],
    qubits: impl Iterator<Item = usize>,
) -> String {
    let params = if params.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = params.iter().map(|p| format!("{p:e}")).collect();
        format!("({})", list.join(", "))
    };
    let args: Vec<String> = qubits.map(|q| format!("q[{q}]")).collect();
    format!("{modifiers}{name}{params} {};", args.join(", "))
}

/// The gates of stdgates.inc, which are Qiskit's standard gates.
const STDGATES: [&str; 30] = [
    "p", "x", "y", "z", "h", "s", "sdg", "t", "tdg", "sx", "rx", "ry", "rz", "cx", "cy", "cz",
    "cp", "crx", "cry", "crz", "ch", "swap", "ccx", "cswap", "cu", "CX", "id", "u1", "u2", "u3",
];

#[test]
fn stdgates_and_their_modifiers_have_qiskits_matrices_exactly() {
    let mut checked = 0;
    for gate in KNOWN_GATES
        .iter()
        .filter(|g| STDGATES.contains(&g.name) || g.name == "U")
    {
        checked += 1;
        let params: Vec<f64> = (0..gate.num_params)
            .map(|i| 0.37 + 0.91 * i as f64)
            .collect();
        let n = gate.num_qubits;
        let known = (gate.matrix)(&params);
        let plain = unitary("", n, &call("", gate.name, &params, 0..n));
        assert_same(&plain, &known, gate.name);
        // Modifiers; the control is q[0], the gate's own qubits follow.
        let shifted = || 1..=n;
        let cases = [
            ("ctrl @ ", with_control(&known, true)),
            ("negctrl @ ", with_control(&known, false)),
        ];
        for (modifier, expected) in cases {
            let actual = unitary(
                "",
                n + 1,
                &call(modifier, gate.name, &params, (0..1).chain(shifted())),
            );
            assert_same(&actual, &expected, &format!("{modifier}{}", gate.name));
        }
        let twice = with_control(&with_control(&known, true), true);
        let actual = unitary("", n + 2, &call("ctrl(2) @ ", gate.name, &params, 0..n + 2));
        assert_same(&actual, &twice, &format!("ctrl(2) @ {}", gate.name));
        let inverse = adjoint(&known);
        for (modifier, expected) in [
            ("inv @ ", inverse.clone()),
            ("pow(-1) @ ", inverse.clone()),
            ("pow(2) @ ", product(&known, &known)),
            ("pow(0) @ ", identity(1 << n)),
            (
                "inv @ pow(-3) @ ",
                product(&known, &product(&known, &known)),
            ),
        ] {
            let actual = unitary("", n, &call(modifier, gate.name, &params, 0..n));
            assert_same(&actual, &expected, &format!("{modifier}{}", gate.name));
        }
        let actual = unitary(
            "",
            n + 1,
            &call("ctrl @ inv @ ", gate.name, &params, 0..n + 1),
        );
        assert_same(
            &actual,
            &with_control(&inverse, true),
            &format!("ctrl @ inv @ {}", gate.name),
        );
    }
    assert_eq!(checked, 31, "all 30 gates of stdgates.inc, and U");
}

#[test]
fn defined_gates_keep_their_global_phase_under_control() {
    // gp = e^{0.7i} U(0.3, 0.2, 0.1); a definition's gphase matters once controlled.
    let prelude = "gate gp a { gphase(0.7); U(0.3, 0.2, 0.1) a; }\n\
                   gate two(t) a, b { gp a; cx a, b; rz(t) b; }";
    let phase = C::cis(0.7);
    let gp: Matrix = common::u(0.3, 0.2, 0.1)
        .into_iter()
        .map(|row| row.into_iter().map(|x| x * phase).collect())
        .collect();
    assert_same(
        &unitary(prelude, 2, "ctrl @ gp q[0], q[1];"),
        &with_control(&gp, true),
        "ctrl @ gp",
    );
    assert_same(
        &unitary(prelude, 2, "negctrl @ inv @ gp q[0], q[1];"),
        &with_control(&adjoint(&gp), false),
        "negctrl @ inv @ gp",
    );
    // A controlled defined gate is the controlled product of its body.
    let two = unitary(prelude, 2, "gp q[0];\ncx q[0], q[1];\nrz(0.4) q[1];");
    let mut expected = with_control(&two, true);
    // Uncontrolled, the body's gphase is a global phase the engine drops; controlled, it
    // is a phase on the control's |1⟩ block.
    for (r, row) in expected.iter_mut().enumerate() {
        for (c, entry) in row.iter_mut().enumerate() {
            if r & 1 == 1 && c & 1 == 1 {
                *entry *= phase;
            }
        }
    }

    assert_same(
        &unitary(prelude, 3, "ctrl @ two(0.4) q[0], q[1], q[2];"),
        &expected,
        "ctrl @ two",
    );
    // ctrl @ gphase is a phase gate on the control.
    let p = unitary("", 1, "ctrl @ gphase(0.9) q[0];");
    assert_same(&p, &unitary("", 1, "p(0.9) q[0];"), "ctrl @ gphase");
}

#[test]
fn many_controls_use_the_general_multi_controlled_gates() {
    // ctrl(5) @ x: flips q[5] only when q[0..5] are all 1.
    let counts = counts(
        &format!(
            "{STD}qubit[6] q;\nbit[6] c;\nx q[0:4];\nctrl(5) @ x q[0], q[1], q[2], q[3], q[4], q[5];\nc = measure q;"
        ),
        10,
    );
    assert_eq!(counts, single("111111", 10));
    let counts = self::counts(
        &format!(
            "{STD}qubit[6] q;\nbit[6] c;\nx q[0:3];\nctrl(5) @ x q[0], q[1], q[2], q[3], q[4], q[5];\nc = measure q;"
        ),
        10,
    );
    assert_eq!(counts, single("001111", 10));
}

// --- the rest of the language -----------------------------------------------------------------

#[test]
fn count_keys_are_per_register_most_significant_first_last_declared_leftmost() {
    let source = format!(
        "{STD}qubit[4] q;\nbit lo;\nbit[2] mid;\ncreg hi[1];\n\
         x q[1];\nx q[3];\nlo = measure q[0];\nmid[0] = measure q[1];\nmeasure q[2] -> mid[1];\n\
         measure q[3] -> hi[0];"
    );
    assert_eq!(counts(&source, 5), single("1 01 0", 5));
    let p = program(&source);
    let names: Vec<_> = p
        .cregs()
        .iter()
        .map(|r| (r.name.as_str(), r.size))
        .collect();
    assert_eq!(names, vec![("lo", 1), ("mid", 2), ("hi", 1)]);
}

#[test]
fn physical_qubits_are_the_qubits_of_one_device_wide_register() {
    // As `qiskit.qasm3.dumps` writes a transpiled circuit: no qubit declaration.
    let source = format!(
        "{STD}bit[3] c;\nx $7;\ncx $7, $2;\nbarrier;\nc[0] = measure $2;\n\
         c[1] = measure $0;\nmeasure $07 -> c[2];"
    );
    assert_eq!(counts(&source, 5), single("101", 5));
    let p = program(&source);
    // The device is 8 qubits wide; the 3 named are simulated, in index order.
    assert_eq!((p.width(), p.num_qubits()), (8, 3));
    // `x $5; h $9;`: $5 is simulated qubit 0, $9 qubit 1 (Qiskit's little-endian order).
    let state = statevector(
        &program(&format!("{STD}x $5;\nh $9;")),
        &Limits::default(),
        &CancellationToken::new(),
    )
    .unwrap();
    let half = std::f64::consts::FRAC_1_SQRT_2;
    let expected = [0.0, half, 0.0, half];
    for (amplitude, want) in state.iter().zip(expected) {
        assert!((amplitude - C::new(want, 0.0)).norm() < 1e-12, "{state:?}");
    }
}

#[test]
fn the_qubit_limit_applies_to_the_highest_physical_index() {
    let limits = Limits {
        max_qubits: 4,
        max_stabilizer_qubits: 0,
        ..Limits::default()
    };
    let ok = format!("{STD}bit c;\nh $3;\nc = measure $3;");
    assert!(prepare(&ok, Format::OpenQasm3, &Parameters::new(), 1, &limits).is_ok());
    // One qubit simulated, but $4 does not exist on a 4-qubit device.
    let past = format!("{STD}bit c;\nh $1;\nh $4;\nc = measure $4;");
    assert_eq!(
        failure(&past, &Parameters::new(), &limits),
        (
            FailureKind::ResourceLimit,
            Some((5, 3)),
            "circuit uses 5 qubits; this backend allows at most 4 (a state vector of 4 qubits \
             takes 256 B)"
                .to_owned()
        )
    );
}

#[test]
fn conditions_on_wide_registers_negations_and_else_branches() {
    // A 70-bit register reading 2^65 + 1.
    let source = format!(
        "{STD}qubit[3] q;\nbit[70] w;\nbit[2] out;\nx q[0];\nx q[1];\nw[0] = measure q[0];\n\
         w[65] = measure q[1];\nif (w == 36893488147419103233) {{ x q[2]; }} else {{ }}\n\
         if (w != 36893488147419103233) {{ x q[0]; }}\n\
         if (w >= 36893488147419103233 && w <= 36893488147419103233) {{ x q[1]; }}\n\
         if (!w[65] || w[64]) {{ x q[2]; }} else {{ ctrl @ x q[2], q[1]; }}\n\
         out[0] = measure q[2];\nout[1] = measure q[1];"
    );
    let counts = counts(&source, 4);
    // q2 = 1 (first if), q0 untouched, q1 flipped off (third), then else: cx q2 -> q1.
    let key = counts.keys().next().unwrap().clone();
    assert_eq!(counts, single(&key, 4));
    assert_eq!(key.split(' ').next().unwrap(), "11");
}

#[test]
fn loops_unroll_over_ranges_sets_and_negative_steps() {
    let source = format!(
        "{STD}qubit[5] q;\nbit[5] c;\nfor int i in [4:-2:0] {{ x q[i]; }}\n\
         for uint j in {{1, 3}} {{ x q[j]; }}\nfor k in [1:1] {{ x q[-1]; }}\nc = measure q;"
    );
    assert_eq!(counts(&source, 3), single("01111", 3));
}

#[test]
fn operands_index_by_sets_ranges_and_negative_indices() {
    let source = format!(
        "{STD}qubit[3] q;\nx q[0];\nx q[-1];\nbit[2] a = measure q[{{0, 1}}];\n\
         bit[2] b = measure q[1:2];\nbit[3] c = measure q[2:-1:0];\nbit[2] d = measure q[-1:-2:];"
    );
    // a = (q0, q1) = 01, b = (q1, q2) = 10, c = (q2, q1, q0) = 101, d = (q2, q0) = 11.
    assert_eq!(counts(&source, 3), single("11 101 10 01", 3));
}

#[test]
fn const_expressions_fold_with_integer_and_float_arithmetic() {
    let source = format!(
        "{STD}const int n = 2 ** 3 - 7 / 2 % 2;\nconst float f = floor(2.7) + ceiling(0.2) + mod(7, 4);\n\
         const bool b = n == 7 && !(f < 6.0);\nqubit[n] q;\nbit[n] c;\n\
         if (b) {{ x q[n - 1]; }}\nc = measure q;"
    );
    assert_eq!(counts(&source, 2), single("1000000", 2));
}

#[test]
fn loops_exponents_and_nesting_are_bounded() {
    let limits = Limits {
        max_gates: 100,
        ..Limits::default()
    };
    let cases = [
        (
            format!("{STD}qubit q;\nfor int i in [0:1000000000000] {{ }}"),
            (4, 9),
            "circuit takes more than 6400 steps to expand its loops and gate definitions \
             (64 per operation of the backend's max_gates of 100)",
        ),
        (
            format!("{STD}qubit q;\npow(1000000000000) @ id q;"),
            (4, 22),
            "circuit takes more than 6400 steps to expand its loops and gate definitions \
             (64 per operation of the backend's max_gates of 100)",
        ),
        (
            format!("{STD}qubit q;\nfor int i in [0:200] {{ x q; }}"),
            (4, 24),
            "circuit expands to more than 100 operations (the backend's max_gates)",
        ),
    ];
    for (source, at, message) in cases {
        assert_eq!(
            failure(&source, &Parameters::new(), &limits),
            (FailureKind::ResourceLimit, Some(at), message.into()),
            "{source}"
        );
    }
    // Programs that emit nothing stop at the bound on steps too: nested loops of calls to
    // `id`, and a definition that doubles 40 times.
    let mut doubling = String::from("gate d0 a { id a; id a; }\n");
    for i in 1..40 {
        doubling.push_str(&format!("gate d{i} a {{ d{} a; d{} a; }}\n", i - 1, i - 1));
    }
    for source in [
        format!(
            "{STD}qubit q;\nfor int i in [0:1000000000] {{ for int j in [0:1000000000] {{ id q; }} }}"
        ),
        format!("{STD}{doubling}qubit q;\nd39 q;"),
    ] {
        let (kind, _, message) = failure(&source, &Parameters::new(), &limits);
        assert_eq!(kind, FailureKind::ResourceLimit, "{source}");
        assert!(
            message.starts_with("circuit takes more than 6400 steps"),
            "{message}"
        );
    }
    // A chain of 300 gates, each calling the previous one.
    let mut chain = String::from("gate g0 a { U(0, 0, 0) a; }\n");
    for i in 1..300 {
        chain.push_str(&format!("gate g{i} a {{ g{} a; }}\n", i - 1));
    }
    let source = format!("{STD}{chain}qubit q;\ng299 q;");
    let (kind, at, message) = failure(&source, &Parameters::new(), &Limits::default());
    assert_eq!((kind, at), (FailureKind::Validation, Some((304, 1))));
    assert_eq!(message, "gate calls nest more than 256 deep");
}

/// The kinds of the gates `source` applies.
fn gate_kinds(source: &str) -> Vec<GateKind> {
    program(source)
        .ops()
        .iter()
        .filter_map(|op| match &op.kind {
            OpKind::Gate(gate) => Some(gate.kind),
            _ => None,
        })
        .collect()
}

/// Issue 20, item 12, in OpenQASM 3: a chain of more than 128 terms was refused as
/// "expression nests more than 128 deep". A flat chain nests nothing: chains of any length
/// evaluate, with each level's associativity, in gate arguments, constants, gate bodies
/// and conditions.
#[test]
fn flat_chains_of_any_length_evaluate() {
    let rz = |expr: String| gate_kinds(&format!("{STD}qubit q;\nrz({expr}) q;"));
    assert_eq!(
        rz(format!("pi{}", " + 0".repeat(9_999))),
        vec![GateKind::Rz(PI)]
    );
    assert_eq!(
        rz(format!("1{}", " - 1 + 1".repeat(5_000))),
        vec![GateKind::Rz(1.0)]
    );
    assert_eq!(
        rz(format!("7{}", " * 2 / 2".repeat(5_000))),
        vec![GateKind::Rz(7.0)]
    );
    assert_eq!(
        rz(format!("1{}", " + 2 * 3".repeat(5_000))),
        vec![GateKind::Rz(30_001.0)]
    );
    // `**` applies from the right: 0.5 ** (0.5 ** (…)) converges to 0.641…, while from the
    // left it would tend to 1.
    let right = (1..10_000).fold(0.5f64, |exponent, _| 0.5f64.powf(exponent));
    assert!((right - 0.641_185_744_5).abs() < 1e-9, "{right}");
    assert_eq!(
        rz(format!("0.5{}", " ** 0.5".repeat(9_999))),
        vec![GateKind::Rz(right)]
    );
    let source = format!(
        "{STD}const int n = 1{};\nconst bool yes = true{};\ngate g(a) x {{ rz(a{}) x; }}\n\
         qubit q;\nbit c;\nc = measure q;\nif (yes && !c{}) {{ g(n) q; }}",
        " + 1".repeat(9_999),
        " && true".repeat(9_999),
        " + a".repeat(9_999),
        " && !c".repeat(199)
    );
    let p = program(&source);
    let gate = p.ops().last().unwrap();
    assert_eq!(
        gate.kind,
        OpKind::Gate(Gate {
            kind: GateKind::Rz(1e8),
            qubits: vec![0]
        })
    );
    let tests = &gate.condition.as_ref().unwrap().tests;
    assert_eq!(tests.len(), 200);
    assert!(
        tests
            .iter()
            .all(|test| test.value.iter().all(|&w| w == 0) && test.equal)
    );
    // A chain of tests on bits is bounded by the size of a case (each guarded operation
    // checks every test), not by nesting.
    for (link, col) in [(" && !c", 8 + 6 * 255), (" || c", 7 + 5 * 255)] {
        let first = &link[4..];
        let source = format!(
            "{STD}qubit q;\nbit c;\nif ({first}{}) {{ x q; }}",
            link.repeat(9_999)
        );
        assert_eq!(
            failure(&source, &Parameters::new(), &Limits::default()),
            (
                FailureKind::Validation,
                Some((5, col)),
                "condition expands to a case of more than 256 tests".to_owned()
            ),
            "{link}"
        );
    }
}

#[test]
fn deep_nesting_is_refused_at_its_position_not_overflowing() {
    let refused = |expr: String, col: u32| {
        let source = format!("{STD}qubit q;\nrx({expr}) q;");
        assert_eq!(
            failure(&source, &Parameters::new(), &Limits::default()),
            (
                FailureKind::Validation,
                Some((4, col)),
                "expression nests more than 128 deep".to_owned()
            )
        );
    };
    // The argument is the first level: the 128th nested level starts at column 132.
    refused(
        format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000)),
        132,
    );
    refused(format!("{}1", "-".repeat(100_000)), 132);
    refused(format!("{}1", "!~".repeat(50_000)), 132);
    refused(
        format!("{}1{}", "sin(".repeat(10_000), ")".repeat(10_000)),
        4 + 4 * 128,
    );
    // A signed exponent nests twice (the exponent, then its sign): the 64th one's operand,
    // at column 5 + 4 × 63 + 3, is the 129th level.
    refused(format!("2{}", "**-2".repeat(10_000)), 260);
    // Just below the bound, each kind runs.
    let ok = |expr: String| gate_kinds(&format!("{STD}qubit q;\nrx({expr}) q;"));
    let nested = format!("{}1{}", "(".repeat(127), ")".repeat(127));
    assert_eq!(ok(nested), vec![GateKind::Rx(1.0)]);
    assert_eq!(ok(format!("{}1", "-".repeat(126))), vec![GateKind::Rx(1.0)]);
}

#[test]
fn a_large_program_prepares_quickly_within_its_limits() {
    let body: String = (0..10_000)
        .map(|i| format!("rz({}) q[{}];\n", i as f64 * 1e-3, i % 10))
        .collect();
    let started = std::time::Instant::now();
    let p = program(&format!("{STD}qubit[10] q;\n{body}"));
    assert_eq!(p.gate_count(), 10_000);
    assert!(started.elapsed() < Duration::from_secs(10));
}

// --- refused and malformed constructs ---------------------------------------------------------

#[test]
fn refused_constructs_are_named_at_their_line_and_column() {
    let cases: &[(&str, (u32, u32), &str)] = &[
        (
            "qubit q;\nwhile (true) { U(0, 0, 0) q; }",
            (2, 1),
            "'while' loops are not supported (only 'for' loops over ranges and sets)",
        ),
        (
            "qubit q;\ndef f(int a) -> int { return a; }",
            (2, 1),
            "subroutines ('def') are not supported",
        ),
        (
            "extern f(int) -> int;",
            (1, 1),
            "'extern' declarations are not supported",
        ),
        (
            "qubit q;\nbox { U(0, 0, 0) q; }",
            (2, 1),
            "'box' is not supported",
        ),
        (
            "qubit q;\n  delay[100ns] q;",
            (2, 3),
            "'delay' is not supported",
        ),
        (
            "bit[2] c;\nswitch (c) { case 0 { } }",
            (2, 1),
            "'switch' statements are not supported",
        ),
        (
            "duration d = 10ns;",
            (1, 1),
            "durations ('duration', 'stretch', 'durationof') are not supported",
        ),
        (
            "qubit q;\nbreak;",
            (2, 1),
            "'break' and 'continue' are not supported",
        ),
        ("let a = q;", (1, 1), "aliases ('let') are not supported"),
        (
            "qubit q;\ncal { }",
            (2, 1),
            "pulse-level calibrations ('cal', 'defcal', 'defcalgrammar') are not supported",
        ),
        (
            "output float x;",
            (1, 1),
            "'output' declarations are not supported",
        ),
        (
            "int i = 3;",
            (1, 1),
            "classical variables are not supported (use 'const', 'input' or 'bit')",
        ),
        (
            "bit c;\nc = 1;",
            (2, 5),
            "classical assignments are not supported (only 'c = measure q;')",
        ),
        (
            "const complex c = 1;",
            (1, 7),
            "complex numbers are not supported",
        ),
        ("#pragma foo", (1, 1), "pragmas are not supported"),
        ("@anno x\nqubit q;", (1, 1), "annotations are not supported"),
        (
            "qubit q;\nU(0, 0, 0) $0;",
            (2, 12),
            "physical qubit $0 is used in a program that declares qubits ('q' at 2:7): \
             OpenQASM 3 does not say which physical qubit a declared one is (a compiler's \
             layout decides), so a program uses either physical qubits or declared ones",
        ),
        (
            "U(0, 0, 0) $0;\nqubit[2] q;",
            (2, 10),
            "qubit 'q' is declared in a program that uses physical qubits ($0 at 2:12): \
             OpenQASM 3 does not say which physical qubit a declared one is (a compiler's \
             layout decides), so a program uses either physical qubits or declared ones",
        ),
        (
            "gate g a { U(0, 0, 0) $1; }\nU(0, 0, 0) $1;",
            (1, 23),
            "physical qubit $1 cannot be used in the body of gate 'g': a gate acts only on \
             its qubit arguments",
        ),
        (
            "U(0, 0, 0) $1[0];",
            (1, 12),
            "physical qubit $1 is one qubit: it cannot be indexed",
        ),
        (
            "bit c;\nmeasure $0 -> $1;",
            (2, 15),
            "expected bits, $1 is a physical qubit",
        ),
        (
            "U($0, 0, 0) $1;",
            (1, 3),
            "physical qubit $0 is not a classical value",
        ),
        (
            "$0 = measure $1;",
            (1, 1),
            "expected a statement, found physical qubit $0",
        ),
        (
            "qubit q;\npow(0.5) @ U(pi, 0, pi) q;",
            (2, 1),
            "pow(0.5) @: only integer exponents are supported",
        ),
        (
            "qubit q;\nbit c;\nmeasure q;",
            (3, 1),
            "a measurement must store its result ('c = measure q;' or 'measure q -> c;')",
        ),
        (
            "qubit[2] q;\nbit[2] c;\nc[0] = measure q[0];\nif (c[0]) { c[0] = measure q[1]; }",
            (4, 13),
            "this measurement writes c[0], which the condition of the 'if' at 5:1 reads; the engine \
          evaluates that condition again for every operation of the block, so it does not run such blocks",
        ),
        (
            "qubit q;\nU(0, 0, 0) q;\nU(1.5im, 0, 0) q;",
            (3, 3),
            "imaginary numbers are not supported ('1.5im')",
        ),
        (
            "qubit q;\nU(float(1), 0, 0) q;",
            (2, 3),
            "casts are not supported",
        ),
        (
            "qubit[2] q;\nU(0, 0, 0) q[0, 1];",
            (2, 15),
            "multi-dimensional indexing is not supported",
        ),
        (
            "qubit q;\nbit[2] c;\nbit[2] d;\nif (c == d) { U(0, 0, 0) q; }",
            (4, 7),
            "comparing two registers is not supported (compare one with a value)",
        ),
        (
            "qubit q;\nfor int i in [0:2] { qubit r; }",
            (2, 22),
            "a qubit declaration is only allowed in the global scope, not inside a block",
        ),
        (
            "gate g a { reset a; }",
            (1, 12),
            "a reset is not allowed in a gate body",
        ),
    ];
    for (body, at, message) in cases {
        let source = format!("OPENQASM 3.0;\n{body}");
        let at = (at.0 + 1, at.1);
        assert_eq!(
            failure(&source, &Parameters::new(), &Limits::default()),
            (FailureKind::Validation, Some(at), (*message).to_owned()),
            "{body}"
        );
    }
}

#[test]
fn includes_other_than_stdgates_are_refused_without_reading_a_file() {
    for file in [
        "/etc/passwd",
        "qelib1.inc",
        "../stdgates.inc",
        "stdgates.inc.bak",
    ] {
        let source = format!("OPENQASM 3.0;\ninclude \"{file}\";");
        assert_eq!(
            failure(&source, &Parameters::new(), &Limits::default()),
            (
                FailureKind::Validation,
                Some((2, 1)),
                format!(
                    "cannot include \"{file}\": the only includable file is \"stdgates.inc\" (built in)"
                )
            )
        );
    }
}

#[test]
fn malformed_programs_say_what_was_expected_where() {
    let cases: &[(&str, (u32, u32), &str)] = &[
        (
            "qubit q;\nh q;",
            (2, 1),
            "unknown gate 'h' (it is in stdgates.inc: add include \"stdgates.inc\";)",
        ),
        (
            "include \"stdgates.inc\";\nqubit[2] q;\ncx q[0];",
            (3, 1),
            "gate 'cx' takes 2 qubit arguments, got 1",
        ),
        (
            "include \"stdgates.inc\";\nqubit[2] q;\nctrl(3) @ x q[0], q[1];",
            (3, 11),
            "gate 'x' takes 4 qubit arguments (3 controls and 1), got 2",
        ),
        (
            "include \"stdgates.inc\";\nqubit[2] q;\nx q[2];",
            (3, 5),
            "index 2 is out of range for register 'q' of size 2",
        ),
        (
            "include \"stdgates.inc\";\nqubit[2] q;\ncx q[0], q[0];",
            (3, 10),
            "gate 'cx' is given qubit q[0] twice",
        ),
        // Issue 20, item 7: this said "'h' is already declared at 2:1", the include
        // statement, without saying so.
        (
            "include \"stdgates.inc\";\nqubit h;",
            (2, 7),
            "'h' is already declared in stdgates.inc (included at 2:1)",
        ),
        (
            "qubit h;\ninclude \"stdgates.inc\";",
            (2, 1),
            "in stdgates.inc: 'h' is already declared at 2:7",
        ),
        (
            "include \"stdgates.inc\";\nqubit q;\nrx(1 +) q;",
            (3, 7),
            "expected an expression, found ')'",
        ),
        (
            "include \"stdgates.inc\";\nqubit q;\nrx(sinh(1)) q;",
            (3, 4),
            "unknown function 'sinh' (functions: sin, cos, tan, arcsin, arccos, arctan, exp, log, sqrt, ceiling, floor, mod, pow)",
        ),
        (
            "include \"stdgates.inc\";\ngate g(a) q { rx(b) q; }",
            (2, 18),
            "unknown name 'b' (a gate body can use its parameters and constants)",
        ),
        (
            "qubit q;\nU(0, 0, 0) q",
            (2, 13),
            "expected ';', found end of input",
        ),
        (
            "qubit q;\ngphase(pi) q;",
            (2, 1),
            "gate 'gphase' takes 0 qubit arguments, got 1",
        ),
        (
            "const float a = 1 / 0;",
            (1, 19),
            "integer division by zero",
        ),
        (
            "qubit q;\nbit[2] c;\nc = measure q;",
            (3, 1),
            "measure needs as many bits as qubits: 1 qubit into 2 bits",
        ),
        (
            "qubit q;\nU(0, 0, 0) q; else { }",
            (2, 15),
            "'else' without an 'if'",
        ),
        (
            "qubit[0] q;",
            (1, 10),
            "register 'q' must have at least one bit",
        ),
        (
            "include \"stdgates.inc\";\nqubit q;\nrx(pi / 0.0) q;",
            (3, 7),
            "gate parameter evaluates to inf; expected a finite number",
        ),
    ];
    for (body, at, message) in cases {
        let source = format!("OPENQASM 3.0;\n{body}");
        let at = (at.0 + 1, at.1);
        assert_eq!(
            failure(&source, &Parameters::new(), &Limits::default()),
            (FailureKind::Validation, Some(at), (*message).to_owned()),
            "{body}"
        );
    }
}

#[test]
fn truncated_and_mutated_programs_fail_cleanly() {
    // Every prefix and many single-character mutations of a program exercising most of
    // the language: each prepares or fails in the prepare stage, with a position for every
    // validation error (parameters aside, none here).
    let source = format!(
        "{STD}const int n = 3;\ngate g(t) a, b {{ ctrl @ rx(t) a, b; gphase(t / 2); }}\n\
         qubit[n] q;\nbit[2] c;\nbit flag;\nh q[0];\nnegctrl @ g(sin(pi / 3)) q[0], q[1], q[2];\n\
         for int i in [0:1] {{ pow(2) @ inv @ rz(0.1 * i) q[i]; }}\nc = measure q[0:1];\n\
         if (c == 2 || !c[0]) {{ x q[2]; }} else {{ reset q[2]; }}\nmeasure q[2] -> flag;"
    );
    assert!(
        prepare(
            &source,
            Format::OpenQasm3,
            &Parameters::new(),
            1,
            &Limits::default()
        )
        .is_ok()
    );
    let check = |text: &str| match prepare(
        text,
        Format::OpenQasm3,
        &Parameters::new(),
        1,
        &Limits::default(),
    ) {
        Ok(_) => {}
        Err(err) => {
            assert_eq!(err.stage, Stage::Prepare, "{err:?}\n{text}");
            assert!(err.position.is_some(), "{err:?}\n{text}");
        }
    };
    let chars: Vec<char> = source.chars().collect();
    for end in 0..chars.len() {
        check(&chars[..end].iter().collect::<String>());
    }
    let replacements = [
        '(', ')', '{', '}', '[', ']', ';', ',', '@', '!', '-', '0', 'q', ' ', '"', '/', '*', '=',
    ];
    for (i, _) in chars.iter().enumerate() {
        let replacement = replacements[i % replacements.len()];
        let mutated: String = chars
            .iter()
            .enumerate()
            .map(|(j, &c)| if j == i { replacement } else { c })
            .collect();
        check(&mutated);
    }
}
