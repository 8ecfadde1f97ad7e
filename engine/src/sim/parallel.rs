//! How passes over the state vector are split into chunks and spread over threads.
//!
//! Work is cut into chunks of [`CHUNK`] amplitudes whatever the thread count, so results
//! (including floating-point sums) are identical with 1 or N threads and a seed reproduces
//! a run anywhere. States of at least [`PARALLEL_MIN`] amplitudes run chunks on rayon's
//! pool; smaller ones run on the calling thread, where thread hand-off costs more than it
//! saves. Every chunk starts by polling the [`Interrupt`], so a cancel or timeout stops a
//! pass within one chunk.

use num_complex::Complex;
use rayon::prelude::*;

use super::real::Real;

use crate::error::Result;
use crate::interrupt::Interrupt;

/// Amplitudes per chunk of work: 256 KiB, well inside a core's L2 cache, and a pass over
/// one chunk takes well under a millisecond (so interrupts are polled often enough).
pub(crate) const CHUNK: usize = 1 << 14;

/// Smallest state (in amplitudes) processed on several threads: from two chunks on there is
/// something to share. (Timings at 14–18 qubits on the 2-vCPU benchmark machine were too
/// noisy to place the threshold more finely; at 22+ qubits two threads give 1.8–2.4×.)
pub(crate) const PARALLEL_MIN: usize = 2 * CHUNK;

/// Raw access to amplitudes shared by the chunks of one pass.
///
/// Sound because [`for_each_group`] hands each base index to exactly one call, and a
/// group — `base` plus any combination of the group's bits — never overlaps another group.
pub(crate) struct Amps<S> {
    ptr: *mut Complex<S>,
    len: usize,
}

impl<S> Clone for Amps<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for Amps<S> {}

// SAFETY: `Amps` is only created by `for_each_group`, whose groups are disjoint, so two
// threads never access the same amplitude during a pass.
unsafe impl<S> Send for Amps<S> {}
// SAFETY: as above.
unsafe impl<S> Sync for Amps<S> {}

impl<S: Real> Amps<S> {
    /// The amplitude at `index`.
    #[inline(always)]
    pub(crate) fn get(self, index: usize) -> Complex<S> {
        assert!(index < self.len);
        // SAFETY: in bounds (checked above); no other thread writes this index (see type doc).
        unsafe { *self.ptr.add(index) }
    }

    /// The `N` amplitudes from `index` on.
    #[inline(always)]
    pub(crate) fn load<const N: usize>(self, index: usize) -> [Complex<S>; N] {
        assert!(index + N <= self.len);
        // SAFETY: in bounds (checked above); the caller's groups own these indices (see
        // type doc).
        unsafe { self.ptr.add(index).cast::<[Complex<S>; N]>().read() }
    }

    /// Replaces the `N` amplitudes from `index` on.
    #[inline(always)]
    pub(crate) fn store<const N: usize>(self, index: usize, values: [Complex<S>; N]) {
        assert!(index + N <= self.len);
        // SAFETY: in bounds (checked above); this group owns these indices (see type doc).
        unsafe { self.ptr.add(index).cast::<[Complex<S>; N]>().write(values) }
    }

    /// Asks the CPU to bring the cache line holding amplitude `index` into its caches
    /// (`prefetcht0`); nothing when `index` is past the end. A hint only: nothing is read.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub(crate) fn prefetch(self, index: usize) {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        if index < self.len {
            // SAFETY: in bounds (checked above); a prefetch reads nothing and faults never.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(self.ptr.add(index).cast::<i8>()) }
        }
    }

    /// Pointer to the `n` amplitudes from `index` on, for vector loads and stores of a run
    /// the caller's group owns (see type doc).
    #[inline(always)]
    pub(crate) fn run_ptr(self, index: usize, n: usize) -> *mut Complex<S> {
        assert!(index + n <= self.len);
        // SAFETY: in bounds (checked above).
        unsafe { self.ptr.add(index) }
    }

    /// Replaces the amplitude at `index`.
    #[inline(always)]
    pub(crate) fn set(self, index: usize, value: Complex<S>) {
        assert!(index < self.len);
        // SAFETY: in bounds (checked above); this group owns the index (see type doc).
        unsafe { *self.ptr.add(index) = value }
    }
}

/// Inserts a 0 bit at `position` into `index`.
#[inline(always)]
fn insert_zero(index: usize, position: usize) -> usize {
    let low = index & ((1 << position) - 1);
    ((index >> position) << (position + 1)) | low
}

/// Most group bases handed to one call of a [`for_each_group`] callback.
pub(crate) const LANES: usize = 8;

/// Calls `f(amps, bases)` for every index `base` whose bits at `positions` (sorted
/// ascending, distinct) equal the bits of `set` there, up to [`LANES`] bases per call; `f`
/// may then read and write every index `base | s` for `s` a subset of `positions`' bits,
/// and nothing else. Blocks of bases let kernels vectorise across groups.
pub(crate) fn for_each_group<S: Real, F>(
    amps: &mut [Complex<S>],
    positions: &[usize],
    set: usize,
    interrupt: &Interrupt<'_>,
    f: F,
) -> Result<()>
where
    F: Fn(Amps<S>, &[usize]) + Sync,
{
    debug_assert!(amps.len().is_power_of_two());
    debug_assert!(positions.windows(2).all(|w| w[0] < w[1]));
    let groups = amps.len() >> positions.len();
    let per_chunk = (CHUNK >> positions.len()).max(1);
    let shared = Amps {
        ptr: amps.as_mut_ptr(),
        len: amps.len(),
    };
    // Groups `g..g + LANES` (g a multiple of LANES) have bases `stride` apart when the
    // positions are `0..m` (stride `2^m`) and then only positions above the lane bits
    // shifted past them: consecutive bases where no position is below the lane bits.
    let low = positions
        .iter()
        .zip(0..)
        .take_while(|&(&p, i)| p == i)
        .count();
    let stride = 1usize << low;
    let strided = positions[low..]
        .first()
        .is_none_or(|&p| p >= low + LANES.trailing_zeros() as usize)
        && per_chunk.is_multiple_of(LANES);
    let run_chunk = |chunk: usize| -> Result<()> {
        interrupt.check()?;
        let end = ((chunk + 1) * per_chunk).min(groups);
        let mut bases = [0; LANES];
        let mut group = chunk * per_chunk;
        let base_of = |group: usize| positions.iter().fold(group, |i, &p| insert_zero(i, p)) | set;
        while group < end {
            let count = LANES.min(end - group);
            if strided && count == LANES {
                // No position among the bits that number the lanes (past the `0..m`
                // ones): the lanes' bases are the first one's plus `lane · stride`.
                let first = base_of(group);
                for (lane, base) in bases.iter_mut().enumerate() {
                    *base = first + lane * stride;
                }
            } else {
                for (lane, base) in bases[..count].iter_mut().enumerate() {
                    *base = base_of(group + lane);
                }
            }
            f(shared, &bases[..count]);
            group += count;
        }
        Ok(())
    };
    let chunks = groups.div_ceil(per_chunk);
    if amps.len() >= PARALLEL_MIN {
        (0..chunks).into_par_iter().try_for_each(run_chunk)
    } else {
        (0..chunks).try_for_each(run_chunk)
    }
}

/// Calls `f(first, lo, hi)` over the amplitude pairs that differ in qubit `target` (at
/// least 1): `lo[j]` is the amplitude at index `first + j`, with the target bit 0, and
/// `hi[j]` its partner with the bit 1; `first` is a multiple of `lo.len()`, a power of two.
/// Every pair is handed out once; pieces run on rayon's pool for large states. Contiguous
/// runs let the kernels vectorise.
pub(crate) fn for_each_pair_run<S: Real, F>(
    amps: &mut [Complex<S>],
    target: usize,
    interrupt: &Interrupt<'_>,
    f: F,
) -> Result<()>
where
    F: Fn(usize, &mut [Complex<S>], &mut [Complex<S>]) + Sync,
{
    let stride = 1usize << target;
    debug_assert!(target > 0 && 2 * stride <= amps.len());
    if 2 * stride <= CHUNK {
        let run_chunk = |(i, chunk): (usize, &mut [Complex<S>])| -> Result<()> {
            interrupt.check()?;
            for (b, block) in chunk.chunks_exact_mut(2 * stride).enumerate() {
                let (lo, hi) = block.split_at_mut(stride);
                f(i * CHUNK + b * 2 * stride, lo, hi);
            }
            Ok(())
        };
        return if amps.len() >= PARALLEL_MIN {
            amps.par_chunks_mut(CHUNK)
                .enumerate()
                .try_for_each(run_chunk)
        } else {
            amps.chunks_mut(CHUNK).enumerate().try_for_each(run_chunk)
        };
    }
    let half = CHUNK / 2;
    for (b, block) in amps.chunks_exact_mut(2 * stride).enumerate() {
        let (lo, hi) = block.split_at_mut(stride);
        lo.par_chunks_mut(half)
            .zip(hi.par_chunks_mut(half))
            .enumerate()
            .try_for_each(|(k, (lo, hi))| -> Result<()> {
                interrupt.check()?;
                f(b * 2 * stride + k * half, lo, hi);
                Ok(())
            })?;
    }
    Ok(())
}

/// Calls `f(first, chunk)` for every chunk of [`CHUNK`] consecutive amplitudes (`first` the
/// index of its first), on rayon's pool for large states.
pub(crate) fn for_each_chunk<S: Real, F>(
    amps: &mut [Complex<S>],
    interrupt: &Interrupt<'_>,
    f: F,
) -> Result<()>
where
    F: Fn(usize, &mut [Complex<S>]) + Sync,
{
    let run_chunk = |(i, chunk): (usize, &mut [Complex<S>])| -> Result<()> {
        interrupt.check()?;
        f(i * CHUNK, chunk);
        Ok(())
    };
    if amps.len() >= PARALLEL_MIN {
        amps.par_chunks_mut(CHUNK)
            .enumerate()
            .try_for_each(run_chunk)
    } else {
        amps.chunks_mut(CHUNK).enumerate().try_for_each(run_chunk)
    }
}

/// Maps every chunk of [`CHUNK`] consecutive amplitudes (with the index of its first
/// amplitude) through `f`, in order.
pub(crate) fn map_chunks<S: Real, T, F>(
    amps: &[Complex<S>],
    interrupt: &Interrupt<'_>,
    f: F,
) -> Result<Vec<T>>
where
    T: Send,
    F: Fn(usize, &[Complex<S>]) -> T + Sync,
{
    let run_chunk = |(i, chunk): (usize, &[Complex<S>])| -> Result<T> {
        interrupt.check()?;
        Ok(f(i * CHUNK, chunk))
    };
    if amps.len() >= PARALLEL_MIN {
        amps.par_chunks(CHUNK).enumerate().map(run_chunk).collect()
    } else {
        amps.chunks(CHUNK).enumerate().map(run_chunk).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_complex::Complex64;

    #[test]
    fn groups_cover_every_index_once() {
        for (n, positions, set) in [
            (3, vec![0], 0),
            (4, vec![1, 3], 0),
            (5, vec![0, 2, 4], 0b00100),
            (16, vec![3, 15], 1 << 15),
            // Strided bases (positions 0..m, then none below m + 3): m = 1 and 2, and
            // positions too close above 0..m for it.
            (16, vec![0, 4, 9], 0),
            (17, vec![0, 1, 5, 16], 0b10),
            (16, vec![0, 1, 2], 0),
            (16, vec![0, 2, 12], 0),
        ] {
            let mut amps = vec![Complex64::new(0.0, 0.0); 1 << n];
            let mask: usize = positions.iter().map(|p| 1 << p).sum();
            let free = mask & !set;
            let subsets: Vec<usize> = (0..=free).filter(|s| s & !free == 0).collect();
            for_each_group(
                &mut amps,
                &positions,
                set,
                &Interrupt::never(),
                |a, bases| {
                    assert!(bases.len() <= LANES);
                    for base in bases {
                        assert_eq!(base & mask, set);
                        for s in &subsets {
                            let i = base | s;
                            a.set(i, a.get(i) + 1.0);
                        }
                    }
                },
            )
            .unwrap();
            for (i, a) in amps.iter().enumerate() {
                let expected = if i & set == set { 1.0 } else { 0.0 };
                assert_eq!(a.re, expected, "n={n} positions={positions:?} i={i}");
            }
        }
    }

    #[test]
    fn pair_runs_cover_every_pair_once() {
        for (n, target) in [(3, 1), (5, 4), (16, 3), (16, 14), (17, 16)] {
            let mut amps = vec![Complex64::new(0.0, 0.0); 1 << n];
            for_each_pair_run(&mut amps, target, &Interrupt::never(), |first, lo, hi| {
                assert_eq!(first % lo.len(), 0);
                for (j, (l, h)) in lo.iter_mut().zip(hi.iter_mut()).enumerate() {
                    assert_eq!((first + j) >> target & 1, 0);
                    *l += (first + j) as f64;
                    *h += (first + j + (1 << target)) as f64 + 0.5;
                }
            })
            .unwrap();
            for (i, a) in amps.iter().enumerate() {
                let expected = i as f64 + if i >> target & 1 == 1 { 0.5 } else { 0.0 };
                assert_eq!(a.re, expected, "n={n} target={target} i={i}");
            }
        }
    }

    #[test]
    fn insert_zero_shifts_the_high_bits() {
        assert_eq!(insert_zero(0b111, 0), 0b1110);
        assert_eq!(insert_zero(0b111, 1), 0b1101);
        assert_eq!(insert_zero(0b111, 3), 0b0111);
    }
}
