//! Per-shot memory through the API (issue 30, docs/DESIGN.md §2, §6): a transpiled circuit (on
//! physical qubits) run with `"memory": true`, its shots paged in order and tallying to its
//! counts; `date` and `time_taken` in its results; the memory bound at submission, on the
//! simulator and on a command backend (the circuit's bits as admission lowered it); a run
//! without memory, or not completed yet, refused with its code.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::helpers::{
    SIMULATOR, TestApp, TestDb, circuit_body, executing, run_body, sleepy_backend,
};
use crate::on_both_databases;

/// What `transpile(qc, backend, initial_layout=[4, 1])` + `qasm3.dumps` writes for a Bell
/// pair with a third, flipped bit: physical qubits, no qubit declaration.
const TRANSPILED: &str = "OPENQASM 3.0;\ninclude \"stdgates.inc\";\nbit[2] c;\nbit[1] f;\nrz(pi/2) $4;\nsx $4;\nrz(pi/2) $4;\ncx $4, $1;\nx $7;\nc[0] = measure $4;\nc[1] = measure $1;\nf[0] = measure $7;\n";

async fn call(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let response = testkit::http()
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("answered");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn submit(app: &TestApp, token: &str, body: &Value) -> (u16, Value) {
    let response = app.api().post_run(token, body, &[]).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn a_run_with_memory_serves_every_shot_in_order(db: TestDb) {
    let app = TestApp::spawn_with(
        db,
        |config| {
            executing(config);
            config.executor.max_memory_bits = 2000;
        },
        qrun::app::Hooks::default(),
    )
    .await;
    let (_, token) = app.user("alice").await;
    let body = circuit_body("transpiled", "public", "openqasm3", TRANSPILED);
    app.api().upload(&token, &body).await.unwrap();

    let mut body = run_body("alice/transpiled", SIMULATOR, 600);
    body["memory"] = json!(true);
    body["seed"] = json!(11);
    let (status, run) = submit(&app, &token, &body).await;
    assert_eq!(status, 201, "{run}");
    assert_eq!(run["memory"], true);
    let id = run["id"].as_str().unwrap().to_owned();
    let run = app.wait_terminal(&id).await;
    assert_eq!(run["status"], "completed", "{run}");
    let results = &run["results"];
    // Qiskit's Result.date and time_taken: the completion, and its start to its completion.
    assert_eq!(results["date"], run["completed_at"]);
    let time_taken = results["time_taken"].as_f64().unwrap();
    assert!((0.0..60.0).contains(&time_taken), "{results}");

    // Pages of 250: 0..250, 250..500, 500..600.
    let mut memory = Vec::new();
    let mut offset = Some(0);
    while let Some(at) = offset {
        let (status, page) = call(
            &app,
            &token,
            &format!("/api/runs/{id}/memory?offset={at}&limit=250"),
        )
        .await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(
            (page["offset"].as_u64(), page["shots"].as_u64()),
            (Some(at), Some(600))
        );
        memory.extend(page["memory"].as_array().unwrap().iter().cloned());
        offset = page["next_offset"].as_u64();
    }
    assert_eq!(memory.len(), 600);
    let mut tally: BTreeMap<String, u64> = BTreeMap::new();
    for key in &memory {
        *tally.entry(key.as_str().unwrap().to_owned()).or_default() += 1;
    }
    let counts: BTreeMap<String, u64> = serde_json::from_value(results["counts"].clone()).unwrap();
    assert_eq!(tally, counts, "the shots tally to the counts");
    // Keyed as the counts: the flipped bit's register leftmost, then the Bell pair's.
    assert_eq!(counts.keys().collect::<Vec<_>>(), ["1 00", "1 11"]);
    // In shot order, not the counts' order: both outcomes among the first 100 shots.
    let first: std::collections::BTreeSet<&str> =
        memory[..100].iter().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(first.len(), 2, "{first:?}");
    // The whole of it by default, anonymously too (a public circuit's run).
    let all = app.get_json(&format!("/api/runs/{id}/memory")).await;
    assert_eq!(all["memory"].as_array().unwrap(), &memory);
    assert_eq!(all["next_offset"], Value::Null);
    // Past the end: an empty page.
    let (status, end) = call(&app, &token, &format!("/api/runs/{id}/memory?offset=600")).await;
    assert_eq!((status, end["memory"].as_array().unwrap().len()), (200, 0));
    for (query, code) in [
        ("limit=0", "invalid_query"),
        ("limit=10001", "invalid_query"),
        ("offset=-1", "invalid_query"),
        ("page=2", "invalid_query"),
    ] {
        let (status, error) = call(&app, &token, &format!("/api/runs/{id}/memory?{query}")).await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (400, Some(code)),
            "{query}"
        );
    }

    // A run without memory has none to serve.
    let (status, plain) = submit(&app, &token, &run_body("alice/transpiled", SIMULATOR, 10)).await;
    assert_eq!((status, &plain["memory"]), (201, &json!(false)));
    let plain_id = plain["id"].as_str().unwrap();
    app.wait_terminal(plain_id).await;
    let (status, error) = call(&app, &token, &format!("/api/runs/{plain_id}/memory")).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (404, Some("not_found"))
    );

    // 667 shots × 3 bits is past the 2000 of executor.max_memory_bits.
    assert_memory_bound_of_three_bits(&app, &token, "alice/transpiled", SIMULATOR).await;
}

/// With `executor.max_memory_bits = 2000`, per-shot memory of a 3-bit `circuit` on
/// `backend` is refused at 667 shots (2001 bits) with the reason, and taken at 666.
async fn assert_memory_bound_of_three_bits(
    app: &TestApp,
    token: &str,
    circuit: &str,
    backend: (&str, &str),
) {
    let mut large = run_body(circuit, backend, 667);
    large["memory"] = json!(true);
    let (status, error) = submit(app, token, &large).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["code"], "memory_too_large");
    assert_eq!(
        error["error"]["message"],
        "per-shot memory of 667 shots × 3 classical bits is 2001 bits; this service keeps at \
         most 2000 (executor.max_memory_bits)"
    );
    large["shots"] = json!(666);
    assert_eq!(submit(app, token, &large).await.0, 201);
}

/// Three classical bits in OpenQASM 2 (two registers), for a command backend.
const THREE_BITS_QASM2: &str = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[2];\ncreg c[2];\ncreg f[1];\nh q[0];\nmeasure q -> c;\nmeasure q[1] -> f[0];\n";

async fn a_command_backends_memory_bound_counts_the_circuits_bits(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let sleepy = sleepy_backend(dir.path(), "sleepy", 0.0);
    let adjust = |config: &mut qrun::config::Config| {
        config.backends.push(sleepy);
        config.executor.max_memory_bits = 2000;
    };
    let app = TestApp::spawn_with(db, adjust, qrun::app::Hooks::default()).await;
    let (_, token) = app.user("alice").await;
    let body = circuit_body("three", "private", "openqasm2", THREE_BITS_QASM2);
    app.api().upload(&token, &body).await.unwrap();
    let sleepy = ("command", "sleepy");

    // Without memory, no bound (and its program is not lowered at submission).
    assert_eq!(
        submit(&app, &token, &run_body("alice/three", sleepy, 5000))
            .await
            .0,
        201
    );
    assert_memory_bound_of_three_bits(&app, &token, "alice/three", sleepy).await;
}

async fn memory_of_a_run_not_completed_is_409(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, token) = app.user("alice").await;
    let body = circuit_body("transpiled", "public", "openqasm3", TRANSPILED);
    app.api().upload(&token, &body).await.unwrap();
    let mut body = run_body("alice/transpiled", SIMULATOR, 10);
    body["memory"] = json!(true);
    let (status, run) = submit(&app, &token, &body).await;
    assert_eq!(status, 201);
    let id = run["id"].as_str().unwrap();
    let (status, error) = call(&app, &token, &format!("/api/runs/{id}/memory")).await;
    assert_eq!(status, 409);
    assert_eq!(error["error"]["code"], "run_not_completed");
    assert_eq!(
        error["error"]["message"],
        "the run is pending: a run's memory exists once it has completed"
    );
}

on_both_databases!(
    a_run_with_memory_serves_every_shot_in_order,
    a_command_backends_memory_bound_counts_the_circuits_bits,
    memory_of_a_run_not_completed_is_409,
);
