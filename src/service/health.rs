//! `/api/health/runs`: how many runs sit past their expected window. Public: counts and
//! ages only, never an id.

use chrono::{DateTime, TimeDelta, Utc};

use ractor::ActorStatus;

use super::{Service, ServiceError};

/// The report.
#[derive(Clone, Debug, PartialEq)]
pub struct RunsHealth {
    /// Seconds a run may be running before it counts as stranded.
    pub window_s: u64,
    pub stranded: u64,
    pub pending: u64,
    pub running: u64,
    pub oldest_pending_age_s: Option<f64>,
    pub oldest_running_age_s: Option<f64>,
    pub checked_at: DateTime<Utc>,
}

/// Whether this node can do its work: the database answers and the actor tree runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Readiness {
    pub database: bool,
    pub actors: bool,
}

impl Readiness {
    pub fn ready(self) -> bool {
        self.database && self.actors
    }
}

impl Service {
    /// The stranded-runs report, now.
    pub async fn runs_health(&self) -> Result<RunsHealth, ServiceError> {
        let now = self.store.now().await?;
        let window_s = self.rules.stranded_window_s;
        let health = self
            .store
            .run_health(self.stranded_horizon(now), now)
            .await?;
        let age = |t: Option<DateTime<Utc>>| t.map(|t| (now - t).as_seconds_f64().max(0.0));
        Ok(RunsHealth {
            window_s,
            stranded: health.stranded,
            pending: health.pending,
            running: health.running,
            oldest_pending_age_s: age(health.oldest_pending),
            oldest_running_age_s: age(health.oldest_running),
            checked_at: now,
        })
    }

    /// Where "stranded" starts at `now`: a run running since before it counts (as does one
    /// whose lease expired).
    pub(super) fn stranded_horizon(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - i64::try_from(self.rules.stranded_window_s)
            .ok()
            .and_then(TimeDelta::try_seconds)
            .unwrap_or(TimeDelta::MAX)
    }

    /// Readiness: a database round trip and the actor tree's status.
    pub async fn readiness(&self) -> Readiness {
        Readiness {
            database: self.store.ping().await.is_ok(),
            actors: self.tree.get_status() == ActorStatus::Running,
        }
    }
}
