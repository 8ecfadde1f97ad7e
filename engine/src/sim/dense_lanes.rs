//! Dense kernels written with vector intrinsics, the way qsim's "low" kernels work, for
//! AVX-512 (8 f64 lanes: four amplitudes to a vector; 16 f32 lanes in single precision: eight)
//! and AVX2 (4 lanes: two amplitudes). The lowest qubits (0 and 1 in AVX-512, 0–2 in its single
//! precision, 0 in AVX2: [`Isa::LANE_QUBITS`]) number the
//! amplitudes *within* a vector and every other qubit picks *which* vectors a group reads.
//! A block's qubits split into `ℓ` lane qubits (those among the lowest) and `h` register
//! qubits: a group of `H = 2^h` vectors is loaded once, and each output vector is the sum,
//! over the `H` input vectors and the `P = 2^ℓ` permutations of their amplitudes that flip
//! a subset of the lane qubits, of that permuted vector times a vector of per-amplitude
//! matrix entries. That is `D / 2` fused multiply-adds per amplitude (`D = H · P`) in
//! AVX-512 and `D` in AVX2, the FMA units' floor.
//!
//! With AVX-512 the kernel serves blocks with a qubit below 3 (`kernels`'
//! `apply_run8_avx512` those from 3 up); on a 22-qubit state, one thread (2-vCPU Zen 5 EPYC,
//! 2026-12-06): 2.9 / 2.8 / 4.2 / 7.3 ns per amplitude for 2–5 qubits with qubit 0, against
//! 4.0 / 3.6 / 4.9 / 7.6 gathered into lanes by the general loop. With AVX2 it serves every
//! dense block: on a 24-qubit state, one thread (2-vCPU Zen 3 EPYC, 2026-12-06), blocks of
//! 2–5 qubits on 3, 7, 9, 11, 5 went from 3.6 / 6.1 / 24.1 / 17.3 ns per amplitude (the
//! general loop compiled for AVX2, its accumulators spilled from the 16 registers) to
//! 2.6–3.9 / 3.5–5.6 / 5.0–7.2 / 7.9–11.3 over three runs of `kernel_costs` (that VM is
//! that noisy; the FMA floor is 0.8 / 1.6 / 3.3 / 6.5).
//!
//! In single precision ([`Avx512Single`]) it serves the blocks with a qubit below 3 (those
//! from 3 up go to `apply_run8_avx512`'s f32 build; giving it every block too was measured:
//! QFT-24 0.39 → 0.35 s but QuantumVolume(24) 1.41 → 1.54 s): QuantumVolume(24) in single
//! precision at one thread went from 2.40 s (the general loop, its xmm accumulators spilled)
//! to 1.42 s (Zen 5 EPYC, 2026-12-07, user seconds of `run_qasm --precision single`). With
//! AVX2, [`Avx2Single`] serves every single-precision block as [`Avx2`] does in double (not
//! yet timed on an AVX2-only host; the tests check it wherever the CPU has AVX2).
//!
//! The sums run in another order than the portable loop's, so results agree with it to
//! rounding (the tests compare within 1e-12), not bit for bit.

use std::arch::x86_64::{
    __m256, __m256d, __m512, __m512d, _mm256_castpd_ps, _mm256_castps_pd, _mm256_fmadd_pd,
    _mm256_fmadd_ps, _mm256_loadu_pd, _mm256_loadu_ps, _mm256_permute_pd, _mm256_permute_ps,
    _mm256_permute2f128_pd, _mm256_set_pd, _mm256_set_ps, _mm256_set1_pd, _mm256_set1_ps,
    _mm256_setzero_pd, _mm256_setzero_ps, _mm256_storeu_pd, _mm256_storeu_ps, _mm256_xor_pd,
    _mm256_xor_ps, _mm512_castpd_ps, _mm512_castps_pd, _mm512_fmadd_pd, _mm512_fmadd_ps,
    _mm512_loadu_pd, _mm512_loadu_ps, _mm512_permute_pd, _mm512_permute_ps, _mm512_permutex_pd,
    _mm512_set_pd, _mm512_set_ps, _mm512_set1_pd, _mm512_set1_ps, _mm512_setzero_pd,
    _mm512_setzero_ps, _mm512_shuffle_f64x2, _mm512_storeu_pd, _mm512_storeu_ps, _mm512_xor_pd,
    _mm512_xor_ps,
};

use num_complex::{Complex, Complex64};

use super::kernels::{matrix_index, offsets, prefetch_ahead};
use super::parallel::{Amps, for_each_group};
use super::real::Real;
use crate::error::Result;
use crate::interrupt::Interrupt;

/// An instruction set's vector of reals (`R`) and the operations the kernel takes from it. Every
/// function is an intrinsic the CPU must have: the caller checked it (`simd::level`), and
/// they are only called from [`Isa::apply`]'s build for the set. Each implementation compiles
/// them with the set's `target_feature`s (and `#[inline]`): without, an intrinsic cannot be
/// inlined into them, and the kernel called `_mm512_shuffle_f64x2` and its kin as functions
/// (QuantumVolume(24) 2.8 → 4.3 s and QFT-24 0.53 → 0.89 s at one thread on a Zen 5 EPYC,
/// 2026-12-07).
pub(crate) trait Isa: Sized {
    /// The amplitudes' real type.
    type R: Real;
    type V: Copy;
    /// Amplitudes in one vector.
    const WIDTH: usize;
    /// Qubits numbering the amplitudes within a vector: `log2(WIDTH)`.
    const LANE_QUBITS: usize;
    /// Groups computed together: each load of a matrix entry serves this many groups.
    const GROUPS: usize;
    /// Accumulators held in registers at once (groups × output vectors): each input
    /// vector's permutations are formed once for all of them.
    const ACCUMULATORS: usize;

    /// [`LaneBlock::apply`] compiled for the instruction set.
    ///
    /// # Safety
    /// The CPU has the instruction set.
    unsafe fn apply<const H: usize, const P: usize, const B: usize>(
        block: &LaneBlock<Self, H, P>,
        a: Amps<Self::R>,
        bases: [usize; B],
    );
    /// All lanes 0.
    unsafe fn zero() -> Self::V;
    /// Every lane `x`.
    unsafe fn splat(x: Self::R) -> Self::V;
    /// The vector at `ptr` (`2 · WIDTH` reals, unaligned).
    unsafe fn load(ptr: *const Self::R) -> Self::V;
    /// Writes `v` at `ptr`.
    unsafe fn store(ptr: *mut Self::R, v: Self::V);
    /// `a · b + c`, lane by lane, one rounding.
    unsafe fn fmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// Each amplitude `(re, im)` turned into `(−im, re)`: multiplied by `i`.
    unsafe fn times_i(v: Self::V) -> Self::V;
    /// `v` with its amplitude `j` taken from amplitude `j ^ flip` (`flip < WIDTH`).
    unsafe fn permute(v: Self::V, flip: usize) -> Self::V;
}

/// AVX-512F with AVX-512DQ (its `xor` of f64 vectors) and FMA.
pub(crate) struct Avx512;

impl Isa for Avx512 {
    type R = f64;
    type V = __m512d;
    const WIDTH: usize = 4;
    const LANE_QUBITS: usize = 2;
    const GROUPS: usize = 4;
    /// Half of the 32 registers.
    const ACCUMULATORS: usize = 16;

    unsafe fn apply<const H: usize, const P: usize, const B: usize>(
        block: &LaneBlock<Self, H, P>,
        a: Amps<f64>,
        bases: [usize; B],
    ) {
        #[target_feature(enable = "avx512f,avx512dq,fma")]
        fn build<const H: usize, const P: usize, const B: usize>(
            block: &LaneBlock<Avx512, H, P>,
            a: Amps<f64>,
            bases: [usize; B],
        ) {
            // SAFETY: this build has the features.
            unsafe { block.apply(a, bases) }
        }
        // SAFETY: the caller checked that the CPU has the features.
        unsafe { build(block, a, bases) }
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,fma")]
    unsafe fn zero() -> __m512d {
        _mm512_setzero_pd()
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,fma")]
    unsafe fn splat(x: f64) -> __m512d {
        _mm512_set1_pd(x)
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,fma")]
    unsafe fn load(ptr: *const f64) -> __m512d {
        unsafe { _mm512_loadu_pd(ptr) }
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,fma")]
    unsafe fn store(ptr: *mut f64, v: __m512d) {
        unsafe { _mm512_storeu_pd(ptr, v) }
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,fma")]
    unsafe fn fmadd(a: __m512d, b: __m512d, c: __m512d) -> __m512d {
        _mm512_fmadd_pd(a, b, c)
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,fma")]
    unsafe fn times_i(v: __m512d) -> __m512d {
        // Swap each pair, then negate the new real part (-0.0 in the even lanes).
        let negate_re = _mm512_set_pd(0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0);
        _mm512_xor_pd(_mm512_permute_pd::<0b0101_0101>(v), negate_re)
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,fma")]
    unsafe fn permute(v: __m512d, flip: usize) -> __m512d {
        // A permutation of the vector's four 128-bit lanes: [1, 0, 3, 2], [2, 3, 0, 1],
        // [3, 2, 1, 0].
        match flip {
            0 => v,
            1 => _mm512_shuffle_f64x2::<0b10_11_00_01>(v, v),
            2 => _mm512_shuffle_f64x2::<0b01_00_11_10>(v, v),
            _ => _mm512_shuffle_f64x2::<0b00_01_10_11>(v, v),
        }
    }
}

/// AVX2 with FMA.
pub(crate) struct Avx2;

impl Isa for Avx2 {
    type R = f64;
    type V = __m256d;
    const WIDTH: usize = 2;
    const LANE_QUBITS: usize = 1;
    const GROUPS: usize = 4;
    /// Half of the 16 registers.
    const ACCUMULATORS: usize = 8;

    unsafe fn apply<const H: usize, const P: usize, const B: usize>(
        block: &LaneBlock<Self, H, P>,
        a: Amps<f64>,
        bases: [usize; B],
    ) {
        #[target_feature(enable = "avx2,fma")]
        fn build<const H: usize, const P: usize, const B: usize>(
            block: &LaneBlock<Avx2, H, P>,
            a: Amps<f64>,
            bases: [usize; B],
        ) {
            // SAFETY: this build has the features.
            unsafe { block.apply(a, bases) }
        }
        // SAFETY: the caller checked that the CPU has the features.
        unsafe { build(block, a, bases) }
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn zero() -> __m256d {
        _mm256_setzero_pd()
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn splat(x: f64) -> __m256d {
        _mm256_set1_pd(x)
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn load(ptr: *const f64) -> __m256d {
        unsafe { _mm256_loadu_pd(ptr) }
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn store(ptr: *mut f64, v: __m256d) {
        unsafe { _mm256_storeu_pd(ptr, v) }
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn fmadd(a: __m256d, b: __m256d, c: __m256d) -> __m256d {
        _mm256_fmadd_pd(a, b, c)
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn times_i(v: __m256d) -> __m256d {
        let negate_re = _mm256_set_pd(0.0, -0.0, 0.0, -0.0);
        _mm256_xor_pd(_mm256_permute_pd::<0b0101>(v), negate_re)
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn permute(v: __m256d, flip: usize) -> __m256d {
        // The vector's two 128-bit lanes exchanged.
        match flip {
            0 => v,
            1 => _mm256_permute2f128_pd::<0x01>(v, v),
            _ => unreachable!("an AVX2 vector has two amplitudes"),
        }
    }
}

/// AVX2 with FMA in single precision: eight f32 lanes, four amplitudes.
pub(crate) struct Avx2Single;

impl Isa for Avx2Single {
    type R = f32;
    type V = __m256;
    const WIDTH: usize = 4;
    const LANE_QUBITS: usize = 2;
    const GROUPS: usize = 4;
    /// Half of the 16 registers.
    const ACCUMULATORS: usize = 8;

    unsafe fn apply<const H: usize, const P: usize, const B: usize>(
        block: &LaneBlock<Self, H, P>,
        a: Amps<f32>,
        bases: [usize; B],
    ) {
        #[target_feature(enable = "avx2,fma")]
        fn build<const H: usize, const P: usize, const B: usize>(
            block: &LaneBlock<Avx2Single, H, P>,
            a: Amps<f32>,
            bases: [usize; B],
        ) {
            // SAFETY: this build has the features.
            unsafe { block.apply(a, bases) }
        }
        // SAFETY: the caller checked that the CPU has the features.
        unsafe { build(block, a, bases) }
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn zero() -> __m256 {
        _mm256_setzero_ps()
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn splat(x: f32) -> __m256 {
        _mm256_set1_ps(x)
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn load(ptr: *const f32) -> __m256 {
        unsafe { _mm256_loadu_ps(ptr) }
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn store(ptr: *mut f32, v: __m256) {
        unsafe { _mm256_storeu_ps(ptr, v) }
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn fmadd(a: __m256, b: __m256, c: __m256) -> __m256 {
        _mm256_fmadd_ps(a, b, c)
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn times_i(v: __m256) -> __m256 {
        // Swap each pair, then negate the new real part (-0.0 in the even lanes).
        let negate_re = _mm256_set_ps(0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0);
        _mm256_xor_ps(_mm256_permute_ps::<0b1011_0001>(v), negate_re)
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn permute(v: __m256, flip: usize) -> __m256 {
        // An amplitude is a 64-bit element: flip 1 swaps neighbours within each 128-bit
        // lane, 2 swaps the lanes, 3 both.
        let v = _mm256_castps_pd(v);
        let lanes = if flip & 2 != 0 {
            _mm256_permute2f128_pd::<0x01>(v, v)
        } else {
            v
        };
        _mm256_castpd_ps(if flip & 1 != 0 {
            _mm256_permute_pd::<0b0101>(lanes)
        } else {
            lanes
        })
    }
}

/// AVX-512F with AVX-512DQ and FMA in single precision: sixteen f32 lanes, eight amplitudes.
pub(crate) struct Avx512Single;

impl Isa for Avx512Single {
    type R = f32;
    type V = __m512;
    const WIDTH: usize = 8;
    const LANE_QUBITS: usize = 3;
    const GROUPS: usize = 4;
    /// Half of the 32 registers.
    const ACCUMULATORS: usize = 16;

    unsafe fn apply<const H: usize, const P: usize, const B: usize>(
        block: &LaneBlock<Self, H, P>,
        a: Amps<f32>,
        bases: [usize; B],
    ) {
        #[target_feature(enable = "avx512f,avx512dq,fma")]
        fn build<const H: usize, const P: usize, const B: usize>(
            block: &LaneBlock<Avx512Single, H, P>,
            a: Amps<f32>,
            bases: [usize; B],
        ) {
            // SAFETY: this build has the features.
            unsafe { block.apply(a, bases) }
        }
        // SAFETY: the caller checked that the CPU has the features.
        unsafe { build(block, a, bases) }
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,fma")]
    unsafe fn zero() -> __m512 {
        _mm512_setzero_ps()
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,fma")]
    unsafe fn splat(x: f32) -> __m512 {
        _mm512_set1_ps(x)
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,fma")]
    unsafe fn load(ptr: *const f32) -> __m512 {
        unsafe { _mm512_loadu_ps(ptr) }
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,fma")]
    unsafe fn store(ptr: *mut f32, v: __m512) {
        unsafe { _mm512_storeu_ps(ptr, v) }
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,fma")]
    unsafe fn fmadd(a: __m512, b: __m512, c: __m512) -> __m512 {
        _mm512_fmadd_ps(a, b, c)
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,fma")]
    unsafe fn times_i(v: __m512) -> __m512 {
        // Swap each pair, then negate the new real part (-0.0 in the even lanes).
        let negate_re = _mm512_set_ps(
            0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0,
        );
        _mm512_xor_ps(_mm512_permute_ps::<0b1011_0001>(v), negate_re)
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,fma")]
    unsafe fn permute(v: __m512, flip: usize) -> __m512 {
        // An amplitude is a 64-bit element: flip 1 swaps neighbours within 128-bit lanes, 2
        // and 3 permute within 256-bit halves ([2, 3, 0, 1], [3, 2, 1, 0]), 4 swaps the
        // halves; 5–7 are 4 and then 1–3.
        let v = _mm512_castps_pd(v);
        let halves = if flip & 4 != 0 {
            _mm512_shuffle_f64x2::<0b01_00_11_10>(v, v)
        } else {
            v
        };
        _mm512_castpd_ps(match flip & 3 {
            0 => halves,
            1 => _mm512_permute_pd::<0b0101_0101>(halves),
            2 => _mm512_permutex_pd::<0b01_00_11_10>(halves),
            _ => _mm512_permutex_pd::<0b00_01_10_11>(halves),
        })
    }
}

/// Applies the dense `matrix` (row-major, bit `i` of an index is `qubits[i]`, as in
/// `Kernel::Dense`) to `amps` with the kernel above for instruction set `I`. The caller
/// checks that the CPU has it (`simd::level`), that `qubits` has 2 to 5 distinct qubits and
/// that the state has at least [`Isa::LANE_QUBITS`] qubits.
pub(super) fn apply<I: Isa>(
    amps: &mut [Complex<I::R>],
    qubits: &[usize],
    matrix: &[Complex64],
    interrupt: &Interrupt<'_>,
) -> Result<()> {
    let lanes = qubits.iter().filter(|&&q| q < I::LANE_QUBITS).count();
    macro_rules! dispatch {
        ($(($k:literal, $l:literal) => ($h:literal, $p:literal)),* $(,)?) => {
            match (qubits.len(), lanes) {
                $(($k, $l) => run::<I, $h, $p>(amps, qubits, matrix, interrupt),)*
                (k, l) => unreachable!("dense kernel on {k} qubits, {l} of them lane qubits"),
            }
        };
    }
    dispatch! {
        (2, 0) => (4, 1), (3, 0) => (8, 1), (4, 0) => (16, 1), (5, 0) => (32, 1),
        (2, 1) => (2, 2), (3, 1) => (4, 2), (4, 1) => (8, 2), (5, 1) => (16, 2),
        (2, 2) => (1, 4), (3, 2) => (2, 4), (4, 2) => (4, 4), (5, 2) => (8, 4),
        (3, 3) => (1, 8), (4, 3) => (2, 8), (5, 3) => (4, 8),
    }
}

fn run<I: Isa, const H: usize, const P: usize>(
    amps: &mut [Complex<I::R>],
    qubits: &[usize],
    matrix: &[Complex64],
    interrupt: &Interrupt<'_>,
) -> Result<()> {
    let block = LaneBlock::<I, H, P>::new(qubits, matrix, amps.len());
    let mut positions: Vec<usize> = qubits.iter().copied().chain(0..I::LANE_QUBITS).collect();
    positions.sort_unstable();
    positions.dedup();
    for_each_group(amps, &positions, 0, interrupt, |a, bases| {
        macro_rules! in_groups_of {
            ($groups:literal) => {{
                let mut groups = bases.chunks_exact($groups);
                for part in &mut groups {
                    // SAFETY: the caller checked that the CPU has the instruction set (see
                    // `apply`).
                    unsafe { I::apply::<H, P, $groups>(&block, a, part.try_into().unwrap()) };
                }
                for &base in groups.remainder() {
                    // SAFETY: as above.
                    unsafe { I::apply::<H, P, 1>(&block, a, [base]) };
                }
            }};
        }
        match I::GROUPS {
            4 => in_groups_of!(4),
            _ => in_groups_of!(2),
        }
    })
}

/// Most output vectors of a group computed at once: [`Isa::ACCUMULATORS`] for one group.
const MAX_ROWS: usize = 16;

/// A block's matrix as per-amplitude vectors of entries, for instruction set `I`.
pub(crate) struct LaneBlock<I: Isa, const H: usize, const P: usize> {
    /// Index offsets of the `H` vectors of a group (the register qubits' bit patterns).
    offsets: [usize; H],
    /// The lane permutations: amplitude `j` of a vector takes amplitude `j ^ flips[p]`.
    flips: [usize; P],
    /// The real parts of the entries multiplying input vector `c` permuted by `flips[p]`
    /// into output vector `r`, at [`LaneBlock::at`]`(r, c, p)`: each amplitude's twice (for
    /// its two lanes), or once where `P` is 1 (every amplitude then has the same entries).
    re: Vec<I::R>,
    /// The imaginary parts, as `re`.
    im: Vec<I::R>,
    /// How far ahead each vector is prefetched (`kernels::prefetch_ahead`), 0 for not.
    ahead: usize,
    isa: std::marker::PhantomData<fn() -> I>,
}

impl<I: Isa, const H: usize, const P: usize> LaneBlock<I, H, P> {
    /// Reals per entry in the tables.
    const PER_ENTRY: usize = if P == 1 { 1 } else { 2 * I::WIDTH };

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
            qubits.iter().partition(|&&q| q < I::LANE_QUBITS);
        lane_qubits.sort_unstable();
        let flips: [usize; P] = offsets(&lane_qubits).try_into().expect("2^ℓ flips");
        let offsets: [usize; H] = offsets(&high).try_into().expect("2^h offsets");
        let per_entry = Self::PER_ENTRY;
        let table = |part: fn(Complex64) -> f64| {
            let mut table = vec![<I::R as num_traits::Zero>::zero(); H * H * P * per_entry];
            for r in 0..H {
                for c in 0..H {
                    for (p, flip) in flips.iter().enumerate() {
                        for lane in 0..per_entry {
                            let j = lane / 2;
                            let row = entry(offsets[r] | j);
                            let column = entry(offsets[c] | (j ^ flip));
                            table[Self::at(r, c, p) + lane] =
                                I::R::from_f64(part(matrix[row * dim + column]));
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
            isa: std::marker::PhantomData,
        }
    }

    /// Applies the block to the `B` groups at `bases` (each with its bits at the block's
    /// qubits and at the lane qubits clear).
    ///
    /// # Safety
    /// The CPU has instruction set `I`; called only from a build for it ([`Isa::apply`]).
    #[inline(always)]
    unsafe fn apply<const B: usize>(&self, a: Amps<I::R>, bases: [usize; B]) {
        // SAFETY (every `I::` call): the caller's build has the instruction set.
        unsafe {
            let mut v = [[I::zero(); H]; B];
            let mut swapped = [[I::zero(); H]; B];
            for (b, &base) in bases.iter().enumerate() {
                for (c, &offset) in self.offsets.iter().enumerate() {
                    if self.ahead != 0 {
                        a.prefetch((base | offset) + self.ahead);
                    }
                    // `run_ptr` checks that the vector's amplitudes are in bounds.
                    let ptr = a.run_ptr(base | offset, I::WIDTH).cast::<I::R>();
                    v[b][c] = I::load(ptr);
                    swapped[b][c] = I::times_i(v[b][c]);
                }
            }
            let rows = (I::ACCUMULATORS / B).clamp(1, H);
            for first in (0..H).step_by(rows) {
                let rows = rows.min(H - first);
                let mut out = [[I::zero(); B]; MAX_ROWS];
                for c in 0..H {
                    for (p, &flip) in self.flips.iter().enumerate() {
                        let x: [I::V; B] = std::array::from_fn(|b| I::permute(v[b][c], flip));
                        let y: [I::V; B] = std::array::from_fn(|b| I::permute(swapped[b][c], flip));
                        for (k, out) in out[..rows].iter_mut().enumerate() {
                            let at = Self::at(first + k, c, p);
                            let (re, im) = if P == 1 {
                                (I::splat(self.re[at]), I::splat(self.im[at]))
                            } else {
                                let (re, im) = (
                                    &self.re[at..at + 2 * I::WIDTH],
                                    &self.im[at..at + 2 * I::WIDTH],
                                );
                                (I::load(re.as_ptr()), I::load(im.as_ptr()))
                            };
                            for b in 0..B {
                                out[b] = I::fmadd(re, x[b], out[b]);
                                out[b] = I::fmadd(im, y[b], out[b]);
                            }
                        }
                    }
                }
                for (k, out) in out[..rows].iter().enumerate() {
                    for (b, &base) in bases.iter().enumerate() {
                        let ptr = a
                            .run_ptr(base | self.offsets[first + k], I::WIDTH)
                            .cast::<I::R>();
                        // This group owns the vector (see `Amps`).
                        I::store(ptr, out[b]);
                    }
                }
            }
        }
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
        match simd::level() {
            simd::Level::Avx512 => {
                applies_the_matrix::<Avx512>();
                applies_the_matrix::<Avx512Single>();
                applies_the_matrix::<Avx2>();
                applies_the_matrix::<Avx2Single>();
            }
            simd::Level::Avx2 => {
                eprintln!("SKIPPED for AVX-512: this CPU has only AVX2");
                applies_the_matrix::<Avx2>();
                applies_the_matrix::<Avx2Single>();
            }
            simd::Level::Portable => {
                eprintln!("SKIPPED: this CPU has neither AVX2 nor AVX-512 (the kernels are unused)")
            }
        }
    }

    fn applies_the_matrix<I: Isa>() {
        // Rounding: f64's, or f32's over sums of up to 32 products of magnitude up to 1.
        let tolerance = if size_of::<I::R>() == 8 { 1e-12 } else { 1e-4 };
        // On 9 qubits every call takes four groups at a time; on 7 some take fewer; one
        // qubit past a cache block the kernel prefetches (`kernels::prefetch_ahead`).
        for n in [9, 7, crate::sim::kernels::LOCAL_QUBITS + 1] {
            let start: Vec<Complex<I::R>> = (0..1usize << n)
                .map(|i| {
                    crate::sim::real::complex(Complex64::new(
                        (i as f64 * 0.37).sin(),
                        (i as f64 * 0.11).cos(),
                    ))
                })
                .collect();
            let exact: Vec<Complex64> = start
                .iter()
                .map(|a| Complex64::new(a.re.to_f64(), a.im.to_f64()))
                .collect();
            // Lane qubits none (lowest 2), 0, 1, both, and 0–2 (single precision's three);
            // unsorted, widths 2 to 5.
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
                &[1, 2, 0],
                &[4, 0, 2, 1],
                &[2, 8, 0, 1, 3],
            ] {
                if qubits.iter().any(|&q| q >= n) {
                    continue;
                }
                let dim = 1 << qubits.len();
                let matrix: Vec<Complex64> = (0..dim * dim)
                    .map(|i| Complex64::new((i as f64 * 0.9).cos(), (i as f64 * 0.4).sin()))
                    .collect();
                let mut amps = start.clone();
                apply::<I>(&mut amps, qubits, &matrix, &Interrupt::never()).unwrap();
                for (i, (a, b)) in amps
                    .iter()
                    .zip(reference(&exact, qubits, &matrix))
                    .enumerate()
                {
                    let a = Complex64::new(a.re.to_f64(), a.im.to_f64());
                    assert!(
                        (a - b).norm() < tolerance,
                        "{n} qubits, {qubits:?} at {i}: {a} vs {b} ({} lane qubits)",
                        I::LANE_QUBITS
                    );
                }
            }
        }
    }
}
