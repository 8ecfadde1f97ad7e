//! The two precisions a state vector is kept in ([`crate::Precision`]): the real type of its
//! amplitudes' parts. Plans, fusion and matrices stay in f64 whatever the state's precision
//! (a fused block is the product of many gates); a kernel converts its entries when it is
//! applied. Probabilities are summed in f64 either way.

use std::borrow::Cow;

use num_complex::{Complex, Complex64};

#[cfg(target_arch = "x86_64")]
use super::dense_lanes::Isa;
use super::kernels::{Mat2, MatrixBlock};
use super::parallel::Amps;
use crate::error::Result;
use crate::interrupt::Interrupt;

/// An amplitude's real type: `f64` (Qiskit Aer's `precision="double"`, the default) or
/// `f32` (`"single"`: half the memory and bandwidth per amplitude, about 7 significant
/// digits).
pub(crate) trait Real:
    num_traits::Float + num_traits::NumAssign + Default + Send + Sync + std::fmt::Debug + 'static
{
    /// `x` rounded to this precision.
    fn from_f64(x: f64) -> Self;

    /// This value in f64 (exact).
    fn to_f64(self) -> f64;

    /// `entries` in this precision: borrowed as they are in f64, converted in f32.
    fn complexes(entries: &[Complex64]) -> Cow<'_, [Complex<Self>]>;

    /// `dense_lanes`' kernel for AVX-512 in this precision.
    #[cfg(target_arch = "x86_64")]
    type Avx512Lanes: Isa<R = Self>;

    /// `dense_lanes`' kernel for AVX2 in this precision.
    #[cfg(target_arch = "x86_64")]
    type Avx2Lanes: Isa<R = Self>;

    /// A call of [`MatrixBlock::apply`] on [`super::parallel::LANES`] groups whose basis
    /// states lie in runs of that many, by this precision's AVX-512 code (each precision's
    /// `MatrixBlock::apply_run8_avx512`).
    ///
    /// # Safety
    /// The CPU must have AVX-512F, AVX-512DQ and FMA (`simd::Level::Avx512`).
    #[cfg(target_arch = "x86_64")]
    unsafe fn apply_run8_avx512<const D: usize>(
        block: &MatrixBlock<Self, D>,
        a: Amps<Self>,
        base: usize,
    );
}

/// One amplitude converted from f64.
#[inline(always)]
pub(crate) fn complex<S: Real>(z: Complex64) -> Complex<S> {
    Complex::new(S::from_f64(z.re), S::from_f64(z.im))
}

/// A 2×2 matrix converted from f64.
#[inline(always)]
pub(crate) fn mat2<S: Real>(m: &Mat2) -> [[Complex<S>; 2]; 2] {
    m.map(|row| row.map(complex))
}

/// A dense kernel (as in `Kernel::Dense`) by `dense_lanes` in precision `S` where it serves
/// the block: with AVX-512 a block with a qubit below the run-of-8 kernel's lowest (3), with
/// AVX2 every block; `None` elsewhere (the caller applies it with [`MatrixBlock`]).
pub(crate) fn dense_in_lanes<S: Real>(
    amps: &mut [Complex<S>],
    qubits: &[usize],
    matrix: &[Complex64],
    interrupt: &Interrupt<'_>,
) -> Option<Result<()>> {
    #[cfg(target_arch = "x86_64")]
    {
        use super::dense_lanes::apply;
        use super::parallel::LANES;
        use super::simd::{Level, level};
        match level() {
            Level::Avx512 if qubits.iter().any(|&q| q < LANES.trailing_zeros() as usize) => {
                Some(apply::<S::Avx512Lanes>(amps, qubits, matrix, interrupt))
            }
            Level::Avx2 => Some(apply::<S::Avx2Lanes>(amps, qubits, matrix, interrupt)),
            _ => None,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (amps, qubits, matrix, interrupt);
        None
    }
}

/// `|z|²` in f64.
#[inline(always)]
pub(crate) fn norm_sqr<S: Real>(z: &Complex<S>) -> f64 {
    let (re, im) = (z.re.to_f64(), z.im.to_f64());
    re * re + im * im
}

impl Real for f64 {
    #[cfg(target_arch = "x86_64")]
    type Avx512Lanes = super::dense_lanes::Avx512;
    #[cfg(target_arch = "x86_64")]
    type Avx2Lanes = super::dense_lanes::Avx2;

    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }

    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }

    fn complexes(entries: &[Complex64]) -> Cow<'_, [Complex64]> {
        Cow::Borrowed(entries)
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn apply_run8_avx512<const D: usize>(
        block: &MatrixBlock<f64, D>,
        a: Amps<f64>,
        base: usize,
    ) {
        // SAFETY: the caller checked the CPU (see the trait).
        unsafe { block.apply_run8_avx512(a, base) }
    }
}

impl Real for f32 {
    #[cfg(target_arch = "x86_64")]
    type Avx512Lanes = super::dense_lanes::Avx512Single;
    #[cfg(target_arch = "x86_64")]
    type Avx2Lanes = super::dense_lanes::Avx2Single;

    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }

    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }

    fn complexes(entries: &[Complex64]) -> Cow<'_, [Complex<f32>]> {
        Cow::Owned(entries.iter().copied().map(complex).collect())
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn apply_run8_avx512<const D: usize>(
        block: &MatrixBlock<f32, D>,
        a: Amps<f32>,
        base: usize,
    ) {
        // SAFETY: the caller checked the CPU (see the trait).
        unsafe { block.apply_run8_avx512(a, base) }
    }
}
