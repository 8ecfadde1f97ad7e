//! Gate kernels: the forms a unitary takes on the state vector, each applied by a loop
//! specialised to it.
//!
//! Permutations ([`Kernel::Flip`], [`Kernel::Swap`]) move amplitudes without arithmetic;
//! phases and diagonals touch each amplitude once with one multiplication (a controlled
//! phase only the quarter/eighth… of amplitudes it affects); [`Kernel::Unitary1`] is the
//! 2×2 case with optional controls; [`Kernel::Dense`] is a 2^k×2^k matrix for the blocks
//! the fusion pass builds. Qubit `q` is bit `q` of an amplitude's index.

use num_complex::Complex64;

use super::interrupt::Interrupt;
use super::parallel::{Amps, for_each_group};
use crate::error::Result;

/// A 2×2 matrix, row-major.
pub(crate) type Mat2 = [[Complex64; 2]; 2];

/// Widest dense block: 2^5 × 2^5 complex entries, 16 KiB.
pub(crate) const MAX_DENSE_QUBITS: usize = 5;

/// A unitary in the form its kernel applies.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Kernel {
    /// `matrix` on `target`, where every qubit in the `controls` mask is 1.
    Unitary1 {
        target: usize,
        controls: usize,
        matrix: Mat2,
    },
    /// Pauli X on `target`, where every qubit in `controls` is 1.
    Flip { target: usize, controls: usize },
    /// Exchanges qubits `a` and `b`, where every qubit in `controls` is 1.
    Swap { a: usize, b: usize, controls: usize },
    /// Multiplies by `phase` the amplitudes whose qubits in `mask` are all 1.
    Phase { mask: usize, phase: Complex64 },
    /// Multiplies each amplitude by `diagonal[j]`, where bit `i` of `j` is qubit `qubits[i]`.
    Diagonal {
        qubits: Vec<usize>,
        diagonal: Vec<Complex64>,
    },
    /// A dense unitary on 2 to [`MAX_DENSE_QUBITS`] qubits: row-major, bit `i` of a row or
    /// column index is qubit `qubits[i]`.
    Dense {
        qubits: Vec<usize>,
        matrix: Vec<Complex64>,
    },
}

impl Kernel {
    /// Mask of every qubit the kernel reads or writes (controls included).
    pub(crate) fn qubit_mask(&self) -> usize {
        match self {
            Self::Unitary1 {
                target, controls, ..
            }
            | Self::Flip { target, controls } => controls | 1 << target,
            Self::Swap { a, b, controls } => controls | 1 << a | 1 << b,
            Self::Phase { mask, .. } => *mask,
            Self::Diagonal { qubits, .. } | Self::Dense { qubits, .. } => {
                qubits.iter().fold(0, |mask, q| mask | 1 << q)
            }
        }
    }

    /// Whether the kernel is diagonal in the computational basis.
    pub(crate) fn is_diagonal(&self) -> bool {
        matches!(self, Self::Phase { .. } | Self::Diagonal { .. })
    }

    /// The same kernel with every qubit `q` renamed `rename(q)`.
    pub(crate) fn renamed(&self, rename: impl Fn(usize) -> usize) -> Self {
        let mask = |m: usize| {
            (0..usize::BITS as usize)
                .filter(|q| m >> q & 1 == 1)
                .fold(0, |acc, q| acc | 1 << rename(q))
        };
        match self {
            Self::Unitary1 {
                target,
                controls,
                matrix,
            } => Self::Unitary1 {
                target: rename(*target),
                controls: mask(*controls),
                matrix: *matrix,
            },
            Self::Flip { target, controls } => Self::Flip {
                target: rename(*target),
                controls: mask(*controls),
            },
            Self::Swap { a, b, controls } => Self::Swap {
                a: rename(*a),
                b: rename(*b),
                controls: mask(*controls),
            },
            Self::Phase { mask: m, phase } => Self::Phase {
                mask: mask(*m),
                phase: *phase,
            },
            Self::Diagonal { qubits, diagonal } => Self::Diagonal {
                qubits: qubits.iter().map(|&q| rename(q)).collect(),
                diagonal: diagonal.clone(),
            },
            Self::Dense { qubits, matrix } => Self::Dense {
                qubits: qubits.iter().map(|&q| rename(q)).collect(),
                matrix: matrix.clone(),
            },
        }
    }

    /// Applies the kernel to `amps` (a state of `log2(amps.len())` qubits).
    pub(crate) fn apply(&self, amps: &mut [Complex64], interrupt: &Interrupt<'_>) -> Result<()> {
        match self {
            Self::Unitary1 {
                target,
                controls,
                matrix: [[m00, m01], [m10, m11]],
            } => {
                let (m00, m01, m10, m11) = (*m00, *m01, *m10, *m11);
                let bit = 1 << target;
                let positions = sorted_bits(controls | bit);
                for_each_group(amps, &positions, *controls, interrupt, |a, i0| {
                    let i1 = i0 | bit;
                    let (x, y) = (a.get(i0), a.get(i1));
                    a.set(i0, m00 * x + m01 * y);
                    a.set(i1, m10 * x + m11 * y);
                })
            }
            Self::Flip { target, controls } => {
                let bit = 1 << target;
                let positions = sorted_bits(controls | bit);
                for_each_group(amps, &positions, *controls, interrupt, |a, i0| {
                    let i1 = i0 | bit;
                    let x = a.get(i0);
                    a.set(i0, a.get(i1));
                    a.set(i1, x);
                })
            }
            Self::Swap { a, b, controls } => {
                let (bit_a, bit_b) = (1 << a, 1 << b);
                let positions = sorted_bits(controls | bit_a | bit_b);
                for_each_group(amps, &positions, *controls, interrupt, |amp, base| {
                    let (i, j) = (base | bit_a, base | bit_b);
                    let x = amp.get(i);
                    amp.set(i, amp.get(j));
                    amp.set(j, x);
                })
            }
            Self::Phase { mask, phase } => {
                let phase = *phase;
                for_each_group(amps, &sorted_bits(*mask), *mask, interrupt, |a, i| {
                    a.set(i, a.get(i) * phase);
                })
            }
            Self::Diagonal { qubits, diagonal } => {
                let offsets = offsets(qubits);
                let mut positions = qubits.clone();
                positions.sort_unstable();
                for_each_group(amps, &positions, 0, interrupt, |a, base| {
                    for (offset, d) in offsets.iter().zip(diagonal) {
                        let i = base | offset;
                        a.set(i, a.get(i) * d);
                    }
                })
            }
            Self::Dense { qubits, matrix } => match qubits.len() {
                2 => dense::<4>(amps, qubits, matrix, interrupt),
                3 => dense::<8>(amps, qubits, matrix, interrupt),
                4 => dense::<16>(amps, qubits, matrix, interrupt),
                _ => dense::<32>(amps, qubits, matrix, interrupt),
            },
        }
    }
}

/// Index offsets of a block's basis states: entry `j` has bit `qubits[i]` set iff bit `i`
/// of `j` is set.
fn offsets(qubits: &[usize]) -> Vec<usize> {
    (0..1usize << qubits.len())
        .map(|j| {
            qubits
                .iter()
                .enumerate()
                .filter(|(i, _)| j >> i & 1 == 1)
                .fold(0, |acc, (_, q)| acc | 1 << q)
        })
        .collect()
}

/// The set bits of `mask`, ascending.
fn sorted_bits(mask: usize) -> Vec<usize> {
    (0..usize::BITS as usize)
        .filter(|q| mask >> q & 1 == 1)
        .collect()
}

/// Dense `D`×`D` matrix-vector product on every group of `D = 2^k` amplitudes.
fn dense<const D: usize>(
    amps: &mut [Complex64],
    qubits: &[usize],
    matrix: &[Complex64],
    interrupt: &Interrupt<'_>,
) -> Result<()> {
    assert_eq!(
        matrix.len(),
        D * D,
        "dense kernel of {} qubits",
        qubits.len()
    );
    let table = offsets(qubits);
    let offsets: [usize; D] = std::array::from_fn(|j| table[j]);
    let rows: [[Complex64; D]; D] =
        std::array::from_fn(|r| std::array::from_fn(|c| matrix[r * D + c]));
    let mut positions = qubits.to_vec();
    positions.sort_unstable();
    for_each_group(amps, &positions, 0, interrupt, |a: Amps, base| {
        let v: [Complex64; D] = std::array::from_fn(|j| a.get(base | offsets[j]));
        for (row, offset) in rows.iter().zip(offsets) {
            let value = row
                .iter()
                .zip(&v)
                .fold(Complex64::new(0.0, 0.0), |acc, (m, x)| acc + m * x);
            a.set(base | offset, value);
        }
    })
}
