//! The simulator's two methods through the service (docs/DESIGN.md §5, issue 29): the method
//! chosen per run and shown in its results, `GET /api/backends` per method, a backend that
//! pins one, and what no method of a backend can run refused at submission with the reason
//! (nothing created, the service unaffected).

use qrun::config::{BackendConfig, SimulationMethod};
use serde_json::{Value, json};

use crate::helpers::{SIMULATOR, TestApp, TestDb, circuit_body, executing, run_body};
use crate::on_both_databases;

/// GHZ on `n` qubits (Clifford: h and a cx chain), every qubit measured.
fn ghz(n: usize) -> String {
    let mut source =
        format!("OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[{n}];\ncreg c[{n}];\nh q[0];\n");
    for i in 1..n {
        source.push_str(&format!("cx q[{}],q[{i}];\n", i - 1));
    }
    source.push_str("measure q -> c;\n");
    source
}

/// 30 qubits in superposition and one `t` on line 6: not Clifford, too wide for a 24-qubit
/// state vector.
const WIDE_T: &str = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[30];\ncreg c[30];\nh q;\nt q[3];\nmeasure q -> c;\n";

/// A Bell pair with a `t` on line 6 (a phase that changes no count): not Clifford.
const BELL_T: &str = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[2];\ncreg c[2];\nh q[0];\nt q[0];\ncx q[0],q[1];\nmeasure q -> c;\n";

/// `n` is an `int`, `k` a `uint`: they repeat an x flip.
const COUNTED: &str = "OPENQASM 3.0;\ninclude \"stdgates.inc\";\ninput int n;\ninput uint k;\nqubit q;\nbit c;\nfor int i in [1:n] { x q; }\nfor int i in [1:k] { x q; }\nc = measure q;\n";

/// A simulator backend named `name` with these qubit limits and method.
fn simulator(
    name: &str,
    max_qubits: u32,
    max_stabilizer_qubits: u32,
    method: SimulationMethod,
) -> BackendConfig {
    BackendConfig::Simulator {
        name: name.into(),
        formats: vec!["openqasm2".into(), "openqasm3".into()],
        max_qubits,
        max_stabilizer_qubits,
        method,
        max_shots: 1000,
        max_gates: 100_000,
        max_source_bytes: 1_000_000,
        timeout_s: 60,
    }
}

async fn upload(app: &TestApp, token: &str, name: &str, format: &str, source: &str) {
    let body = circuit_body(name, "public", format, source);
    let response = app.api().post_circuit(token, &body).await.unwrap();
    assert_eq!(response.status(), 201, "{name}");
}

/// Submits `circuit` to `backend` (`type/name`) with `parameters`: the status and the body.
async fn submit(
    app: &TestApp,
    token: &str,
    circuit: &str,
    backend: (&str, &str),
    parameters: Value,
) -> (u16, Value) {
    let mut body = run_body(circuit, backend, 100);
    body["parameters"] = parameters;
    let response = app.api().post_run(token, &body, &[]).await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// A Clifford circuit of 1,000 qubits runs end to end on the stabilizer method, a Bell pair
/// with a `t` on the state vector, and each run's results say which.
async fn each_run_says_which_method_ran_it(db: TestDb) {
    let app = TestApp::spawn_with(db, executing, qrun::app::Hooks::default()).await;
    let (_, token) = app.user("alice").await;
    upload(&app, &token, "ghz1000", "openqasm2", &ghz(1000)).await;
    upload(&app, &token, "bell-t", "openqasm2", BELL_T).await;

    let (status, run) = submit(&app, &token, "alice/ghz1000", SIMULATOR, json!({})).await;
    assert_eq!(status, 201, "{run}");
    let run = app.wait_terminal(run["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["results"]["method"], "stabilizer");
    let counts = run["results"]["counts"].as_object().unwrap();
    let (zeros, ones) = ("0".repeat(1000), "1".repeat(1000));
    assert!(
        counts.keys().all(|k| *k == zeros || *k == ones) && counts.len() == 2,
        "GHZ outcomes only: {:?}",
        counts.keys().map(|k| &k[..8]).collect::<Vec<_>>()
    );
    assert_eq!(
        counts.values().map(|n| n.as_u64().unwrap()).sum::<u64>(),
        100
    );

    let (status, run) = submit(&app, &token, "alice/bell-t", SIMULATOR, json!({})).await;
    assert_eq!(status, 201, "{run}");
    let run = app.wait_terminal(run["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["results"]["method"], "statevector");
    app.stop().await;
}

/// What no method of the backend can run is a 400 at submission with the reason and its
/// line, and creates nothing: a non-Clifford circuit too wide for the state vector, a
/// Clifford circuit past the stabilizer's limit, and on backends pinning a method, a wide
/// Clifford circuit on the state vector and a `t` on the stabilizer. The same circuits are
/// accepted where a method fits.
async fn what_no_method_runs_is_refused_at_submission(db: TestDb) {
    let app = TestApp::spawn_with(
        db,
        |config| {
            config.backends.extend([
                simulator("sv", 24, 500, SimulationMethod::Statevector),
                simulator("clifford", 24, 500, SimulationMethod::Stabilizer),
                simulator("small", 24, 500, SimulationMethod::Automatic),
            ]);
        },
        qrun::app::Hooks::default(),
    )
    .await;
    let (_, token) = app.user("alice").await;
    upload(&app, &token, "wide-t", "openqasm2", WIDE_T).await;
    upload(&app, &token, "ghz1000", "openqasm2", &ghz(1000)).await;
    upload(&app, &token, "ghz100", "openqasm2", &ghz(100)).await;
    upload(&app, &token, "bell-t", "openqasm2", BELL_T).await;
    let backend = |name: &'static str| ("simulator", name);

    for (circuit, on, code, says) in [
        (
            "alice/wide-t",
            SIMULATOR,
            "resource_limit",
            "6:1: 't' is not a Clifford gate, so this 30-qubit circuit needs the state vector, \
             which this backend runs up to 24 qubits; a Clifford circuit",
        ),
        (
            "alice/ghz1000",
            backend("small"),
            "resource_limit",
            "1000 qubits",
        ),
        (
            "alice/ghz100",
            backend("sv"),
            "resource_limit",
            "100 qubits",
        ),
        (
            "alice/bell-t",
            backend("clifford"),
            "invalid_source",
            "6:1: 't' is not a Clifford gate; this backend runs only Clifford circuits",
        ),
    ] {
        let (status, body) = submit(&app, &token, circuit, on, json!({})).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some(code)),
            "{circuit} on {on:?}: {body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{circuit} on {on:?}: {message}");
    }
    assert_eq!(app.runs_created().await, 0, "nothing refused was created");

    for (circuit, on) in [
        ("alice/ghz1000", SIMULATOR),
        ("alice/ghz100", backend("clifford")),
        ("alice/ghz100", backend("small")),
        ("alice/bell-t", backend("sv")),
    ] {
        let (status, body) = submit(&app, &token, circuit, on, json!({})).await;
        assert_eq!(status, 201, "{circuit} on {on:?}: {body}");
    }
    app.stop().await;
}

/// `GET /api/backends` gives each simulator's methods with their widest circuit, and
/// `max_qubits` as the widest of them; a pinned backend lists its one method.
#[tokio::test]
async fn backends_report_their_widest_circuit_per_method() {
    let app = TestApp::spawn_with(
        TestDb::sqlite(),
        |config| {
            config
                .backends
                .push(simulator("sv", 20, 500, SimulationMethod::Statevector))
        },
        qrun::app::Hooks::default(),
    )
    .await;
    let list = app.get_json("/api/backends").await;
    let backend = |name: &str| {
        list["backends"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == name)
            .unwrap()
            .clone()
    };
    let default = backend("statevector");
    assert_eq!(
        default["methods"],
        json!([
            {"name": "statevector", "max_qubits": 24},
            {"name": "stabilizer", "max_qubits": 10000},
        ])
    );
    assert_eq!(default["max_qubits"], 10000);
    let pinned = backend("sv");
    assert_eq!(
        pinned["methods"],
        json!([{"name": "statevector", "max_qubits": 20}])
    );
    assert_eq!(pinned["max_qubits"], 20);
    app.stop().await;
}

/// A value its `input`'s type does not take is 400 `invalid_parameters` naming it (an `int`
/// bound to 2.5, a `uint` to -1), where the run used to be created and then fail; in range,
/// the run is created.
async fn a_parameter_its_type_does_not_take_is_refused_at_submission(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, token) = app.user("alice").await;
    upload(&app, &token, "counted", "openqasm3", COUNTED).await;
    for (parameters, names) in [
        (json!({"n": 2.5, "k": 1}), "'n'"),
        (json!({"n": 2, "k": -1}), "'k'"),
    ] {
        let (status, body) =
            submit(&app, &token, "alice/counted", SIMULATOR, parameters.clone()).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid_parameters")),
            "{parameters}: {body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(names), "{parameters}: {message}");
    }
    assert_eq!(app.runs_created().await, 0);
    let (status, body) = submit(
        &app,
        &token,
        "alice/counted",
        SIMULATOR,
        json!({"n": 2, "k": 3}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    app.stop().await;
}

on_both_databases!(
    each_run_says_which_method_ran_it,
    what_no_method_runs_is_refused_at_submission,
    a_parameter_its_type_does_not_take_is_refused_at_submission,
);
