//! `qpy` sources (docs/DESIGN.md §12): base64 of a QPY file, checked at upload for the
//! encoding and QPY's magic, refused by the built-in simulator at submission (only a command
//! backend's runner loads QPY), and shown in the console as what they are.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::helpers::{SIMULATOR, TestApp, TestDb, circuit_body, run_body};
use crate::on_both_databases;

/// The header of a QPY file as Qiskit 2.6.2's `qpy.dump` writes it (magic, QPY version 18,
/// Qiskit 2.6.2, one program, symbolic encoding `p`): the server reads no further. 19 bytes,
/// so its base64 ends in `=` padding.
const QPY_HEADER: &[u8] = b"QISKIT\x12\x02\x06\x02\x00\x00\x00\x00\x00\x00\x00\x01p";

async fn qpy_sources_upload_as_base64_and_the_simulator_refuses_them(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, token) = app.user("alice").await;
    let (api, token) = (app.api(), token.as_str());
    let upload = |name: &'static str, source: String| {
        let (api, body) = (&api, circuit_body(name, "public", "qpy", &source));
        async move { api.post_circuit(token, &body).await.unwrap() }
    };

    for (name, source) in [
        ("spaced", format!("{}\n", STANDARD.encode(QPY_HEADER))),
        (
            "unpadded",
            STANDARD.encode(QPY_HEADER).trim_end_matches('=').to_owned(),
        ),
        ("qasm", STANDARD.encode("OPENQASM 3.0;")),
    ] {
        let refused = upload(name, source).await;
        assert_eq!(refused.status(), 400, "{name}");
        let error: Value = refused.json().await.unwrap();
        assert_eq!(error["error"]["code"], "invalid_source", "{name}: {error}");
    }

    let created = upload("switch", STANDARD.encode(QPY_HEADER)).await;
    assert_eq!(created.status(), 201);
    let runs_before = app.store().run_counts().await.unwrap();
    let response = api
        .post_run(token, &run_body("alice/switch", SIMULATOR, 10), &[])
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(
        error["error"],
        serde_json::json!({
            "code": "unsupported_format",
            "message": "backend `simulator/statevector` does not execute qpy circuits; it \
                        accepts openqasm2, openqasm3",
        })
    );
    assert_eq!(
        app.store().run_counts().await.unwrap(),
        runs_before,
        "no run was created"
    );

    let (status, html) = app.page("/alice/switch", None, None).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(&format!(
            "QPY (Qiskit's binary circuit format), {} bytes",
            QPY_HEADER.len()
        )),
        "{html}"
    );
    app.stop().await;
}

on_both_databases!(qpy_sources_upload_as_base64_and_the_simulator_refuses_them);
