//! OpenTelemetry traces (`[otel]`, docs/DESIGN.md §8) against a real OTLP/HTTP receiver:
//! Arize Phoenix from PyPI (`scripts/test` installs it in `/opt/phoenix-venv`). A run sent
//! through a real `qrun serve` is queried back from the receiver by its `run_id`: one trace,
//! HTTP → service → Recorder → RunActor → execution → store, each span with the run's id, and
//! the same trace id in the access line and the run's audit metadata; then a job of two runs,
//! whose runs' executions continue its submission's trace.
//!
//! Phoenix always opens gRPC on `[::]:4317` as well, so it runs in a network namespace of its
//! own (`unshare -n`); the test's thread joins that namespace (`setns`) before it starts
//! `qrun` and talks to either.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{Api, BELL, SIMULATOR, circuit_body, run_body, wait_until};
use testkit::Served;

const PORT: u16 = 6006;
const PROJECT: &str = "qrun-trace-test";

/// Phoenix's `phoenix` command: `QRUN_TEST_PHOENIX`, else `/opt/phoenix-venv/bin/phoenix`;
/// `None` (a loud skip) where it is not installed, never in CI.
fn phoenix() -> Option<String> {
    let path = std::env::var("QRUN_TEST_PHOENIX")
        .unwrap_or_else(|_| "/opt/phoenix-venv/bin/phoenix".to_owned());
    if std::path::Path::new(&path).exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{path} is missing: CI must install arize-phoenix (scripts/test does)"
    );
    eprintln!(
        "\n*** SKIPPED: no OTLP receiver: {path} is missing (scripts/test installs arize-phoenix) ***\n"
    );
    None
}

/// The receiver's process, killed on drop.
struct Receiver(Child);

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_runs_trace_reaches_a_real_otlp_receiver_with_every_span_keyed_by_run_id() {
    let Some(phoenix) = phoenix() else {
        return;
    };
    // A thread of its own: it moves into the receiver's network namespace.
    let outcome = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(trace_a_run(phoenix))
    })
    .join();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn trace_a_run(phoenix: String) {
    let dir = tempfile::tempdir().unwrap();
    let receiver_log = std::fs::File::create(dir.path().join("phoenix.log")).unwrap();
    let receiver = Command::new("unshare")
        .args([
            "--net",
            "sh",
            "-c",
            "ip link set lo up && exec \"$0\" serve",
        ])
        .arg(&phoenix)
        .env("PHOENIX_HOST", "127.0.0.1")
        .env("PHOENIX_PORT", PORT.to_string())
        .env("PHOENIX_WORKING_DIR", dir.path())
        .env("PHOENIX_TELEMETRY_ENABLED", "false")
        .stdout(Stdio::null())
        .stderr(receiver_log)
        .spawn()
        .expect("unshare starts");
    let receiver = Receiver(receiver);
    let netns = format!("/proc/{}/ns/net", receiver.0.id());
    let own = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
    wait_until(
        Duration::from_secs(10),
        "the receiver's own network namespace",
        || async { std::fs::read_link(&netns).is_ok_and(|ns| ns != own) },
    )
    .await;
    let netns = std::fs::File::open(&netns).unwrap();
    nix::sched::setns(&netns, nix::sched::CloneFlags::CLONE_NEWNET)
        .expect("setns into the receiver's network namespace (root)");

    let http = crate::helpers::http();
    let phoenix_url = format!("http://127.0.0.1:{PORT}");
    wait_until(Duration::from_secs(120), "Phoenix to answer", || async {
        let health = http.get(format!("{phoenix_url}/healthz")).send().await;
        health.is_ok_and(|r| r.status().is_success())
    })
    .await;

    let config = dir.path().join("qrun.toml");
    std::fs::write(
        &config,
        format!(
            "[otel]\notlp_endpoint = \"{phoenix_url}/v1/traces\"\n\
             resource_attributes = {{ \"openinference.project.name\" = \"{PROJECT}\" }}\n"
        ),
    )
    .unwrap();
    let qrun = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_qrun"));
        command
            .current_dir(dir.path())
            .env_clear()
            .env("QRUN_CONFIG", &config);
        command
    };
    let create = || {
        let mut create = qrun();
        create.env("QRUN__LOGGING__LEVEL", "warn");
        create
    };
    let token = testkit::create_user(create, "alice").unwrap_or_else(|e| panic!("{e}"));
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let mut serve = qrun();
    serve.arg("serve").env("QRUN__SERVER__BIND", "127.0.0.1:0");
    let sink = Box::new(move |line: &str| sink.lock().unwrap().push(line.to_owned()));
    let mut served = Served::start(serve, Some(sink)).unwrap_or_else(|e| panic!("{e}"));

    let api = Api::new(&served.base);
    let bell = circuit_body("bell", "public", "openqasm2", BELL);
    api.upload(&token, &bell).await.unwrap();
    let request_id = "trace-me-0001";
    let run = api
        .submit(
            &token,
            &run_body("alice/bell", SIMULATOR, 100),
            &[("X-Request-Id", request_id)],
        )
        .await
        .unwrap();
    let run_id = run["id"].as_str().unwrap().to_owned();
    let trace_id = completed_run_trace(&api, &run_id).await;
    assert_eq!(trace_id.len(), 32, "{trace_id}");
    assert_access_line_has(&lines, request_id, &trace_id);

    // A job's runs carry its submission's trace (one trace for the job, as for a run).
    let job_request_id = "trace-my-job-01";
    let job: Value = http
        .post(format!("{}/api/jobs", served.base))
        .bearer_auth(&token)
        .header("X-Request-Id", job_request_id)
        .json(&serde_json::json!({
            "runs": [run_body("alice/bell", SIMULATOR, 10), run_body("alice/bell", SIMULATOR, 20)],
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let job_runs: Vec<String> = job["runs"]
        .as_array()
        .unwrap_or_else(|| panic!("{job}"))
        .iter()
        .map(|member| member["run"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(job_runs.len(), 2, "{job}");
    let job_trace = completed_run_trace(&api, &job_runs[0]).await;
    assert_eq!(completed_run_trace(&api, &job_runs[1]).await, job_trace);
    assert_ne!(job_trace, trace_id);
    assert_access_line_has(&lines, job_request_id, &job_trace);

    // SIGTERM: the node exports what it still holds before it exits.
    served.terminate();

    // Phoenix stores what it receives in the background: ask until each trace is all there.
    // (The run's other requests — reads of it, its audit — are traces of their own, with
    // its run_id too.)
    let spans = spans_of_trace(
        &format!("{phoenix_url}/v1/projects/{PROJECT}/spans?attribute=run_id:{run_id}&limit=100"),
        &trace_id,
        |spans| {
            [
                "http.request",
                "service.submit",
                "recorder.apply",
                "store.commit",
                "run_actor",
                "execution",
            ]
            .iter()
            .all(|name| spans.iter().any(|s| s["name"] == *name))
                && spans
                    .iter()
                    .filter(|s| s["name"] == "recorder.apply")
                    .count()
                    >= 2
        },
    )
    .await;
    for span in &spans {
        assert_eq!(span["attributes"]["run_id"], run_id.as_str(), "{span}");
    }
    let chain = with_parents(&spans);
    for link in [
        ("http.request", None),
        ("service.submit", Some("http.request")),
        ("recorder.apply", Some("service.submit")),
        ("store.commit", Some("recorder.apply")),
        ("run_actor", Some("recorder.apply")),
        ("execution", Some("run_actor")),
        ("recorder.apply", Some("run_actor")),
    ] {
        assert!(chain.contains(&link), "no {link:?} in {chain:#?}");
    }

    // The job's trace: its creation, and each run's execution under it.
    let job_spans = spans_of_trace(
        &format!("{phoenix_url}/v1/projects/{PROJECT}/spans?limit=1000"),
        &job_trace,
        |spans| {
            let executed = |name: &str, id: &str| {
                spans
                    .iter()
                    .any(|s| s["name"] == name && s["attributes"]["run_id"] == id)
            };
            ["http.request", "service.submit_job", "recorder.create_job"]
                .iter()
                .all(|name| spans.iter().any(|s| s["name"] == *name))
                && job_runs
                    .iter()
                    .all(|id| executed("run_actor", id) && executed("execution", id))
        },
    )
    .await;
    let chain = with_parents(&job_spans);
    let parents_of = |name: &str| -> Vec<Option<&str>> {
        chain
            .iter()
            .filter(|(span, _)| *span == name)
            .map(|(_, parent)| *parent)
            .collect()
    };
    assert_eq!(parents_of("service.submit_job"), [Some("http.request")]);
    assert_eq!(
        parents_of("recorder.create_job"),
        [Some("service.submit_job")]
    );
    assert_eq!(
        parents_of("run_actor"),
        [Some("recorder.create_job"), Some("recorder.create_job")]
    );
    drop(receiver);
}

/// Waits for run `id` to complete; the trace id of its `run.requested` audit row.
async fn completed_run_trace(api: &Api, id: &str) -> String {
    wait_until(Duration::from_secs(30), "the run completes", || async {
        api.run(id).await.is_ok_and(|r| r["status"] == "completed")
    })
    .await;
    let audit = api
        .get_json(&format!("/api/runs/{id}/audit"))
        .await
        .unwrap();
    let requested = &audit["entries"][0];
    assert_eq!(requested["action"], "run.requested", "{audit}");
    requested["metadata"]["trace_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no trace_id in {requested}"))
        .to_owned()
}

/// Asserts that the access line of request `request_id` names `trace_id`.
fn assert_access_line_has(lines: &Mutex<Vec<String>>, request_id: &str, trace_id: &str) {
    let lines = lines.lock().unwrap();
    let access = lines
        .iter()
        .find(|l| l.contains(request_id) && l.contains(" request "))
        .unwrap_or_else(|| panic!("no access line for {request_id}"));
    assert!(access.contains(&format!("trace_id={trace_id}")), "{access}");
}

/// The spans Phoenix returns at `url` that belong to trace `trace_id`, asked for again (at
/// most a minute) until `complete` holds for them.
async fn spans_of_trace(
    url: &str,
    trace_id: &str,
    complete: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let http = crate::helpers::http();
    let spans = Mutex::new(Vec::new());
    wait_until(
        Duration::from_secs(60),
        "a trace's spans in Phoenix",
        || async {
            let Ok(response) = http.get(url).send().await else {
                return false;
            };
            let Ok(body) = response.json::<Value>().await else {
                return false;
            };
            let traced: Vec<Value> = body["data"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|s| s["context"]["trace_id"] == trace_id)
                .collect();
            let done = complete(&traced);
            *spans.lock().unwrap() = traced;
            done
        },
    )
    .await;
    spans.into_inner().unwrap()
}

/// Each span's name with its parent's (by parent span id; `None` for a root or a parent
/// outside `spans`).
fn with_parents(spans: &[Value]) -> Vec<(&str, Option<&str>)> {
    let by_id: HashMap<&str, &Value> = spans
        .iter()
        .map(|s| (s["context"]["span_id"].as_str().unwrap(), s))
        .collect();
    spans
        .iter()
        .map(|s| {
            let parent = s["parent_id"]
                .as_str()
                .and_then(|id| by_id.get(id))
                .and_then(|p| p["name"].as_str());
            (s["name"].as_str().unwrap(), parent)
        })
        .collect()
}
