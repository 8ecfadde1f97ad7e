//! Prometheus metrics (docs/DESIGN.md §8, which lists every one). The names are a contract;
//! labels never carry user, circuit or run ids. Beyond the seed's set:
//! `qrun_runs_finished_total{framework,backend,status}` (the framework-level error rate),
//! `qrun_actor_restarts_total{actor}`, `qrun_listener_reconnects_total`. Each metric is
//! recorded where its event happens: transitions after the Recorder's commit, HTTP in the
//! server's wrapper.
//!
//! Two kinds of gauge (docs/DESIGN.md §8): [`DATABASE_GAUGES`] count what is in the shared
//! database, so every node exports the same value and the kit aggregates them with `max`;
//! the others (executor slots, pool connections, `process_*`) describe this process and add
//! up across nodes with `sum`.
//!
//! No label value is a client's choice (docs/DESIGN.md §8): `method` is a standard method or
//! `other`, `framework` one of `executor.frameworks` or `other`, `route` a template or
//! `unmatched`, and `backend` a configured backend. [`register`] exports every known label set
//! of the counters at zero from start-up, so `rate()` and `absent()` alerts work before the
//! first event.

use std::collections::BTreeSet;
use std::sync::{OnceLock, RwLock};

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::domain::{Action, Edge, ErrorClass, ErrorStage, RUN_VIEWED, Run, RunStatus};
use crate::store::{PoolStats, WriteError};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process collector (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
/// `process_open_fds`, …: the Prometheus client libraries' standard set), read at each scrape.
static PROCESS: OnceLock<metrics_process::Collector> = OnceLock::new();

/// The gauges that count rows of the shared database, not this process: each node reads and
/// exports the same value, so with N nodes a `sum()` counts it N times. Aggregate them with
/// `max()` (`tests/metrics.rs` holds the shipped alerts and dashboard to it).
pub const DATABASE_GAUGES: [&str; 3] = [
    "qrun_runs",
    "qrun_stranded_runs",
    "qrun_analytics_outbox_depth",
];

/// This build's git commit (`build.rs`: `QRUN_GIT_REVISION` from the environment, else
/// `git rev-parse HEAD`), `unknown` outside a git checkout.
pub const REVISION: &str = env!("QRUN_GIT_REVISION");

/// The frameworks that are label values (those of `executor.frameworks`, of every application
/// in this process); any other is `other`.
static FRAMEWORKS: RwLock<BTreeSet<String>> = RwLock::new(BTreeSet::new());

/// The label value of any framework outside `executor.frameworks`, and of any non-standard
/// HTTP method.
pub const OTHER: &str = "other";

/// The HTTP methods of RFC 9110 §9 and PATCH (RFC 5789): the `method` label's values, with
/// [`OTHER`].
pub const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// Exports every known label set of the counters at zero (an existing series keeps its value)
/// and makes `frameworks` label values. `backends` are the configured `type/name` pairs.
pub fn register(frameworks: &[String], backends: &[String]) {
    FRAMEWORKS
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .extend(frameworks.iter().cloned());
    let frameworks = frameworks.iter().map(String::as_str).chain([OTHER]);
    for framework in frameworks {
        for backend in backends {
            counter!("qrun_runs_requested_total", "framework" => framework.to_owned(), "backend" => backend.clone()).increment(0);
            for status in RunStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
                counter!(
                    "qrun_runs_finished_total",
                    "framework" => framework.to_owned(),
                    "backend" => backend.clone(),
                    "status" => status.as_str(),
                )
                .increment(0);
            }
        }
    }
    for edge in Edge::ALL {
        for from in edge.sources() {
            counter!("qrun_run_transitions_total", "from" => from.as_str(), "to" => edge.target().as_str()).increment(0);
        }
        counter!("qrun_transition_conflicts_total", "to" => edge.target().as_str()).increment(0);
    }
    for class in ErrorClass::ALL {
        for stage in ErrorStage::ALL {
            counter!("qrun_runs_failed_total", "error_class" => class.as_str(), "stage" => stage.as_str()).increment(0);
        }
    }
    for event in events() {
        for result in ["delivered", "retried", "parked"] {
            counter!("qrun_analytics_events_total", "event" => event, "result" => result)
                .increment(0);
        }
    }
}

/// `framework` as a label value: itself if configured, else [`OTHER`].
fn framework_label(framework: &str) -> String {
    let known = FRAMEWORKS.read().unwrap_or_else(|e| e.into_inner());
    if known.contains(framework) {
        framework.to_owned()
    } else {
        OTHER.to_owned()
    }
}

/// `method` as a label value: a standard method, else [`OTHER`].
pub fn method_label(method: &str) -> &'static str {
    METHODS.into_iter().find(|m| *m == method).unwrap_or(OTHER)
}

/// Seconds: HTTP requests take milliseconds.
const HTTP_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
/// Seconds: queue waits and executions range from milliseconds to many minutes.
const RUN_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

/// Installs the process-wide Prometheus recorder (once; later calls return the same handle).
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("qrun_recorder_batch_size".into()),
                    &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0],
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("qrun_http_request_duration_seconds".into()),
                        HTTP_BUCKETS,
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("qrun_run_queue_seconds".into()),
                        RUN_BUCKETS,
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("qrun_run_execution_seconds".into()),
                        RUN_BUCKETS,
                    )
                })
                .expect("static bucket lists")
                .install_recorder()
                .inspect(|_| {
                    describe();
                    PROCESS
                        .get_or_init(metrics_process::Collector::default)
                        .describe();
                })
                .expect("the first Prometheus recorder of the process")
        })
        .clone()
}

/// Help texts, and zero for the series known in advance, so they exist (and `increase()`
/// sees their first event) before anything happens.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "qrun_runs_requested_total",
        "Runs created, by framework and backend."
    );
    describe_counter!(
        "qrun_run_transitions_total",
        "Committed lifecycle transitions, by from and to status."
    );
    describe_counter!(
        "qrun_runs_failed_total",
        "Runs failed, by error class and stage."
    );
    describe_counter!(
        "qrun_runs_finished_total",
        "Runs ended, by framework, backend and terminal status."
    );
    describe_counter!(
        "qrun_transition_conflicts_total",
        "Lifecycle commands refused by their guard, by target status."
    );
    describe_counter!(
        "qrun_watchdog_recovered_total",
        "Stranded runs failed by the watchdog."
    );
    describe_counter!(
        "qrun_analytics_events_total",
        "Analytics delivery attempts, by event and result (delivered, retried, parked)."
    );
    describe_counter!(
        "qrun_http_requests_total",
        "HTTP requests, by route template, method and status."
    );
    describe_counter!(
        "qrun_actor_restarts_total",
        "Supervised actors restarted after a failure."
    );
    describe_counter!(
        "qrun_listener_reconnects_total",
        "Times the PostgreSQL LISTEN connection for wake-ups between nodes was lost and made again."
    );
    describe_histogram!(
        "qrun_run_queue_seconds",
        metrics::Unit::Seconds,
        "Time from submission to claim."
    );
    describe_histogram!(
        "qrun_run_execution_seconds",
        metrics::Unit::Seconds,
        "Time from claim to the end of a run."
    );
    describe_histogram!(
        "qrun_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "HTTP request duration, by route template."
    );
    describe_histogram!(
        "qrun_recorder_batch_size",
        "Lifecycle commands per Recorder commit."
    );
    describe_gauge!("qrun_runs", "Runs in a live status (pending, running).");
    describe_gauge!(
        "qrun_stranded_runs",
        "Runs stranded in running (past the TTL or their lease)."
    );
    describe_gauge!(
        "qrun_analytics_outbox_depth",
        "Analytics events waiting for delivery."
    );
    describe_gauge!(
        "qrun_build_info",
        "1, labelled with this build's version and git revision."
    );
    describe_gauge!(
        "qrun_executor_slots",
        "Runs this node executes at once at most (executor.max_concurrent_runs; 0 when it does not execute)."
    );
    describe_gauge!("qrun_executor_slots_in_use", "Runs this node is executing.");
    describe_gauge!(
        "qrun_database_pool_connections",
        "This node's database connections, by state (in_use, idle)."
    );
    describe_gauge!(
        "qrun_database_pool_max_connections",
        "This node's database pool size limit (database.max_connections)."
    );
    gauge!(
        "qrun_build_info",
        "version" => env!("CARGO_PKG_VERSION"),
        "revision" => REVISION,
    )
    .set(1.0);
    executor_slots_in_use(0);
    for actor in [
        "recorder",
        "executor",
        "watchdog",
        "dispatcher",
        "history_sampler",
    ] {
        counter!("qrun_actor_restarts_total", "actor" => actor).absolute(0);
    }
    counter!("qrun_watchdog_recovered_total").absolute(0);
    counter!("qrun_listener_reconnects_total").absolute(0);
    for status in [RunStatus::Pending, RunStatus::Running] {
        live_runs(status, 0);
    }
    stranded_runs(0);
    outbox_depth(0);
}

/// A committed creation (`from` is `None`) or transition.
pub fn transition(run: &Run, from: Option<RunStatus>) {
    match from {
        None => counter!(
            "qrun_runs_requested_total",
            "framework" => framework_label(&run.spec.framework),
            "backend" => format!("{}/{}", run.spec.backend_type, run.spec.backend_name),
        )
        .increment(1),
        Some(from) => {
            counter!(
                "qrun_run_transitions_total",
                "from" => from.as_str(),
                "to" => run.status.as_str(),
            )
            .increment(1);
            if run.status == RunStatus::Running
                && let Some(started) = run.started_at
            {
                histogram!("qrun_run_queue_seconds").record(seconds(started - run.created_at));
            }
            if from == RunStatus::Running
                && let (Some(started), Some(ended)) = (run.started_at, run.completed_at)
            {
                histogram!(
                    "qrun_run_execution_seconds",
                    "framework" => framework_label(&run.spec.framework),
                    "backend" => format!("{}/{}", run.spec.backend_type, run.spec.backend_name),
                )
                .record(seconds(ended - started));
            }
            if run.status.is_terminal() {
                counter!(
                    "qrun_runs_finished_total",
                    "framework" => framework_label(&run.spec.framework),
                    "backend" => format!("{}/{}", run.spec.backend_type, run.spec.backend_name),
                    "status" => run.status.as_str(),
                )
                .increment(1);
            }
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

fn seconds(d: chrono::TimeDelta) -> f64 {
    d.as_seconds_f64().max(0.0)
}

/// An HTTP request, under its route template.
pub fn http_request(route: &'static str, method: &str, status: u16, elapsed: std::time::Duration) {
    counter!(
        "qrun_http_requests_total",
        "route" => route,
        "method" => method_label(method),
        "status" => status.to_string(),
    )
    .increment(1);
    histogram!("qrun_http_request_duration_seconds", "route" => route)
        .record(elapsed.as_secs_f64());
}

/// A lifecycle command refused by its guard.
pub fn conflict(refused: &WriteError) {
    if let WriteError::Conflict { edge, .. } = refused {
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

/// The LISTEN connection was lost (it is made again).
pub fn listener_reconnect() {
    counter!("qrun_listener_reconnects_total").increment(1);
}

/// Runs the watchdog failed as stranded.
pub fn watchdog_recovered(count: u64) {
    counter!("qrun_watchdog_recovered_total").increment(count);
}

/// The Prometheus text of every metric, with the process metrics read now.
pub fn render(handle: &PrometheusHandle) -> String {
    if let Some(process) = PROCESS.get() {
        process.collect();
    }
    handle.render()
}

/// `executor.max_concurrent_runs` of this node's executor.
pub fn executor_slots(slots: u64) {
    gauge!("qrun_executor_slots").set(slots as f64);
}

/// Runs this node's executor is executing.
pub fn executor_slots_in_use(runs: usize) {
    gauge!("qrun_executor_slots_in_use").set(runs as f64);
}

/// This node's database pool now.
pub fn database_pool(pool: PoolStats) {
    gauge!("qrun_database_pool_connections", "state" => "in_use").set(f64::from(pool.in_use()));
    gauge!("qrun_database_pool_connections", "state" => "idle").set(f64::from(pool.idle));
    gauge!("qrun_database_pool_max_connections").set(f64::from(pool.max));
}

/// Runs currently in a live status (pending or running).
pub fn live_runs(status: RunStatus, count: u64) {
    gauge!("qrun_runs", "status" => status.as_str()).set(count as f64);
}

/// Runs currently stranded in running.
pub fn stranded_runs(count: u64) {
    gauge!("qrun_stranded_runs").set(count as f64);
}

/// An analytics event's delivery attempt: `delivered`, `retried` or `parked`.
pub fn analytics_event(event: &str, result: &'static str) {
    counter!("qrun_analytics_events_total", "event" => event_label(event), "result" => result)
        .increment(1);
}

/// The analytics events there are: the lifecycle's, and a run page's view.
fn events() -> impl Iterator<Item = &'static str> {
    Action::ALL
        .into_iter()
        .filter_map(Action::event)
        .chain([RUN_VIEWED])
}

/// An outbox row's event name as a label value: one of [`events`], else `other`.
fn event_label(event: &str) -> &'static str {
    events().find(|e| *e == event).unwrap_or(OTHER)
}

/// Analytics events waiting for delivery.
pub fn outbox_depth(depth: u64) {
    gauge!("qrun_analytics_outbox_depth").set(depth as f64);
}
