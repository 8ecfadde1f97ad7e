//! When to try a failed delivery again: exponential (1 s, 2 s, 4 s, … up to a cap) with
//! "equal jitter" (a random point in the upper half), so a fleet does not retry in lockstep;
//! never sooner than the sink's `Retry-After`.

use std::time::Duration;

use rand::Rng;

/// The delay before attempt `attempts + 1`.
pub fn delay(attempts: i32, cap: Duration, retry_after: Option<Duration>) -> Duration {
    let exponent = attempts.clamp(1, 31) as u32 - 1;
    let ceiling = Duration::from_secs(1u64 << exponent.min(20)).min(cap);
    let half = ceiling / 2;
    let jittered = half + half.mul_f64(rand::rng().random::<f64>());
    jittered.max(retry_after.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_the_cap_and_honours_retry_after() {
        let cap = Duration::from_secs(300);
        for (attempts, low, high) in [
            (1, 0.5, 1.0),
            (2, 1.0, 2.0),
            (4, 4.0, 8.0),
            (20, 150.0, 300.0),
            (i32::MAX, 150.0, 300.0),
        ] {
            for _ in 0..100 {
                let d = delay(attempts, cap, None).as_secs_f64();
                assert!((low..=high).contains(&d), "attempt {attempts}: {d}");
            }
        }
        assert_eq!(
            delay(1, cap, Some(Duration::from_secs(42))),
            Duration::from_secs(42)
        );
    }
}
