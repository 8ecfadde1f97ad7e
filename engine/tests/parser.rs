//! The OpenQASM 2.0 front end through `prepare`: the language as the paper defines it,
//! and errors with exact `line:col` and what was expected.

use qrun_engine::ir::{BitsTest, Condition, GateKind, OpKind};
use std::collections::BTreeMap;

use qrun_engine::{
    CancellationToken, FailureKind, Format, Limits, Parameters, Program, Stage, prepare, simulate,
};

const HEADER: &str = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\n";

fn program(source: &str) -> Program {
    prepare(
        source,
        Format::OpenQasm2,
        &Parameters::new(),
        1,
        &Limits::default(),
    )
    .unwrap_or_else(|e| panic!("{e:?}"))
}

/// (kind, line, col, message) of the error `source` gives.
fn error_with(source: &str, limits: &Limits) -> (FailureKind, u32, u32, String) {
    let err = prepare(source, Format::OpenQasm2, &Parameters::new(), 1, limits)
        .expect_err("the source should be rejected");
    assert_eq!(err.stage, Stage::Prepare);
    let pos = err.position.expect("a source error has a position");
    (err.kind, pos.line, pos.col, err.message)
}

fn error(source: &str) -> (u32, u32, String) {
    let (kind, line, col, message) = error_with(source, &Limits::default());
    assert_eq!(kind, FailureKind::Validation, "{message}");
    (line, col, message)
}

fn gates(program: &Program) -> Vec<(GateKind, Vec<u32>)> {
    program
        .ops()
        .iter()
        .filter_map(|op| match &op.kind {
            OpKind::Gate(g) => Some((g.kind, g.qubits.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn expressions_use_pi_operators_functions_and_every_real_form() {
    let p = program(&format!(
        "{HEADER}qreg q[1];\nU(-2^2 + 1.0e-7 * 2e3 + .5 - 3/4 + sin(pi/2) + cos(0) + tan(0) + exp(0) \
         + ln(1) + sqrt(4), 2^3^2 / 64, -(1 + 2) * 3) q[0];"
    ));
    let expected_theta = -4.0 + 2.0e-4 + 0.5 - 0.75 + 1.0 + 1.0 + 0.0 + 1.0 + 0.0 + 2.0;
    match gates(&p)[..] {
        [(GateKind::U { theta, phi, lambda }, _)] => {
            assert!((theta - expected_theta).abs() < 1e-15, "{theta}");
            assert_eq!(phi, 8.0, "^ is right-associative: 2^(3^2) = 512");
            assert_eq!(lambda, -9.0);
        }
        ref other => panic!("{other:?}"),
    }
}

#[test]
fn gate_definitions_nest_and_bind_parameters() {
    let p = program(&format!(
        "{HEADER}gate inner(a) x {{ rz(a) x; }}\n\
         gate outer(a, b) x, y {{ inner(a * 2) x; cx x, y; inner(b - a) y; barrier x, y; }}\n\
         qreg q[2];\nouter(0.25, 1) q[1], q[0];"
    ));
    assert_eq!(
        gates(&p),
        vec![
            (GateKind::Rz(0.5), vec![1]),
            (GateKind::Cx, vec![1, 0]),
            (GateKind::Rz(0.75), vec![0]),
        ]
    );
    assert!(matches!(p.ops()[3].kind, OpKind::Barrier(ref q) if q == &[1, 0]));
}

#[test]
fn registers_broadcast() {
    let p = program(&format!(
        "{HEADER}qreg a[2];\nqreg b[2];\ncreg c[2];\nh a;\ncx a, b;\ncx a[1], b;\n\
         measure b -> c;\nreset a;\nbarrier a, b[0];"
    ));
    let kinds: Vec<String> = p
        .ops()
        .iter()
        .map(|op| match &op.kind {
            OpKind::Gate(g) => format!("{:?}{:?}", g.kind, g.qubits),
            OpKind::Measure { qubit, clbit } => format!("measure {qubit}->{clbit}"),
            OpKind::Reset { qubit } => format!("reset {qubit}"),
            OpKind::Barrier(q) => format!("barrier {q:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            "H[0]",
            "H[1]",
            "Cx[0, 2]",
            "Cx[1, 3]",
            "Cx[1, 2]",
            "Cx[1, 3]",
            "measure 2->0",
            "measure 3->1",
            "reset 0",
            "reset 1",
            "barrier [0, 1, 2]",
        ]
    );
    assert_eq!((p.num_qubits(), p.num_clbits(), p.gate_count()), (4, 2, 6));
}

#[test]
fn if_statements_guard_every_broadcast_operation() {
    let p = program(&format!(
        "{HEADER}qreg q[2];\ncreg c[2];\ncreg d[1];\nif (d == 1) x q;\nif (c == 2) measure q[0] -> c[1];"
    ));
    let d = Condition::single(BitsTest::equals(2, 1, 1));
    let c = Condition::single(BitsTest::equals(0, 2, 2));
    let conditions: Vec<_> = p.ops().iter().map(|op| op.condition.clone()).collect();
    assert_eq!(conditions, vec![Some(d.clone()), Some(d), Some(c)]);
}

/// Issue 20, item 6: `if(c==18446744073709551616)` on a 72-bit register was refused
/// ("integer … is too large (at most 2^64 - 1)"). Qiskit reads the value as a big integer
/// and Aer compares registers of any width; so does the engine, exactly.
#[test]
fn register_comparisons_take_values_of_any_width() {
    let source = format!(
        "{HEADER}qreg q[1];\nqreg m[2];\ncreg c[72];\ncreg r[2];\nx q[0];\nmeasure q[0] -> c[64];\n\
         if(c==18446744073709551616) x m[0];\nif(c==18446744073709551617) x m[1];\nmeasure m -> r;"
    );
    let p = program(&source);
    let tests: Vec<_> = p
        .ops()
        .iter()
        .filter_map(|op| op.condition.clone())
        .collect();
    assert_eq!(
        tests,
        vec![
            Condition::single(BitsTest {
                offset: 0,
                size: 72,
                value: vec![0, 1],
                equal: true
            }),
            Condition::single(BitsTest {
                offset: 0,
                size: 72,
                value: vec![1, 1],
                equal: true
            }),
        ]
    );
    let limits = Limits::default();
    let outcome = simulate(&p, 10, Some(1), &limits, &CancellationToken::new()).unwrap();
    // r = m[1] m[0] = 01; c has bit 64 alone set.
    let key = format!("01 {}1{}", "0".repeat(7), "0".repeat(64));
    assert_eq!(outcome.counts, BTreeMap::from([(key, 10)]));
    // The widest register's widest value compares too.
    let widest = format!("{HEADER}qreg q[1];\ncreg c[1024];\nif (c == {}) x q[0];", {
        // 2^1024 - 1 in decimal, from its binary digits.
        let mut digits = vec![0u8];
        for _ in 0..1024 {
            let mut carry = 1;
            for d in digits.iter_mut() {
                let v = *d * 2 + carry;
                *d = v % 10;
                carry = v / 10;
            }
            if carry > 0 {
                digits.push(carry);
            }
        }
        digits
            .iter()
            .rev()
            .map(|d| char::from(b'0' + d))
            .collect::<String>()
    });
    let widest = program(&widest);
    let tests = &widest.ops()[0].condition.as_ref().unwrap().tests;
    assert_eq!(tests[0].value, vec![u64::MAX; 16]);
}

#[test]
fn wide_integers_keep_the_limits_of_other_contexts() {
    let two_64 = "18446744073709551616";
    assert_eq!(
        error(&format!("qreg q[{two_64}];")),
        (
            1,
            8,
            format!("integer '{two_64}' is too large (at most 2^64 - 1)")
        )
    );
    assert_eq!(
        error(&format!("qreg q[1];\nU(0, 0, 0) q[{two_64}];")),
        (
            2,
            14,
            format!("integer '{two_64}' is too large (at most 2^64 - 1)")
        )
    );
    let too_wide = format!("1{}", "0".repeat(309));
    assert_eq!(
        error(&format!(
            "creg c[1];\nqreg q[1];\nif (c == {too_wide}) U(0, 0, 0) q[0];"
        )),
        (
            3,
            10,
            format!("integer '{too_wide}' is too large (at most 1024 bits)")
        )
    );
    // In an expression an integer is a real, as Qiskit reads it.
    assert_eq!(
        angles(&format!("{HEADER}qreg q[1];\nrz({two_64}) q[0];")),
        vec![18446744073709551616.0]
    );
    assert_eq!(
        error(&format!("qreg q[1];\nU({too_wide}, 0, 0) q[0];")).2,
        "gate parameter evaluates to inf; expected a finite number"
    );
}

#[test]
fn the_header_is_optional_and_opaque_gates_may_be_declared() {
    let p = program("opaque magic(a) x, y;\nqreg q[1];\nU(0, 0, 0) q[0];");
    assert_eq!(p.gate_count(), 1);
}

#[test]
fn comments_and_whitespace_are_ignored() {
    let p = program(
        "// a comment\nOPENQASM 2.0; // version\n\n  qreg\tq [ 2 ] ; CX q[0],q[1 ]; // CX q[1], q[0];",
    );
    assert_eq!(p.gate_count(), 1);
}

#[test]
fn syntax_errors_say_where_and_what_was_expected() {
    let cases: &[(&str, (u32, u32, &str))] = &[
        (
            "qreg q[2]\nh q;",
            (
                2,
                1,
                "expected ';' after the register declaration, found identifier 'h'",
            ),
        ),
        (
            "qreg q[2];\nU(0, 0 q[0];",
            (
                2,
                8,
                "expected ',' or ')' after the gate parameters, found identifier 'q'",
            ),
        ),
        (
            "qreg q[1];\nmeasure q[0] c[0];",
            (
                2,
                14,
                "expected '->' after the measured qubit, found identifier 'c'",
            ),
        ),
        (
            "qreg q[1];\nU(0, , 0) q[0];",
            (2, 6, "expected an expression, found ','"),
        ),
        (
            "qreg q[1];\n;",
            (
                2,
                1,
                "expected a statement (qreg, creg, gate, opaque, include, if, barrier, measure, \
                 reset or a gate call), found ';'",
            ),
        ),
        (
            "gate g a { U(0,0,0) a;",
            (
                1,
                23,
                "expected '}' to close the gate body, found end of input",
            ),
        ),
        (
            "gate g a { measure a -> c; }",
            (
                1,
                12,
                "keyword 'measure' is not allowed inside a gate body: expected a gate call, \
                 'barrier' or '}'",
            ),
        ),
        (
            "gate g a, b { CX a[0], b; }",
            (
                1,
                19,
                "qubit arguments inside a gate body cannot be indexed: expected ',' or ';'",
            ),
        ),
        (
            "qreg q[1];\nif (q = 1) U(0,0,0) q[0];",
            (2, 7, "expected '==' (comparison), found '='"),
        ),
        (
            "OPENQASM 3.0;",
            (
                1,
                10,
                "only OpenQASM 2.0 is supported, this program is version 3",
            ),
        ),
        (
            "qreg q[1];\nOPENQASM 2.0;",
            (
                2,
                1,
                "the OPENQASM version statement must be the first statement",
            ),
        ),
        (
            "qreg Q[1];",
            (
                1,
                6,
                "identifier 'Q' must start with a lowercase letter (only U, CX and OPENQASM \
                 are uppercase in OpenQASM 2.0)",
            ),
        ),
    ];
    for (source, (line, col, message)) in cases {
        assert_eq!(
            error(source),
            (*line, *col, message.to_string()),
            "{source}"
        );
    }
}

#[test]
fn semantic_errors_say_where_and_what_was_expected() {
    let cases: &[(&str, (u32, u32, &str))] = &[
        (
            "include \"other.inc\";",
            (
                1,
                1,
                "cannot include \"other.inc\": the only includable file is \"qelib1.inc\"",
            ),
        ),
        (
            "include \"/etc/passwd\";",
            (
                1,
                1,
                "cannot include \"/etc/passwd\": the only includable file is \"qelib1.inc\"",
            ),
        ),
        (
            "qreg q[1];\nh q[0];",
            (
                2,
                1,
                "unknown gate 'h' (it is in qelib1.inc: add include \"qelib1.inc\";)",
            ),
        ),
        (
            "qreg q[1];\nfoo q[0];",
            (
                2,
                1,
                "unknown gate 'foo' (a gate must be defined before it is used)",
            ),
        ),
        (
            "gate g a {\n  g a;\n}",
            (
                2,
                3,
                "gate 'g' cannot call itself: a gate body may only use gates defined before it",
            ),
        ),
        (
            "gate first a { second a; }\ngate second a { U(0,0,0) a; }",
            (
                1,
                16,
                "unknown gate 'second' (a gate must be defined before it is used)",
            ),
        ),
        (
            "opaque magic a;\nqreg q[1];\nmagic q[0];",
            (
                3,
                1,
                "gate 'magic' is opaque: it has no definition, so this backend cannot run it",
            ),
        ),
        (
            "opaque magic a;\ngate wrap a { magic a; }\nqreg q[1];\nwrap q[0];",
            (
                2,
                15,
                "gate 'magic' is opaque: it has no definition, so this backend cannot run it",
            ),
        ),
        (
            "qreg q[2];\nU(0,0,0) q[2];",
            (2, 10, "index 2 is out of range for register 'q' of size 2"),
        ),
        (
            "qreg q[2];\nqreg r[3];\nCX q, r;",
            (
                3,
                7,
                "cannot broadcast over registers of different sizes: 'r' has 3 qubits, an \
                 earlier argument has 2",
            ),
        ),
        (
            "qreg q[2];\nCX q[1], q[1];",
            (2, 1, "gate 'CX' is given qubit q[1] twice"),
        ),
        (
            "qreg q[1];\nU(0) q[0];",
            (2, 1, "gate 'U' takes 3 parameters, got 1"),
        ),
        (
            "qreg q[2];\nCX q[0];",
            (2, 1, "gate 'CX' takes 2 qubit arguments, got 1"),
        ),
        (
            "gate g(a) x { U(b, 0, 0) x; }",
            (
                1,
                17,
                "unknown parameter 'b': expected one of the gate's parameters",
            ),
        ),
        (
            "gate g(a) x { U(a, 0, 0) y; }",
            (
                1,
                26,
                "unknown qubit 'y': expected one of the arguments of gate 'g'",
            ),
        ),
        (
            "qreg q[1];\nU(a, 0, 0) q[0];",
            (
                2,
                3,
                "unknown name 'a': expressions outside a gate body can use only numbers, pi and \
                 sin/cos/tan/exp/ln/sqrt",
            ),
        ),
        (
            "qreg q[1];\ncreg c[2];\nmeasure q[0] -> c;",
            (
                3,
                1,
                "measure needs a qubit and a bit, or a quantum and a classical register of the \
                 same size",
            ),
        ),
        (
            "qreg q[1];\ncreg c[1];\nmeasure c[0] -> q[0];",
            (3, 9, "expected a quantum register, 'c' is not one"),
        ),
        (
            "qreg q[1];\nif (q == 1) U(0,0,0) q[0];",
            (2, 5, "'q' is not a classical register"),
        ),
        (
            "qreg q[1];\nqreg q[2];",
            (2, 6, "'q' is already defined at 1:6"),
        ),
        (
            "OPENQASM 2.0;\ngate h a { U(0,0,0) a; }\ninclude \"qelib1.inc\";",
            (3, 1, "qelib1.inc:32:6: 'h' is already defined at 2:6"),
        ),
        (
            "OPENQASM 2.0;\ngate rccx a, b, c { }\ninclude \"qelib1.inc\";",
            (3, 1, "qelib1.inc:172:6: 'rccx' is already defined at 2:6"),
        ),
        (
            "creg u3[1];\ninclude \"qelib1.inc\";",
            (2, 1, "qelib1.inc:7:6: 'u3' is already defined at 1:6"),
        ),
        // Issue 20, item 7: this said "'h' is already defined at 32:6", a line of
        // qelib1.inc given as if it were the program's.
        (
            "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg h[1];",
            (
                3,
                6,
                "'h' is already defined at qelib1.inc:32:6 (included at 2:1)",
            ),
        ),
        (
            "include \"qelib1.inc\";\ngate cx a, b { CX a, b; }",
            (
                2,
                6,
                "'cx' is already defined at qelib1.inc:13:6 (included at 1:1)",
            ),
        ),
        (
            "gate CX a, b { }",
            (1, 6, "expected a gate name, found keyword 'CX'"),
        ),
        (
            "qreg q[0];",
            (1, 6, "register 'q' must have at least one bit"),
        ),
        (
            "qreg q[1];\nU(1/0, 0, 0) q[0];",
            (
                2,
                4,
                "gate parameter evaluates to inf; expected a finite number",
            ),
        ),
        (
            "gate g(a) x { U(ln(a), 0, 0) x; }\nqreg q[1];\ng(-1) q[0];",
            (
                1,
                17,
                "gate parameter evaluates to NaN; expected a finite number",
            ),
        ),
        ("gate g(a, a) x { }", (1, 11, "duplicate parameter 'a'")),
    ];
    for (source, (line, col, message)) in cases {
        assert_eq!(
            error(source),
            (*line, *col, message.to_string()),
            "{source}"
        );
    }
}

/// The parameters of the one gate `source` applies.
fn angles(source: &str) -> Vec<f64> {
    match gates(&program(source))[..] {
        [(GateKind::U { theta, phi, lambda }, _)] => vec![theta, phi, lambda],
        [(GateKind::Rz(angle) | GateKind::Ry(angle), _)] => vec![angle],
        ref other => panic!("{other:?}"),
    }
}

/// Issue 20, item 12: `ry(pi+0+…+0)` with 129 terms was refused as "nested too deeply".
/// A flat chain nests nothing: chains of any length evaluate, with each level's
/// associativity, at the top level and in gate bodies.
#[test]
fn flat_chains_of_any_length_evaluate() {
    let ry = |expr: String| angles(&format!("{HEADER}qreg q[1];\nry({expr}) q[0];"))[0];
    assert_eq!(
        ry(format!("pi{}", "+0".repeat(9_999))),
        std::f64::consts::PI
    );
    assert_eq!(ry(format!("1{}", "-1+1".repeat(5_000))), 1.0);
    assert_eq!(ry(format!("3{}", "*2/2".repeat(5_000))), 3.0);
    assert_eq!(ry(format!("1{}", "+2*3".repeat(5_000))), 30_001.0);
    // `^` applies from the right: 0.5^(0.5^(…)) converges to 0.641…, while from the left
    // it would tend to 1.
    let right = (1..10_000).fold(0.5f64, |exponent, _| 0.5f64.powf(exponent));
    assert_eq!(ry(format!("0.5{}", "^0.5".repeat(9_999))), right);
    assert!((right - 0.641_185_744_5).abs() < 1e-9, "{right}");
    let body = format!(
        "{HEADER}gate g(a) x {{ rz(a{}) x; }}\nqreg q[1];\ng(1) q[0];",
        "+a".repeat(9_999)
    );
    assert_eq!(angles(&body), vec![10_000.0]);
}

#[test]
fn deep_nesting_is_refused_at_its_position_not_overflowing() {
    let refused = |expr: String| error(&format!("qreg q[1];\nU({expr}, 0, 0) q[0];"));
    let message = "expression is nested too deeply (more than 128 levels)".to_owned();
    // The parameter is the first level: the 128th nested level starts at column 131.
    let parens = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
    assert_eq!(refused(parens), (2, 131, message.clone()));
    assert_eq!(
        refused(format!("{}1", "-".repeat(100_000))),
        (2, 131, message.clone())
    );
    let calls = format!("{}1{}", "sin(".repeat(10_000), ")".repeat(10_000));
    assert_eq!(refused(calls), (2, 3 + 4 * 128, message.clone()));
    // A signed exponent nests twice (the exponent, then its sign): the 64th one's operand,
    // at column 4 + 3 × 63 + 2, is the 129th level.
    let signed = format!("2{}", "^-2".repeat(10_000));
    assert_eq!(refused(signed), (2, 195, message.clone()));
    // Just below the bound, each kind runs.
    let ok = |expr: String| angles(&format!("qreg q[1];\nU({expr}, 0, 0) q[0];"))[0];
    assert_eq!(ok(format!("{}1{}", "(".repeat(127), ")".repeat(127))), 1.0);
    assert_eq!(ok(format!("{}1", "-".repeat(126))), 1.0);
}

#[test]
fn deep_chains_of_gate_definitions_expand_without_recursion() {
    let mut source = String::from("gate g0 a { U(0, 0, 0) a; }\n");
    for i in 1..20_000 {
        source.push_str(&format!("gate g{i} a {{ g{} a; }}\n", i - 1));
    }
    source.push_str("qreg q[1];\ng19999 q[0];");
    assert_eq!(program(&source).gate_count(), 1);
}

#[test]
fn exponential_gate_expansion_stops_at_max_gates() {
    let mut source = String::from("gate g0 a { U(0, 0, 0) a; U(0, 0, 0) a; }\n");
    for i in 1..64 {
        source.push_str(&format!("gate g{i} a {{ g{} a; g{} a; }}\n", i - 1, i - 1));
    }
    source.push_str("qreg q[1];\ng63 q[0];");
    let (kind, line, col, message) = error_with(&source, &Limits::default());
    assert_eq!(kind, FailureKind::ResourceLimit);
    assert_eq!((line, col), (66, 1));
    assert_eq!(
        message,
        "circuit expands to more than 1000000 operations (the backend's max_gates)"
    );
}

#[test]
fn classical_bits_are_bounded() {
    let (kind, line, col, message) = error_with("creg a[1000];\ncreg b[25];", &Limits::default());
    assert_eq!(kind, FailureKind::ResourceLimit);
    assert_eq!((line, col), (2, 6));
    assert_eq!(
        message,
        "circuit declares 1025 classical bits; at most 1024 are supported"
    );
}
