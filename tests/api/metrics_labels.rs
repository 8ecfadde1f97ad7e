//! Metric label values come from fixed sets (docs/DESIGN.md §8): a client cannot grow Prometheus by
//! choosing methods or frameworks, and every known label set of the lifecycle counters exists
//! at zero from start-up. (Exact counts are `tests/metrics.rs`'s, in a process of its own.)

use std::collections::BTreeSet;

use qrun::domain::{Action, ErrorClass, ErrorStage};
use qrun::metrics::{METHODS, OTHER};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb, http};
use testkit::{Sample, samples};

async fn scrape(app: &TestApp) -> Vec<Sample> {
    samples(&app.api().metrics().await.unwrap())
}

/// The values `label` takes in the samples of `metric`.
fn label_values(samples: &[Sample], metric: &str, label: &str) -> BTreeSet<String> {
    samples
        .iter()
        .filter(|sample| sample.name == metric)
        .filter_map(|sample| sample.label(label).map(str::to_owned))
        .collect()
}

fn has(samples: &[Sample], metric: &str, want: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|sample| {
            sample.name == metric
                && sample.labels.len() == want.len()
                && want.iter().all(|(k, v)| sample.label(k) == Some(*v))
        })
        .map(|sample| sample.value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_methods_and_frameworks_add_no_series() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let (_, token) = app.user("alice").await;
    for i in 0..30 {
        let method = reqwest::Method::from_bytes(format!("MADEUP{i:02}").as_bytes()).unwrap();
        let response = http()
            .request(method, app.url("/api/runs"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "MADEUP{i:02}");
    }
    for i in 0..25 {
        let response = http()
            .post(app.url("/api/circuits"))
            .bearer_auth(&token)
            .json(&json!({
                "name": format!("c{i}"), "visibility": "public", "source": crate::helpers::BELL,
                "manifest": {"framework": format!("fw{i:02}"), "format": "openqasm2"},
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "fw{i:02}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_manifest");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("qiskit, cirq"),
            "{body}"
        );
    }
    let samples = scrape(&app).await;
    let allowed: BTreeSet<String> = METHODS
        .iter()
        .chain(&[OTHER])
        .map(|m| m.to_string())
        .collect();
    let methods = label_values(&samples, "qrun_http_requests_total", "method");
    assert!(methods.contains(OTHER), "{methods:?}");
    assert!(methods.is_subset(&allowed), "{methods:?}");
    let frameworks: BTreeSet<String> = app
        .app
        .config()
        .executor
        .frameworks
        .iter()
        .cloned()
        .chain([OTHER.to_owned()])
        .collect();
    for metric in [
        "qrun_runs_requested_total",
        "qrun_runs_finished_total",
        "qrun_run_execution_seconds_count",
    ] {
        let seen = label_values(&samples, metric, "framework");
        assert!(seen.is_subset(&frameworks), "{metric}: {seen:?}");
    }
    let routes = label_values(&samples, "qrun_http_requests_total", "route");
    assert!(
        routes
            .iter()
            .all(|r| r == "unmatched" || r.starts_with('/')),
        "{routes:?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_known_label_set_is_exported_from_start_up() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let samples = scrape(&app).await;
    let backend = "simulator/statevector";
    for framework in app
        .app
        .config()
        .executor
        .frameworks
        .iter()
        .map(String::as_str)
        .chain([OTHER])
    {
        let labels = [("framework", framework), ("backend", backend)];
        assert!(
            has(&samples, "qrun_runs_requested_total", &labels).is_some(),
            "{labels:?}"
        );
        for status in ["completed", "failed", "cancelled"] {
            let labels = [
                ("framework", framework),
                ("backend", backend),
                ("status", status),
            ];
            assert!(
                has(&samples, "qrun_runs_finished_total", &labels).is_some(),
                "{labels:?}"
            );
        }
    }
    // No test in this binary runs pennylane circuits: its series is there, at zero.
    assert_eq!(
        has(
            &samples,
            "qrun_runs_requested_total",
            &[("framework", "pennylane"), ("backend", backend)]
        ),
        Some(0.0)
    );
    for (from, to) in [
        ("pending", "running"),
        ("running", "completed"),
        ("running", "failed"),
        ("pending", "cancelled"),
        ("running", "cancelled"),
    ] {
        let labels = [("from", from), ("to", to)];
        assert!(
            has(&samples, "qrun_run_transitions_total", &labels).is_some(),
            "{labels:?}"
        );
    }
    for to in ["running", "completed", "failed", "cancelled"] {
        assert!(
            has(&samples, "qrun_transition_conflicts_total", &[("to", to)]).is_some(),
            "{to}"
        );
    }
    for class in ErrorClass::ALL {
        for stage in ErrorStage::ALL {
            let labels = [("error_class", class.as_str()), ("stage", stage.as_str())];
            assert!(
                has(&samples, "qrun_runs_failed_total", &labels).is_some(),
                "{labels:?}"
            );
        }
    }
    let events = Action::ALL
        .into_iter()
        .filter_map(Action::event)
        .chain([qrun::domain::RUN_VIEWED]);
    for event in events {
        for result in ["delivered", "retried", "parked"] {
            let labels = [("event", event), ("result", result)];
            assert!(
                has(&samples, "qrun_analytics_events_total", &labels).is_some(),
                "{labels:?}"
            );
        }
    }
    app.stop().await;
}
