//! The widest vector instructions the CPU has, detected once at run time, and the inner
//! loops compiled for each level: AVX-512 (with FMA), AVX2 with FMA, or portable code
//! (any CPU, any architecture). Every level computes the same operations in the same order
//! except for FMA's single rounding, so results agree to the last bits or nearly (the
//! tests compare within 1e-12).

use std::sync::OnceLock;

use num_complex::Complex;

use super::kernels::Mat2;
use super::real::Real;

/// An instruction-set level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    /// x86-64 with AVX-512F, AVX-512DQ (its `xor` of f64 vectors) and FMA: 8 lanes of f64.
    Avx512,
    /// x86-64 with AVX2 and FMA: 4 lanes of f64.
    Avx2,
    /// Whatever the compiler targets by default.
    Portable,
}

/// The CPU's level (detected on first use).
pub(crate) fn level() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(detect)
}

fn detect() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        let fma = std::arch::is_x86_feature_detected!("fma");
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && fma
        {
            return Level::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") && fma {
            return Level::Avx2;
        }
    }
    Level::Portable
}

/// Defines `$name(level, args…)` calling `$body` compiled for `level`: the body is an
/// `#[inline(always)]` function, and the AVX variants are that function under
/// `#[target_feature]`, so the compiler vectorises it for each instruction set.
macro_rules! multiversion {
    ($(#[$doc:meta])* fn $name:ident<S>($($arg:ident: $ty:ty),*) $body:block) => {
        $(#[$doc])*
        pub(crate) fn $name<S: Real>(level: Level, $($arg: $ty),*) {
            #[inline(always)]
            fn portable<S: Real>($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
            fn avx512<S: Real>($($arg: $ty),*) { portable($($arg),*) }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            fn avx2<S: Real>($($arg: $ty),*) { portable($($arg),*) }
            match level {
                // SAFETY: `level()` reports these only when the CPU has the features.
                #[cfg(target_arch = "x86_64")]
                Level::Avx512 => unsafe { avx512($($arg),*) },
                // SAFETY: as above.
                #[cfg(target_arch = "x86_64")]
                Level::Avx2 => unsafe { avx2($($arg),*) },
                _ => portable($($arg),*),
            }
        }
    };
}

multiversion! {
    /// `(lo[j], hi[j]) ← m · (lo[j], hi[j])` for every `j`.
    fn rotate<S>(lo: &mut [Complex<S>], hi: &mut [Complex<S>], m: &Mat2<S>) {
        let [[m00, m01], [m10, m11]] = *m;
        for (x, y) in lo.iter_mut().zip(hi.iter_mut()) {
            let (a, b) = (*x, *y);
            *x = m00 * a + m01 * b;
            *y = m10 * a + m11 * b;
        }
    }
}

multiversion! {
    /// [`rotate`] on the pairs of consecutive amplitudes of `pairs` (target qubit 0).
    fn rotate_adjacent<S>(pairs: &mut [Complex<S>], m: &Mat2<S>) {
        let [[m00, m01], [m10, m11]] = *m;
        for pair in pairs.chunks_exact_mut(2) {
            let (a, b) = (pair[0], pair[1]);
            pair[0] = m00 * a + m01 * b;
            pair[1] = m10 * a + m11 * b;
        }
    }
}

multiversion! {
    /// `amps[i] *= factor` for every `i` whose index `first + i` has every bit of `mask`
    /// set, taken in runs of `run` (a power of two no larger than the lowest bit of `mask`,
    /// dividing `amps.len()` and `first`), each in or out as its first index is.
    fn scale_runs<S>(amps: &mut [Complex<S>], first: usize, run: usize, mask: usize, factor: Complex<S>) {
        for (r, part) in amps.chunks_exact_mut(run).enumerate() {
            if (first + r * run) & mask == mask {
                for a in part {
                    *a *= factor;
                }
            }
        }
    }
}

multiversion! {
    /// `amps[i] *= factors[i / run]` for every `i`, `run` being `amps.len() /
    /// factors.len()`; a run whose factor is exactly 1 is left as it is (which can only
    /// change the sign of a zero part).
    fn scale_by_runs<S>(amps: &mut [Complex<S>], factors: &[Complex<S>]) {
        let run = amps.len() / factors.len();
        let one = Complex::new(S::one(), S::zero());
        for (part, &factor) in amps.chunks_exact_mut(run).zip(factors) {
            if factor != one {
                for a in part {
                    *a *= factor;
                }
            }
        }
    }
}

multiversion! {
    /// `amps[i] *= table[high | low[i]]` for every `i`.
    fn scale_by_table<S>(amps: &mut [Complex<S>], low: &[usize], high: usize, table: &[Complex<S>]) {
        for (a, &l) in amps.iter_mut().zip(low) {
            *a *= table[high | l];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_complex::Complex64;

    fn levels() -> Vec<Level> {
        let mut levels = vec![Level::Portable];
        match level() {
            Level::Avx512 => levels.extend([Level::Avx2, Level::Avx512]),
            Level::Avx2 => levels.push(Level::Avx2),
            Level::Portable => {}
        }
        levels
    }

    #[test]
    fn every_level_rotates_alike() {
        let m = [
            [Complex64::new(0.6, 0.1), Complex64::new(-0.3, 0.7)],
            [Complex64::new(0.2, -0.5), Complex64::new(0.9, 0.05)],
        ];
        let start: Vec<Complex64> = (0..64)
            .map(|i| Complex64::new((i as f64).sin(), (i as f64 * 0.3).cos()))
            .collect();
        let mut results = Vec::new();
        for level in levels() {
            let mut v = start.clone();
            let (lo, hi) = v.split_at_mut(32);
            rotate(level, lo, hi, &m);
            rotate_adjacent(level, &mut v, &m);
            results.push(v);
        }
        for result in &results[1..] {
            for (a, b) in result.iter().zip(&results[0]) {
                assert!((a - b).norm() < 1e-12, "{a} vs {b}");
            }
        }
    }
}
