//! The kernel form of each IR gate, with Qiskit's matrices (qubit 0 least significant).

use std::f64::consts::{FRAC_1_SQRT_2, FRAC_PI_4};

use num_complex::Complex64;

use super::kernels::{Kernel, Mat2};
use crate::ir::{Gate, GateKind};

const ZERO: Complex64 = Complex64::new(0.0, 0.0);
const ONE: Complex64 = Complex64::new(1.0, 0.0);
const I: Complex64 = Complex64::new(0.0, 1.0);

/// The kernel applying `gate`, or `None` for the identity.
pub(crate) fn kernel(gate: &Gate) -> Option<Kernel> {
    use GateKind::*;
    let q: Vec<usize> = gate.qubits.iter().map(|&q| q as usize).collect();
    // Controls are every argument but the last (the target), for the controlled kinds.
    let controls = |count: usize| q[..count].iter().fold(0, |mask, c| mask | 1 << c);
    let target = q[q.len() - 1];
    let one = |matrix: Mat2| Kernel::Unitary1 {
        target,
        controls: 0,
        matrix,
    };
    let controlled = |matrix: Mat2| Kernel::Unitary1 {
        target,
        controls: controls(q.len() - 1),
        matrix,
    };
    let flip = || Kernel::Flip {
        target,
        controls: controls(q.len() - 1),
    };
    let phase = |phase: Complex64| Kernel::Phase {
        mask: controls(q.len()),
        phase,
    };
    Some(match gate.kind {
        Id => return None,
        U { theta, phi, lambda } => one(u(theta, phi, lambda)),
        Phase(lambda) | CPhase(lambda) | Mcphase { lambda, .. } => phase(Complex64::cis(lambda)),
        X | Cx | Ccx | C3x | C4x => flip(),
        Y => one(PAULI_Y),
        Z | Cz => phase(-ONE),
        H => one(HADAMARD),
        S => phase(I),
        Sdg => phase(-I),
        T => phase(Complex64::cis(FRAC_PI_4)),
        Tdg => phase(Complex64::cis(-FRAC_PI_4)),
        Sx => one(SQRT_X),
        Sxdg => one(SQRT_X_DAGGER),
        Rx(theta) => one(rx(theta)),
        Ry(theta) => one(ry(theta)),
        Rz(lambda) => Kernel::Diagonal {
            qubits: vec![target],
            diagonal: vec![Complex64::cis(-lambda / 2.0), Complex64::cis(lambda / 2.0)],
        },
        Cy => controlled(PAULI_Y),
        Ch => controlled(HADAMARD),
        Csx | C3sqrtx => controlled(SQRT_X),
        Crx(theta) => controlled(rx(theta)),
        Cry(theta) => controlled(ry(theta)),
        Crz(lambda) => controlled([
            [Complex64::cis(-lambda / 2.0), ZERO],
            [ZERO, Complex64::cis(lambda / 2.0)],
        ]),
        Cu {
            theta,
            phi,
            lambda,
            gamma,
        }
        | Mcu {
            theta,
            phi,
            lambda,
            gamma,
            ..
        } => controlled(u(theta, phi, lambda).map(|row| row.map(|m| m * Complex64::cis(gamma)))),
        Swap | Cswap => Kernel::Swap {
            a: q[q.len() - 2],
            b: target,
            controls: controls(q.len() - 2),
        },
        Rxx(theta) => {
            let (c, s) = (half_cos(theta), -I * half_sin(theta));
            Kernel::Dense {
                qubits: q,
                #[rustfmt::skip]
                matrix: vec![
                    c, ZERO, ZERO, s,
                    ZERO, c, s, ZERO,
                    ZERO, s, c, ZERO,
                    s, ZERO, ZERO, c,
                ],
            }
        }
        Rzz(theta) => {
            let (even, odd) = (Complex64::cis(-theta / 2.0), Complex64::cis(theta / 2.0));
            Kernel::Diagonal {
                qubits: q,
                diagonal: vec![even, odd, odd, even],
            }
        }
    })
}

const PAULI_Y: Mat2 = [[ZERO, Complex64::new(0.0, -1.0)], [I, ZERO]];
const HADAMARD: Mat2 = [
    [
        Complex64::new(FRAC_1_SQRT_2, 0.0),
        Complex64::new(FRAC_1_SQRT_2, 0.0),
    ],
    [
        Complex64::new(FRAC_1_SQRT_2, 0.0),
        Complex64::new(-FRAC_1_SQRT_2, 0.0),
    ],
];
const SQRT_X: Mat2 = [
    [Complex64::new(0.5, 0.5), Complex64::new(0.5, -0.5)],
    [Complex64::new(0.5, -0.5), Complex64::new(0.5, 0.5)],
];
const SQRT_X_DAGGER: Mat2 = [
    [Complex64::new(0.5, -0.5), Complex64::new(0.5, 0.5)],
    [Complex64::new(0.5, 0.5), Complex64::new(0.5, -0.5)],
];

fn half_cos(theta: f64) -> Complex64 {
    Complex64::new((theta / 2.0).cos(), 0.0)
}

fn half_sin(theta: f64) -> Complex64 {
    Complex64::new((theta / 2.0).sin(), 0.0)
}

/// Qiskit's `U(θ, φ, λ)`. `e^{i(φ+λ)}` is taken as `e^{iφ}·e^{iλ}`: the sum of two finite
/// angles may overflow to infinity (and `cis(∞)` is NaN).
fn u(theta: f64, phi: f64, lambda: f64) -> Mat2 {
    let (c, s) = (half_cos(theta), half_sin(theta));
    let (e_phi, e_lambda) = (Complex64::cis(phi), Complex64::cis(lambda));
    [[c, -e_lambda * s], [e_phi * s, e_phi * e_lambda * c]]
}

fn rx(theta: f64) -> Mat2 {
    let (c, s) = (half_cos(theta), -I * half_sin(theta));
    [[c, s], [s, c]]
}

fn ry(theta: f64) -> Mat2 {
    let (c, s) = (half_cos(theta), half_sin(theta));
    [[c, -s], [s, c]]
}
