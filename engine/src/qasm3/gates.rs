//! The gates OpenQASM 3 programs get without defining them, and the modifier algebra on the
//! IR's native gates.
//!
//! `include "stdgates.inc";` is served from the table [`STDGATES`], compiled in: no file
//! is ever read. Its gates are Qiskit's standard gates with Qiskit's matrices, because
//! Qiskit's exporter writes them and its importer reads them as such (the specification's
//! own `stdgates.inc` has differed from them, and between its revisions, by global phases
//! that `ctrl @` would turn into relative ones). `U` and `gphase` are built in.
//!
//! [`inverse`] inverts a native gate exactly (global phase included); [`controlled`]
//! adds controls to one, as the IR's native gates where one fits and as
//! [`GateKind::Mcu`] / [`GateKind::Mcphase`] otherwise; the two-qubit gates without a
//! single-target form (`swap`, `rxx`, `rzz`) are decomposed exactly first.

use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, PI};

use crate::ir::{Gate, GateKind};

/// Builds a native gate from its evaluated parameters (their count is the table's).
pub(crate) type NativeGate = fn(&[f64]) -> GateKind;

/// `stdgates.inc`: name, parameters, qubits, native form.
pub(crate) const STDGATES: [(&str, usize, usize, NativeGate); 33] = {
    use GateKind::*;
    [
        ("p", 1, 1, |p| Phase(p[0])),
        ("x", 0, 1, |_| X),
        ("y", 0, 1, |_| Y),
        ("z", 0, 1, |_| Z),
        ("h", 0, 1, |_| H),
        ("s", 0, 1, |_| S),
        ("sdg", 0, 1, |_| Sdg),
        ("t", 0, 1, |_| T),
        ("tdg", 0, 1, |_| Tdg),
        ("sx", 0, 1, |_| Sx),
        ("rx", 1, 1, |p| Rx(p[0])),
        ("ry", 1, 1, |p| Ry(p[0])),
        ("rz", 1, 1, |p| Rz(p[0])),
        ("cx", 0, 2, |_| Cx),
        ("cy", 0, 2, |_| Cy),
        ("cz", 0, 2, |_| Cz),
        ("cp", 1, 2, |p| CPhase(p[0])),
        ("crx", 1, 2, |p| Crx(p[0])),
        ("cry", 1, 2, |p| Cry(p[0])),
        ("crz", 1, 2, |p| Crz(p[0])),
        ("ch", 0, 2, |_| Ch),
        ("swap", 0, 2, |_| Swap),
        ("ccx", 0, 3, |_| Ccx),
        ("cswap", 0, 3, |_| Cswap),
        ("cu", 4, 2, |p| Cu {
            theta: p[0],
            phi: p[1],
            lambda: p[2],
            gamma: p[3],
        }),
        ("CX", 0, 2, |_| Cx),
        ("phase", 1, 1, |p| Phase(p[0])),
        ("cphase", 1, 2, |p| CPhase(p[0])),
        ("id", 0, 1, |_| Id),
        ("u1", 1, 1, |p| Phase(p[0])),
        ("u2", 2, 1, |p| U {
            theta: FRAC_PI_2,
            phi: p[0],
            lambda: p[1],
        }),
        ("u3", 3, 1, |p| U {
            theta: p[0],
            phi: p[1],
            lambda: p[2],
        }),
        ("U", 3, 1, |p| U {
            theta: p[0],
            phi: p[1],
            lambda: p[2],
        }),
    ]
};

/// The include file the table serves.
pub(crate) const STDGATES_FILE: &str = "stdgates.inc";

/// `U` is built in; the table's other gates come with the include.
pub(crate) const BUILTIN_U: usize = STDGATES.len() - 1;

/// `sx` as `e^{iγ} U(θ, φ, λ)`.
const SX: Single = Single::U {
    theta: FRAC_PI_2,
    phi: -FRAC_PI_2,
    lambda: FRAC_PI_2,
    gamma: FRAC_PI_4,
};

/// A single-qubit operation that controls turn into one IR gate.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Single {
    X,
    Phase(f64),
    /// `e^{iγ} U(θ, φ, λ)`.
    U {
        theta: f64,
        phi: f64,
        lambda: f64,
        gamma: f64,
    },
}

impl Single {
    fn u(theta: f64, phi: f64, lambda: f64, gamma: f64) -> Self {
        Self::U {
            theta,
            phi,
            lambda,
            gamma,
        }
    }

    fn inverse(self) -> Self {
        match self {
            Self::X => Self::X,
            Self::Phase(lambda) => Self::Phase(-lambda),
            Self::U {
                theta,
                phi,
                lambda,
                gamma,
            } => Self::u(-theta, -lambda, -phi, -gamma),
        }
    }

    /// The IR gate of this operation under `controls` controls.
    fn with_controls(self, controls: u32) -> GateKind {
        use GateKind::*;
        match (self, controls) {
            (Self::X, 0) => X,
            (Self::X, 1) => Cx,
            (Self::X, 2) => Ccx,
            (Self::X, 3) => C3x,
            (Self::X, 4) => C4x,
            (Self::X, controls) => Mcu {
                controls,
                theta: PI,
                phi: 0.0,
                lambda: PI,
                gamma: 0.0,
            },
            (Self::Phase(lambda), 0) => Phase(lambda),
            (Self::Phase(lambda), 1) => CPhase(lambda),
            (Self::Phase(lambda), controls) => Mcphase { controls, lambda },
            // Without controls the phase `γ` is global: it has no effect.
            (
                Self::U {
                    theta, phi, lambda, ..
                },
                0,
            ) => U { theta, phi, lambda },
            (
                Self::U {
                    theta,
                    phi,
                    lambda,
                    gamma,
                },
                1,
            ) => Cu {
                theta,
                phi,
                lambda,
                gamma,
            },
            (
                Self::U {
                    theta,
                    phi,
                    lambda,
                    gamma,
                },
                controls,
            ) => Mcu {
                controls,
                theta,
                phi,
                lambda,
                gamma,
            },
        }
    }
}

/// What a native gate does, in the terms controls are added to.
enum Form {
    /// The identity: no effect, controlled or not.
    Identity,
    /// `controls` controls (the first qubits), then `op` on the last qubit.
    Single { controls: u32, op: Single },
    /// `outer`, then `inner` on `on` under `controls` (that many first qubits of the gate),
    /// then `outer` backwards. `outer`'s gates are their own inverses, so where the
    /// controls are off the whole is the identity: only `inner` needs them.
    Conjugated {
        outer: Vec<Gate>,
        inner: GateKind,
        on: Vec<u32>,
        controls: usize,
    },
}

fn form(kind: GateKind, qubits: &[u32]) -> Form {
    use GateKind::*;
    let single = |controls, op| Form::Single { controls, op };
    let phase = |lambda| Single::Phase(lambda);
    let rx = |theta| Single::u(theta, -FRAC_PI_2, FRAC_PI_2, 0.0);
    let ry = |theta| Single::u(theta, 0.0, 0.0, 0.0);
    let rz = |lambda: f64| Single::u(0.0, 0.0, lambda, -lambda / 2.0);
    let h = Single::u(FRAC_PI_2, 0.0, PI, 0.0);
    let y = Single::u(PI, FRAC_PI_2, FRAC_PI_2, 0.0);
    // The last two qubits, for the two-qubit forms.
    let (a, b) = match qubits {
        [.., a, b] => (*a, *b),
        _ => (0, 0),
    };
    let one = |kind, q| Gate {
        kind,
        qubits: vec![q],
    };
    let pair = |kind, p, q| Gate {
        kind,
        qubits: vec![p, q],
    };
    match kind {
        Id => Form::Identity,
        U { theta, phi, lambda } => single(0, Single::u(theta, phi, lambda, 0.0)),
        Phase(lambda) => single(0, phase(lambda)),
        X => single(0, Single::X),
        Y => single(0, y),
        Z => single(0, phase(PI)),
        H => single(0, h),
        S => single(0, phase(FRAC_PI_2)),
        Sdg => single(0, phase(-FRAC_PI_2)),
        T => single(0, phase(FRAC_PI_4)),
        Tdg => single(0, phase(-FRAC_PI_4)),
        Sx => single(0, SX),
        Sxdg => single(0, SX.inverse()),
        Rx(theta) => single(0, rx(theta)),
        Ry(theta) => single(0, ry(theta)),
        Rz(lambda) => single(0, rz(lambda)),
        Cx => single(1, Single::X),
        Cy => single(1, y),
        Cz => single(1, phase(PI)),
        Ch => single(1, h),
        Csx => single(1, SX),
        Crx(theta) => single(1, rx(theta)),
        Cry(theta) => single(1, ry(theta)),
        Crz(lambda) => single(1, rz(lambda)),
        CPhase(lambda) => single(1, phase(lambda)),
        Cu {
            theta,
            phi,
            lambda,
            gamma,
        } => single(1, Single::u(theta, phi, lambda, gamma)),
        Ccx => single(2, Single::X),
        C3x => single(3, Single::X),
        C3sqrtx => single(3, SX),
        C4x => single(4, Single::X),
        Mcu {
            controls,
            theta,
            phi,
            lambda,
            gamma,
        } => single(controls, Single::u(theta, phi, lambda, gamma)),
        Mcphase { controls, lambda } => single(controls, phase(lambda)),
        // swap = cx(b, a) · cx(a, b) · cx(b, a); cswap's control is a prefix.
        Swap | Cswap => Form::Conjugated {
            outer: vec![pair(Cx, b, a)],
            inner: Cx,
            on: vec![a, b],
            controls: qubits.len() - 2,
        },
        // rzz(θ) = cx(a, b) · rz(θ) b · cx(a, b)
        Rzz(theta) => Form::Conjugated {
            outer: vec![pair(Cx, a, b)],
            inner: Rz(theta),
            on: vec![b],
            controls: 0,
        },
        // rxx(θ) is rzz(θ) between Hadamards.
        Rxx(theta) => Form::Conjugated {
            outer: vec![one(H, a), one(H, b), pair(Cx, a, b)],
            inner: Rz(theta),
            on: vec![b],
            controls: 0,
        },
    }
}

/// The exact inverse of `kind` (on the same qubits).
pub(crate) fn inverse(kind: GateKind) -> GateKind {
    use GateKind::*;
    match kind {
        S => Sdg,
        Sdg => S,
        T => Tdg,
        Tdg => T,
        Sx => Sxdg,
        Sxdg => Sx,
        Rx(theta) => Rx(-theta),
        Ry(theta) => Ry(-theta),
        Rz(lambda) => Rz(-lambda),
        Crx(theta) => Crx(-theta),
        Cry(theta) => Cry(-theta),
        Crz(lambda) => Crz(-lambda),
        Rxx(theta) => Rxx(-theta),
        Rzz(theta) => Rzz(-theta),
        Id | X | Y | Z | H | Cx | Cy | Cz | Ch | Swap | Cswap | Ccx | C3x | C4x => kind,
        Phase(lambda) => Phase(-lambda),
        CPhase(lambda) => CPhase(-lambda),
        Mcphase { controls, lambda } => Mcphase {
            controls,
            lambda: -lambda,
        },
        U { theta, phi, lambda } => U {
            theta: -theta,
            phi: -lambda,
            lambda: -phi,
        },
        Cu {
            theta,
            phi,
            lambda,
            gamma,
        } => Single::u(theta, phi, lambda, gamma)
            .inverse()
            .with_controls(1),
        Mcu {
            controls,
            theta,
            phi,
            lambda,
            gamma,
        } => Single::u(theta, phi, lambda, gamma)
            .inverse()
            .with_controls(controls),
        Csx => SX.inverse().with_controls(1),
        C3sqrtx => SX.inverse().with_controls(3),
    }
}

/// `kind` on `qubits`, applied where every qubit of `controls` is |1⟩, as IR gates in
/// order. `controls` and `qubits` are disjoint.
pub(crate) fn controlled(kind: GateKind, qubits: &[u32], controls: &[u32]) -> Vec<Gate> {
    let gate = |kind: GateKind, qubits: Vec<u32>| Gate { kind, qubits };
    if controls.is_empty() {
        return match kind {
            GateKind::Id => Vec::new(),
            kind => vec![gate(kind, qubits.to_vec())],
        };
    }
    match form(kind, qubits) {
        Form::Identity => Vec::new(),
        Form::Single { controls: own, op } => {
            let all: Vec<u32> = controls.iter().chain(qubits).copied().collect();
            vec![gate(op.with_controls(own + controls.len() as u32), all)]
        }
        Form::Conjugated {
            outer,
            inner,
            on,
            controls: own,
        } => {
            let all: Vec<u32> = controls.iter().chain(&qubits[..own]).copied().collect();
            let mut gates = outer.clone();
            gates.extend(controlled(inner, &on, &all));
            gates.extend(outer.into_iter().rev());
            gates
        }
    }
}
