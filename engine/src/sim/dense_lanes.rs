//! Dense kernels on blocks with a qubit below 3, in AVX-512 (the way qsim's "low" kernels
//! work): the state is taken four amplitudes to a vector (two f64 lanes each), so qubits 0
//! and 1 number the amplitudes *within* a vector and every other qubit picks *which*
//! vectors a group reads. A block's qubits split into `ℓ` lane qubits (those among 0 and 1)
//! and `h` register qubits: a group of `H = 2^h` vectors is loaded once, and each output
//! vector is the sum, over the `H` input vectors and the `P = 2^ℓ` permutations of their
//! amplitudes that flip a subset of the lane qubits, of that permuted vector times a
//! vector of per-amplitude matrix entries. That is `D / 2` fused multiply-adds per
//! amplitude (`D = H · P`), as for a block on qubits from 3 up (`kernels`'
//! `apply_run8_avx512`), where the general loop gathered each amplitude of a group into a
//! lane. On a 22-qubit state, one thread (2-vCPU EPYC, 2026-12-06): 2.9 / 2.8 / 4.2 / 7.3 ns
//! per amplitude for 2–5 qubits with qubit 0, against 4.0 / 3.6 / 4.9 / 7.6 gathered and
//! 2.3 / 3.0 / 3.9 / 7.0 for blocks on qubits 3, 7, 9, 11, 5.
//!
//! The sums run in another order than the portable loop's, so results agree with it to
//! rounding (the tests compare within 1e-12), not bit for bit.

use std::arch::x86_64::{
    __m512d, _mm512_fmadd_pd, _mm512_loadu_pd, _mm512_permute_pd, _mm512_set_pd, _mm512_set1_pd,
    _mm512_setzero_pd, _mm512_shuffle_f64x2, _mm512_storeu_pd, _mm512_xor_pd,
};

use num_complex::Complex64;

use super::kernels::{matrix_index, offsets, prefetch_ahead};
use super::parallel::{Amps, for_each_group};
use crate::error::Result;
use crate::interrupt::Interrupt;

/// Amplitudes in one vector (of 8 f64).
const WIDTH: usize = 4;

/// Groups computed together: each load of a matrix entry serves this many groups.
const GROUPS: usize = 4;

/// Accumulators held in registers at once (`GROUPS` groups × output vectors), half of the
/// 32: each input vector's permutations are formed once for all of them.
const ACCUMULATORS: usize = 16;

/// Applies the dense `matrix` (row-major, bit `i` of an index is `qubits[i]`, as in
/// `Kernel::Dense`) to `amps` with the AVX-512 kernel above. The caller checks that the CPU
/// has AVX-512F, AVX-512DQ and FMA (`simd::level`), that `qubits` has 2 to 5 distinct
/// qubits and that the state has at least 2 qubits.
pub(super) fn apply(
    amps: &mut [Complex64],
    qubits: &[usize],
    matrix: &[Complex64],
    interrupt: &Interrupt<'_>,
) -> Result<()> {
    let lanes = qubits.iter().filter(|&&q| q < 2).count();
    macro_rules! dispatch {
        ($(($k:literal, $l:literal) => ($h:literal, $p:literal)),* $(,)?) => {
            match (qubits.len(), lanes) {
                $(($k, $l) => run::<$h, $p>(amps, qubits, matrix, interrupt),)*
                (k, l) => unreachable!("dense kernel on {k} qubits, {l} of them lane qubits"),
            }
        };
    }
    dispatch! {
        (2, 0) => (4, 1), (3, 0) => (8, 1), (4, 0) => (16, 1), (5, 0) => (32, 1),
        (2, 1) => (2, 2), (3, 1) => (4, 2), (4, 1) => (8, 2), (5, 1) => (16, 2),
        (2, 2) => (1, 4), (3, 2) => (2, 4), (4, 2) => (4, 4), (5, 2) => (8, 4),
    }
}

fn run<const H: usize, const P: usize>(
    amps: &mut [Complex64],
    qubits: &[usize],
    matrix: &[Complex64],
    interrupt: &Interrupt<'_>,
) -> Result<()> {
    let block = LaneBlock::<H, P>::new(qubits, matrix, amps.len());
    let mut positions: Vec<usize> = qubits.iter().copied().chain([0, 1]).collect();
    positions.sort_unstable();
    positions.dedup();
    for_each_group(amps, &positions, 0, interrupt, |a, bases| {
        let mut quads = bases.chunks_exact(GROUPS);
        for quad in &mut quads {
            // SAFETY: the caller checked that the CPU has AVX-512F, AVX-512DQ and FMA (see
            // `apply`).
            unsafe { block.apply::<GROUPS>(a, quad.try_into().expect("GROUPS bases")) };
        }
        for &base in quads.remainder() {
            // SAFETY: as above.
            unsafe { block.apply::<1>(a, [base]) };
        }
    })
}

/// A block's matrix as per-amplitude vectors of entries.
struct LaneBlock<const H: usize, const P: usize> {
    /// Index offsets of the `H` vectors of a group (the register qubits' bit patterns).
    offsets: [usize; H],
    /// The lane permutations: amplitude `j` of a vector takes amplitude `j ^ flips[p]`.
    flips: [usize; P],
    /// The real parts of the entries multiplying input vector `c` permuted by `flips[p]`
    /// into output vector `r`, at [`LaneBlock::at`]`(r, c, p)`: each amplitude's twice (for
    /// its two lanes), or once where `P` is 1 (every amplitude then has the same entries).
    re: Vec<f64>,
    /// The imaginary parts, as `re`.
    im: Vec<f64>,
    /// How far ahead each vector is prefetched (`kernels::prefetch_ahead`), 0 for not.
    ahead: usize,
}

impl<const H: usize, const P: usize> LaneBlock<H, P> {
    /// f64 per entry in the tables.
    const PER_ENTRY: usize = if P == 1 { 1 } else { 2 * WIDTH };

    /// Where the entries for output vector `r`, input vector `c` and permutation `p`
    /// start in the tables.
    #[inline(always)]
    fn at(r: usize, c: usize, p: usize) -> usize {
        ((r * H + c) * P + p) * Self::PER_ENTRY
    }

    /// The block of `matrix` on `qubits` for a state of `len` amplitudes.
    fn new(qubits: &[usize], matrix: &[Complex64], len: usize) -> Self {
        let dim = 1 << qubits.len();
        let entry = |index: usize| matrix_index(index, qubits);
        let (mut lane_qubits, high): (Vec<usize>, Vec<usize>) =
            qubits.iter().partition(|&&q| q < 2);
        lane_qubits.sort_unstable();
        let flips: [usize; P] = offsets(&lane_qubits).try_into().expect("2^ℓ flips");
        let offsets: [usize; H] = offsets(&high).try_into().expect("2^h offsets");
        let per_entry = Self::PER_ENTRY;
        let table = |part: fn(Complex64) -> f64| {
            let mut table = vec![0.0; H * H * P * per_entry];
            for r in 0..H {
                for c in 0..H {
                    for (p, flip) in flips.iter().enumerate() {
                        for lane in 0..per_entry {
                            let j = lane / 2;
                            let row = entry(offsets[r] | j);
                            let column = entry(offsets[c] | (j ^ flip));
                            table[Self::at(r, c, p) + lane] = part(matrix[row * dim + column]);
                        }
                    }
                }
            }
            table
        };
        Self {
            offsets,
            flips,
            re: table(|z| z.re),
            im: table(|z| z.im),
            ahead: prefetch_ahead(len, qubits),
        }
    }

    /// Applies the block to the `B` groups at `bases` (each with its bits at the block's
    /// qubits and at 0 and 1 clear).
    #[target_feature(enable = "avx512f,avx512dq,fma")]
    fn apply<const B: usize>(&self, a: Amps, bases: [usize; B]) {
        // -0.0 in the real (even) lanes: flips the sign of the real parts.
        let negate_re = _mm512_set_pd(0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0);
        let mut v = [[_mm512_setzero_pd(); H]; B];
        let mut swapped = [[_mm512_setzero_pd(); H]; B];
        for (b, &base) in bases.iter().enumerate() {
            for (c, &offset) in self.offsets.iter().enumerate() {
                if self.ahead != 0 {
                    a.prefetch((base | offset) + self.ahead);
                }
                let ptr = a.run_ptr::<WIDTH>(base | offset).cast::<f64>();
                // SAFETY: `run_ptr` checked that the 4 amplitudes (8 f64) are in bounds.
                v[b][c] = unsafe { _mm512_loadu_pd(ptr) };
                // (re, im) → (−im, re): swap each pair, then negate the new real part.
                swapped[b][c] = _mm512_xor_pd(_mm512_permute_pd::<0b0101_0101>(v[b][c]), negate_re);
            }
        }
        let rows = (ACCUMULATORS / B).min(H);
        for first in (0..H).step_by(rows) {
            let rows = rows.min(H - first);
            let mut out = [[_mm512_setzero_pd(); B]; ACCUMULATORS];
            for c in 0..H {
                for (p, &flip) in self.flips.iter().enumerate() {
                    let x: [__m512d; B] = std::array::from_fn(|b| permute(v[b][c], flip));
                    let y: [__m512d; B] = std::array::from_fn(|b| permute(swapped[b][c], flip));
                    for (k, out) in out[..rows].iter_mut().enumerate() {
                        let at = Self::at(first + k, c, p);
                        let (re, im) = if P == 1 {
                            (_mm512_set1_pd(self.re[at]), _mm512_set1_pd(self.im[at]))
                        } else {
                            let (re, im) = (&self.re[at..at + 8], &self.im[at..at + 8]);
                            // SAFETY: each slice is 8 f64.
                            unsafe { (_mm512_loadu_pd(re.as_ptr()), _mm512_loadu_pd(im.as_ptr())) }
                        };
                        for b in 0..B {
                            out[b] = _mm512_fmadd_pd(re, x[b], out[b]);
                            out[b] = _mm512_fmadd_pd(im, y[b], out[b]);
                        }
                    }
                }
            }
            for (k, out) in out[..rows].iter().enumerate() {
                for (b, &base) in bases.iter().enumerate() {
                    let ptr = a
                        .run_ptr::<WIDTH>(base | self.offsets[first + k])
                        .cast::<f64>();
                    // SAFETY: as for the loads; this group owns the vector (see `Amps`).
                    unsafe { _mm512_storeu_pd(ptr, out[b]) };
                }
            }
        }
    }
}

/// `v` with its amplitude `j` taken from amplitude `j ^ flip` (`flip` < 4): a permutation
/// of the vector's four 128-bit lanes.
#[inline]
#[target_feature(enable = "avx512f")]
fn permute(v: __m512d, flip: usize) -> __m512d {
    match flip {
        0 => v,
        // Lanes [1, 0, 3, 2], [2, 3, 0, 1], [3, 2, 1, 0].
        1 => _mm512_shuffle_f64x2::<0b10_11_00_01>(v, v),
        2 => _mm512_shuffle_f64x2::<0b01_00_11_10>(v, v),
        _ => _mm512_shuffle_f64x2::<0b00_01_10_11>(v, v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::simd;

    /// `matrix` applied group by group, amplitude by amplitude.
    fn reference(amps: &[Complex64], qubits: &[usize], matrix: &[Complex64]) -> Vec<Complex64> {
        let dim = 1 << qubits.len();
        let mask = qubits.iter().fold(0, |m, q| m | 1 << q);
        let index = |base: usize, j: usize| {
            qubits
                .iter()
                .enumerate()
                .fold(base, |i, (bit, &q)| i | (j >> bit & 1) << q)
        };
        let mut out = amps.to_vec();
        for base in (0..amps.len()).filter(|i| i & mask == 0) {
            for row in 0..dim {
                out[index(base, row)] = (0..dim)
                    .map(|column| matrix[row * dim + column] * amps[index(base, column)])
                    .sum();
            }
        }
        out
    }

    #[test]
    fn every_split_of_lane_and_register_qubits_applies_the_matrix() {
        if simd::level() != simd::Level::Avx512 {
            eprintln!("SKIPPED: this CPU has no AVX-512 (the kernel under test is not used)");
            return;
        }
        // On 9 qubits every call takes four groups at a time; on 7 some take fewer; 15 is
        // past a cache block, so the kernel prefetches (`kernels::prefetch_ahead`).
        for n in [9, 7, 15] {
            let start: Vec<Complex64> = (0..1usize << n)
                .map(|i| Complex64::new((i as f64 * 0.37).sin(), (i as f64 * 0.11).cos()))
                .collect();
            // Lane qubits none (lowest 2), 0, 1, both; unsorted, widths 2 to 5.
            for qubits in [
                &[2, 5][..],
                &[6, 2, 3],
                &[4, 2, 8, 3, 7],
                &[6, 2, 3, 4, 5],
                &[0, 3],
                &[5, 1],
                &[1, 2, 8],
                &[7, 0, 2, 4],
                &[3, 1, 6, 8, 2],
                &[6, 2, 3, 1, 5],
                &[1, 0],
                &[0, 4, 1],
                &[6, 1, 0, 2],
                &[2, 0, 8, 1, 5],
                &[2, 0, 6, 1, 5],
            ] {
                if qubits.iter().any(|&q| q >= n) {
                    continue;
                }
                let dim = 1 << qubits.len();
                let matrix: Vec<Complex64> = (0..dim * dim)
                    .map(|i| Complex64::new((i as f64 * 0.9).cos(), (i as f64 * 0.4).sin()))
                    .collect();
                let mut amps = start.clone();
                apply(&mut amps, qubits, &matrix, &Interrupt::never()).unwrap();
                for (i, (a, b)) in amps
                    .iter()
                    .zip(reference(&start, qubits, &matrix))
                    .enumerate()
                {
                    assert!(
                        (a - b).norm() < 1e-12,
                        "{n} qubits, {qubits:?} at {i}: {a} vs {b}"
                    );
                }
            }
        }
    }
}
