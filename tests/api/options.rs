//! Run options (issue 30; docs/DESIGN.md §5): `options` of a submission, by Qiskit Aer's names.
//! The built-in simulator takes `method` among its own methods and `precision` (`double`,
//! `single`); a command backend the names
//! its configuration lists, passed to its program in the job's `"options"`; anything else is a
//! 400 `invalid_options` naming the option and what the backend takes, creating nothing. The
//! options are stored with the run and shown with it. (Aer applying `method`, `precision` and
//! `noise_model` is `clients/python/tests/test_aer.py`'s and `runners/tests`'.)

use serde_json::{Value, json};

use crate::helpers::{BELL, SIMULATOR, TestApp, TestDb, executing, run_body};
use crate::on_both_databases;

/// A Bell pair with a `t` on line 6 (a phase that changes no count): not Clifford.
const BELL_T: &str = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[2];\ncreg c[2];\nh q[0];\nt q[0];\ncx q[0],q[1];\nmeasure q -> c;\n";

/// Submits 100 shots of `circuit` on `backend` with `options`: the status and the body.
async fn submit(
    app: &TestApp,
    token: &str,
    circuit: &str,
    backend: (&str, &str),
    options: Value,
) -> (u16, Value) {
    let mut body = run_body(circuit, backend, 100);
    body["options"] = options;
    let response = app.api().post_run(token, &body, &[]).await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// `method` pins the simulator's method for one run (a Bell pair, Clifford, on the state
/// vector instead of the stabilizer the backend would choose), is stored and shown with the
/// run; `automatic` is the backend's own choice.
async fn the_method_option_chooses_the_simulators_method(db: TestDb) {
    let app = TestApp::spawn_with(db, executing, qrun::app::Hooks::default()).await;
    let (_, token) = app.user("alice").await;
    app.upload(&token, "bell", "public", BELL).await;
    for (method, ran) in [
        ("statevector", "statevector"),
        ("stabilizer", "stabilizer"),
        ("automatic", "stabilizer"),
    ] {
        let options = json!({"method": method});
        let (status, run) = submit(&app, &token, "alice/bell", SIMULATOR, options.clone()).await;
        assert_eq!(status, 201, "{method}: {run}");
        assert_eq!(run["options"], options, "{run}");
        let run = app.wait_terminal(run["id"].as_str().unwrap()).await;
        assert_eq!(run["status"], "completed", "{method}: {run}");
        assert_eq!(run["results"]["method"], ran, "{method}: {run}");
        assert_eq!(run["options"], options, "stored: {run}");
    }
    let (status, run) = submit(&app, &token, "alice/bell", SIMULATOR, json!({})).await;
    assert_eq!((status, &run["options"]), (201, &json!({})), "{run}");
    app.stop().await;
}

/// An X, a `t` (a phase) and a CNOT: `11` every shot, on the state vector (not Clifford).
const ONES_T: &str = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[2];\ncreg c[2];\nx q[0];\nt q[0];\ncx q[0],q[1];\nmeasure q -> c;\n";

/// 30 qubits with a `t`: wider than the default simulator's state vector (24 qubits).
const WIDE_T: &str = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[30];\ncreg c[30];\nh q;\nt q[3];\nmeasure q -> c;\n";

/// `precision` (Aer's) chooses the state vector's: `single` runs it in f32 and `double` (the
/// default) in f64, with the same counts where every shot's outcome is certain; the results
/// say which ran (none for the stabilizer, which is exact); the option is stored and shown with
/// the run, and a circuit too wide for the state vector it pins is
/// refused naming the size of the state in the precision asked for. Any other value is 400 `invalid_options` naming what the
/// simulator takes, creating nothing.
async fn the_precision_option_chooses_the_state_vectors_precision(db: TestDb) {
    let app = TestApp::spawn_with(db, executing, qrun::app::Hooks::default()).await;
    let (_, token) = app.user("alice").await;
    app.upload(&token, "ones-t", "public", ONES_T).await;
    app.upload(&token, "wide-t", "public", WIDE_T).await;
    for precision in ["single", "double"] {
        let options = json!({"precision": precision});
        let (status, run) = submit(&app, &token, "alice/ones-t", SIMULATOR, options.clone()).await;
        assert_eq!(status, 201, "{precision}: {run}");
        let run = app.wait_terminal(run["id"].as_str().unwrap()).await;
        assert_eq!(run["status"], "completed", "{precision}: {run}");
        assert_eq!(run["results"]["counts"], json!({"11": 100}), "{run}");
        assert_eq!(run["results"]["method"], "statevector", "{run}");
        assert_eq!(run["results"]["precision"], precision, "ran in it: {run}");
        assert_eq!(run["options"], options, "stored: {run}");
    }
    // Without the option: double; on the stabilizer (a Bell pair): none.
    app.upload(&token, "bell", "public", BELL).await;
    for (circuit, precision) in [
        ("alice/ones-t", json!("double")),
        ("alice/bell", Value::Null),
    ] {
        let (status, run) = submit(&app, &token, circuit, SIMULATOR, json!({})).await;
        assert_eq!(status, 201, "{run}");
        let run = app.wait_terminal(run["id"].as_str().unwrap()).await;
        assert_eq!(run["results"]["precision"], precision, "{circuit}: {run}");
    }
    let runs = app.runs_created().await;
    for (options, says) in [
        (
            json!({"method": "statevector", "precision": "single"}),
            "circuit uses 30 qubits; this backend allows at most 24 (a single-precision state \
             vector of 24 qubits takes 128 MiB)",
        ),
        (
            json!({"method": "statevector", "precision": "double"}),
            "circuit uses 30 qubits; this backend allows at most 24 (a state vector of 24 \
             qubits takes 256 MiB)",
        ),
    ] {
        let (status, body) = submit(&app, &token, "alice/wide-t", SIMULATOR, options).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["code"], "resource_limit", "{body}");
        let said = body["error"]["message"].as_str().unwrap();
        assert!(said.contains(says), "{said}");
    }
    for value in [json!("half"), json!(32), json!(null), json!("Single")] {
        let options = json!({"precision": value});
        let (status, body) = submit(&app, &token, "alice/ones-t", SIMULATOR, options).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid_options")),
            "{value}: {body}"
        );
        assert_eq!(
            body["error"]["message"],
            format!(
                "option `precision` is {value}; backend `simulator/statevector` takes: double, \
                 single"
            ),
            "{body}"
        );
    }
    assert_eq!(
        app.runs_created().await,
        runs,
        "nothing refused was created"
    );
    app.stop().await;
}

/// Options a backend does not take are refused with the option and what it takes, and
/// nothing is created: an unknown name, an Aer option with no meaning on the simulator, a
/// method that is not one, and a `t` on the stabilizer the option pinned (the method's own
/// refusal, with its line). `GET /api/backends` lists each backend's options.
async fn options_a_backend_does_not_take_are_400_invalid_options(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let backend = crate::helpers::sleepy_backend(dir.path(), "sleepy", 0.0);
    let app = TestApp::spawn_with(
        db,
        |config| config.backends.push(backend),
        qrun::app::Hooks::default(),
    )
    .await;
    let (_, token) = app.user("alice").await;
    app.upload(&token, "bell", "public", BELL).await;
    app.upload(&token, "bell-t", "public", BELL_T).await;
    let sleepy = ("command", "sleepy");
    for (circuit, on, options, code, message) in [
        (
            "alice/bell",
            SIMULATOR,
            json!({"noise_model": {}}),
            "invalid_options",
            "backend `simulator/statevector` does not take the option `noise_model`; it \
             takes: method, precision",
        ),
        (
            "alice/bell",
            SIMULATOR,
            json!({"method": "density_matrix"}),
            "invalid_options",
            "option `method` is \"density_matrix\"; backend `simulator/statevector` runs: \
             automatic, statevector, stabilizer",
        ),
        (
            "alice/bell",
            SIMULATOR,
            json!({"method": 2}),
            "invalid_options",
            "option `method` is 2; backend `simulator/statevector` runs: automatic, \
             statevector, stabilizer",
        ),
        (
            "alice/bell",
            sleepy,
            json!({"method": "statevector"}),
            "invalid_options",
            "backend `command/sleepy` does not take the option `method`; it takes: none",
        ),
        (
            "alice/bell-t",
            SIMULATOR,
            json!({"method": "stabilizer"}),
            "invalid_source",
            "6:1: 't' is not a Clifford gate; this backend runs only Clifford circuits",
        ),
    ] {
        let (status, body) = submit(&app, &token, circuit, on, options.clone()).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some(code)),
            "{options}: {body}"
        );
        let said = body["error"]["message"].as_str().unwrap();
        assert!(said.starts_with(message), "{options}: {said}");
    }
    // `options` must be an object.
    let (status, body) = submit(&app, &token, "alice/bell", SIMULATOR, json!(["method"])).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(app.runs_created().await, 0, "nothing created");

    let backends = app.api().get_json("/api/backends").await.unwrap();
    let listed = |name: &str| {
        backends["backends"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == name)
            .map(|b| b["options"].clone())
    };
    assert_eq!(
        listed("statevector"),
        Some(json!(["method", "precision"])),
        "{backends}"
    );
    assert_eq!(listed("sleepy"), Some(json!([])), "{backends}");
    app.stop().await;
}

/// A command backend that lists options gets them in the job's `"options"`: its program
/// answers only when the JSON it read carries them.
async fn a_command_backend_gets_its_options_in_the_job(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    crate::helpers::open_to_programs(dir.path());
    let script = dir.path().join("echo_options.py");
    std::fs::write(
        &script,
        "#!/usr/bin/python3\nimport json, sys\njob = json.load(sys.stdin)\n\
         assert job['options'] == {'method': 'density_matrix', 'noise_model': {'errors': []}}, job\n\
         print(json.dumps({'counts': {'00': job['shots']}}))\n",
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut backend = crate::helpers::sleepy_backend(dir.path(), "aer", 0.0);
    if let qrun::config::BackendConfig::Command {
        program, options, ..
    } = &mut backend
    {
        *program = script;
        *options = vec!["method".into(), "noise_model".into()];
    }
    let app = TestApp::spawn_with(
        db,
        |config| {
            executing(config);
            config.backends.push(backend);
        },
        qrun::app::Hooks::default(),
    )
    .await;
    let (_, token) = app.user("alice").await;
    app.upload(&token, "bell", "public", BELL).await;
    let options = json!({"method": "density_matrix", "noise_model": {"errors": []}});
    let (status, run) = submit(&app, &token, "alice/bell", ("command", "aer"), options).await;
    assert_eq!(status, 201, "{run}");
    let run = app.wait_terminal(run["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["results"]["counts"], json!({"00": 100}), "{run}");
    app.stop().await;
}

on_both_databases!(
    the_method_option_chooses_the_simulators_method,
    the_precision_option_chooses_the_state_vectors_precision,
    options_a_backend_does_not_take_are_400_invalid_options,
    a_command_backend_gets_its_options_in_the_job
);
