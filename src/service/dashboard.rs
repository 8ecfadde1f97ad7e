//! The console's dashboard: what the service is doing now and did in the last hour, as a
//! snapshot shared by every viewer. Like Oban Web's state counts (its gauges), the numbers
//! are not counted per page view: one refresh at most every [`FRESH_FOR`], whoever asks, so a
//! room full of dashboards refreshing every few seconds costs the database the same few
//! indexed queries as one. Counts only, never an id: the dashboard is public, like
//! `/api/health/runs`. Each snapshot also feeds the last hour's per-minute history
//! ([`super::history`]: endings per minute and queue depth, in memory, at most 60 buckets),
//! which the node's HistorySampler feeds too, whether or not anyone looks.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use tokio::sync::Mutex;

use super::health::RunsHealth;
use super::history::Minute;
use super::{Service, ServiceError};
use crate::domain::{ErrorClass, RunStatus};

/// How long a snapshot is served before the next viewer's request takes a new one.
pub const FRESH_FOR: Duration = Duration::from_secs(2);

/// The span of "recently finished".
pub const WINDOW: TimeDelta = TimeDelta::hours(1);

/// One snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct Dashboard {
    /// Live runs now: pending and running counts, stranded runs, oldest ages.
    pub health: RunsHealth,
    /// Runs finished within [`WINDOW`], by terminal status (every terminal status present).
    pub finished: BTreeMap<RunStatus, u64>,
    /// Per framework (sorted), completed and failed within [`WINDOW`].
    pub by_framework: Vec<FrameworkCounts>,
    /// Failed within [`WINDOW`], per error class (all six, in [`ErrorClass::ALL`]'s order).
    pub failures: Vec<(ErrorClass, u64)>,
    /// Runs pending now per backend, `type/name`: every configured backend in configuration
    /// order, then any other a pending run names.
    pub queues: Vec<(String, u64)>,
    /// The last hour, minute by minute, oldest first ([`super::history::MINUTES`] of them):
    /// runs completed and failed in each, and the queue depth its samples saw.
    pub history: Vec<Minute>,
}

/// One framework's recent endings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameworkCounts {
    pub framework: String,
    pub completed: u64,
    pub failed: u64,
}

/// The latest snapshot and when it was taken. The lock is held while a snapshot is taken, so
/// viewers arriving meanwhile wait for it instead of taking their own.
#[derive(Default)]
pub(super) struct DashboardCache {
    latest: Mutex<Option<(Instant, Arc<Dashboard>)>>,
}

impl Service {
    /// The dashboard, at most [`FRESH_FOR`] old. Errors: the database's (503 when it is
    /// unavailable).
    pub async fn dashboard(&self) -> Result<Arc<Dashboard>, ServiceError> {
        let mut latest = self.dashboard.latest.lock().await;
        if let Some((taken, snapshot)) = latest.as_ref()
            && taken.elapsed() < FRESH_FOR
        {
            return Ok(snapshot.clone());
        }
        let taken = Instant::now();
        let snapshot = Arc::new(self.take_dashboard().await?);
        *latest = Some((taken, snapshot.clone()));
        Ok(snapshot)
    }

    async fn take_dashboard(&self) -> Result<Dashboard, ServiceError> {
        let health = self.runs_health().await?;
        let now = health.checked_at;
        let finished = self.store.finished_between(now - WINDOW, None).await?;
        let history = self
            .history
            .sample(&self.store, health.pending, now)
            .await?;
        let mut by_status: BTreeMap<RunStatus, u64> = RunStatus::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .map(|s| (s, 0))
            .collect();
        let mut frameworks: BTreeMap<String, FrameworkCounts> = BTreeMap::new();
        let mut failures: HashMap<ErrorClass, u64> = HashMap::new();
        for group in finished {
            *by_status.entry(group.status).or_default() += group.runs;
            let framework = frameworks
                .entry(group.framework.clone())
                .or_insert_with(|| FrameworkCounts {
                    framework: group.framework.clone(),
                    completed: 0,
                    failed: 0,
                });
            match group.status {
                RunStatus::Completed => framework.completed += group.runs,
                RunStatus::Failed => {
                    framework.failed += group.runs;
                    if let Some(class) = group.error_class {
                        *failures.entry(class).or_default() += group.runs;
                    }
                }
                RunStatus::Cancelled | RunStatus::Pending | RunStatus::Running => {}
            }
        }
        let mut pending: BTreeMap<String, u64> = self
            .store
            .pending_by_backend()
            .await?
            .into_iter()
            .map(|(kind, name, n)| (format!("{kind}/{name}"), n))
            .collect();
        let mut queues: Vec<(String, u64)> = self
            .rules
            .backends
            .iter()
            .map(|b| {
                let key = format!("{}/{}", b.kind, b.name);
                let n = pending.remove(&key).unwrap_or(0);
                (key, n)
            })
            .collect();
        queues.extend(pending);
        Ok(Dashboard {
            history,
            health,
            queues,
            finished: by_status,
            by_framework: frameworks
                .into_values()
                .filter(|f| f.completed + f.failed > 0)
                .collect(),
            failures: ErrorClass::ALL
                .into_iter()
                .map(|class| (class, failures.get(&class).copied().unwrap_or(0)))
                .collect(),
        })
    }
}
