//! The dashboard's last hour, minute by minute: runs completed and failed in each minute and
//! the queue depth (runs pending) seen in it, kept in memory — no table — in a ring buffer of
//! at most [`MINUTES`] buckets, oldest first; a minute that falls out of the hour is dropped.
//!
//! It is fed ([`SharedHistory::sample`]) on every node every [`SAMPLE_EVERY`] by the actor
//! tree's HistorySampler (`actors::history`), whether or not anyone has a dashboard open, and by each
//! dashboard snapshot (at most every `dashboard::FRESH_FOR` while a dashboard is open):
//! - endings are counted from the database (`runs.completed_at`) per minute: the current
//!   minute again at each sample, an ended minute once more after it ended and then never
//!   again ([`History::to_count`]), so a minute's counts are exact whenever it was sampled,
//!   and minutes no sample fell in are counted at the next one;
//! - the queue depth is sampled: a minute holds the largest number of pending runs any sample
//!   in it saw, `None` when no sample fell in it (the node was not running then).
//!
//! Every method takes the time, so tests inject it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use tokio::sync::Mutex;

use crate::domain::RunStatus;
use crate::store::{Store, StoreError};

/// How often every node samples, whether or not a dashboard is open: several times a minute,
/// so every minute holds a queue depth.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(15);

/// Buckets kept: one hour of minutes.
pub const MINUTES: usize = 60;

const MINUTE: TimeDelta = TimeDelta::minutes(1);

/// One minute of the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Minute {
    /// Its first instant (whole minutes, UTC).
    pub start: DateTime<Utc>,
    /// Runs that completed in it.
    pub completed: u64,
    /// Runs that failed in it.
    pub failed: u64,
    /// The most runs pending at any sample in it; `None` without a sample.
    pub queue_depth: Option<u64>,
    /// Whether `completed` and `failed` count the whole minute (counted after it ended).
    closed: bool,
}

impl Minute {
    fn empty(start: DateTime<Utc>) -> Minute {
        Minute {
            start,
            completed: 0,
            failed: 0,
            queue_depth: None,
            closed: false,
        }
    }
}

/// The ring buffer: at most [`MINUTES`] minutes, oldest first, each at most once.
#[derive(Debug, Default)]
pub struct History {
    minutes: VecDeque<Minute>,
}

/// The minute `at` falls in.
fn minute_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(MINUTE).unwrap_or(at)
}

/// The first minute of the hour that ends with the minute `now` falls in.
fn first_minute(now: DateTime<Utc>) -> DateTime<Utc> {
    minute_of(now) - MINUTE * (MINUTES as i32 - 1)
}

impl History {
    /// The spans whose endings must be counted at `now`, oldest first: each minute of the
    /// last hour not yet closed, `[start, start + 1 min)`, the current one up to `now`.
    pub fn to_count(&self, now: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let first = first_minute(now);
        (0..MINUTES as i32)
            .map(|i| first + MINUTE * i)
            .filter(|start| !self.find(*start).is_some_and(|m| m.closed))
            .map(|start| (start, (start + MINUTE).min(now)))
            .collect()
    }

    /// Records the endings counted over the minute that starts at `start` at time `now`: the
    /// minute is closed if it had ended by then.
    pub fn record_endings(
        &mut self,
        start: DateTime<Utc>,
        completed: u64,
        failed: u64,
        now: DateTime<Utc>,
    ) {
        let minute = self.slot(minute_of(start), now);
        if let Some(minute) = minute {
            minute.completed = completed;
            minute.failed = failed;
            minute.closed = start + MINUTE <= now;
        }
    }

    /// Records `pending` runs seen at `now`.
    pub fn record_depth(&mut self, pending: u64, now: DateTime<Utc>) {
        if let Some(minute) = self.slot(minute_of(now), now) {
            minute.queue_depth = Some(minute.queue_depth.unwrap_or(0).max(pending));
        }
    }

    /// The last hour at `now`: [`MINUTES`] minutes, oldest first, those without a bucket
    /// empty.
    pub fn last_hour(&self, now: DateTime<Utc>) -> Vec<Minute> {
        let first = first_minute(now);
        (0..MINUTES as i32)
            .map(|i| first + MINUTE * i)
            .map(|start| {
                self.find(start)
                    .cloned()
                    .unwrap_or_else(|| Minute::empty(start))
            })
            .collect()
    }

    fn find(&self, start: DateTime<Utc>) -> Option<&Minute> {
        self.minutes.iter().find(|m| m.start == start)
    }

    /// The bucket of the minute `start`, made in order if new, after dropping the minutes
    /// that left the hour ending at `now`; `None` for a minute outside that hour.
    fn slot(&mut self, start: DateTime<Utc>, now: DateTime<Utc>) -> Option<&mut Minute> {
        let first = first_minute(now);
        while self.minutes.front().is_some_and(|m| m.start < first) {
            self.minutes.pop_front();
        }
        if start < first || start > minute_of(now) {
            return None;
        }
        let at = self.minutes.partition_point(|m| m.start < start);
        if self.minutes.get(at).is_none_or(|m| m.start != start) {
            self.minutes.insert(at, Minute::empty(start));
        }
        self.minutes.get_mut(at)
    }
}

/// The node's history, shared by the HistorySampler and the dashboard's snapshots.
#[derive(Clone, Debug, Default)]
pub struct SharedHistory(Arc<Mutex<History>>);

impl SharedHistory {
    /// Feeds the history at `now` (the database's clock, the clock of `completed_at`), with
    /// `pending` runs seen then: the endings of each minute not yet closed, counted from the
    /// database, and the queue depth. The last hour, as [`History::last_hour`].
    pub async fn sample(
        &self,
        store: &Store,
        pending: u64,
        now: DateTime<Utc>,
    ) -> Result<Vec<Minute>, StoreError> {
        let mut history = self.0.lock().await;
        for (start, end) in history.to_count(now) {
            let (mut completed, mut failed) = (0, 0);
            for group in store.finished_between(start, Some(end)).await? {
                match group.status {
                    RunStatus::Completed => completed += group.runs,
                    RunStatus::Failed => failed += group.runs,
                    _ => {}
                }
            }
            history.record_endings(start, completed, failed, now);
        }
        history.record_depth(pending, now);
        Ok(history.last_hour(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, h, m, s).unwrap()
    }

    #[test]
    fn minutes_are_buckets_and_the_hour_is_bounded() {
        let mut history = History::default();
        // Two hours of samples, one every 20 s: never more than an hour of buckets.
        let mut now = at(10, 0, 5);
        while now < at(12, 0, 0) {
            history.record_depth(3, now);
            assert!(history.minutes.len() <= MINUTES, "{now}");
            now += TimeDelta::seconds(20);
        }
        assert_eq!(history.minutes.len(), MINUTES);
        let hour = history.last_hour(now);
        assert_eq!(hour.len(), MINUTES);
        assert_eq!(hour[0].start, at(11, 1, 0));
        assert_eq!(hour[MINUTES - 1].start, at(12, 0, 0));
        // 12:00 had no sample yet; every earlier minute saw 3 pending.
        assert_eq!(hour[MINUTES - 1].queue_depth, None);
        assert!(hour[..MINUTES - 1].iter().all(|m| m.queue_depth == Some(3)));
    }

    #[test]
    fn a_minute_keeps_its_deepest_queue_and_its_last_count() {
        let mut history = History::default();
        history.record_depth(2, at(10, 5, 1));
        history.record_depth(7, at(10, 5, 30));
        history.record_depth(4, at(10, 5, 59));
        history.record_endings(at(10, 5, 0), 1, 0, at(10, 5, 30));
        history.record_endings(at(10, 5, 0), 3, 1, at(10, 5, 50));
        let hour = history.last_hour(at(10, 5, 59));
        let minute = hour.last().unwrap();
        assert_eq!(
            (
                minute.start,
                minute.completed,
                minute.failed,
                minute.queue_depth
            ),
            (at(10, 5, 0), 3, 1, Some(7))
        );
    }

    #[test]
    fn an_open_minute_is_counted_again_once_it_ended_then_never() {
        let mut history = History::default();
        let now = at(10, 5, 30);
        // First sample: the whole hour is still to count, the current minute up to now.
        let spans = history.to_count(now);
        assert_eq!(spans.len(), MINUTES);
        assert_eq!(spans[0], (at(9, 6, 0), at(9, 7, 0)));
        assert_eq!(*spans.last().unwrap(), (at(10, 5, 0), now));
        for (start, _) in &spans {
            history.record_endings(*start, 1, 0, now);
        }
        // Still 10:05: only the open minute again.
        assert_eq!(
            history.to_count(at(10, 5, 45)),
            vec![(at(10, 5, 0), at(10, 5, 45))]
        );
        // 10:06: 10:05 once more (whole), and 10:06 so far.
        let later = at(10, 6, 2);
        assert_eq!(
            history.to_count(later),
            vec![(at(10, 5, 0), at(10, 6, 0)), (at(10, 6, 0), later)]
        );
        history.record_endings(at(10, 5, 0), 2, 0, later);
        history.record_endings(at(10, 6, 0), 0, 0, later);
        assert_eq!(history.to_count(later), vec![(at(10, 6, 0), later)]);
        assert_eq!(history.last_hour(later)[MINUTES - 2].completed, 2);
    }

    #[test]
    fn minutes_outside_the_hour_are_not_kept() {
        let mut history = History::default();
        history.record_endings(at(8, 0, 0), 5, 5, at(10, 0, 0));
        history.record_endings(at(10, 1, 0), 5, 5, at(10, 0, 0));
        assert!(history.minutes.is_empty());
    }
}
