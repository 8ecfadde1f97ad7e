//! Command backends in the sandbox, through the service (DESIGN §13): a hostile program run
//! by `qrun serve` reaches nothing of the service with the sandbox and everything without it;
//! each cap ends its run with its own class and message; nothing a run started outlives it
//! (its end, a cancel, the service's SIGTERM); formats are checked at submission.

use std::path::{Path, PathBuf};
use std::time::Duration;

use qrun::app::Hooks;
use qrun::config::{BackendConfig, SandboxConfig};
use qrun::domain::RunStatus;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb, executing, http, wait_until};
use crate::on_both_databases;
use crate::serve::serve;

/// Tries each way out of the sandbox and answers the job with all its shots on one key, a
/// bit per escape (1: reached). argv: the service's port, another local port, the service's
/// directory.
const HOSTILE: &str = r#"
import json, os, socket, sys
job = json.load(sys.stdin)
service_port, other_port, service_dir = sys.argv[1:4]
def reached(attempt):
    try:
        attempt()
        return True
    except Exception:
        return False
def connect(port):
    socket.create_connection(("127.0.0.1", int(port)), timeout=2).close()
def read(path):
    with open(path, "rb") as f:
        f.read(1)
def write(path):
    with open(path, "w") as f:
        f.write("pwned")
def find(name, needle):
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/{name}", "rb") as f:
                if needle in f.read():
                    return
        except OSError:
            pass
    raise LookupError("not in sight")
escapes = [
    lambda: connect(service_port),
    lambda: connect(other_port),
    lambda: read(f"{service_dir}/qrun.db"),
    lambda: read(f"{service_dir}/qrun.toml"),
    lambda: write(f"{service_dir}/pwned"),
    lambda: find("environ", b"QRUN_TEST_SECRET="),
    lambda: os.listdir("/root"),
    lambda: find("cmdline", b"qrun\x00serve"),
]
key = "".join("1" if reached(escape) else "0" for escape in escapes)
print(json.dumps({"counts": {key: job["shots"]}}))
"#;

/// The escapes' names, in the key's order (its first character is the first escape).
const ESCAPES: [&str; 8] = [
    "the service's port",
    "another local port",
    "the service's database",
    "the service's config file",
    "a write outside /tmp",
    "a secret of the service's environment",
    "the home directory",
    "the service's process",
];

/// Runs the hostile program once through `qrun serve` (sandbox on or off); the key it answered.
async fn hostile_run(sandbox: bool) -> String {
    let service = tempfile::tempdir().unwrap();
    let scripts = tempfile::tempdir().unwrap();
    let script = scripts.path().join("hostile.py");
    std::fs::write(&script, HOSTILE).unwrap();
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let config = service.path().join("qrun.toml");
    std::fs::write(
        &config,
        format!(
            "[analytics]\nposthog_api_key = \"phc_secret\"\n\n\
             [[backends]]\ntype = \"command\"\nname = \"hostile\"\nprogram = \"/usr/bin/python3\"\n\
             args = [\"{script}\", \"{port}\", \"{other}\", \"{dir}\"]\ntimeout_s = 60\n\
             [backends.sandbox]\nenabled = {sandbox}\nread_only_paths = [\"{scripts}\"]\n",
            script = script.display(),
            other = other.local_addr().unwrap().port(),
            dir = service.path().display(),
            scripts = scripts.path().display(),
        ),
    )
    .unwrap();
    let served = serve(
        service.path(),
        &[
            ("QRUN_CONFIG", config.to_str().unwrap()),
            ("QRUN__SERVER__BIND", &format!("127.0.0.1:{port}")),
            ("QRUN_TEST_SECRET", "5e5a1c"),
            ("QRUN__LOGGING__LEVEL", "warn,qrun=info"),
        ],
    );
    let base = served.base.clone();
    let token = create_user(service.path(), &config);
    let upload = http()
        .post(format!("{base}/api/circuits"))
        .bearer_auth(&token)
        .json(
            &json!({"name": "bell", "visibility": "public", "source": crate::helpers::BELL,
                      "manifest": {"framework": "qiskit", "format": "openqasm2"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 201);
    let run: Value = http()
        .post(format!("{base}/api/runs"))
        .bearer_auth(&token)
        .json(&json!({"circuit": "alice/bell", "backend": {"type": "command", "name": "hostile"}, "shots": 7}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = run["id"].as_str().unwrap().to_owned();
    let read = || async {
        http()
            .get(format!("{base}/api/runs/{id}"))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    wait_until(Duration::from_secs(60), "the hostile run ends", || async {
        let status = read().await["status"].clone();
        status == "completed" || status == "failed"
    })
    .await;
    let done = read().await;
    assert_eq!(done["status"], "completed", "{done}");
    let counts = done["results"]["counts"].as_object().unwrap();
    assert_eq!(counts.len(), 1, "{counts:?}");
    drop(other);
    counts.keys().next().unwrap().clone()
}

fn create_user(dir: &Path, config: &Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_qrun"))
        .args(["user", "create", "alice"])
        .env_clear()
        .env("QRUN_CONFIG", config)
        .env("QRUN__LOGGING__LEVEL", "warn")
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_program_reaches_nothing_in_the_sandbox_and_everything_without_it() {
    let inside = hostile_run(true).await;
    let outside = hostile_run(false).await;
    for (i, escape) in ESCAPES.iter().enumerate() {
        assert_eq!(
            &inside[i..=i],
            "0",
            "with the sandbox the program reached {escape}"
        );
        assert_eq!(
            &outside[i..=i],
            "1",
            "without the sandbox the program missed {escape}"
        );
    }
}

/// A sandboxed command backend running `/usr/bin/python3 -c BODY MARKER`, with `sandbox`
/// adjusting its policy. BODY reads the job from stdin first.
fn python_backend(
    name: &str,
    body: &str,
    sandbox: impl FnOnce(&mut SandboxConfig),
) -> BackendConfig {
    let mut policy = SandboxConfig::default();
    sandbox(&mut policy);
    BackendConfig::Command {
        name: name.into(),
        program: PathBuf::from("/usr/bin/python3"),
        args: vec![
            "-c".into(),
            format!("import json, os, sys, time\njob = json.load(sys.stdin)\n{body}"),
            marker(name),
        ],
        formats: vec!["openqasm2".into(), "python".into()],
        timeout_s: 60,
        max_shots: 1000,
        max_source_bytes: 1 << 20,
        max_output_bytes: 1 << 20,
        max_qubits: None,
        native_gates: Vec::new(),
        sandbox: policy,
    }
}

/// A string no other process on the machine has in its command line.
fn marker(name: &str) -> String {
    format!("qrun-test-{name}-{}", std::process::id())
}

/// Host pids whose command line holds `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != std::process::id())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.windows(marker.len()).any(|w| w == marker.as_bytes()))
        })
        .filter(|pid| crate::helpers::process_alive(*pid))
        .collect()
}

/// Answers every shot on "0" after starting a daemon (double fork, new session) that sleeps.
const DAEMON: &str = r#"
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/usr/bin/sleep", ["sleep", "300", sys.argv[1]])
    os._exit(0)
os.wait()
time.sleep(float(os.environ.get("LINGER", "0")))
print(json.dumps({"counts": {"0": job["shots"]}}))
"#;

async fn caps_app(db: TestDb) -> (TestApp, String) {
    let backends = vec![
        python_backend(
            "memory",
            "b = bytearray(3 << 30)\nb[::4096] = b'x' * len(b[::4096])",
            |s| s.memory_mb = 256,
        ),
        python_backend("cpu", "while True:\n    pass", |s| s.cpu_s = Some(2)),
        python_backend(
            "forkbomb",
            "while True:\n    try:\n        if os.fork() == 0:\n            time.sleep(300)\n            os._exit(0)\n    except OSError:\n        sys.exit(1)",
            |s| s.max_processes = 32,
        ),
        python_backend("daemon", DAEMON, |_| {}),
        python_backend("lingering", DAEMON, |s| {
            s.env.insert("LINGER".into(), "300".into());
        }),
    ];
    let adjust = |config: &mut qrun::config::Config| {
        executing(config);
        config.backends.extend(backends);
    };
    let app = TestApp::spawn_with(db, adjust, Hooks::default()).await;
    let (_, token) = app.user("alice").await;
    app.create_circuit(&token, "bell", "public").await;
    (app, token)
}

/// Each cap ends its run with its own class and a message naming the cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_cap_fails_its_run_with_its_class_and_the_service_keeps_serving() {
    let (app, token) = caps_app(TestDb::sqlite()).await;
    for (backend, class, message) in [
        ("memory", "resource_limit", "memory limit 256 MiB exceeded"),
        ("cpu", "timeout", "CPU time limit 2 s exceeded"),
        ("forkbomb", "resource_limit", "32"),
    ] {
        let id = app
            .submit_run(&token, "alice/bell", ("command", backend), 10)
            .await;
        let run = app.wait_terminal(id).await;
        assert_eq!(run["status"], "failed", "{backend}: {run}");
        assert_eq!(run["error_class"], class, "{backend}: {run}");
        assert_eq!(run["error_stage"], "execute", "{backend}: {run}");
        let said = run["error_message"].as_str().unwrap();
        assert!(said.contains(message), "{backend}: {said}");
        assert!(
            processes_with(&marker(backend)).is_empty(),
            "{backend} left processes"
        );
    }
    let health = http().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    app.stop().await;
}

/// A daemon a run started is gone when the run ends, and when the run is cancelled.
async fn nothing_a_run_started_outlives_it(db: TestDb) {
    let (app, token) = caps_app(db).await;
    let id = app
        .submit_run(&token, "alice/bell", ("command", "daemon"), 10)
        .await;
    assert_eq!(app.wait_terminal(id).await["status"], "completed");
    assert!(
        processes_with(&marker("daemon")).is_empty(),
        "the daemon outlived its run"
    );

    let id = app
        .submit_run(&token, "alice/bell", ("command", "lingering"), 10)
        .await;
    app.wait_status(id, RunStatus::Running).await;
    wait_until(Duration::from_secs(30), "the daemon runs", || async {
        !processes_with(&marker("lingering")).is_empty()
    })
    .await;
    let cancelled = http()
        .post(app.url(&format!("/api/runs/{id}/cancel")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    wait_until(
        Duration::from_secs(10),
        "the daemon dies with the cancel",
        || async { processes_with(&marker("lingering")).is_empty() },
    )
    .await;
    assert_eq!(app.run_json(id).await["status"], "cancelled");
    app.stop().await;
}

on_both_databases!(nothing_a_run_started_outlives_it);

/// SIGTERM of `qrun serve` (its graceful shutdown) leaves no process of a run behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_dies_with_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("qrun.toml");
    let name = "sigterm";
    let backend = format!(
        "[executor]\nshutdown_grace_s = 1\n\n[[backends]]\ntype = \"command\"\nname = \"{name}\"\n\
         program = \"/usr/bin/python3\"\nargs = [\"-c\", {body}, \"{marker}\"]\ntimeout_s = 600\n\
         [backends.sandbox]\nenv = {{ LINGER = \"300\" }}\n",
        body = toml_string(&format!(
            "import json, os, sys, time\njob = json.load(sys.stdin)\n{DAEMON}"
        )),
        marker = marker(name),
    );
    std::fs::write(&config, backend).unwrap();
    let mut served = serve(
        dir.path(),
        &[
            ("QRUN_CONFIG", config.to_str().unwrap()),
            ("QRUN__LOGGING__LEVEL", "warn,qrun=info"),
        ],
    );
    let token = create_user(dir.path(), &config);
    let base = served.base.clone();
    let upload = http()
        .post(format!("{base}/api/circuits"))
        .bearer_auth(&token)
        .json(
            &json!({"name": "bell", "visibility": "public", "source": crate::helpers::BELL,
                      "manifest": {"framework": "qiskit", "format": "openqasm2"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 201);
    let submitted = http()
        .post(format!("{base}/api/runs"))
        .bearer_auth(&token)
        .json(&json!({"circuit": "alice/bell", "backend": {"type": "command", "name": name}, "shots": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), 201);
    wait_until(Duration::from_secs(30), "the daemon runs", || async {
        !processes_with(&marker(name)).is_empty()
    })
    .await;
    let pid = served.child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let exited = tokio::task::spawn_blocking(move || served.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exited.success(), "{exited:?}");
    wait_until(
        Duration::from_secs(10),
        "nothing of the run is left",
        || async { processes_with(&marker(name)).is_empty() },
    )
    .await;
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// `python` sources upload (never parsed here) and run only where a backend accepts them; an
/// unknown format is refused at upload.
async fn formats_are_checked_at_upload_and_submission(db: TestDb) {
    let (app, token) = caps_app(db).await;
    let upload = |format: &'static str, name: &'static str| {
        let request = http()
            .post(app.url("/api/circuits"))
            .bearer_auth(&token)
            .json(&json!({"name": name, "visibility": "public",
                          "source": "from qiskit import QuantumCircuit\ncircuit = QuantumCircuit(1)\n",
                          "manifest": {"framework": "qiskit", "format": format}}));
        async move { request.send().await.unwrap() }
    };
    assert_eq!(upload("python", "py").await.status(), 201);
    let refused = upload("cobol", "cb").await;
    assert_eq!(refused.status(), 400);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["code"], "invalid_manifest");
    let runs_before = app.store().run_counts().await.unwrap();
    let response = http()
        .post(app.url("/api/runs"))
        .bearer_auth(&token)
        .json(&json!({"circuit": "alice/py", "backend": {"type": "simulator", "name": "statevector"}, "shots": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "unsupported_format", "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("python"),
        "{error}"
    );
    assert_eq!(
        app.store().run_counts().await.unwrap(),
        runs_before,
        "no run was created"
    );
    app.stop().await;
}

on_both_databases!(formats_are_checked_at_upload_and_submission);
