//! The state vector: `2^n` complex amplitudes in f64 or f32 ([`Real`]), allocated
//! fallibly, with the measurement primitives (outcome probabilities, collapse, reset).

use std::marker::PhantomData;

use num_complex::Complex;

use super::kernels::Kernel;
use super::parallel::{for_each_group, map_chunks};
use super::real::{Real, norm_sqr};
use crate::error::{EngineError, FailureKind, Result, Stage};
use crate::interrupt::Interrupt;
use crate::limits::state_bytes;

/// A pure state of `n` qubits, its amplitudes in precision `S`.
#[derive(Clone, Debug)]
pub(crate) struct StateVector<S> {
    /// The amplitudes, four (f64) or eight (f32) to a cache line ([`Line`]); `len` of them
    /// are the state.
    lines: Vec<Line>,
    len: usize,
    precision: PhantomData<S>,
}

/// One 64-byte cache line, aligned to one, that holds four f64 or eight f32 amplitudes: a
/// state allocated as lines has no vector access of a kernel (a whole line in AVX-512, half
/// in AVX2) straddling two lines. Allocated as plain `Complex64`s the state started 16 bytes
/// into a line (glibc's large allocations), and every 64-byte load and store split in two.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct Line([u64; 8]);

/// Bytes per line.
const LINE: usize = size_of::<Line>();

impl<S: Real> StateVector<S> {
    /// |0…0⟩ on `num_qubits` qubits. The caller has admitted the size; an allocation the
    /// system refuses is a resource-limit error rather than an abort.
    pub(crate) fn zero(num_qubits: u32) -> Result<Self> {
        let len = 1usize << num_qubits;
        let count = (len * size_of::<Complex<S>>()).div_ceil(LINE);
        let mut lines = Vec::new();
        lines.try_reserve_exact(count).map_err(|_| {
            EngineError::new(
                FailureKind::ResourceLimit,
                Stage::Execute,
                format!(
                    "could not allocate {} bytes for a {num_qubits}-qubit state vector",
                    state_bytes(u64::from(num_qubits), size_of::<Complex<S>>() as u64)
                ),
            )
        })?;
        // All bits zero: 0.0 in f64 and f32 alike.
        lines.resize(count, Line([0; 8]));
        let mut state = Self {
            lines,
            len,
            precision: PhantomData,
        };
        state.amplitudes_mut()[0] = Complex::new(S::one(), S::zero());
        Ok(state)
    }

    pub(crate) fn amplitudes(&self) -> &[Complex<S>] {
        // SAFETY: a `Line` is 64 bytes with no padding, aligned to 64, and `Complex<S>` is
        // `repr(C)` over two f64 or two f32 (16 or 8 bytes, dividing 64), for which every bit
        // pattern is a value; the lines hold at least `len` of them.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast::<Complex<S>>(), self.len) }
    }

    pub(crate) fn amplitudes_mut(&mut self) -> &mut [Complex<S>] {
        // SAFETY: as in `amplitudes`; the borrow of `self` is exclusive.
        unsafe {
            std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast::<Complex<S>>(), self.len)
        }
    }

    /// Bytes held by the amplitudes.
    pub(crate) fn bytes(&self) -> u64 {
        (self.len * size_of::<Complex<S>>()) as u64
    }

    /// Back to |0…0⟩, reusing the allocation.
    pub(crate) fn reset_to_zero(&mut self) {
        let amps = self.amplitudes_mut();
        amps.fill(Complex::new(S::zero(), S::zero()));
        amps[0] = Complex::new(S::one(), S::zero());
    }

    pub(crate) fn apply(&mut self, kernel: &Kernel, interrupt: &Interrupt<'_>) -> Result<()> {
        kernel.apply(self.amplitudes_mut(), interrupt)
    }

    /// Probability that measuring `qubit` gives 1 (relative to the state's norm, so
    /// rounding drift in the norm does not bias outcomes).
    pub(crate) fn probability_of_one(
        &self,
        qubit: usize,
        interrupt: &Interrupt<'_>,
    ) -> Result<f64> {
        let bit = 1 << qubit;
        let sums = map_chunks(self.amplitudes(), interrupt, |start, chunk| {
            chunk
                .iter()
                .enumerate()
                .fold([0.0, 0.0], |[zero, one], (i, a)| {
                    if (start + i) & bit == 0 {
                        [zero + norm_sqr(a), one]
                    } else {
                        [zero, one + norm_sqr(a)]
                    }
                })
        })?;
        let [zero, one] = sums
            .iter()
            .fold([0.0, 0.0], |[z, o], [cz, co]| [z + cz, o + co]);
        Ok((one / (zero + one)).clamp(0.0, 1.0))
    }

    /// Projects `qubit` onto `outcome` (whose probability is `probability`, > 0) and
    /// renormalises; with `reset`, then moves the qubit to |0⟩.
    pub(crate) fn collapse(
        &mut self,
        qubit: usize,
        outcome: bool,
        probability: f64,
        reset: bool,
        interrupt: &Interrupt<'_>,
    ) -> Result<()> {
        let scale = S::from_f64(1.0 / probability.sqrt());
        let bit = 1 << qubit;
        let zero = Complex::new(S::zero(), S::zero());
        for_each_group(self.amplitudes_mut(), &[qubit], 0, interrupt, |a, bases| {
            for &i0 in bases {
                let i1 = i0 | bit;
                let kept = if outcome { a.get(i1) } else { a.get(i0) } * scale;
                let (new0, new1) = if outcome && !reset {
                    (zero, kept)
                } else {
                    (kept, zero)
                };
                a.set(i0, new0);
                a.set(i1, new1);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_complex::Complex64;

    fn plus_state(n: u32) -> StateVector<f64> {
        let mut state = StateVector::zero(n).unwrap();
        let amplitude = Complex64::new(0.5f64.powf(f64::from(n) / 2.0), 0.0);
        state.amplitudes_mut().fill(amplitude);
        state
    }

    #[test]
    fn zero_state_is_basis_state_zero() {
        let state = StateVector::<f64>::zero(3).unwrap();
        assert_eq!(state.amplitudes()[0], Complex64::new(1.0, 0.0));
        assert!(state.amplitudes()[1..].iter().all(|a| a.norm() == 0.0));
        assert_eq!(state.bytes(), 128);
        assert_eq!(state.amplitudes().len(), 8);
        assert_eq!(StateVector::<f64>::zero(1).unwrap().amplitudes().len(), 2);
        let single = StateVector::<f32>::zero(3).unwrap();
        assert_eq!(single.bytes(), 64);
        assert_eq!(single.amplitudes()[0], Complex::new(1.0f32, 0.0));
        assert!(single.amplitudes()[1..].iter().all(|a| a.norm() == 0.0));
        assert_eq!(
            state.amplitudes().as_ptr() as usize % 64,
            0,
            "aligned to a line"
        );
    }

    #[test]
    fn collapse_keeps_the_outcome_half_normalised() {
        let interrupt = Interrupt::never();
        let mut state = plus_state(2);
        assert!((state.probability_of_one(1, &interrupt).unwrap() - 0.5).abs() < 1e-15);
        state.collapse(1, true, 0.5, false, &interrupt).unwrap();
        let probabilities: Vec<f64> = state.amplitudes().iter().map(|a| a.norm_sqr()).collect();
        for (p, expected) in probabilities.iter().zip([0.0, 0.0, 0.5, 0.5]) {
            assert!((p - expected).abs() < 1e-15, "{probabilities:?}");
        }
    }

    #[test]
    fn reset_moves_the_outcome_to_zero() {
        let interrupt = Interrupt::never();
        let mut state = plus_state(1);
        state.collapse(0, true, 0.5, true, &interrupt).unwrap();
        assert!((state.amplitudes()[0].norm_sqr() - 1.0).abs() < 1e-15);
        assert_eq!(state.amplitudes()[1].norm_sqr(), 0.0);
    }
}
