//! Qiskit through qrun: circuits written in Python (and OpenQASM) run on Qiskit Aer by the
//! shipped runner (`runners/qiskit_runner.py`) inside the sandbox, and the runner's own test
//! suite. They need a Python with qiskit and qiskit-aer: `QRUN_TEST_PYTHON` names it (`.ci/run`
//! makes the venv); without it the tests say so loudly and pass, except under `CI`.

use std::path::PathBuf;

use qrun::app::Hooks;
use qrun::config::{BackendConfig, SandboxConfig};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb, executing, run_body};
use crate::qasm3::ROTATION;

/// The environment variable naming the test Python (a venv's `bin/python`).
pub const PYTHON_ENV: &str = "QRUN_TEST_PYTHON";

/// The test Python, or `None` (said loudly) when none is configured; in CI, a panic.
pub fn python() -> Option<PathBuf> {
    match std::env::var(PYTHON_ENV) {
        Ok(path) => Some(PathBuf::from(path)),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("{PYTHON_ENV} is not set: the Qiskit tests must run in CI")
        }
        Err(_) => {
            eprintln!(
                "\n*** SKIPPED: {PYTHON_ENV} is not set (a venv's python with qiskit and \
                 qiskit-aer, e.g. /opt/qrun-venv/bin/python). These tests must run in CI. ***\n"
            );
            None
        }
    }
}

/// The repo's runner, copied where a root service's programs (run as `nobody`) can read it,
/// as README's `/opt/qrun/runners` is: the checkout may be under a directory only root may
/// enter. One copy per test process (statics are never dropped: it stays in the temporary
/// directory, a few KiB).
fn runners() -> PathBuf {
    static COPY: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    COPY.get_or_init(|| {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let runner = dir.path().join("qiskit_runner.py");
        std::fs::copy(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("runners/qiskit_runner.py"),
            &runner,
        )
        .unwrap();
        std::fs::set_permissions(&runner, std::fs::Permissions::from_mode(0o644)).unwrap();
        dir
    })
    .path()
    .to_owned()
}

/// The Aer backend as README's "Running framework code safely" configures it.
pub fn aer_backend(python: &std::path::Path) -> BackendConfig {
    let venv = python
        .parent()
        .and_then(|bin| bin.parent())
        .expect("a venv's bin/python")
        .to_owned();
    BackendConfig::Command {
        name: "aer".into(),
        program: python.to_owned(),
        args: vec![
            runners().join("qiskit_runner.py").display().to_string(),
            "--max-qubits".into(),
            "24".into(),
        ],
        formats: vec![
            "python".into(),
            "openqasm2".into(),
            "openqasm3".into(),
            "qpy".into(),
        ],
        timeout_s: 120,
        max_shots: 100_000,
        max_source_bytes: 1 << 20,
        max_output_bytes: 16 << 20,
        max_qubits: None,
        native_gates: Vec::new(),
        options: Vec::new(),
        warm: 0,
        sandbox: SandboxConfig {
            read_only_paths: vec![venv, runners()],
            env: [("OMP_NUM_THREADS".to_owned(), "1".to_owned())].into(),
            ..SandboxConfig::default()
        },
    }
}

/// Runs the pytest suite in `suite` (a directory of the repository) with the test Python and
/// `env`, and fails with its output unless it passes.
pub fn pytest(python: &std::path::Path, suite: &str, env: &[(&str, &str)]) {
    let out = std::process::Command::new(python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", suite])
        .envs(env.iter().copied())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("pytest runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{suite}: {}", stdout.lines().last().unwrap_or(""));
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_runner_passes_its_own_tests() {
    let Some(python) = python() else { return };
    pytest(&python, "runners/tests", &[]);
}

const BELL_PY: &str = "from qiskit import QuantumCircuit\n\ncircuit = QuantumCircuit(2, 2)\ncircuit.h(0)\ncircuit.cx(0, 1)\ncircuit.measure([0, 1], [0, 1])\n";

const GHZ_PY: &str = "from qiskit import QuantumCircuit\n\nn = 20\ncircuit = QuantumCircuit(n)\ncircuit.h(0)\nfor i in range(n - 1):\n    circuit.cx(i, i + 1)\ncircuit.measure_all()\n";

/// Two registers (the last declared leftmost in each key).
const TWO_REGISTERS_QASM2: &str = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[3];\ncreg a[1];\ncreg b[2];\nx q[0];\nx q[2];\nmeasure q[0] -> a[0];\nmeasure q[1] -> b[0];\nmeasure q[2] -> b[1];\n";

/// The application, executing runs, with the README's Aer backend besides the simulator.
async fn spawn_with_aer(python: &std::path::Path) -> TestApp {
    let adjust = |config: &mut qrun::config::Config| {
        executing(config);
        config.backends.push(aer_backend(python));
    };
    TestApp::spawn_with(TestDb::sqlite(), adjust, Hooks::default()).await
}

/// Runs `owner/name` on Aer with `shots`; the finished run.
async fn run_on_aer(app: &TestApp, token: &str, circuit: &str, shots: u64) -> Value {
    let id = app
        .submit_run(token, circuit, ("command", "aer"), shots)
        .await;
    app.wait_terminal(id).await
}

fn counts(run: &Value) -> Vec<(String, u64)> {
    run["results"]["counts"]
        .as_object()
        .unwrap_or_else(|| panic!("no counts: {run}"))
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_and_openqasm_circuits_run_on_aer_in_the_sandbox() {
    let Some(python) = python() else { return };
    let app = spawn_with_aer(&python).await;
    let (_, token) = app.user("alice").await;
    app.upload_as(&token, "bell-py", "public", BELL_PY, "python")
        .await;
    app.upload_as(&token, "ghz20", "public", GHZ_PY, "python")
        .await;
    app.upload(&token, "registers", "public", TWO_REGISTERS_QASM2)
        .await;

    let bell = run_on_aer(&app, &token, "alice/bell-py", 2000).await;
    assert_eq!(bell["status"], "completed", "{bell}");
    let got = counts(&bell);
    assert!(got.iter().all(|(k, _)| k == "00" || k == "11"), "{got:?}");
    assert_eq!(got.iter().map(|(_, n)| n).sum::<u64>(), 2000);
    // Aer's Bell state: half and half, within 5 standard deviations (±56 of 1000).
    for (_, n) in &got {
        assert!((*n as i64 - 1000).abs() < 112, "{got:?}");
    }

    let ghz = run_on_aer(&app, &token, "alice/ghz20", 1000).await;
    assert_eq!(ghz["status"], "completed", "{ghz}");
    let got = counts(&ghz);
    let (zeros, ones) = ("0".repeat(20), "1".repeat(20));
    assert!(
        got.iter().all(|(k, _)| *k == zeros || *k == ones),
        "{got:?}"
    );

    let registers = run_on_aer(&app, &token, "alice/registers", 100).await;
    assert_eq!(
        counts(&registers),
        [("10 1".to_owned(), 100)],
        "{registers}"
    );

    // OpenQASM 3 with an input, bound by the run: θ = π flips the qubit every time.
    app.upload_as(&token, "rotation", "public", ROTATION, "openqasm3")
        .await;
    let mut body = run_body("alice/rotation", ("command", "aer"), 50);
    body["parameters"] = json!({"theta": std::f64::consts::PI});
    let run = app.api().submit(&token, &body, &[]).await.unwrap();
    let rotation = app.wait_terminal(run["id"].as_str().unwrap()).await;
    assert_eq!(counts(&rotation), [("1".to_owned(), 50)], "{rotation}");

    // The user's mistakes are validation errors naming their line.
    for (name, source, line) in [
        (
            "syntax",
            "from qiskit import QuantumCircuit\n\ncircuit = QuantumCircuit(1\n",
            "line 3",
        ),
        (
            "raises",
            "from qiskit import QuantumCircuit\n\ndef build():\n    raise ValueError('no luck')\n\ncircuit = build()\n",
            "line 4",
        ),
        ("nothing", "x = 1\n", "circuit"),
    ] {
        app.upload_as(&token, name, "public", source, "python")
            .await;
        let run = run_on_aer(&app, &token, &format!("alice/{name}"), 10).await;
        assert_eq!(run["status"], "failed", "{name}: {run}");
        assert_eq!(run["error_class"], "validation_error", "{name}: {run}");
        assert_eq!(run["error_stage"], "prepare", "{name}: {run}");
        let message = run["error_message"].as_str().unwrap();
        assert!(message.contains(line), "{name}: {message}");
    }
    app.stop().await;
}

/// OpenQASM 3 that qrun's engine refuses (`while`, `delay`) but Qiskit's importer reads: a
/// measurement repeated until it gives 1, then a rotation measured into a second bit.
const WHILE_DELAY_QASM3: &str = "OPENQASM 3.0;\ninclude \"stdgates.inc\";\nqubit[2] q;\nbit[2] c;\nh q[0];\nc[0] = measure q[0];\nwhile (!c[0]) {\n  h q[0];\n  c[0] = measure q[0];\n}\ndelay[100ns] q[1];\nry(1.1) q[1];\nc[1] = measure q[1];\n";

/// A `switch`, which neither qrun's engine nor Qiskit's importer (qiskit-qasm3-import 0.6)
/// reads: on Aer the runner refuses it, naming its line.
const SWITCH_QASM3: &str = "OPENQASM 3.0;\ninclude \"stdgates.inc\";\nqubit[2] q;\nbit[2] c;\nh q[0];\nc[0] = measure q[0];\nswitch (c) {\n  case 0 { x q[1]; }\n  default { }\n}\nc[1] = measure q[1];\n";

/// Aer's counts for an OpenQASM 3 `source` run here, outside qrun, as the runner runs it
/// (`qiskit.qasm3.loads`, transpiled for Aer's Target, `seed_simulator`).
fn local_aer_counts(python: &std::path::Path, source: &str, shots: u64, seed: u64) -> Value {
    let script = "import json, sys\nfrom qiskit import qasm3, transpile\nfrom qiskit_aer import AerSimulator\n\
                  job = json.load(sys.stdin)\nsim = AerSimulator(seed_simulator=job['seed'])\n\
                  circuit = transpile(qasm3.loads(job['source']), target=sim.target)\n\
                  print(json.dumps(sim.run(circuit, shots=job['shots']).result().get_counts()))\n";
    let mut child = std::process::Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    let job = json!({"source": source, "shots": shots, "seed": seed});
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), job.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "local Aer failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openqasm_the_engine_refuses_is_the_aer_runners_to_judge() {
    let Some(python) = python() else { return };
    let app = spawn_with_aer(&python).await;
    let (_, token) = app.user("alice").await;
    // Uploaded: a backend whose runner reads OpenQASM 3 is configured.
    app.upload_as(&token, "loop", "public", WHILE_DELAY_QASM3, "openqasm3")
        .await;
    app.upload_as(&token, "switch", "public", SWITCH_QASM3, "openqasm3")
        .await;

    // On Aer: the counts Aer gives for the same program and seed outside qrun.
    let mut body = run_body("alice/loop", ("command", "aer"), 2000);
    body["seed"] = json!(17);
    let run = app.api().submit(&token, &body, &[]).await.unwrap();
    let run = app.wait_terminal(run["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "completed", "{run}");
    let expected = local_aer_counts(&python, WHILE_DELAY_QASM3, 2000, 17);
    assert_eq!(run["results"]["counts"], expected, "{run}");
    assert!(
        counts(&run).iter().all(|(key, _)| key.ends_with('1')),
        "the loop ends with c[0] = 1: {run}"
    );

    // Per-shot memory of a source only the runner reads is bounded as a Python one's: 1024
    // bits a shot (10,000 shots are past the default 10,000,000 bits).
    let mut body = run_body("alice/loop", ("command", "aer"), 10_000);
    body["memory"] = json!(true);
    let response = app.api().post_run(&token, &body, &[]).await.unwrap();
    assert_eq!(response.status(), 400);
    let refused: Value = response.json().await.unwrap();
    assert_eq!(refused["error"]["code"], "memory_too_large", "{refused}");

    // What Qiskit cannot read either is the runner's validation error, naming the line.
    let run = run_on_aer(&app, &token, "alice/switch", 10).await;
    let message = refused_by_the_runner(&run);
    assert!(
        message.starts_with("line 7: OpenQASM 3: ") && message.contains("SwitchStatement"),
        "{message}"
    );

    // The built-in simulator refuses the program at submission, with the engine's position.
    let response = app
        .api()
        .post_run(
            &token,
            &run_body("alice/loop", ("simulator", "statevector"), 10),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_source", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("7:1: 'while' loops are not supported"),
        "{body}"
    );
    app.stop().await;
}

/// The `switch` of [`SWITCH_QASM3`] built in Qiskit, as a `qpy` source (base64 of
/// `qpy.dump`), and Aer's counts for it run here with `shots` and `seed`, as the runner runs it.
fn switch_qpy_and_local_counts(python: &std::path::Path, shots: u64, seed: u64) -> (String, Value) {
    let script = format!(
        "import base64, io, json\nfrom qiskit import QuantumCircuit, qpy, transpile\n\
         from qiskit_aer import AerSimulator\nqc = QuantumCircuit(2, 2)\nqc.h(0)\n\
         qc.measure(0, 0)\nwith qc.switch(qc.cregs[0]) as case:\n    with case(0):\n\
         \x20       qc.x(1)\nqc.measure(1, 1)\nbuffer = io.BytesIO()\nqpy.dump(qc, buffer)\n\
         sim = AerSimulator(seed_simulator={seed})\n\
         counts = sim.run(transpile(qc, target=sim.target), shots={shots}).result().get_counts()\n\
         print(json.dumps([base64.b64encode(buffer.getvalue()).decode(), counts]))\n"
    );
    let out = std::process::Command::new(python)
        .args(["-c", &script])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (source, counts): (String, Value) = serde_json::from_slice(&out.stdout).unwrap();
    (source, counts)
}

/// What OpenQASM cannot carry to Aer reaches it as QPY (docs/DESIGN.md §12): the same `switch`
/// that fails as OpenQASM 3 gives Aer's counts for the seed; a QPY file that does not load is
/// the runner's `validation_error`, with no line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_qpy_source_runs_on_aer_and_one_that_does_not_load_is_a_validation_error() {
    let Some(python) = python() else { return };
    let app = spawn_with_aer(&python).await;
    let (_, token) = app.user("alice").await;
    let (source, expected) = switch_qpy_and_local_counts(&python, 2000, 17);
    app.upload_as(&token, "switch", "public", &source, "qpy")
        .await;
    let mut body = run_body("alice/switch", ("command", "aer"), 2000);
    body["seed"] = json!(17);
    let run = app.api().submit(&token, &body, &[]).await.unwrap();
    let run = app.wait_terminal(run["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["results"]["counts"], expected, "{run}");
    let keys: Vec<String> = counts(&run).into_iter().map(|(key, _)| key).collect();
    assert_eq!(
        keys,
        ["01", "10"],
        "c[0] = 0 flips q[1] (case 0), c[0] = 1 leaves it"
    );

    // QPY's magic, then bytes that are no QPY file: stored (qrun reads no further), refused
    // by the runner.
    let corrupt = "UUlTS0lUEgIGAgAAAAAAAAAB//////////8=";
    app.upload_as(&token, "corrupt", "public", corrupt, "qpy")
        .await;
    let run = run_on_aer(&app, &token, "alice/corrupt", 10).await;
    let message = refused_by_the_runner(&run);
    assert!(
        message.starts_with("QPY: the file does not load: "),
        "no line, the loader's reason: {message}"
    );
    app.stop().await;
}

/// The host pids of the processes whose command line names `path` (a runner copy of one
/// test's own: the programs of its warm pool, and of its runs while they run).
fn processes_running(path: &std::path::Path) -> std::collections::BTreeSet<u32> {
    let wanted = path.as_os_str().as_encoded_bytes();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
                cmdline.split(|&b| b == 0).any(|arg| arg == wanted)
                    // bubblewrap's own processes name it too: count the interpreter only.
                    && !cmdline.starts_with(qrun_sandbox::BWRAP.as_bytes())
            })
        })
        .collect()
}

/// A Python circuit that measures 1 if its `/tmp` holds another run's mark, and leaves its own.
const MARKS_TMP_PY: &str = "import glob, os\nfrom qiskit import QuantumCircuit\n\nseen = glob.glob('/tmp/qrun-mark-*')\nopen(f'/tmp/qrun-mark-{os.getpid()}', 'w').close()\ncircuit = QuantumCircuit(1, 1)\nif seen:\n    circuit.x(0)\ncircuit.measure(0, 0)\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_pool_serves_each_run_from_a_fresh_sandbox_and_leaves_nothing_behind() {
    let Some(python) = python() else { return };
    // A runner copy of this test's own, so the pool's processes are told apart on the host.
    let dir = tempfile::tempdir().unwrap();
    crate::helpers::open_to_programs(dir.path());
    let runner = dir.path().join("qiskit_runner.py");
    std::fs::copy(runners().join("qiskit_runner.py"), &runner).unwrap();
    let (mut warm, cold) = (aer_backend(&python), aer_backend(&python));
    if let BackendConfig::Command {
        name,
        args,
        warm: size,
        sandbox,
        ..
    } = &mut warm
    {
        *name = "aer-warm".into();
        args[0] = runner.display().to_string();
        *size = 2;
        sandbox.read_only_paths.push(dir.path().to_owned());
    }
    let adjust = |config: &mut qrun::config::Config| {
        executing(config);
        config.backends.extend([warm, cold]);
    };
    let app = TestApp::spawn_with(TestDb::sqlite(), adjust, Hooks::default()).await;
    let (_, token) = app.user("alice").await;
    let minute = std::time::Duration::from_secs(60);
    crate::helpers::wait_until(minute, "two warm programs", || {
        let waiting = processes_running(&runner).len() == 2;
        async move { waiting }
    })
    .await;
    let before = processes_running(&runner);

    // Each run finds a /tmp no other run wrote to.
    app.upload_as(&token, "marks", "public", MARKS_TMP_PY, "python")
        .await;
    for _ in 0..3 {
        let run = app
            .submit_run(&token, "alice/marks", ("command", "aer-warm"), 20)
            .await;
        let run = app.wait_terminal(run).await;
        assert_eq!(counts(&run), [("0".to_owned(), 20)], "{run}");
    }
    // The used programs are gone and replaced: two wait, not the first two.
    // (Each of the three runs used one program: none of the first two waits still.)
    crate::helpers::wait_until(minute, "two new warm programs", || {
        let after = processes_running(&runner);
        let replaced = after.len() == 2 && after.is_disjoint(&before);
        async move { replaced }
    })
    .await;

    // The same seed gives a warm run the counts of a cold one.
    app.upload_as(&token, "rotation", "public", ROTATION, "openqasm3")
        .await;
    let mut same = Vec::new();
    for backend in ["aer-warm", "aer"] {
        let mut body = run_body("alice/rotation", ("command", backend), 500);
        body["parameters"] = json!({"theta": 1.2});
        body["seed"] = json!(99);
        let run = app.api().submit(&token, &body, &[]).await.unwrap();
        let run = app.wait_terminal(run["id"].as_str().unwrap()).await;
        assert_eq!(run["status"], "completed", "{run}");
        same.push(run["results"]["counts"].clone());
    }
    assert_eq!(same[0], same[1]);

    // Shutdown kills the waiting programs.
    app.stop().await;
    assert_eq!(processes_running(&runner), Default::default());
}

/// The message of `run`, which the runner refused: failed with `validation_error` while
/// preparing.
fn refused_by_the_runner(run: &Value) -> &str {
    assert_eq!(
        (&run["status"], &run["error_class"], &run["error_stage"]),
        (
            &json!("failed"),
            &json!("validation_error"),
            &json!("prepare")
        ),
        "{run}"
    );
    run["error_message"].as_str().unwrap()
}
