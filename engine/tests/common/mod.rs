//! Test helpers shared by the engine's integration tests: known gate matrices (Qiskit's,
//! written out independently of the engine), unitaries of engine programs, comparisons.

#![allow(dead_code)] // each test binary uses a different subset

pub mod reference;
pub mod stats;

use std::f64::consts::{FRAC_1_SQRT_2, FRAC_PI_2, FRAC_PI_4};

pub use qrun_engine::Complex64 as C;
use qrun_engine::{CancellationToken, Format, Limits, Parameters, prepare, statevector};

/// A square matrix, row-major: `m[row][column]`; bit `i` of an index is the state of the
/// gate's `i`-th argument.
pub type Matrix = Vec<Vec<C>>;

pub const ZERO: C = C::new(0.0, 0.0);
pub const ONE: C = C::new(1.0, 0.0);
pub const I: C = C::new(0.0, 1.0);

/// A qelib1 (or built-in) gate with its known matrix.
pub struct KnownGate {
    pub name: &'static str,
    pub num_params: usize,
    pub num_qubits: usize,
    pub matrix: fn(&[f64]) -> Matrix,
}

fn m2(a: C, b: C, c: C, d: C) -> Matrix {
    vec![vec![a, b], vec![c, d]]
}

pub fn identity(dim: usize) -> Matrix {
    (0..dim)
        .map(|r| (0..dim).map(|c| if r == c { ONE } else { ZERO }).collect())
        .collect()
}

pub fn u(theta: f64, phi: f64, lambda: f64) -> Matrix {
    let (c, s) = ((theta / 2.0).cos(), (theta / 2.0).sin());
    m2(
        C::new(c, 0.0),
        -C::cis(lambda) * s,
        C::cis(phi) * s,
        C::cis(phi + lambda) * c,
    )
}

fn phase(lambda: f64) -> Matrix {
    m2(ONE, ZERO, ZERO, C::cis(lambda))
}

fn rx(theta: f64) -> Matrix {
    let (c, s) = ((theta / 2.0).cos(), (theta / 2.0).sin());
    m2(C::new(c, 0.0), -I * s, -I * s, C::new(c, 0.0))
}

fn ry(theta: f64) -> Matrix {
    let (c, s) = ((theta / 2.0).cos(), (theta / 2.0).sin());
    m2(
        C::new(c, 0.0),
        C::new(-s, 0.0),
        C::new(s, 0.0),
        C::new(c, 0.0),
    )
}

fn rz(lambda: f64) -> Matrix {
    m2(C::cis(-lambda / 2.0), ZERO, ZERO, C::cis(lambda / 2.0))
}

fn x() -> Matrix {
    m2(ZERO, ONE, ONE, ZERO)
}

fn y() -> Matrix {
    m2(ZERO, -I, I, ZERO)
}

fn h() -> Matrix {
    let s = C::new(FRAC_1_SQRT_2, 0.0);
    m2(s, s, s, -s)
}

fn sx() -> Matrix {
    let (a, b) = (C::new(0.5, 0.5), C::new(0.5, -0.5));
    m2(a, b, b, a)
}

fn scaled(m: Matrix, factor: C) -> Matrix {
    m.into_iter()
        .map(|row| row.into_iter().map(|x| x * factor).collect())
        .collect()
}

/// `target` (a 2×2) on the last argument, controlled by all `controls` earlier arguments.
pub fn controlled(target: Matrix, controls: usize) -> Matrix {
    let dim = 2 << controls;
    let control_mask = (1 << controls) - 1;
    let mut m = identity(dim);
    for r in 0..dim {
        for c in 0..dim {
            if r & control_mask == control_mask && c & control_mask == control_mask {
                m[r][c] = target[r >> controls][c >> controls];
            }
        }
    }
    m
}

fn swap() -> Matrix {
    let mut m = identity(4);
    m[1] = vec![ZERO, ZERO, ONE, ZERO];
    m[2] = vec![ZERO, ONE, ZERO, ZERO];
    m
}

fn cswap() -> Matrix {
    // Control is argument 0: swap bits 1 and 2 of indices with bit 0 set (3 <-> 5).
    let mut m = identity(8);
    m[3][3] = ZERO;
    m[5][5] = ZERO;
    m[3][5] = ONE;
    m[5][3] = ONE;
    m
}

fn rxx(theta: f64) -> Matrix {
    let (c, s) = (C::new((theta / 2.0).cos(), 0.0), -I * (theta / 2.0).sin());
    vec![
        vec![c, ZERO, ZERO, s],
        vec![ZERO, c, s, ZERO],
        vec![ZERO, s, c, ZERO],
        vec![s, ZERO, ZERO, c],
    ]
}

fn rzz(theta: f64) -> Matrix {
    let (even, odd) = (C::cis(-theta / 2.0), C::cis(theta / 2.0));
    let mut m = identity(4);
    for (i, d) in [even, odd, odd, even].into_iter().enumerate() {
        m[i][i] = d;
    }
    m
}

/// Qiskit's `RCCXGate` (relative-phase Toffoli).
fn rccx() -> Matrix {
    let mut m = identity(8);
    m[3][3] = ZERO;
    m[7][7] = ZERO;
    m[3][7] = -I;
    m[7][3] = I;
    m[5][5] = -ONE;
    m
}

/// Qiskit's `RC3XGate` (relative-phase 3-controlled X).
fn rc3x() -> Matrix {
    let mut m = identity(16);
    m[3][3] = I;
    m[7][7] = ZERO;
    m[15][15] = ZERO;
    m[7][15] = ONE;
    m[15][7] = -ONE;
    m[11][11] = -I;
    m
}

/// Every gate of qelib1.inc plus the built-ins `U` and `CX`, with Qiskit's matrices.
pub const KNOWN_GATES: &[KnownGate] = &[
    KnownGate {
        name: "U",
        num_params: 3,
        num_qubits: 1,
        matrix: |p| u(p[0], p[1], p[2]),
    },
    KnownGate {
        name: "CX",
        num_params: 0,
        num_qubits: 2,
        matrix: |_| controlled(x(), 1),
    },
    KnownGate {
        name: "u3",
        num_params: 3,
        num_qubits: 1,
        matrix: |p| u(p[0], p[1], p[2]),
    },
    KnownGate {
        name: "u2",
        num_params: 2,
        num_qubits: 1,
        matrix: |p| u(FRAC_PI_2, p[0], p[1]),
    },
    KnownGate {
        name: "u1",
        num_params: 1,
        num_qubits: 1,
        matrix: |p| phase(p[0]),
    },
    KnownGate {
        name: "cx",
        num_params: 0,
        num_qubits: 2,
        matrix: |_| controlled(x(), 1),
    },
    KnownGate {
        name: "id",
        num_params: 0,
        num_qubits: 1,
        matrix: |_| identity(2),
    },
    KnownGate {
        name: "u0",
        num_params: 1,
        num_qubits: 1,
        matrix: |_| identity(2),
    },
    KnownGate {
        name: "u",
        num_params: 3,
        num_qubits: 1,
        matrix: |p| u(p[0], p[1], p[2]),
    },
    KnownGate {
        name: "p",
        num_params: 1,
        num_qubits: 1,
        matrix: |p| phase(p[0]),
    },
    KnownGate {
        name: "x",
        num_params: 0,
        num_qubits: 1,
        matrix: |_| x(),
    },
    KnownGate {
        name: "y",
        num_params: 0,
        num_qubits: 1,
        matrix: |_| y(),
    },
    KnownGate {
        name: "z",
        num_params: 0,
        num_qubits: 1,
        matrix: |_| phase(std::f64::consts::PI),
    },
    KnownGate {
        name: "h",
        num_params: 0,
        num_qubits: 1,
        matrix: |_| h(),
    },
    KnownGate {
        name: "s",
        num_params: 0,
        num_qubits: 1,
        matrix: |_| phase(FRAC_PI_2),
    },
    KnownGate {
        name: "sdg",
        num_params: 0,
        num_qubits: 1,
        matrix: |_| phase(-FRAC_PI_2),
    },
    KnownGate {
        name: "t",
        num_params: 0,
        num_qubits: 1,
        matrix: |_| phase(FRAC_PI_4),
    },
    KnownGate {
        name: "tdg",
        num_params: 0,
        num_qubits: 1,
        matrix: |_| phase(-FRAC_PI_4),
    },
    KnownGate {
        name: "rx",
        num_params: 1,
        num_qubits: 1,
        matrix: |p| rx(p[0]),
    },
    KnownGate {
        name: "ry",
        num_params: 1,
        num_qubits: 1,
        matrix: |p| ry(p[0]),
    },
    KnownGate {
        name: "rz",
        num_params: 1,
        num_qubits: 1,
        matrix: |p| rz(p[0]),
    },
    KnownGate {
        name: "sx",
        num_params: 0,
        num_qubits: 1,
        matrix: |_| sx(),
    },
    KnownGate {
        name: "sxdg",
        num_params: 0,
        num_qubits: 1,
        matrix: |_| adjoint(&sx()),
    },
    KnownGate {
        name: "cz",
        num_params: 0,
        num_qubits: 2,
        matrix: |_| controlled(phase(std::f64::consts::PI), 1),
    },
    KnownGate {
        name: "cy",
        num_params: 0,
        num_qubits: 2,
        matrix: |_| controlled(y(), 1),
    },
    KnownGate {
        name: "swap",
        num_params: 0,
        num_qubits: 2,
        matrix: |_| swap(),
    },
    KnownGate {
        name: "ch",
        num_params: 0,
        num_qubits: 2,
        matrix: |_| controlled(h(), 1),
    },
    KnownGate {
        name: "ccx",
        num_params: 0,
        num_qubits: 3,
        matrix: |_| controlled(x(), 2),
    },
    KnownGate {
        name: "cswap",
        num_params: 0,
        num_qubits: 3,
        matrix: |_| cswap(),
    },
    KnownGate {
        name: "crx",
        num_params: 1,
        num_qubits: 2,
        matrix: |p| controlled(rx(p[0]), 1),
    },
    KnownGate {
        name: "cry",
        num_params: 1,
        num_qubits: 2,
        matrix: |p| controlled(ry(p[0]), 1),
    },
    KnownGate {
        name: "crz",
        num_params: 1,
        num_qubits: 2,
        matrix: |p| controlled(rz(p[0]), 1),
    },
    KnownGate {
        name: "cu1",
        num_params: 1,
        num_qubits: 2,
        matrix: |p| controlled(phase(p[0]), 1),
    },
    KnownGate {
        name: "cp",
        num_params: 1,
        num_qubits: 2,
        matrix: |p| controlled(phase(p[0]), 1),
    },
    KnownGate {
        name: "cu3",
        num_params: 3,
        num_qubits: 2,
        matrix: |p| controlled(u(p[0], p[1], p[2]), 1),
    },
    KnownGate {
        name: "csx",
        num_params: 0,
        num_qubits: 2,
        matrix: |_| controlled(sx(), 1),
    },
    KnownGate {
        name: "cu",
        num_params: 4,
        num_qubits: 2,
        matrix: |p| controlled(scaled(u(p[0], p[1], p[2]), C::cis(p[3])), 1),
    },
    KnownGate {
        name: "rxx",
        num_params: 1,
        num_qubits: 2,
        matrix: |p| rxx(p[0]),
    },
    KnownGate {
        name: "rzz",
        num_params: 1,
        num_qubits: 2,
        matrix: |p| rzz(p[0]),
    },
    KnownGate {
        name: "rccx",
        num_params: 0,
        num_qubits: 3,
        matrix: |_| rccx(),
    },
    KnownGate {
        name: "rc3x",
        num_params: 0,
        num_qubits: 4,
        matrix: |_| rc3x(),
    },
    KnownGate {
        name: "c3x",
        num_params: 0,
        num_qubits: 4,
        matrix: |_| controlled(x(), 3),
    },
    KnownGate {
        name: "c3sqrtx",
        num_params: 0,
        num_qubits: 4,
        matrix: |_| controlled(sx(), 3),
    },
    KnownGate {
        name: "c4x",
        num_params: 0,
        num_qubits: 5,
        matrix: |_| controlled(x(), 4),
    },
];

pub fn adjoint(m: &Matrix) -> Matrix {
    (0..m.len())
        .map(|r| (0..m.len()).map(|c| m[c][r].conj()).collect())
        .collect()
}

/// `name(params) q[a], q[b], …;` as QASM.
pub fn call(name: &str, params: &[f64], qubits: &[usize]) -> String {
    let params = if params.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = params.iter().map(|p| format!("{p:e}")).collect();
        format!("({})", list.join(", "))
    };
    let args: Vec<String> = qubits.iter().map(|q| format!("q[{q}]")).collect();
    format!("{name}{params} {};", args.join(", "))
}

/// The final state of `prelude` + `qreg q[n];` + `body` (no measurements).
pub fn final_state(prelude: &str, num_qubits: usize, body: &str) -> Vec<C> {
    let source = format!("OPENQASM 2.0;\n{prelude}\nqreg q[{num_qubits}];\n{body}\n");
    let limits = Limits::default();
    let program = prepare(&source, Format::OpenQasm2, &Parameters::new(), 1, &limits)
        .unwrap_or_else(|e| panic!("{e:?}\n{source}"));
    statevector(&program, &limits, &CancellationToken::new())
        .unwrap()
        .to_vec()
}

/// `0, 1, …, n-1`.
pub fn first_qubits(n: usize) -> Vec<usize> {
    (0..n).collect()
}

/// The unitary the engine applies for `body` on `num_qubits` qubits, column by column
/// (each column prepared from |0…0⟩ with X gates).
pub fn engine_unitary(prelude: &str, num_qubits: usize, body: &str) -> Matrix {
    let dim = 1 << num_qubits;
    let columns: Vec<Vec<C>> = (0..dim)
        .map(|column| {
            let flips: String = (0..num_qubits)
                .filter(|bit| column >> bit & 1 == 1)
                .map(|bit| format!("U(pi, 0, pi) q[{bit}];\n"))
                .collect();
            final_state(prelude, num_qubits, &format!("{flips}{body}"))
        })
        .collect();
    (0..dim)
        .map(|r| (0..dim).map(|c| columns[c][r]).collect())
        .collect()
}

/// The global phase `e^{iφ}` with `actual ≈ e^{iφ} expected`, taken at the largest entry.
pub fn relative_phase(actual: &[C], expected: &[C]) -> C {
    let (i, _) = expected
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.norm().total_cmp(&b.1.norm()))
        .expect("non-empty");
    let ratio = actual[i] / expected[i];
    ratio / ratio.norm()
}

/// Asserts `actual = e^{iφ} expected` entry-wise within `tolerance`.
pub fn assert_equal_up_to_phase(actual: &[C], expected: &[C], tolerance: f64, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: dimensions");
    let phase = relative_phase(actual, expected);
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - phase * e).norm() < tolerance,
            "{what}: entry {i} is {a}, expected {} (global phase {phase})",
            phase * e
        );
    }
}

pub fn flatten(m: &Matrix) -> Vec<C> {
    m.iter().flatten().copied().collect()
}
