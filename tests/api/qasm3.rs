//! OpenQASM 3 through the API (docs/DESIGN.md §12): uploads validated like version 2, runs binding
//! `input` parameters, a parameter sweep, and every bad parameter refused with its code.

use serde_json::{Value, json};

use crate::helpers::{SIMULATOR, TestApp, TestDb, circuit_body, executing, run_body};
use crate::on_both_databases;

/// `theta` rotates one qubit about Y; `c` reads it. P(1) = sin²(θ/2).
pub(crate) const ROTATION: &str = "OPENQASM 3.0;\ninclude \"stdgates.inc\";\ninput float[64] theta;\nqubit q;\nbit c;\nry(theta) q;\nc = measure q;\n";

/// What `qiskit.qasm3.dumps` writes for a Bell pair with a conditional.
const DUMPED: &str = "OPENQASM 3.0;\ninclude \"stdgates.inc\";\nbit[2] c;\nbit[1] flag;\nqubit[2] q;\nh q[0];\ncx q[0], q[1];\nc[0] = measure q[0];\nc[1] = measure q[1];\nif (c == 3) {\n  x q[0];\n}\nflag[0] = measure q[0];\n";

/// `POST /api/circuits` of an OpenQASM 3 `source`, public, as `token`.
async fn upload(app: &TestApp, token: &str, name: &str, source: &str) -> reqwest::Response {
    let body = circuit_body(name, "public", "openqasm3", source);
    app.api().post_circuit(token, &body).await.unwrap()
}

/// `POST /api/runs` of `circuit` on the simulator, 400 shots, binding `parameters`.
async fn submit(app: &TestApp, token: &str, circuit: &str, parameters: Value) -> reqwest::Response {
    let mut body = run_body(circuit, SIMULATOR, 400);
    body["parameters"] = parameters;
    app.api().post_run(token, &body, &[]).await.unwrap()
}

async fn openqasm3_runs_bind_their_parameters(db: TestDb) {
    let app = TestApp::spawn_with(db, executing, qrun::app::Hooks::default()).await;
    let (_, token) = app.user("alice").await;
    assert_eq!(
        upload(&app, &token, "rotation", ROTATION).await.status(),
        201
    );
    assert_eq!(upload(&app, &token, "dumped", DUMPED).await.status(), 201);

    // A sweep: θ = 0 gives all 0, θ = π all 1, θ = π/2 both.
    let mut sweep = Vec::new();
    for theta in [0.0, std::f64::consts::FRAC_PI_2, std::f64::consts::PI] {
        let response = submit(&app, &token, "alice/rotation", json!({"theta": theta})).await;
        assert_eq!(response.status(), 201);
        let run: Value = response.json().await.unwrap();
        assert_eq!(run["parameters"], json!({"theta": theta}));
        sweep.push(run["id"].as_str().unwrap().to_owned());
    }
    let counts = |run: &Value| run["results"]["counts"].as_object().unwrap().clone();
    let zero = app.wait_terminal(&sweep[0]).await;
    assert_eq!(
        counts(&zero),
        json!({"0": 400}).as_object().unwrap().clone()
    );
    let half = counts(&app.wait_terminal(&sweep[1]).await);
    assert_eq!(half.len(), 2, "{half:?}");
    let ones = half["1"].as_u64().unwrap();
    assert!((120..=280).contains(&ones), "{half:?}");
    let one = app.wait_terminal(&sweep[2]).await;
    assert_eq!(counts(&one), json!({"1": 400}).as_object().unwrap().clone());
    assert_eq!(one["parameters"], json!({"theta": std::f64::consts::PI}));

    // The audit's run.requested carries them too.
    let audit = app.get_json(&format!("/api/runs/{}/audit", sweep[2])).await;
    let requested = &audit["entries"].as_array().unwrap()[0];
    assert_eq!(requested["action"], "run.requested", "{audit}");
    assert_eq!(
        requested["metadata"]["parameters"],
        json!({"theta": std::f64::consts::PI})
    );

    // What Qiskit dumps: keys as §5 (the last declared register leftmost).
    let response = submit(&app, &token, "alice/dumped", json!({})).await;
    let run = app
        .wait_terminal(
            response.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap(),
        )
        .await;
    let keys: Vec<&String> = run["results"]["counts"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    for key in &keys {
        assert!(["0 00", "0 11"].contains(&key.as_str()), "{keys:?}");
    }
    app.stop().await;
}

async fn bad_parameters_and_sources_are_refused_with_their_code(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, token) = app.user("alice").await;
    app.create_circuit(&token, "bell", "public").await;
    assert_eq!(
        upload(&app, &token, "rotation", ROTATION).await.status(),
        201
    );
    for (circuit, parameters, code, names) in [
        ("alice/rotation", json!({}), "invalid_parameters", "theta"),
        (
            "alice/rotation",
            json!({"theta": 1.0, "phi": 2.0}),
            "invalid_parameters",
            "phi",
        ),
        (
            "alice/rotation",
            json!({"theta": "half"}),
            "invalid_parameters",
            "theta",
        ),
        (
            "alice/rotation",
            json!({"theta": null}),
            "invalid_parameters",
            "theta",
        ),
        (
            "alice/bell",
            json!({"theta": 1.0}),
            "invalid_parameters",
            "theta",
        ),
    ] {
        let response = submit(&app, &token, circuit, parameters.clone()).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some(code)),
            "{parameters}: {body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(names), "{parameters}: {message}");
    }
    // A malformed OpenQASM 3 source: 400 with its position, like version 2.
    let response = upload(
        &app,
        &token,
        "broken",
        "OPENQASM 3.0;\nqubit q;\nwhile (true) { }\n",
    )
    .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_source");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("3:1:"),
        "{body}"
    );
    assert_eq!(app.runs_created().await, 0);
    app.stop().await;
}

on_both_databases!(
    openqasm3_runs_bind_their_parameters,
    bad_parameters_and_sources_are_refused_with_their_code
);
