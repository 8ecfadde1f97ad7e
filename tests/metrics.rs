//! `/metrics` after a scripted mix of runs: exact counter values and label sets, and every
//! metric the operator kit (alerts, dashboard) relies on exists. Its own test binary: the
//! Prometheus recorder is process-wide, so exact counts need a process of their own.

// The integration tests' harness; this binary uses part of it.
#[path = "api/helpers.rs"]
#[allow(dead_code, unused_imports)]
mod helpers;

use qrun::app::Hooks;
use std::collections::BTreeMap;
use std::time::Duration;

use helpers::{
    Fixture, SIMULATOR, TestApp, TestDb, executing, run_body, sleepy_backend, wait_until,
};
use qrun::domain::RunStatus;
use qrun::store::Command;
use serde_json::Value;

/// `POST /api/runs` of `circuit` on `backend`, 100 shots, with `X-Analytics-Consent:
/// consent`; asserts 201; the run's id.
async fn submit(
    app: &TestApp,
    token: &str,
    circuit: &str,
    backend: (&str, &str),
    consent: &str,
) -> String {
    let body = run_body(circuit, backend, 100);
    let headers = [("X-Analytics-Consent", consent)];
    let run = app.api().submit(token, &body, &headers).await;
    let run = run.unwrap_or_else(|e| panic!("{e}"));
    run["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_a_scripted_mix_exactly() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    helpers::open_to_programs(dir.path());
    let slow = sleepy_backend(dir.path(), "slow", 60.0);
    let broken = dir.path().join("broken.sh");
    std::fs::write(
        &broken,
        "#!/bin/sh\ncat >/dev/null\necho 'the device is on fire' >&2\nexit 3\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&broken, std::fs::Permissions::from_mode(0o755)).unwrap();
    let broken = qrun::config::BackendConfig::Command {
        name: "broken".into(),
        program: broken,
        args: vec![],
        formats: vec!["openqasm2".into()],
        timeout_s: 10,
        max_shots: 1000,
        // Bell fits; `wide` does not, and fails at prepare without running the program.
        max_source_bytes: 200,
        max_output_bytes: 1 << 20,
        max_qubits: None,
        native_gates: Vec::new(),
        options: Vec::new(),
        warm: 0,
        sandbox: qrun::config::SandboxConfig {
            read_only_paths: vec![dir.path().to_owned()],
            ..Default::default()
        },
    };
    let adjust = |config: &mut qrun::config::Config| {
        executing(config);
        config.backends.extend([slow, broken]);
    };
    let app = TestApp::spawn_with(db, adjust, Hooks::default()).await;
    let (_, token) = app.user("alice").await;
    app.create_circuit(&token, "bell", "public").await;
    let wide = format!(
        "OPENQASM 2.0;\ninclude \"qelib1.inc\";\n{}qreg q[30];\nh q;\n",
        "// a line of the source\n".repeat(10)
    );
    app.upload(&token, "wide", "public", &wide).await;

    // Two completed, a resource limit, a backend error, a cancelled running run.
    submit(&app, &token, "alice/bell", SIMULATOR, "granted").await;
    submit(&app, &token, "alice/bell", SIMULATOR, "denied").await;
    submit(&app, &token, "alice/wide", ("command", "broken"), "denied").await;
    submit(&app, &token, "alice/bell", ("command", "broken"), "denied").await;
    let slow = submit(&app, &token, "alice/bell", ("command", "slow"), "denied").await;
    wait_until(Duration::from_secs(30), "the mix settles", || async {
        let counts = app.store().run_counts().await.unwrap();
        counts[&RunStatus::Completed] == 2
            && counts[&RunStatus::Failed] == 2
            && counts[&RunStatus::Running] == 1
    })
    .await;
    // This node's own gauges while the slow run executes (the other runs' actors may take a
    // moment to stop after their runs ended).
    let gauges = || async {
        let text = app.api().metrics().await.unwrap();
        testkit::samples(&text)
            .into_iter()
            .map(|sample| (sample.series, sample.value))
            .collect::<BTreeMap<String, f64>>()
    };
    wait_until(
        Duration::from_secs(30),
        "one executor slot in use",
        || async { gauges().await.get("qrun_executor_slots_in_use") == Some(&1.0) },
    )
    .await;
    let slots = app.app.config().executor.max_concurrent_runs as f64;
    let during = gauges().await;
    assert_eq!(
        during.get("qrun_executor_slots"),
        Some(&slots),
        "{during:?}"
    );
    let response = app.api().post_cancel(&token, &slow).await.unwrap();
    assert_eq!(response.status(), 200);
    wait_until(
        Duration::from_secs(30),
        "the consented run's events are delivered",
        || async { app.store().outbox_depth().await.unwrap() == 0 },
    )
    .await;

    // A node dies holding a run: the watchdog recovers it once its lease has expired.
    let db = app.into_db().await;
    let app = TestApp::spawn(db).await;
    let circuit = app
        .store()
        .circuit_by_name("alice", "bell")
        .await
        .unwrap()
        .unwrap();
    let user = app.store().user_by_handle("alice").await.unwrap().unwrap();
    let fixture = Fixture {
        user_id: user.id,
        token,
        circuit_id: circuit.id,
        version: 1,
    };
    let stranded = app
        .apply(Command::Create(fixture.new_run(10, None)))
        .await
        .unwrap()
        .run;
    // Claimed by a node that died at once: its lease expired five seconds ago.
    let claimed = app.claim("dead", 1, -5).await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].run.id, stranded.id);
    assert_eq!(app.app.sweep().await.unwrap(), 1);

    let text = app.api().metrics().await.unwrap();
    // Keyed by `name{labels}` as written.
    let got: BTreeMap<String, f64> = testkit::samples(&text)
        .into_iter()
        .map(|sample| (sample.series, sample.value))
        .collect();
    let expect = [
        (
            r#"qrun_runs_requested_total{framework="qiskit",backend="simulator/statevector"}"#,
            3.0,
        ),
        (
            r#"qrun_runs_requested_total{framework="qiskit",backend="command/broken"}"#,
            2.0,
        ),
        (
            r#"qrun_runs_requested_total{framework="qiskit",backend="command/slow"}"#,
            1.0,
        ),
        (
            r#"qrun_run_transitions_total{from="pending",to="running"}"#,
            6.0,
        ),
        (
            r#"qrun_run_transitions_total{from="running",to="completed"}"#,
            2.0,
        ),
        (
            r#"qrun_run_transitions_total{from="running",to="failed"}"#,
            3.0,
        ),
        (
            r#"qrun_run_transitions_total{from="running",to="cancelled"}"#,
            1.0,
        ),
        (
            r#"qrun_runs_failed_total{error_class="resource_limit",stage="prepare"}"#,
            1.0,
        ),
        (
            r#"qrun_runs_failed_total{error_class="backend_error",stage="execute"}"#,
            1.0,
        ),
        (
            r#"qrun_runs_failed_total{error_class="internal_error",stage="recovery"}"#,
            1.0,
        ),
        ("qrun_watchdog_recovered_total", 1.0),
        (
            r#"qrun_runs_finished_total{framework="qiskit",backend="simulator/statevector",status="completed"}"#,
            2.0,
        ),
        (
            r#"qrun_runs_finished_total{framework="qiskit",backend="simulator/statevector",status="failed"}"#,
            1.0,
        ),
        (
            r#"qrun_runs_finished_total{framework="qiskit",backend="command/broken",status="failed"}"#,
            2.0,
        ),
        (
            r#"qrun_http_requests_total{route="/api/runs",method="POST",status="201"}"#,
            5.0,
        ),
        (
            r#"qrun_http_requests_total{route="/api/runs/{id}/cancel",method="POST",status="200"}"#,
            1.0,
        ),
        (
            r#"qrun_http_requests_total{route="/api/circuits",method="POST",status="201"}"#,
            2.0,
        ),
        (
            r#"qrun_run_execution_seconds_count{framework="qiskit",backend="simulator/statevector"}"#,
            3.0,
        ),
        ("qrun_run_queue_seconds_count", 6.0),
        (r#"qrun_runs{status="running"}"#, 0.0),
        ("qrun_stranded_runs", 0.0),
        (
            r#"qrun_analytics_events_total{event="run_requested",result="delivered"}"#,
            1.0,
        ),
        (
            r#"qrun_analytics_events_total{event="run_started",result="delivered"}"#,
            1.0,
        ),
        (
            r#"qrun_analytics_events_total{event="run_completed",result="delivered"}"#,
            1.0,
        ),
        (r#"qrun_actor_restarts_total{actor="recorder"}"#, 0.0),
    ];
    for (key, value) in expect {
        assert_eq!(got.get(key), Some(&value), "{key}\n{text}");
    }
    // Build, process and pool metrics.
    let build = format!(
        r#"qrun_build_info{{version="{}",revision="{}"}}"#,
        env!("CARGO_PKG_VERSION"),
        qrun::metrics::REVISION
    );
    assert_eq!(got.get(&build), Some(&1.0), "{build}\n{text}");
    if let Ok(head) = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        && head.status.success()
    {
        let head = String::from_utf8_lossy(&head.stdout);
        assert_eq!(
            qrun::metrics::REVISION,
            head.trim(),
            "built from this checkout"
        );
    }
    // metrics-process counts CPU in whole seconds (a counter of the `metrics` crate is an
    // integer): present, maybe still 0.
    assert!(got.contains_key("process_cpu_seconds_total"), "{text}");
    for name in [
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_threads",
    ] {
        assert!(got.get(name).is_some_and(|v| *v > 0.0), "{name}\n{text}");
    }
    let pool = |state: &str| got[&format!(r#"qrun_database_pool_connections{{state="{state}"}}"#)];
    let max = f64::from(app.app.config().database.max_connections);
    assert_eq!(got.get("qrun_database_pool_max_connections"), Some(&max));
    assert!(pool("in_use") + pool("idle") >= 1.0, "{text}");
    assert!(pool("in_use") + pool("idle") <= max, "{text}");
    assert_eq!(got.get("qrun_executor_slots_in_use"), Some(&0.0));

    // Every class and stage is exported (at zero until it happens); three happened.
    let failed: Vec<(&String, &f64)> = got
        .iter()
        .filter(|(k, _)| k.starts_with("qrun_runs_failed_total{"))
        .collect();
    assert_eq!(failed.len(), 6 * 4, "{failed:?}");
    let happened = failed.iter().filter(|(_, v)| **v > 0.0).count();
    assert_eq!(
        happened, 3,
        "exactly three failure label sets counted: {failed:?}"
    );
    // Labels never carry ids.
    for id in [
        stranded.id.to_string(),
        circuit.id.to_string(),
        user.id.to_string(),
    ] {
        assert!(!text.contains(&id), "an id in the labels: {id}");
    }
    assert!(
        text.contains(
            "qrun_http_request_duration_seconds_bucket{route=\"/api/runs\",le=\"0.005\"}"
        ),
        "{text}"
    );

    // Every metric the alerts and the dashboard use is exported.
    let kit = [
        std::fs::read_to_string("config/alerts.yml").unwrap(),
        std::fs::read_to_string("config/grafana-dashboard.json").unwrap(),
    ]
    .concat();
    let mut names: Vec<String> = kit
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("qrun_"))
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    assert!(names.len() >= 8, "{names:?}");
    for name in names {
        let exported = got.keys().any(|k| {
            k.starts_with(&format!("{name}{{")) || k.starts_with(&format!("{name} ")) || k == &name
        });
        let declared = text.contains(&format!("# TYPE {name} "));
        assert!(
            exported || declared,
            "the kit uses {name}, which /metrics does not export"
        );
    }
    app.stop().await;
}

/// `promtool ARGS…`: its success and its output, or `None` (a loud skip) where it is not
/// installed (never in CI).
fn promtool(args: &[&str]) -> Option<(bool, String)> {
    let Ok(out) = std::process::Command::new("promtool").args(args).output() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "promtool must be installed in CI (.ci/run installs it)"
        );
        eprintln!("\n*** SKIPPED: promtool is not installed (apt-get install prometheus) ***\n");
        return None;
    };
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Some((out.status.success(), text))
}

/// The names of the rules of `config/alerts.yml`.
fn alert_names() -> Vec<String> {
    std::fs::read_to_string("config/alerts.yml")
        .unwrap()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .map(str::to_owned)
        .collect()
}

/// The alerting rules and the scrape config are valid Prometheus files (promtool).
#[test]
fn the_operator_kit_passes_promtool() {
    let Some((ok, text)) = promtool(&["check", "config", "config/prometheus.yml"]) else {
        return;
    };
    assert!(ok, "{text}");
    let rules = alert_names().len();
    assert!(rules >= 9, "{rules} rules");
    assert!(
        text.contains(&format!("SUCCESS: {rules} rules found")),
        "{text}"
    );
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string("config/grafana-dashboard.json").unwrap())
            .unwrap();
    assert!(dashboard["panels"].as_array().unwrap().len() >= 8);
}

/// Every alert of `config/alerts.yml` passes `promtool test rules config/alerts_test.yml`, which
/// has, for each, a case where it fires and one where it stays silent (series in, alerts out).
#[test]
fn every_alert_fires_when_it_should_and_only_then() {
    let cases = std::fs::read_to_string("config/alerts_test.yml").unwrap();
    // (alert, whether the case expects it firing), in the file's order.
    let mut expected: Vec<(String, bool)> = Vec::new();
    let mut alert = None;
    for line in cases.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("alertname: ") {
            alert = Some(name.to_owned());
        } else if let Some(alerts) = line.strip_prefix("exp_alerts:") {
            let name = alert.take().expect("exp_alerts follows its alertname");
            expected.push((name, alerts.trim() != "[]"));
        }
    }
    for name in alert_names() {
        for firing in [true, false] {
            assert!(
                expected.contains(&(name.clone(), firing)),
                "config/alerts_test.yml has no case where {name} {}",
                if firing { "fires" } else { "stays silent" }
            );
        }
    }
    let Some((ok, text)) = promtool(&["test", "rules", "config/alerts_test.yml"]) else {
        return;
    };
    assert!(ok && text.contains("SUCCESS"), "{text}");
}

/// The enclosing aggregation of the selector at `at` in `expr`: the first aggregation
/// operator found walking out through the parentheses around it (functions such as `deriv`
/// are passed through), or `None` when it is not aggregated.
fn enclosing_aggregation(expr: &str, at: usize) -> Option<String> {
    const AGGREGATIONS: [&str; 8] = [
        "sum", "max", "min", "avg", "count", "stddev", "quantile", "topk",
    ];
    let bytes = expr.as_bytes();
    let mut depth = 0;
    let mut i = at;
    while i > 0 {
        i -= 1;
        match bytes[i] {
            b')' => depth += 1,
            b'(' if depth > 0 => depth -= 1,
            b'(' => {
                // The word before this parenthesis, past a `by (…)`/`without (…)` clause.
                let mut end = expr[..i].trim_end().len();
                if expr[..end].ends_with(')') {
                    let open = expr[..end].rfind('(')?;
                    end = expr[..open].trim_end().len();
                    for clause in ["by", "without"] {
                        if expr[..end].ends_with(clause) {
                            end -= clause.len();
                        }
                    }
                    end = expr[..end].trim_end().len();
                }
                let start = expr[..end]
                    .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .map_or(0, |p| p + 1);
                let word = &expr[start..end];
                if AGGREGATIONS.contains(&word) {
                    return Some(word.to_owned());
                }
            }
            _ => {}
        }
    }
    None
}

/// Every node exports the database-wide gauges with the same value, so the shipped alerts and
/// dashboard must aggregate them with `max` (or `min`), never `sum`: with three nodes a `sum`
/// shows three times the queue (issue 31).
#[test]
fn the_kit_never_adds_up_database_wide_gauges() {
    assert_eq!(
        enclosing_aggregation("max(deriv(qrun_runs[5m]))", 10),
        Some("max".into())
    );
    assert_eq!(
        enclosing_aggregation("sum by (a) (x) / max by (le, b) (rate(qrun_runs[5m]))", 36),
        Some("max".into())
    );
    // The rules file's expressions (its comments name the gauges too).
    let alerts: String = std::fs::read_to_string("config/alerts.yml")
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string("config/grafana-dashboard.json").unwrap())
            .unwrap();
    let mut exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|panel| panel["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|target| target["expr"].as_str().map(str::to_owned))
        .collect();
    exprs.push(alerts);
    let mut uses = 0;
    for expr in &exprs {
        for gauge in qrun::metrics::DATABASE_GAUGES {
            for (at, _) in expr.match_indices(gauge) {
                let next = expr[at + gauge.len()..].chars().next();
                if next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                    continue; // a longer name, e.g. qrun_runs_requested_total
                }
                uses += 1;
                let aggregation = enclosing_aggregation(expr, at);
                assert!(
                    matches!(aggregation.as_deref(), Some("max" | "min")),
                    "{gauge} is aggregated with {aggregation:?} in `{}`: every node exports the same value, so use max()",
                    expr.lines().find(|l| l.contains(gauge)).unwrap_or(expr)
                );
            }
        }
    }
    assert!(uses >= 5, "{uses} uses of the database-wide gauges");
}
