//! Admission limits, kept off the database's hot path.
//!
//! - [`SubmissionLimiter`]: the per-user submission rate, a token bucket per user (GCRA, by
//!   `governor`) holding `executor.user_submission_burst` submissions, refilled at
//!   `executor.user_submissions_per_s`. It counts on this node; with N API nodes a user's
//!   ceiling is N times the rate.
//! - [`Counts`]: the pending and per-user active counts behind the queue caps, read from the
//!   database at most once per [`COUNT_MAX_AGE`] and advanced by this node's own admissions in
//!   between. A count that reaches its cap is read again before anything is refused, so a
//!   refusal is always based on a fresh count; only acceptances ride on the cached one (the
//!   caps bound the queue softly, as they did when read per request).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

/// Buckets are pruned of users idle long enough to be full again every this many checks.
const PRUNE_EVERY: u64 = 4096;

pub struct SubmissionLimiter {
    buckets: DefaultKeyedRateLimiter<Uuid>,
    clock: DefaultClock,
    checks: AtomicU64,
}

impl SubmissionLimiter {
    pub fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        let quota = Quota::per_second(per_second).allow_burst(burst);
        SubmissionLimiter {
            buckets: RateLimiter::keyed(quota),
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
        }
    }

    /// Takes one submission from `user`'s bucket, or says how long until one fits.
    pub fn check(&self, user: Uuid) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.buckets.retain_recent();
        }
        self.buckets
            .check_key(&user)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

/// How old a cached count may be before it is read again.
pub const COUNT_MAX_AGE: Duration = Duration::from_millis(500);

/// Users whose counts are kept at most; past that, stale entries are dropped.
const MAX_USERS: usize = 10_000;

/// A count as last read, and what this node admitted since.
#[derive(Clone, Copy)]
struct Count {
    read_at: Instant,
    value: u64,
}

impl Count {
    fn fresh(&self, now: Instant) -> bool {
        now.duration_since(self.read_at) < COUNT_MAX_AGE
    }
}

#[derive(Default)]
pub struct Counts {
    pending: Mutex<Option<Count>>,
    active: Mutex<HashMap<Uuid, Count>>,
}

/// Which count a cap is on.
#[derive(Clone, Copy)]
pub enum Counted {
    Pending,
    ActiveOf(Uuid),
}

impl Counts {
    /// The cached count, if fresh and below `cap`: the admission may proceed on it.
    pub fn below(&self, counted: Counted, cap: u64) -> bool {
        let now = Instant::now();
        self.with(counted, |count| {
            count.is_some_and(|c| c.fresh(now) && c.value < cap)
        })
    }

    /// Records a count just read from the database.
    pub fn read(&self, counted: Counted, value: u64, at: Instant) {
        self.with(counted, |count| {
            *count = Some(Count { read_at: at, value });
        });
    }

    /// One more run admitted.
    pub fn admitted(&self, counted: Counted) {
        self.with(counted, |count| {
            if let Some(c) = count {
                c.value += 1;
            }
        });
    }

    fn with<T>(&self, counted: Counted, f: impl FnOnce(&mut Option<Count>) -> T) -> T {
        match counted {
            Counted::Pending => f(&mut self.pending.lock().unwrap()),
            Counted::ActiveOf(user) => {
                let mut active = self.active.lock().unwrap();
                if active.len() >= MAX_USERS {
                    let now = Instant::now();
                    active.retain(|_, c| c.fresh(now));
                }
                let mut count = active.get(&user).copied();
                let answer = f(&mut count);
                if let Some(count) = count {
                    active.insert(user, count);
                }
                answer
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_refusals_that_say_when_per_user() {
        let limiter =
            SubmissionLimiter::new(NonZeroU32::new(1).unwrap(), NonZeroU32::new(3).unwrap());
        let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
        for _ in 0..3 {
            assert_eq!(limiter.check(alice), Ok(()));
        }
        let wait = limiter.check(alice).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert_eq!(limiter.check(bob), Ok(()), "buckets are per user");
    }

    #[test]
    fn counts_are_trusted_below_the_cap_while_fresh_and_advanced_by_admissions() {
        let counts = Counts::default();
        let user = Counted::ActiveOf(Uuid::new_v4());
        assert!(!counts.below(user, 2), "nothing read yet");
        counts.read(user, 0, Instant::now());
        assert!(counts.below(user, 2));
        counts.admitted(user);
        assert!(counts.below(user, 2));
        counts.admitted(user);
        assert!(!counts.below(user, 2), "at the cap: read again");
        counts.read(Counted::Pending, 0, Instant::now() - COUNT_MAX_AGE);
        assert!(!counts.below(Counted::Pending, 10), "stale: read again");
    }
}
