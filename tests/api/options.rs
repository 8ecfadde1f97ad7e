//! Run options (issue 30; docs/DESIGN.md §5): `options` of a submission, by Qiskit Aer's names.
//! The built-in simulator takes `method` among its own methods; a command backend the names
//! its configuration lists, passed to its program in the job's `"options"`; anything else is a
//! 400 `invalid_options` naming the option and what the backend takes, creating nothing. The
//! options are stored with the run and shown with it. (Aer applying `method` and
//! `noise_model` is `clients/python/tests/test_aer.py`'s.)

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
             takes: method",
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
    assert_eq!(
        app.store()
            .run_counts()
            .await
            .unwrap()
            .values()
            .sum::<u64>(),
        0,
        "nothing created"
    );

    let backends = app.api().get_json("/api/backends").await.unwrap();
    let listed = |name: &str| {
        backends["backends"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == name)
            .map(|b| b["options"].clone())
    };
    assert_eq!(listed("statevector"), Some(json!(["method"])), "{backends}");
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
    options_a_backend_does_not_take_are_400_invalid_options,
    a_command_backend_gets_its_options_in_the_job
);
