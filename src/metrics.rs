//! Prometheus metrics (DESIGN §8). The names are a contract; labels never carry user, circuit
//! or run ids. Each metric is recorded where its event happens: transitions after the
//! Recorder's commit, HTTP in the server's wrapper.

use std::sync::OnceLock;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::domain::{Run, RunStatus};
use crate::store::Rejection;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide Prometheus recorder (once; later calls return the same handle).
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("qrun_recorder_batch_size".into()),
                    &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0],
                )
                .expect("static bucket list")
                .install_recorder()
                .expect("the first Prometheus recorder of the process")
        })
        .clone()
}

/// A committed creation (`from` is `None`) or transition.
pub fn transition(run: &Run, from: Option<RunStatus>) {
    match from {
        None => counter!(
            "qrun_runs_requested_total",
            "framework" => run.framework.clone(),
            "backend" => format!("{}/{}", run.backend_type, run.backend_name),
        )
        .increment(1),
        Some(from) => {
            counter!(
                "qrun_run_transitions_total",
                "from" => from.as_str(),
                "to" => run.status.as_str(),
            )
            .increment(1);
            if let (Some(class), Some(stage)) = (run.error_class, run.error_stage) {
                counter!(
                    "qrun_runs_failed_total",
                    "error_class" => class.as_str(),
                    "stage" => stage.as_str(),
                )
                .increment(1);
            }
        }
    }
}

/// A lifecycle command refused by its guard.
pub fn conflict(rejection: &Rejection) {
    if let Rejection::Conflict { edge, .. } = rejection {
        counter!("qrun_transition_conflicts_total", "to" => edge.target().as_str()).increment(1);
    }
}

/// How many commands one Recorder commit carried.
pub fn recorder_batch(size: usize) {
    histogram!("qrun_recorder_batch_size").record(size as f64);
}

/// A supervised actor was restarted.
pub fn actor_restart(actor: &'static str) {
    counter!("qrun_actor_restarts_total", "actor" => actor).increment(1);
}

/// Runs the watchdog failed as stranded.
pub fn watchdog_recovered(count: u64) {
    counter!("qrun_watchdog_recovered_total").increment(count);
}

/// Runs currently in a live status (pending or running).
pub fn live_runs(status: RunStatus, count: u64) {
    gauge!("qrun_runs", "status" => status.as_str()).set(count as f64);
}

/// Runs currently stranded in running.
pub fn stranded_runs(count: u64) {
    gauge!("qrun_stranded_runs").set(count as f64);
}
