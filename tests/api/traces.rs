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
    wait_until(Duration::from_secs(30), "the run completes", || async {
        api.run(&run_id)
            .await
            .is_ok_and(|r| r["status"] == "completed")
    })
    .await;
    let audit = api
        .get_json(&format!("/api/runs/{run_id}/audit"))
        .await
        .unwrap();
    let requested = &audit["entries"][0];
    assert_eq!(requested["action"], "run.requested", "{audit}");
    let trace_id = requested["metadata"]["trace_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no trace_id in {requested}"))
        .to_owned();
    assert_eq!(trace_id.len(), 32, "{trace_id}");
    let access = lines
        .lock()
        .unwrap()
        .iter()
        .find(|l| l.contains(request_id) && l.contains(" request "))
        .cloned()
        .expect("the access line");
    assert!(access.contains(&format!("trace_id={trace_id}")), "{access}");

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
    let mut job_trace = None;
    for id in &job_runs {
        wait_until(
            Duration::from_secs(30),
            "the job's run completes",
            || async { api.run(id).await.is_ok_and(|r| r["status"] == "completed") },
        )
        .await;
        let audit = api
            .get_json(&format!("/api/runs/{id}/audit"))
            .await
            .unwrap();
        let requested = &audit["entries"][0];
        assert_eq!(requested["action"], "run.requested", "{audit}");
        let trace = requested["metadata"]["trace_id"]
            .as_str()
            .map(str::to_owned);
        assert!(trace.is_some(), "no trace_id in {requested}");
        assert!(job_trace.is_none() || job_trace == trace, "{audit}");
        job_trace = trace;
    }
    let job_trace = job_trace.unwrap();
    assert_ne!(job_trace, trace_id);
    let access = lines
        .lock()
        .unwrap()
        .iter()
        .find(|l| l.contains(job_request_id) && l.contains(" request "))
        .cloned()
        .expect("the job's access line");
    assert!(
        access.contains(&format!("trace_id={job_trace}")),
        "{access}"
    );

    // SIGTERM: the node exports what it still holds before it exits.
    served.terminate();

    let expected = [
        "http.request",
        "service.submit",
        "recorder.apply",
        "store.commit",
        "run_actor",
        "execution",
    ];
    let url =
        format!("{phoenix_url}/v1/projects/{PROJECT}/spans?attribute=run_id:{run_id}&limit=100");
    let spans = Arc::new(Mutex::new(Vec::<Value>::new()));
    // Phoenix stores what it receives in the background: ask until the submission's trace is
    // all there. (The run's other requests — reads of it, its audit — are traces of their own,
    // with its run_id too.)
    wait_until(
        Duration::from_secs(60),
        "the run's spans in Phoenix",
        || async {
            let Ok(response) = http.get(&url).send().await else {
                return false;
            };
            let Ok(body) = response.json::<Value>().await else {
                return false;
            };
            let found = body["data"].as_array().cloned().unwrap_or_default();
            for span in &found {
                assert_eq!(span["attributes"]["run_id"], run_id.as_str(), "{span}");
            }
            let traced: Vec<Value> = found
                .into_iter()
                .filter(|s| s["context"]["trace_id"] == trace_id.as_str())
                .collect();
            let complete = expected
                .iter()
                .all(|name| traced.iter().any(|s| s["name"] == *name))
                && traced
                    .iter()
                    .filter(|s| s["name"] == "recorder.apply")
                    .count()
                    >= 2;
            *spans.lock().unwrap() = traced;
            complete
        },
    )
    .await;
    let spans = spans.lock().unwrap().clone();

    // The chain, by parent span ids.
    let by_id: HashMap<&str, &Value> = spans
        .iter()
        .map(|s| (s["context"]["span_id"].as_str().unwrap(), s))
        .collect();
    let parent = |span: &Value| -> Option<String> {
        let id = span["parent_id"].as_str()?;
        Some(by_id.get(id)?["name"].as_str()?.to_owned())
    };
    let one = |name: &str, parent_name: Option<&str>| {
        let found = spans
            .iter()
            .any(|s| s["name"] == name && parent(s).as_deref() == parent_name);
        assert!(
            found,
            "no {name} span under {parent_name:?}: {:#?}",
            spans
                .iter()
                .map(|s| (s["name"].clone(), parent(s)))
                .collect::<Vec<_>>()
        );
    };
    one("http.request", None);
    one("service.submit", Some("http.request"));
    one("recorder.apply", Some("service.submit"));
    one("store.commit", Some("recorder.apply"));
    one("run_actor", Some("recorder.apply"));
    one("execution", Some("run_actor"));
    one("recorder.apply", Some("run_actor"));

    // The job's trace: its creation, and each run's execution under it.
    let url = format!("{phoenix_url}/v1/projects/{PROJECT}/spans?limit=1000");
    let job_spans = Arc::new(Mutex::new(Vec::<Value>::new()));
    wait_until(
        Duration::from_secs(60),
        "the job's spans in Phoenix",
        || async {
            let Ok(response) = http.get(&url).send().await else {
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
                .filter(|s| s["context"]["trace_id"] == job_trace.as_str())
                .collect();
            let executed = |name: &str, id: &str| {
                traced
                    .iter()
                    .any(|s| s["name"] == name && s["attributes"]["run_id"] == id)
            };
            let complete = ["http.request", "service.submit_job", "recorder.create_job"]
                .iter()
                .all(|name| traced.iter().any(|s| s["name"] == *name))
                && job_runs
                    .iter()
                    .all(|id| executed("run_actor", id) && executed("execution", id));
            *job_spans.lock().unwrap() = traced;
            complete
        },
    )
    .await;
    let job_spans = job_spans.lock().unwrap().clone();
    let by_id: HashMap<&str, &Value> = job_spans
        .iter()
        .map(|s| (s["context"]["span_id"].as_str().unwrap(), s))
        .collect();
    let parent_of = |name: &str| -> Vec<Option<String>> {
        job_spans
            .iter()
            .filter(|s| s["name"] == name)
            .map(|s| {
                let id = s["parent_id"].as_str()?;
                Some(by_id.get(id)?["name"].as_str()?.to_owned())
            })
            .collect()
    };
    assert_eq!(
        parent_of("service.submit_job"),
        [Some("http.request".to_owned())]
    );
    assert_eq!(
        parent_of("recorder.create_job"),
        [Some("service.submit_job".to_owned())]
    );
    assert_eq!(
        parent_of("run_actor"),
        [
            Some("recorder.create_job".to_owned()),
            Some("recorder.create_job".to_owned())
        ]
    );
    drop(receiver);
}
