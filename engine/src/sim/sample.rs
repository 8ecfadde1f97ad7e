//! Sampling basis states from a state vector's probability distribution.
//!
//! All draws are made at once: `shots` uniforms are sorted and matched against the running
//! cumulative probability in one sweep over the amplitudes — no cumulative table is
//! allocated, and the sweep is split into the fixed chunks of `parallel` (per-chunk totals
//! first, then each chunk resolves the draws that fall in it), so it runs on all threads
//! and gives the same indices for a seed whatever the thread count.

use num_complex::Complex;
use rand::Rng;

use super::parallel::{CHUNK, map_chunks};
use super::real::{Real, norm_sqr};
use crate::error::Result;
use crate::interrupt::Interrupt;

/// Draws `shots` basis-state indices with probability `|amplitude|²` (normalised); returns
/// the distinct indices, ascending, with how often each was drawn.
pub(crate) fn sample<S: Real>(
    amps: &[Complex<S>],
    shots: u64,
    rng: &mut impl Rng,
    interrupt: &Interrupt<'_>,
) -> Result<Vec<(usize, u64)>> {
    let totals = map_chunks(amps, interrupt, |_, chunk| {
        chunk.iter().map(norm_sqr).sum::<f64>()
    })?;
    let total: f64 = totals.iter().sum();
    let mut draws: Vec<f64> = (0..shots).map(|_| rng.random::<f64>() * total).collect();
    draws.sort_unstable_by(f64::total_cmp);

    // Each chunk's draws, relative to the chunk's start; a draw past the last chunk (only
    // possible by rounding) belongs to the last chunk with any probability.
    let mut per_chunk: Vec<Vec<f64>> = vec![Vec::new(); totals.len()];
    let mut start = 0.0;
    let mut next = 0;
    for (chunk, &chunk_total) in totals.iter().enumerate() {
        let end = start + chunk_total;
        while next < draws.len() && draws[next] < end {
            per_chunk[chunk].push(draws[next] - start);
            next += 1;
        }
        start = end;
    }
    if let Some(last) = totals.iter().rposition(|&t| t > 0.0) {
        per_chunk[last].extend(std::iter::repeat_n(f64::INFINITY, draws.len() - next));
    }

    let resolved = map_chunks(amps, interrupt, |first, chunk| {
        resolve_chunk(first, chunk, &per_chunk[first / CHUNK])
    })?;
    let mut counts: Vec<(usize, u64)> = Vec::new();
    for index in resolved.into_iter().flatten() {
        match counts.last_mut() {
            Some((last, count)) if *last == index => *count += 1,
            _ => counts.push((index, 1)),
        }
    }
    Ok(counts)
}

/// Indices (ascending) for the sorted draws of one chunk: the first amplitude whose
/// cumulative probability within the chunk exceeds the draw. A draw beyond the chunk's
/// total (rounding) takes the chunk's last amplitude with non-zero probability.
fn resolve_chunk<S: Real>(first: usize, chunk: &[Complex<S>], draws: &[f64]) -> Vec<usize> {
    let mut indices = Vec::with_capacity(draws.len());
    if draws.is_empty() {
        return indices;
    }
    let mut draws = draws.iter().peekable();
    let mut cumulative = 0.0;
    let mut last_possible = None;
    for (i, a) in chunk.iter().enumerate() {
        let p = norm_sqr(a);
        if p == 0.0 {
            continue;
        }
        cumulative += p;
        last_possible = Some(first + i);
        while draws.next_if(|&&d| d < cumulative).is_some() {
            indices.push(first + i);
        }
        if draws.peek().is_none() {
            return indices;
        }
    }
    indices.extend(last_possible.into_iter().cycle().take(draws.len()));
    indices
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_complex::Complex64;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn sample_seeded(amps: &[Complex64], shots: u64) -> Vec<(usize, u64)> {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        sample(amps, shots, &mut rng, &Interrupt::never()).unwrap()
    }

    #[test]
    fn a_basis_state_is_always_drawn() {
        let mut amps = vec![Complex64::new(0.0, 0.0); 1 << 16];
        amps[40_000] = Complex64::new(0.0, -1.0);
        assert_eq!(sample_seeded(&amps, 1000), vec![(40_000, 1000)]);
    }

    #[test]
    fn zero_probability_states_are_never_drawn() {
        let mut amps = vec![Complex64::new(0.0, 0.0); 1 << 15];
        let half = Complex64::new(std::f64::consts::FRAC_1_SQRT_2, 0.0);
        amps[3] = half;
        amps[(1 << 15) - 1] = half;
        let counts = sample_seeded(&amps, 10_000);
        assert_eq!(
            counts.iter().map(|c| c.0).collect::<Vec<_>>(),
            vec![3, (1 << 15) - 1]
        );
        assert_eq!(counts.iter().map(|c| c.1).sum::<u64>(), 10_000);
        assert!((counts[0].1 as f64 - 5000.0).abs() < 300.0, "{counts:?}");
    }

    #[test]
    fn frequencies_follow_probabilities_across_chunks() {
        // p(i) ∝ i + 1 over 2^15 amplitudes (two chunks).
        let n = 1usize << 15;
        let amps: Vec<Complex64> = (0..n)
            .map(|i| Complex64::new(((i + 1) as f64).sqrt(), 0.0))
            .collect();
        let counts = sample_seeded(&amps, 100_000);
        let upper_half: u64 = counts.iter().filter(|c| c.0 >= n / 2).map(|c| c.1).sum();
        // Exact upper-half probability is about 3/4.
        assert!(
            (upper_half as f64 / 100_000.0 - 0.75).abs() < 0.01,
            "{upper_half}"
        );
    }

    #[test]
    fn same_seed_same_draws() {
        let amps: Vec<Complex64> = (0..1 << 10)
            .map(|i| Complex64::new(f64::from(i), 1.0))
            .collect();
        assert_eq!(sample_seeded(&amps, 5000), sample_seeded(&amps, 5000));
    }
}
