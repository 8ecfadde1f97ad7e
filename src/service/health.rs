//! `/api/health/runs`: how many runs sit past their expected window. Public: counts and
//! ages only, never an id.

use chrono::{DateTime, TimeDelta, Utc};

use super::ServiceError;
use crate::app::AppState;

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

pub async fn runs(state: &AppState) -> Result<RunsHealth, ServiceError> {
    let now = state.store.clock().now();
    let window_s = state.config.watchdog.running_ttl_s;
    let horizon = now - TimeDelta::seconds(window_s as i64);
    let health = state.store.run_health(horizon, now).await?;
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
