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
//!   caps bound the queue softly, as they did when read per request). A read is single-flight:
//!   requests that find a count stale while another reads it wait for that read and take its
//!   answer ([`Counts::refresh_gate`]); 32 clients of one user once read its count 266 times
//!   in 16 s, 8 ms each, instead of about once per [`COUNT_MAX_AGE`].

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
    /// When the read began: its age.
    read_at: Instant,
    /// When it ended: whether a waiting request may take it.
    read_until: Instant,
    value: u64,
}

impl Count {
    fn fresh(&self, now: Instant) -> bool {
        now.duration_since(self.read_at) < COUNT_MAX_AGE
    }
}

/// Locks the reads of counts are single-flight under, striped by count.
const REFRESH_STRIPES: usize = 64;

pub struct Counts {
    pending: Mutex<Option<Count>>,
    active: Mutex<HashMap<Uuid, Count>>,
    refreshing: [tokio::sync::Mutex<()>; REFRESH_STRIPES],
}

impl Default for Counts {
    fn default() -> Self {
        Counts {
            pending: Mutex::default(),
            active: Mutex::default(),
            refreshing: std::array::from_fn(|_| tokio::sync::Mutex::new(())),
        }
    }
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

    /// The lock to hold while reading `counted` from the database (shared with a few other
    /// counts): whoever waited on it looks at [`Counts::read_since`] first.
    pub fn refresh_gate(&self, counted: Counted) -> &tokio::sync::Mutex<()> {
        let stripe = match counted {
            Counted::Pending => 0,
            Counted::ActiveOf(user) => (user.as_u128() % REFRESH_STRIPES as u128) as usize,
        };
        &self.refreshing[stripe]
    }

    /// The count (with this node's admissions since), if a read of it ended after `since`.
    pub fn read_since(&self, counted: Counted, since: Instant) -> Option<u64> {
        self.with(counted, |count| {
            count.filter(|c| c.read_until > since).map(|c| c.value)
        })
    }

    /// Records a count whose read began `at` and ends now.
    pub fn read(&self, counted: Counted, value: u64, at: Instant) {
        let read_until = Instant::now();
        self.with(counted, |count| {
            *count = Some(Count {
                read_at: at,
                read_until,
                value,
            });
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

    #[test]
    fn a_waiter_takes_a_read_ended_since_it_asked_and_no_older_one() {
        let counts = Counts::default();
        let user = Counted::ActiveOf(Uuid::new_v4());
        let before = Instant::now();
        counts.read(user, 7, before);
        let asked = Instant::now();
        assert_eq!(counts.read_since(user, asked), None, "read before it asked");
        // A read that began before the request asked and ended after it.
        counts.read(user, 9, before);
        counts.admitted(user);
        assert_eq!(counts.read_since(user, asked), Some(10));
        assert_eq!(
            counts.read_since(Counted::Pending, before),
            None,
            "never read"
        );
    }
}
