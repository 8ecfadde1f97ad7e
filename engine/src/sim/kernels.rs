//! Gate kernels: the forms a unitary takes on the state vector, each applied by a loop
//! specialised to it.
//!
//! Permutations ([`Kernel::Flip`], [`Kernel::Swap`]) move amplitudes without arithmetic;
//! phases and diagonals touch each amplitude once with one multiplication (a controlled
//! phase only the quarter/eighth… of amplitudes it affects); [`Kernel::Unitary1`] is the
//! 2×2 case with optional controls; [`Kernel::Dense`] is a 2^k×2^k matrix for the blocks
//! the fusion pass builds. Qubit `q` is bit `q` of an amplitude's index.

use num_complex::{Complex, Complex64};

use rayon::prelude::*;

use super::parallel::{
    Amps, LANES, PARALLEL_MIN, for_each_chunk, for_each_group, for_each_pair_run,
};
use super::real::{self, Real};
use super::simd;
use crate::error::Result;
use crate::interrupt::Interrupt;

/// A 2×2 matrix, row-major (f64 in kernels, the state's precision where applied).
pub(crate) type Mat2<S = f64> = [[Complex<S>; 2]; 2];

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
    /// column index is qubit `qubits[i]`. A qubit whose bit differs between the row and
    /// column of no nonzero entry is only read ([`Kernel::moved_mask`]: a control or
    /// diagonal factor of the kernels fused into it); when every moved qubit is local, a
    /// cache-blocked run applies the block's rows and columns for each block's bits of the
    /// others.
    Dense {
        qubits: Vec<usize>,
        matrix: Vec<Complex64>,
    },
    /// Kernels that each move amplitudes only within blocks of [`LOCAL`] consecutive
    /// amplitudes ([`Kernel::is_local`]), applied block by block: all of them on one block
    /// while it is in cache, so the run costs one pass over memory instead of one per
    /// kernel (cache blocking).
    Local(Vec<Kernel>),
}

/// Qubits below this one are *local*: flipping them stays within a block of [`LOCAL`]
/// amplitudes (1 MiB, a core's L2 cache on AMD Zen 4 and 5; the L3 beyond it still serves a
/// run far faster than memory). On the 2-vCPU Zen 5 EPYC of 2026-12-06, wall time of
/// `run_qasm` with 1,000 shots, medians of 3, 1 / 2 threads, 14 → 16 local qubits: QFT-24
/// 0.70 → 0.63 / 0.44 → 0.40 s, QuantumVolume(24) 3.64 → 3.47 / 2.19 → 2.11 s,
/// `random_circuit(24, 20)` 2.05 → 1.90 / 1.27 → 1.15 s (18 gained little more).
pub(crate) const LOCAL_QUBITS: usize = 16;

/// Amplitudes per block of a [`Kernel::Local`] run.
pub(crate) const LOCAL: usize = 1 << LOCAL_QUBITS;

/// How far ahead, in amplitudes, a dense kernel streaming the state from memory prefetches
/// each of the `D` places it reads (64 KiB).
const PREFETCH_AHEAD: usize = 4096;

/// Blocks whose qubits are all from this one up are left to the hardware prefetchers.
const PREFETCH_BELOW: usize = 12;

/// How far ahead a dense kernel on `qubits` over a state of `len` amplitudes prefetches, or
/// 0 for not at all. A block with a qubit below [`PREFETCH_BELOW`] reads several places
/// within a few pages at once, which the hardware prefetchers of the AMD EPYC (Zen 5) this
/// was measured on follow poorly: on 24 qubits, one thread (`kernel_costs`, 2026-12-06), a
/// dense 2-qubit block on `[3, 7]` costs 1.06 ns per amplitude without and 0.81 with, `[6,
/// 23]` 1.53 and 0.74, a 3-qubit one on `[3, 7, 9]` 2.20 and 1.08, 4 qubits 2.23 and 1.56,
/// while blocks on the top qubits gain nothing (5 qubits lose: 4.25 → 5.20) and a block in
/// cache ([`Kernel::Local`]'s, `len` = [`LOCAL`]) has nothing to gain.
pub(super) fn prefetch_ahead(len: usize, qubits: &[usize]) -> usize {
    let lowest = qubits.iter().copied().min().unwrap_or(usize::MAX);
    if len > LOCAL && lowest < PREFETCH_BELOW {
        PREFETCH_AHEAD
    } else {
        0
    }
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
            Self::Local(kernels) => kernels.iter().fold(0, |mask, k| mask | k.qubit_mask()),
        }
    }

    /// Whether the kernel is diagonal in the computational basis.
    pub(crate) fn is_diagonal(&self) -> bool {
        match self {
            Self::Phase { .. } | Self::Diagonal { .. } => true,
            Self::Local(kernels) => kernels.iter().all(Kernel::is_diagonal),
            _ => false,
        }
    }

    /// Mask of the qubits whose value the kernel changes (a diagonal changes none; controls
    /// are only read).
    pub(crate) fn moved_mask(&self) -> usize {
        match self {
            Self::Unitary1 { target, .. } | Self::Flip { target, .. } => 1 << target,
            Self::Swap { a, b, .. } => 1 << a | 1 << b,
            Self::Phase { .. } | Self::Diagonal { .. } => 0,
            Self::Dense { qubits, matrix } => dense_moved_mask(qubits, matrix),
            Self::Local(kernels) => kernels.iter().fold(0, |mask, k| mask | k.moved_mask()),
        }
    }

    /// Whether the kernel moves amplitudes only within blocks of [`LOCAL`]: every qubit it
    /// changes is below [`LOCAL_QUBITS`] (controls and diagonal factors may be anywhere).
    pub(crate) fn is_local(&self) -> bool {
        self.moved_mask() >> LOCAL_QUBITS == 0
    }

    /// The kernel as it acts on the block of [`LOCAL`] amplitudes starting at `start` (a
    /// multiple of [`LOCAL`]), on the block's own indices: controls and diagonal factors on
    /// qubits past the block are resolved from `start`. `None` where it does nothing there.
    /// The kernel must be local ([`Kernel::is_local`]).
    fn within_block(&self, start: usize) -> Option<std::borrow::Cow<'_, Kernel>> {
        use std::borrow::Cow;
        let low = LOCAL - 1;
        let high_set = |mask: usize| mask & !low & !start == 0;
        Some(match self {
            Self::Unitary1 {
                target,
                controls,
                matrix,
            } => {
                if !high_set(*controls) {
                    return None;
                }
                if controls & !low == 0 {
                    Cow::Borrowed(self)
                } else {
                    Cow::Owned(Self::Unitary1 {
                        target: *target,
                        controls: controls & low,
                        matrix: *matrix,
                    })
                }
            }
            Self::Flip { target, controls } => {
                if !high_set(*controls) {
                    return None;
                }
                Cow::Owned(Self::Flip {
                    target: *target,
                    controls: controls & low,
                })
            }
            Self::Swap { a, b, controls } => {
                if !high_set(*controls) {
                    return None;
                }
                Cow::Owned(Self::Swap {
                    a: *a,
                    b: *b,
                    controls: controls & low,
                })
            }
            Self::Phase { mask, phase } => {
                if !high_set(*mask) {
                    return None;
                }
                if mask & !low == 0 {
                    Cow::Borrowed(self)
                } else {
                    Cow::Owned(Self::Phase {
                        mask: mask & low,
                        phase: *phase,
                    })
                }
            }
            Self::Diagonal { qubits, diagonal } => {
                if qubits.iter().all(|&q| q < LOCAL_QUBITS) {
                    return Some(Cow::Borrowed(self));
                }
                let within = WithinBlock::new(qubits, start);
                let free = &within.free;
                let reduced: Vec<Complex64> = (0..1usize << free.len())
                    .map(|j| diagonal[within.entry(j)])
                    .collect();
                if free.is_empty() {
                    Cow::Owned(Self::Phase {
                        mask: 0,
                        phase: reduced[0],
                    })
                } else {
                    Cow::Owned(Self::Diagonal {
                        qubits: free.iter().map(|&i| qubits[i]).collect(),
                        diagonal: reduced,
                    })
                }
            }
            Self::Dense { qubits, matrix } => {
                if qubits.iter().all(|&q| q < LOCAL_QUBITS) {
                    return Some(Cow::Borrowed(self));
                }
                return dense_within_block(qubits, matrix, start).map(Cow::Owned);
            }
            Self::Local(_) => unreachable!("runs do not nest"),
        })
    }

    /// The same kernel with every qubit `q` renamed `rename(q)`.
    pub(crate) fn renamed(&self, rename: impl Fn(usize) -> usize) -> Self {
        self.renamed_by(&rename)
    }

    fn renamed_by(&self, rename: &dyn Fn(usize) -> usize) -> Self {
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
            Self::Local(kernels) => {
                Self::Local(kernels.iter().map(|k| k.renamed_by(rename)).collect())
            }
        }
    }

    /// Applies the kernel to `amps` (a state of `log2(amps.len())` qubits).
    pub(crate) fn apply<S: Real>(
        &self,
        amps: &mut [Complex<S>],
        interrupt: &Interrupt<'_>,
    ) -> Result<()> {
        match self {
            Self::Unitary1 {
                target,
                controls,
                matrix,
            } => {
                let matrix = &real::mat2::<S>(matrix);
                let level = simd::level();
                if *target == 0 {
                    return for_each_chunk(amps, interrupt, |first, chunk| {
                        if *controls == 0 {
                            simd::rotate_adjacent(level, chunk, matrix);
                            return;
                        }
                        for (p, pair) in chunk.chunks_exact_mut(2).enumerate() {
                            if (first + 2 * p) & controls == *controls {
                                simd::rotate_adjacent(level, pair, matrix);
                            }
                        }
                    });
                }
                for_each_pair_run(amps, *target, interrupt, |first, lo, hi| {
                    controlled_runs(first, lo, hi, *controls, |lo, hi| {
                        simd::rotate(level, lo, hi, matrix);
                    });
                })
            }
            Self::Flip { target, controls } if *target > 0 => {
                for_each_pair_run(amps, *target, interrupt, |first, lo, hi| {
                    controlled_runs(first, lo, hi, *controls, |lo, hi| lo.swap_with_slice(hi));
                })
            }
            Self::Flip { controls, .. } => for_each_chunk(amps, interrupt, |first, chunk| {
                for (p, pair) in chunk.chunks_exact_mut(2).enumerate() {
                    if (first + 2 * p) & controls == *controls {
                        pair.swap(0, 1);
                    }
                }
            }),
            Self::Swap { a, b, controls } => {
                let (bit_a, bit_b) = (1 << a, 1 << b);
                let positions = sorted_bits(controls | bit_a | bit_b);
                for_each_group(amps, &positions, *controls, interrupt, |amp, bases| {
                    for &base in bases {
                        let (i, j) = (base | bit_a, base | bit_b);
                        let x = amp.get(i);
                        amp.set(i, amp.get(j));
                        amp.set(j, x);
                    }
                })
            }
            Self::Phase { mask, phase } => {
                // The amplitudes it scales lie in runs of 2^q consecutive indices, `q` the
                // lowest qubit of the mask; a run is in or out as its first index is.
                let run = 1usize << mask.trailing_zeros().min(usize::BITS - 1);
                let (level, phase) = (simd::level(), real::complex::<S>(*phase));
                for_each_chunk(amps, interrupt, |first, chunk| {
                    simd::scale_runs(level, chunk, first, run.min(chunk.len()), *mask, phase);
                })
            }
            Self::Diagonal { qubits, diagonal } => {
                let entry = |index: usize| matrix_index(index, qubits);
                let lowest = qubits.iter().copied().min().unwrap_or(usize::BITS as usize);
                if lowest >= 3 {
                    // Runs of 2^lowest consecutive amplitudes (at least 8) share one entry:
                    // a vector multiplication per run.
                    let level = simd::level();
                    return for_each_chunk(amps, interrupt, |first, chunk| {
                        let run = (1usize << lowest.min(usize::BITS as usize - 1)).min(chunk.len());
                        let factors: Vec<Complex<S>> = (0..chunk.len() / run)
                            .map(|r| real::complex(diagonal[entry(first + r * run)]))
                            .collect();
                        simd::scale_by_runs(level, chunk, &factors);
                    });
                }
                // One sequential sweep: an amplitude's entry is `high | low[i % RUN]`, the
                // bits of the qubits below RUN_QUBITS from a table, the others fixed per run.
                const RUN_QUBITS: usize = 8;
                const RUN: usize = 1 << RUN_QUBITS;
                let entry_bits = |index: usize, below: bool| {
                    qubits
                        .iter()
                        .enumerate()
                        .filter(|&(_, &q)| (q < RUN_QUBITS) == below && index >> q & 1 == 1)
                        .fold(0, |j, (bit, _)| j | 1 << bit)
                };
                let run = RUN.min(amps.len());
                let low: Vec<usize> = (0..run).map(|i| entry_bits(i, true)).collect();
                let (level, diagonal) = (simd::level(), S::complexes(diagonal));
                for_each_chunk(amps, interrupt, |first, chunk| {
                    for (r, part) in chunk.chunks_mut(run).enumerate() {
                        let high = entry_bits(first + r * run, false);
                        simd::scale_by_table(level, part, &low, high, &diagonal);
                    }
                })
            }
            Self::Dense { qubits, matrix } => match qubits.len() {
                2 => dense::<S, 4>(amps, qubits, matrix, interrupt),
                3 => dense::<S, 8>(amps, qubits, matrix, interrupt),
                4 => dense::<S, 16>(amps, qubits, matrix, interrupt),
                _ => dense::<S, 32>(amps, qubits, matrix, interrupt),
            },
            Self::Local(kernels) => {
                let run_block = |(i, block): (usize, &mut [Complex<S>])| -> Result<()> {
                    interrupt.check()?;
                    let never = Interrupt::never();
                    for kernel in kernels {
                        if let Some(kernel) = kernel.within_block(i * LOCAL) {
                            kernel.apply(block, &never)?;
                        }
                    }
                    Ok(())
                };
                if amps.len() >= PARALLEL_MIN {
                    amps.par_chunks_mut(LOCAL)
                        .enumerate()
                        .try_for_each(run_block)
                } else {
                    amps.chunks_mut(LOCAL).enumerate().try_for_each(run_block)
                }
            }
        }
    }
}

/// A kernel's qubits split at the edge of the block of [`LOCAL`] amplitudes at `start`:
/// those past it are fixed by `start`, those inside it stay free.
struct WithinBlock {
    /// Bit `i` set where `qubits[i]` is past the block and 1 in `start`.
    fixed: usize,
    /// Positions in `qubits` of the qubits inside the block, ascending.
    free: Vec<usize>,
}

impl WithinBlock {
    fn new(qubits: &[usize], start: usize) -> Self {
        Self {
            fixed: qubits
                .iter()
                .enumerate()
                .filter(|&(_, &q)| q >= LOCAL_QUBITS && start >> q & 1 == 1)
                .fold(0, |j, (i, _)| j | 1 << i),
            free: (0..qubits.len())
                .filter(|&i| qubits[i] < LOCAL_QUBITS)
                .collect(),
        }
    }

    /// The index over all the kernel's qubits of index `j` over the free ones (bit `b` of
    /// `j` is the qubit at `free[b]`).
    fn entry(&self, j: usize) -> usize {
        self.free
            .iter()
            .enumerate()
            .filter(|&(bit, _)| j >> bit & 1 == 1)
            .fold(self.fixed, |acc, (_, &i)| acc | 1 << i)
    }
}

/// Mask of the qubits a dense kernel changes: qubit `qubits[i]` unless every entry whose
/// row and column differ in bit `i` is exactly zero (the block is then diagonal in that
/// qubit: a control, or a diagonal factor, of the kernels fused into it).
fn dense_moved_mask(qubits: &[usize], matrix: &[Complex64]) -> usize {
    let dim = 1 << qubits.len();
    let differing = matrix
        .iter()
        .enumerate()
        .filter(|(_, m)| **m != Complex64::new(0.0, 0.0))
        .fold(0, |bits, (i, _)| bits | ((i / dim) ^ (i % dim)));
    qubits
        .iter()
        .enumerate()
        .filter(|&(i, _)| differing >> i & 1 == 1)
        .fold(0, |mask, (_, q)| mask | 1 << q)
}

/// A local dense kernel ([`Kernel::is_local`]) with qubits past the block at `start`, as it
/// acts on that block: its rows and columns where those qubits are as in `start`, on the
/// qubits inside the block. `None` where that is exactly the identity (a control past the
/// block is 0 there).
fn dense_within_block(qubits: &[usize], matrix: &[Complex64], start: usize) -> Option<Kernel> {
    let dim = 1 << qubits.len();
    let within = WithinBlock::new(qubits, start);
    let free_dim = 1usize << within.free.len();
    let entries: Vec<usize> = (0..free_dim).map(|j| within.entry(j)).collect();
    let sub: Vec<Complex64> = (0..free_dim * free_dim)
        .map(|i| matrix[entries[i / free_dim] * dim + entries[i % free_dim]])
        .collect();
    let identity = (0..free_dim * free_dim)
        .all(|i| sub[i] == Complex64::new(f64::from(u8::from(i / free_dim == i % free_dim)), 0.0));
    if identity {
        return None;
    }
    let free: Vec<usize> = within.free.iter().map(|&i| qubits[i]).collect();
    Some(match free[..] {
        [] => Kernel::Phase {
            mask: 0,
            phase: sub[0],
        },
        [target] => Kernel::Unitary1 {
            target,
            controls: 0,
            matrix: [[sub[0], sub[1]], [sub[2], sub[3]]],
        },
        _ => Kernel::Dense {
            qubits: free,
            matrix: sub,
        },
    })
}

/// Calls `f` on the sub-runs of the pair run `(lo, hi)` (at index `first`, a multiple of
/// its length) where every qubit of `controls` is 1.
#[inline(always)]
fn controlled_runs<S>(
    first: usize,
    lo: &mut [Complex<S>],
    hi: &mut [Complex<S>],
    controls: usize,
    f: impl Fn(&mut [Complex<S>], &mut [Complex<S>]),
) {
    let len = lo.len();
    let high = controls & !(len - 1);
    if first & high != high {
        return;
    }
    let low = controls & (len - 1);
    if low == 0 {
        return f(lo, hi);
    }
    let run = 1 << low.trailing_zeros();
    for start in (0..len).step_by(run) {
        if start & low == low {
            f(&mut lo[start..start + run], &mut hi[start..start + run]);
        }
    }
}

/// Index offsets of a block's basis states: entry `j` has bit `qubits[i]` set iff bit `i`
/// of `j` is set.
pub(super) fn offsets(qubits: &[usize]) -> Vec<usize> {
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

/// The row or column of a kernel's matrix (or entry of its diagonal) that the amplitude at
/// `index` takes: bit `i` is the amplitude's bit at `qubits[i]`.
pub(super) fn matrix_index(index: usize, qubits: &[usize]) -> usize {
    qubits
        .iter()
        .enumerate()
        .fold(0, |j, (bit, &q)| j | (index >> q & 1) << bit)
}

/// The set bits of `mask`, ascending.
fn sorted_bits(mask: usize) -> Vec<usize> {
    (0..usize::BITS as usize)
        .filter(|q| mask >> q & 1 == 1)
        .collect()
}

/// A dense `D`×`D` matrix (`D = 2^k`, row-major) applied to every group of `D` amplitudes
/// spanned by `qubits`.
fn dense<S: Real, const D: usize>(
    amps: &mut [Complex<S>],
    qubits: &[usize],
    matrix: &[Complex64],
    interrupt: &Interrupt<'_>,
) -> Result<()> {
    assert_eq!(
        matrix.len(),
        D * D,
        "dense kernel on {} qubits",
        qubits.len()
    );
    let moved = dense_moved_mask(qubits, matrix);
    if runs_as_rotation(qubits.iter().fold(0, |mask, q| mask | 1 << q), moved) {
        return multiplexed_rotation(
            amps,
            qubits,
            matrix,
            moved.trailing_zeros() as usize,
            interrupt,
        );
    }
    if let Some(applied) = real::dense_in_lanes(amps, qubits, matrix, interrupt) {
        return applied;
    }
    let level = simd::level();
    let block = MatrixBlock::<S, D>::new(qubits, matrix, amps.len());
    let mut positions = qubits.to_vec();
    positions.sort_unstable();
    for_each_group(amps, &positions, 0, interrupt, |a, bases| {
        block.apply_fastest(a, bases, level);
    })
}

/// Whether a dense kernel on the qubits of `mask` that moves those of `moved` runs as a
/// [`multiplexed_rotation`]: it moves one qubit, and reads the others only from [`LANES`]'
/// bits up.
pub(crate) fn runs_as_rotation(mask: usize, moved: usize) -> bool {
    moved.count_ones() == 1 && mask & !moved & (LANES - 1) == 0
}

/// A dense kernel that moves only `target` ([`dense_moved_mask`]) applied as what it is: a
/// 2×2 rotation of `target` per pattern of its other qubits' bits, one pass like
/// [`Kernel::Unitary1`]'s. Its other qubits must be from [`LANES`]' bits up, so that the
/// amplitudes sharing a pattern come in runs of at least [`LANES`].
fn multiplexed_rotation<S: Real>(
    amps: &mut [Complex<S>],
    qubits: &[usize],
    matrix: &[Complex64],
    target: usize,
    interrupt: &Interrupt<'_>,
) -> Result<()> {
    let dim = 1 << qubits.len();
    let pattern = |index: usize| matrix_index(index, qubits);
    // Entry j (the target's bit 0): the rotation where the other qubits are as in j.
    let flip = pattern(1 << target);
    let rotations: Vec<Mat2<S>> = (0..dim)
        .map(|j| {
            let (a, b) = (j & !flip, j | flip);
            real::mat2(&[
                [matrix[a * dim + a], matrix[a * dim + b]],
                [matrix[b * dim + a], matrix[b * dim + b]],
            ])
        })
        .collect();
    let read: usize = qubits.iter().fold(0, |mask, q| mask | 1 << q) & !(1 << target);
    let shared = 1usize << read.trailing_zeros().min(usize::BITS - 1);
    let level = simd::level();
    if target == 0 {
        return for_each_chunk(amps, interrupt, |first, chunk| {
            let run = shared.min(chunk.len());
            for (r, part) in chunk.chunks_mut(run).enumerate() {
                simd::rotate_adjacent(level, part, &rotations[pattern(first + r * run)]);
            }
        });
    }
    for_each_pair_run(amps, target, interrupt, |first, lo, hi| {
        let run = shared.min(lo.len());
        for start in (0..lo.len()).step_by(run) {
            simd::rotate(
                level,
                &mut lo[start..start + run],
                &mut hi[start..start + run],
                &rotations[pattern(first + start)],
            );
        }
    })
}

/// Rows of a dense kernel's matrix computed together in its AVX-512 builds: each column's
/// vectors, loaded once, serve this many rows' accumulators (in f64 two vectors a row, 16 of
/// the 32 registers; in f32 one), enough independent chains to keep both FMA units busy
/// through their latency.
const ROWS: usize = 8;

/// A dense kernel's data in the shape its inner loops want: entries split into real and
/// imaginary parts, applied to up to [`LANES`] groups at once so that the loops run across
/// groups with one matrix entry and vectorise.
pub(crate) struct MatrixBlock<S, const D: usize> {
    offsets: [usize; D],
    re: [[S; D]; D],
    im: [[S; D]; D],
    /// Consecutive indices per basis state in [`LANES`] groups: `2^q` for the block's
    /// lowest qubit `q`, at most [`LANES`].
    run: usize,
    /// [`prefetch_ahead`] of the block on the state it is applied to.
    ahead: usize,
}

impl<S: Real, const D: usize> MatrixBlock<S, D> {
    /// The block of `matrix` (row-major, `D`×`D`) on `qubits` (as in [`Kernel::Dense`]), for
    /// a state of `len` amplitudes.
    fn new(qubits: &[usize], matrix: &[Complex64], len: usize) -> Self {
        let table = offsets(qubits);
        Self {
            offsets: std::array::from_fn(|j| table[j]),
            re: std::array::from_fn(|r| std::array::from_fn(|c| S::from_f64(matrix[r * D + c].re))),
            im: std::array::from_fn(|r| std::array::from_fn(|c| S::from_f64(matrix[r * D + c].im))),
            run: (1 << table[D - 1].trailing_zeros()).min(LANES),
            ahead: prefetch_ahead(len, qubits),
        }
    }

    /// Applies the matrix to the groups at `bases`. With `FMA`, each multiply-add is one
    /// fused instruction (only where the CPU has them: `f64::mul_add` is a slow library
    /// call otherwise).
    #[inline(always)]
    fn apply<const FMA: bool>(&self, a: Amps<S>, bases: &[usize]) {
        if bases.len() < LANES {
            return self.apply_runs::<FMA, 1>(a, bases);
        }
        match self.run {
            8 => self.apply_runs::<FMA, 8>(a, bases),
            4 => self.apply_runs::<FMA, 4>(a, bases),
            2 => self.apply_runs::<FMA, 2>(a, bases),
            _ => self.apply_runs::<FMA, 1>(a, bases),
        }
    }

    /// [`MatrixBlock::apply`] where the groups' amplitudes for one basis state lie in runs
    /// of `R` consecutive indices (from `bases[0]`, `bases[R]`, …): each run is loaded and
    /// stored as it lies, real and imaginary parts interleaved, so the loops work on whole
    /// vectors with no gathering into lanes. `re += m_re·re − m_im·im` and `im += m_re·im +
    /// m_im·re`, entry by entry of the row in column order, the `m_im` terms from a copy of
    /// the runs with each pair swapped and its real part negated: the same products in the
    /// same order whatever `R`, so every `R` gives the same bits.
    #[inline(always)]
    fn apply_runs<const FMA: bool, const R: usize>(&self, a: Amps<S>, bases: &[usize]) {
        const W: usize = 2 * LANES;
        debug_assert!(
            bases
                .chunks(R)
                .all(|run| run.iter().zip(run[0]..).all(|(&b, i)| b == i))
        );
        let mut v = [[S::zero(); W]; D];
        let mut swapped = [[S::zero(); W]; D];
        for (c, offset) in self.offsets.iter().enumerate() {
            for (j, &start) in bases.iter().step_by(R).enumerate() {
                let run: [Complex<S>; R] = a.load(start | offset);
                for (k, x) in run.iter().enumerate() {
                    let lane = 2 * (j * R + k);
                    v[c][lane] = x.re;
                    v[c][lane + 1] = x.im;
                    swapped[c][lane] = -x.im;
                    swapped[c][lane + 1] = x.re;
                }
            }
        }
        // Four rows at a time: a column's runs, loaded once, serve four accumulators.
        for first in (0..D).step_by(4) {
            let mut out = [[S::zero(); W]; 4];
            for c in 0..D {
                for (k, out) in out.iter_mut().enumerate() {
                    multiply_add::<S, FMA>(out, self.re[first + k][c], &v[c]);
                    multiply_add::<S, FMA>(out, self.im[first + k][c], &swapped[c]);
                }
            }
            for (out, offset) in out.iter().zip(&self.offsets[first..]) {
                for (j, &start) in bases.iter().step_by(R).enumerate() {
                    let lane = |k: usize| 2 * (j * R + k);
                    a.store::<R>(
                        start | offset,
                        std::array::from_fn(|k| Complex::new(out[lane(k)], out[lane(k) + 1])),
                    );
                }
            }
        }
    }

    /// [`MatrixBlock::apply`] compiled for AVX-512 with FMA; a full call whose groups'
    /// basis states lie in runs of 8 goes to the precision's hand-written code
    /// ([`Real::apply_run8_avx512`]).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
    fn apply_avx512(&self, a: Amps<S>, bases: &[usize]) {
        if self.run == LANES && bases.len() == LANES {
            // SAFETY: this function's features are the CPU's (see `apply_fastest`).
            return unsafe { S::apply_run8_avx512(self, a, bases[0]) };
        }
        self.apply::<true>(a, bases);
    }

    /// [`MatrixBlock::apply`] in its build for `level` (from [`simd::level`]): AVX-512's, or
    /// the portable one (with AVX2, `dense` gives every block to `dense_lanes` in either
    /// precision).
    #[inline(always)]
    fn apply_fastest(&self, a: Amps<S>, bases: &[usize], level: simd::Level) {
        match level {
            // SAFETY: `simd::level` reports AVX-512 only when the CPU has it and FMA.
            #[cfg(target_arch = "x86_64")]
            simd::Level::Avx512 => unsafe { self.apply_avx512(a, bases) },
            _ => self.apply::<false>(a, bases),
        }
    }
}

impl<const D: usize> MatrixBlock<f64, D> {
    /// [`MatrixBlock::apply_runs`] for `R` = 8 (the groups `base..base + 8`) written with
    /// AVX-512 intrinsics: each basis state's run is two vector loads, its pair-swapped copy
    /// a permute and a sign flip, and the rows are taken [`ROWS`] at a time so that one load
    /// of a column's vectors serves four rows' accumulators held in registers. The same
    /// fused products in the same order as `apply_runs`, so the same bits.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
    pub(crate) fn apply_run8_avx512(&self, a: Amps<f64>, base: usize) {
        use std::arch::x86_64::{
            __m512d, _mm512_fmadd_pd, _mm512_loadu_pd, _mm512_permute_pd, _mm512_set_pd,
            _mm512_set1_pd, _mm512_setzero_pd, _mm512_storeu_pd, _mm512_xor_pd,
        };
        // -0.0 in the real (even) lanes: flips the sign of the real parts.
        let negate_re = _mm512_set_pd(0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0);
        let mut v = [[_mm512_setzero_pd(); 2]; D];
        let mut swapped = [[_mm512_setzero_pd(); 2]; D];
        for (c, &offset) in self.offsets.iter().enumerate() {
            if self.ahead != 0 {
                // The run's two cache lines, `ahead` further on.
                a.prefetch((base | offset) + self.ahead);
                a.prefetch((base | offset) + self.ahead + LANES / 2);
            }
            let run = a.run_ptr(base | offset, LANES).cast::<f64>();
            for (h, half) in v[c].iter_mut().enumerate() {
                // SAFETY: `run_ptr` checked that the 8 amplitudes (16 f64) are in bounds.
                *half = unsafe { _mm512_loadu_pd(run.add(8 * h)) };
                // (re, im) → (−im, re): swap each pair, then negate the new real part.
                swapped[c][h] = _mm512_xor_pd(_mm512_permute_pd::<0b0101_0101>(*half), negate_re);
            }
        }
        let rows = ROWS.min(D);
        for first in (0..D).step_by(rows) {
            let mut out: [[__m512d; 2]; ROWS] = [[_mm512_setzero_pd(); 2]; ROWS];
            for c in 0..D {
                for (k, out) in out[..rows].iter_mut().enumerate() {
                    let re = _mm512_set1_pd(self.re[first + k][c]);
                    let im = _mm512_set1_pd(self.im[first + k][c]);
                    for h in 0..2 {
                        out[h] = _mm512_fmadd_pd(re, v[c][h], out[h]);
                        out[h] = _mm512_fmadd_pd(im, swapped[c][h], out[h]);
                    }
                }
            }
            for (out, &offset) in out[..rows].iter().zip(&self.offsets[first..]) {
                let run = a.run_ptr(base | offset, LANES).cast::<f64>();
                for (h, half) in out.iter().enumerate() {
                    // SAFETY: as for the loads; this group owns the run (see `Amps`).
                    unsafe { _mm512_storeu_pd(run.add(8 * h), *half) };
                }
            }
        }
    }
}

impl<const D: usize> MatrixBlock<f32, D> {
    /// The f32 build of [`MatrixBlock::apply_run8_avx512`]: a basis state's run of 8
    /// amplitudes is one vector of 16 f32, so a column is one load and one permute, and each
    /// row's accumulator one register.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
    pub(crate) fn apply_run8_avx512(&self, a: Amps<f32>, base: usize) {
        use std::arch::x86_64::{
            __m512, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_permute_ps, _mm512_set_ps,
            _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps, _mm512_xor_ps,
        };
        // -0.0 in the real (even) lanes: flips the sign of the real parts.
        let negate_re = _mm512_set_ps(
            0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0,
        );
        let mut v = [_mm512_setzero_ps(); D];
        let mut swapped = [_mm512_setzero_ps(); D];
        for (c, &offset) in self.offsets.iter().enumerate() {
            if self.ahead != 0 {
                // The run's cache line, `ahead` further on.
                a.prefetch((base | offset) + self.ahead);
            }
            let run = a.run_ptr(base | offset, LANES).cast::<f32>();
            // SAFETY: `run_ptr` checked that the 8 amplitudes (16 f32) are in bounds.
            v[c] = unsafe { _mm512_loadu_ps(run) };
            // (re, im) → (−im, re): swap each pair, then negate the new real part.
            swapped[c] = _mm512_xor_ps(_mm512_permute_ps::<0b1011_0001>(v[c]), negate_re);
        }
        let rows = ROWS.min(D);
        for first in (0..D).step_by(rows) {
            let mut out: [__m512; ROWS] = [_mm512_setzero_ps(); ROWS];
            for c in 0..D {
                for (k, out) in out[..rows].iter_mut().enumerate() {
                    let re = _mm512_set1_ps(self.re[first + k][c]);
                    let im = _mm512_set1_ps(self.im[first + k][c]);
                    *out = _mm512_fmadd_ps(re, v[c], *out);
                    *out = _mm512_fmadd_ps(im, swapped[c], *out);
                }
            }
            for (out, &offset) in out[..rows].iter().zip(&self.offsets[first..]) {
                let run = a.run_ptr(base | offset, LANES).cast::<f32>();
                // SAFETY: as for the loads; this group owns the run (see `Amps`).
                unsafe { _mm512_storeu_ps(run, *out) };
            }
        }
    }
}

/// `out += m · v`, entry by entry (fused with `FMA`).
#[inline(always)]
fn multiply_add<S: Real, const FMA: bool>(out: &mut [S; 2 * LANES], m: S, v: &[S; 2 * LANES]) {
    for (o, x) in out.iter_mut().zip(v) {
        *o = if FMA { m.mul_add(*x, *o) } else { *o + m * *x };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefetching_changes_no_bit_and_runs_only_for_low_blocks_streamed() {
        let len = 2 * LOCAL;
        let start: Vec<Complex64> = (0..len)
            .map(|i| Complex64::new((i as f64 * 0.13).sin(), (i as f64 * 0.29).cos()))
            .collect();
        let matrix: Vec<Complex64> = (0..64)
            .map(|i| Complex64::new((i as f64 * 0.7).sin(), (i as f64 * 1.3).cos()))
            .collect();
        let qubits = [7, 3, LOCAL_QUBITS];
        let mut positions = qubits;
        positions.sort_unstable();
        let apply = |block: &MatrixBlock<f64, 8>| {
            let mut amps = start.clone();
            let level = simd::level();
            for_each_group(&mut amps, &positions, 0, &Interrupt::never(), |a, bases| {
                block.apply_fastest(a, bases, level)
            })
            .unwrap();
            amps
        };
        let streamed = MatrixBlock::<f64, 8>::new(&qubits, &matrix, len);
        let in_cache = MatrixBlock::<f64, 8>::new(&qubits, &matrix, LOCAL);
        assert_eq!((streamed.ahead, in_cache.ahead), (PREFETCH_AHEAD, 0));
        assert_eq!(apply(&streamed), apply(&in_cache));
        let top = [PREFETCH_BELOW, LOCAL_QUBITS, PREFETCH_BELOW + 1];
        assert_eq!(MatrixBlock::<f64, 8>::new(&top, &matrix, len).ahead, 0);
    }

    #[test]
    fn portable_and_vector_dense_builds_agree() {
        let qubits = [4, 1, 6];
        let matrix: Vec<Complex64> = (0..64)
            .map(|i| Complex64::new((i as f64 * 0.7).sin(), (i as f64 * 1.3).cos()))
            .collect();
        let block = MatrixBlock::<f64, 8>::new(&qubits, &matrix, 1 << 8);
        let start: Vec<Complex64> = (0..1 << 8)
            .map(|i| Complex64::new((i as f64).sqrt(), -(i as f64) / 3.0))
            .collect();
        let run = |level| {
            let mut amps = start.clone();
            for_each_group(&mut amps, &[1, 4, 6], 0, &Interrupt::never(), |a, bases| {
                block.apply_fastest(a, bases, level);
            })
            .unwrap();
            amps
        };
        let portable = run(simd::Level::Portable);
        // This CPU's build of the block, and the kernel as `dense` dispatches it (to
        // `dense_lanes` with AVX2, or with AVX-512 for qubit 1): both vector paths.
        let mut dispatched = start.clone();
        let kernel = Kernel::Dense {
            qubits: qubits.to_vec(),
            matrix,
        };
        kernel.apply(&mut dispatched, &Interrupt::never()).unwrap();
        for vector in [run(simd::level()), dispatched] {
            for (a, b) in vector.iter().zip(&portable) {
                assert!((a - b).norm() < 1e-12, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn phases_and_diagonals_scale_exactly_their_amplitudes() {
        // Against a per-amplitude reference, bit for bit: masks and diagonals whose lowest
        // qubit gives runs of 1 to 2^16 amplitudes (past a chunk), on a state of 17 qubits.
        let n = 17;
        let start: Vec<Complex64> = (0..1usize << n)
            .map(|i| Complex64::new((i as f64 * 0.37).sin(), (i as f64 * 0.11).cos()))
            .collect();
        let phase = Complex64::cis(0.7);
        let table: Vec<Complex64> = (0..8).map(|j| Complex64::cis(0.3 * j as f64)).collect();
        // Each kernel with the factor it should give amplitude `i`.
        type Factor = Box<dyn Fn(usize) -> Complex64>;
        let mut cases: Vec<(Kernel, Factor)> = Vec::new();
        for mask in [0, 1, 0b1010, 1 << 3 | 1 << 9, 1 << 15 | 1 << 16, 1 << 16] {
            let factor = move |i: usize| {
                if i & mask == mask {
                    phase
                } else {
                    Complex64::new(1.0, 0.0)
                }
            };
            cases.push((Kernel::Phase { mask, phase }, Box::new(factor)));
        }
        for qubits in [vec![1, 4, 9], vec![3, 8, 12], vec![16, 5, 14]] {
            let diagonal = Kernel::Diagonal {
                qubits: qubits.clone(),
                diagonal: table.clone(),
            };
            let table = table.clone();
            let factor = move |i: usize| {
                let j = (0..3).fold(0, |j, bit| j | (i >> qubits[bit] & 1) << bit);
                table[j]
            };
            cases.push((diagonal, Box::new(factor)));
        }
        for (kernel, factor) in &cases {
            let mut amps = start.clone();
            kernel.apply(&mut amps, &Interrupt::never()).unwrap();
            for (i, (a, s)) in amps.iter().zip(&start).enumerate() {
                let f = factor(i);
                let expected = if f == Complex64::new(1.0, 0.0) {
                    *s
                } else {
                    s * f
                };
                assert_eq!(*a, expected, "{kernel:?} at {i}");
            }
        }
    }

    #[test]
    fn runs_of_every_length_give_the_same_bits() {
        // The lowest qubit sets the run length (8, 4, 2, 1 consecutive groups); calls with
        // half the groups take runs of 1, which must give the same bits.
        let matrix: Vec<Complex64> = (0..64)
            .map(|i| Complex64::new((i as f64 * 0.9).cos(), (i as f64 * 0.4).sin()))
            .collect();
        let start: Vec<Complex64> = (0..1 << 9)
            .map(|i| Complex64::new((i as f64 * 0.37).sin(), (i as f64).ln_1p()))
            .collect();
        for (qubits, run) in [
            ([5, 3, 7], 8),
            ([2, 5, 6], 4),
            ([6, 1, 4], 2),
            ([0, 3, 5], 1),
        ] {
            let block = MatrixBlock::<f64, 8>::new(&qubits, &matrix, 1 << 9);
            assert_eq!(block.run, run);
            let mut positions = qubits;
            positions.sort_unstable();
            for level in [simd::Level::Portable, simd::level()] {
                let apply = |split: usize| {
                    let mut amps = start.clone();
                    for_each_group(&mut amps, &positions, 0, &Interrupt::never(), |a, bases| {
                        for part in bases.chunks(split) {
                            block.apply_fastest(a, part, level);
                        }
                    })
                    .unwrap();
                    amps
                };
                assert_eq!(apply(LANES), apply(LANES / 2), "{qubits:?} {level:?}");
            }
        }
    }
}

#[cfg(test)]
pub(super) mod costs {
    use super::*;

    /// CPU seconds used by every thread of the process so far (the sum of
    /// `/proc/self/task/*/schedstat`'s first field, nanoseconds on a CPU): on a shared
    /// machine wall time counts the time other processes held the cores.
    pub(in crate::sim) fn cpu_seconds() -> f64 {
        let tasks = std::fs::read_dir("/proc/self/task").expect("Linux /proc");
        let nanos: u64 = tasks
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok())
            .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
            .sum();
        nanos as f64 * 1e-9
    }

    /// Prints what each kernel costs per amplitude (CPU time); the fusion cost model is
    /// fitted to it.
    /// `cargo test --release -p qrun-engine --lib kernel_costs -- --ignored --nocapture`
    /// (`QRUN_COST_QUBITS` picks the state size, default 24; run with RAYON_NUM_THREADS=1).
    #[test]
    #[ignore = "a measurement, not a test"]
    fn kernel_costs() {
        let n: u32 = std::env::var("QRUN_COST_QUBITS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(24);
        let mut state = crate::sim::state::StateVector::zero(n).unwrap();
        let amps = state.amplitudes_mut();
        amps.fill(Complex64::new(0.5f64.powf(f64::from(n) / 2.0), 0.0));
        let h = std::f64::consts::FRAC_1_SQRT_2;
        let m = [
            [Complex64::new(h, 0.0), Complex64::new(0.0, h)],
            [Complex64::new(0.0, h), Complex64::new(h, 0.0)],
        ];
        // A dense block on `k` of `qubits`.
        let fourier = |k: usize, qubits: &[usize]| {
            let d = 1usize << k;
            Kernel::Dense {
                qubits: qubits[..k].to_vec(),
                matrix: (0..d * d)
                    .map(|i| {
                        let angle = std::f64::consts::TAU * ((i / d) * (i % d)) as f64 / d as f64;
                        Complex64::cis(angle) / (d as f64).sqrt()
                    })
                    .collect(),
            }
        };
        // Low qubits (below LOCAL_QUBITS, runs of 8), the top ones (far-apart streams), and
        // a block on qubit 0 (runs of 1).
        let low = [3, 7, 9, 11, 5];
        let top = n as usize - 1;
        let high = [top, top - 2, top - 4, top - 6, top - 7];
        let lowest = [0, 7, 9, 11, 5];
        let i = Complex64::new(0.0, 1.0);
        let cases = [
            (
                "unitary1",
                Kernel::Unitary1 {
                    target: 5,
                    controls: 0,
                    matrix: m,
                },
            ),
            (
                "unitary1, 1 control",
                Kernel::Unitary1 {
                    target: 5,
                    controls: 1 << 10,
                    matrix: m,
                },
            ),
            (
                "flip, 1 control",
                Kernel::Flip {
                    target: 5,
                    controls: 1 << 10,
                },
            ),
            (
                "swap",
                Kernel::Swap {
                    a: 2,
                    b: 6,
                    controls: 0,
                },
            ),
            (
                "phase, 1 qubit",
                Kernel::Phase {
                    mask: 1 << 7,
                    phase: i,
                },
            ),
            (
                "phase, 2 qubits",
                Kernel::Phase {
                    mask: 1 << 7 | 1 << 3,
                    phase: i,
                },
            ),
            (
                "diagonal",
                Kernel::Diagonal {
                    qubits: vec![4],
                    diagonal: vec![i, -i],
                },
            ),
            ("dense 2", fourier(2, &low)),
            ("dense 3", fourier(3, &low)),
            ("dense 4", fourier(4, &low)),
            ("dense 5", fourier(5, &low)),
            ("dense 2, high", fourier(2, &high)),
            ("dense 3, high", fourier(3, &high)),
            ("dense 4, high", fourier(4, &high)),
            ("dense 5, high", fourier(5, &high)),
            ("dense 2, lowest 0", fourier(2, &lowest)),
            ("dense 3, lowest 0", fourier(3, &lowest)),
            ("dense 4, lowest 0", fourier(4, &lowest)),
            ("dense 5, lowest 0", fourier(5, &lowest)),
            ("dense 2, lowest 2", fourier(2, &[2, 7])),
            // Where a block's qubits are changes what it costs streamed from memory, not in
            // cache: "dense 2" above is on [3, 7].
            ("dense 2 on [3, 4]", fourier(2, &[3, 4])),
            ("dense 2 on [6, top]", fourier(2, &[6, top])),
            ("dense 2 on [top-9, top-4]", fourier(2, &[top - 9, top - 4])),
            ("dense 3, lowest 1", fourier(3, &[1, 7, 9])),
        ];
        let interrupt = Interrupt::never();
        let repeats = (1u32 << 26 >> n).max(3);
        let started = cpu_seconds();
        for _ in 0..repeats {
            amps.iter_mut().for_each(|a| *a *= i);
        }
        let per_amplitude =
            (cpu_seconds() - started) * 1e9 / f64::from(repeats) / amps.len() as f64;
        eprintln!(
            "{:22} {per_amplitude:6.2} ns per amplitude",
            "plain pass (reference)"
        );
        for (name, kernel) in &cases {
            kernel.apply(amps, &interrupt).unwrap();
            let started = cpu_seconds();
            for _ in 0..repeats {
                kernel.apply(amps, &interrupt).unwrap();
            }
            let per_amplitude =
                (cpu_seconds() - started) * 1e9 / f64::from(repeats) / amps.len() as f64;
            eprintln!("{name:22} {per_amplitude:6.2} ns per amplitude");
        }
    }
}
