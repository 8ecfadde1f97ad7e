//! The command line as operators use it: the real binary, on both databases.

use std::process::{Command, Output};

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::TimeDelta;
use qrun::domain::{ErrorClass, ErrorStage, Failure, ManualClock, RunResults};
use qrun::store::users::hash_token;
use qrun::store::{Canceller, Change, FailCause};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{TestApp, TestDb, clock_hooks};
use crate::on_both_databases;

pub fn qrun(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qrun"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("QRUN__DATABASE__URL", &db.url)
        .env("QRUN__LOGGING__LEVEL", "warn")
        .output()
        .expect("the qrun binary runs")
}

/// Runs `qrun verify` over `db` and asserts it passes: exit 0, `verified {runs} runs: 0
/// violations`.
pub fn assert_verified(db: &TestDb, runs: usize) {
    let out = qrun(db, &["verify"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout(&out).trim(),
        format!("verified {runs} runs: 0 violations")
    );
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts `out` is a refusal: exit 1, nothing on stdout, exactly `line` on stderr.
fn refused(out: &Output, line: &str) {
    refused_with(out, 1, line);
}

/// Asserts `out` is a refusal: exit `code`, nothing on stdout, exactly `line` on stderr.
pub fn refused_with(out: &Output, code: i32, line: &str) {
    assert_eq!(out.status.code(), Some(code), "{out:?}");
    assert_eq!(stdout(out), "", "{out:?}");
    assert_eq!(stderr(out), format!("{line}\n"), "{out:?}");
}

async fn migrate_then_user_create_prints_only_the_token(db: TestDb) {
    let out = qrun(&db, &["migrate"]);
    assert!(out.status.success(), "{out:?}");
    let out = qrun(&db, &["user", "create", "alice"]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "stdout must be the token alone: {text:?}");
    let token = lines[0];
    assert!(token.starts_with("qrun_") && token.len() > 40, "{token}");

    let app = TestApp::spawn(db).await;
    let user = app
        .store()
        .user_by_token(token)
        .await
        .unwrap()
        .expect("the token works");
    assert_eq!(user.handle, "alice");
    // The same row id with another secret is no token at all.
    let last = token.chars().last().unwrap();
    let forged = format!(
        "{}{}",
        &token[..token.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    assert_eq!(app.store().user_by_token(&forged).await.unwrap(), None);
    // Only the hash is stored.
    assert_ne!(hash_token(token), token);
    let leaked = app
        .store()
        .execute_raw(&format!(
            "UPDATE api_tokens SET name = name WHERE token_hash = '{token}'"
        ))
        .await
        .unwrap();
    assert_eq!(leaked, 0, "the plain token must not be stored");
    let db = app.into_db().await;

    let out = qrun(&db, &["user", "create", "alice"]);
    assert_eq!(out.status.code(), Some(2), "a duplicate handle: {out:?}");
    let out = qrun(&db, &["user", "token", "alice"]);
    assert!(out.status.success(), "{out:?}");
    let second = stdout(&out).trim().to_owned();
    assert_ne!(second, token);
    let app = TestApp::spawn(db).await;
    for token in [token, second.as_str()] {
        let user = app.store().user_by_token(token).await.unwrap();
        assert_eq!(
            user.map(|u| u.handle).as_deref(),
            Some("alice"),
            "both work"
        );
    }
    let db = app.into_db().await;
    let out = qrun(&db, &["user", "token", "nobody"]);
    assert_eq!(out.status.code(), Some(2), "an unknown handle: {out:?}");
    let out = qrun(&db, &["user", "create", "Not A Handle"]);
    assert_eq!(out.status.code(), Some(2), "a bad handle: {out:?}");
}

async fn verify_passes_a_clean_database_and_finds_a_planted_violation(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let fx = app.circuit().await;
    let consented = app.submit(&fx, Some(true)).await;
    let victim = app.submit(&fx, Some(false)).await;
    let _legacy = app.submit(&fx, None).await;
    let db = app.into_db().await;

    assert_verified(&db, 3);

    // Delete one run's audit row: its timeline no longer matches its status.
    let app = TestApp::spawn(db).await;
    app.store()
        .execute_raw(
            "DELETE FROM audit_logs WHERE action = 'run.requested' AND resource_id IN \
             (SELECT id FROM runs WHERE analytics_consent = false)",
        )
        .await
        .unwrap();
    // And an analytics event the consented run never had.
    app.store()
        .execute_raw("DELETE FROM analytics_outbox")
        .await
        .unwrap();
    // And a queue that counts a running run its user does not have.
    app.store()
        .execute_raw("UPDATE user_queues SET running = running + 1")
        .await
        .unwrap();
    let db = app.into_db().await;

    let out = qrun(&db, &["verify"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.last(),
        Some(&"verified 3 runs: 3 violations"),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&victim.id.to_string()) && l.contains("audit")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&consented.id.to_string()) && l.contains("analytics")),
        "{text}"
    );
    assert!(
        lines.iter().any(|l| l.contains(&fx.user_id.to_string())
            && l.contains("queue counts 3 pending, 1 running; the runs are 3 and 0")),
        "{text}"
    );
}

/// The operator's question, "what happened to run X?", for a completed, a failed and a
/// cancelled run: one command each, as text and as JSON; an unknown id is one line, exit 1.
async fn run_show_tells_what_happened_to_a_run(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let fx = app.circuit().await;
    let completed = app.submit(&fx, Some(true)).await.id;
    app.start_run(completed).await;
    let results = RunResults {
        counts: BTreeMap::from([("00".to_owned(), 52), ("11".to_owned(), 48)]),
        shots: 100,
        execution_time: 0.0042,
        unique_states: 2,
        method: None,
        precision: None,
    };
    app.transition(
        completed,
        Change::Complete {
            results,
            memory: None,
        },
    )
    .await
    .unwrap();
    let failed = app.submit(&fx, Some(false)).await.id;
    app.start_run(failed).await;
    let failure = Failure::new(
        ErrorClass::Timeout,
        ErrorStage::Execute,
        "wall time 300 s exceeded",
    );
    app.transition(
        failed,
        Change::Fail {
            failure,
            cause: FailCause::Executor,
        },
    )
    .await
    .unwrap();
    let cancelled = app.submit(&fx, None).await.id;
    app.transition(
        cancelled,
        Change::Cancel {
            by: Canceller::User(fx.user_id),
        },
    )
    .await
    .unwrap();
    let db = app.into_db().await;

    let show = |id: Uuid| {
        let out = qrun(&db, &["run", "show", &id.to_string()]);
        assert!(out.status.success(), "{out:?}");
        stdout(&out)
    };
    let text = show(completed);
    assert!(
        text.starts_with(&format!("run {completed}\n  status        completed\n")),
        "{text}"
    );
    for line in [
        "  backend       simulator/statevector",
        "  shots         100",
        "  consent       granted",
        "  results       2 outcomes over 100 shots in 4 ms: 00=52 11=48",
        "timeline",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    let actions: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "timeline")
        .skip(1)
        .map(|l| l.split_whitespace().nth(3).unwrap())
        .collect();
    assert_eq!(
        actions,
        ["run.requested", "run.started", "run.completed"],
        "{text}"
    );
    assert!(
        text.contains("run.started    pending → running  by executor  "),
        "{text}"
    );
    assert!(text.contains("node=test-node"), "{text}");
    assert!(
        text.contains("run.requested  → pending  by user  "),
        "{text}"
    );

    let text = show(failed);
    assert!(
        text.contains("  error         timeout at execute: wall time 300 s exceeded"),
        "{text}"
    );
    assert!(
        text.contains("  consent       denied") && text.contains("run.failed"),
        "{text}"
    );
    assert!(
        text.contains("(queued ") && text.contains("(ran "),
        "{text}"
    );

    let text = show(cancelled);
    assert!(
        text.contains("  status        cancelled")
            && text.contains("  consent       none (legacy)")
    );
    assert!(
        text.contains(&format!(
            "pending → cancelled  by user  cancelled_by={}",
            fx.user_id
        )),
        "{text}"
    );
    assert!(!text.contains("  started"), "it never started: {text}");

    let out = qrun(&db, &["run", "show", &failed.to_string(), "--json"]);
    assert!(out.status.success(), "{out:?}");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["run"]["id"], failed.to_string());
    assert_eq!(json["run"]["status"], "failed");
    assert_eq!(json["run"]["error_class"], "timeout");
    assert_eq!(json["run"]["user"]["id"], fx.user_id.to_string());
    assert_eq!(json["run"]["circuit"]["name"], "bell");
    let actions: Vec<&str> = json["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["run.requested", "run.started", "run.failed"]);

    let unknown = Uuid::now_v7();
    refused(
        &qrun(&db, &["run", "show", &unknown.to_string()]),
        &format!("qrun: no run {unknown}"),
    );
    refused(
        &qrun(&db, &["run", "show", "nope", "--json"]),
        "qrun: `nope` is not a run id",
    );
}

/// A run's error message is what a user's program wrote: `qrun run show` prints its terminal
/// controls and bidirectional overrides escaped, visibly; `--json` keeps it as it is (JSON
/// escapes controls itself).
async fn run_show_escapes_controls_and_bidi_overrides(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let fx = app.circuit().await;
    let failed = app.submit(&fx, None).await.id;
    app.start_run(failed).await;
    let message = "line 2: \x1b[31mNameError\x1b[0m in \u{202E}txt.exe\r\x07";
    let failure = Failure::new(ErrorClass::ValidationError, ErrorStage::Prepare, message);
    app.transition(
        failed,
        Change::Fail {
            failure,
            cause: FailCause::Executor,
        },
    )
    .await
    .unwrap();
    let db = app.into_db().await;

    let out = qrun(&db, &["run", "show", &failed.to_string()]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(
        text.contains(
            "  error         validation_error at prepare: \
             line 2: \\u{1b}[31mNameError\\u{1b}[0m in \\u{202e}txt.exe\\u{d}\\u{7}\n"
        ),
        "{text:?}"
    );
    assert!(
        !text.contains(['\x1b', '\u{202E}', '\r', '\x07']),
        "{text:?}"
    );

    let out = qrun(&db, &["run", "show", &failed.to_string(), "--json"]);
    assert!(out.status.success(), "{out:?}");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["run"]["error_message"], message);
}

/// `qrun run list` by status, age and user (the clock moved by hand: old runs were made two
/// hours ago).
async fn run_list_filters_by_status_age_and_user(db: TestDb) {
    let clock = ManualClock::new(chrono::Utc::now() - TimeDelta::hours(2));
    let app = TestApp::spawn_with(db, |_| {}, clock_hooks(Arc::new(clock.clone()))).await;
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    app.create_circuit(&alice, "bell", "public").await;
    let bell = ("simulator", "statevector");
    let old_alice = app.submit_run(&alice, "alice/bell", bell, 10).await;
    let old_bob = app.submit_run(&bob, "alice/bell", bell, 10).await;
    clock.advance(TimeDelta::milliseconds(1));
    app.start_run(old_alice).await;
    clock.advance(TimeDelta::hours(2));
    let new_alice = app.submit_run(&alice, "alice/bell", bell, 10).await;
    let new_bob = app.submit_run(&bob, "alice/bell", bell, 10).await;
    let db = app.into_db().await;

    let list = |args: &[&str]| -> Vec<(String, String)> {
        let mut all = vec!["run", "list"];
        all.extend_from_slice(args);
        let out = qrun(&db, &all);
        assert!(out.status.success(), "{args:?}: {out:?}");
        let text = stdout(&out);
        let mut lines = text.lines();
        assert!(lines.next().unwrap().starts_with("ID "), "{text}");
        lines
            .map(|l| {
                let fields: Vec<&str> = l.split_whitespace().collect();
                (fields[0].to_owned(), fields[1].to_owned())
            })
            .collect()
    };
    let ids =
        |rows: Vec<(String, String)>| -> Vec<String> { rows.into_iter().map(|r| r.0).collect() };
    let s = |ids: &[Uuid]| -> Vec<String> { ids.iter().map(Uuid::to_string).collect() };
    assert_eq!(ids(list(&[])), s(&[new_bob, new_alice, old_bob, old_alice]));
    assert_eq!(
        list(&["--status", "running"]),
        vec![(old_alice.to_string(), "running".to_owned())]
    );
    assert_eq!(ids(list(&["--older-than", "1h"])), s(&[old_bob, old_alice]));
    assert_eq!(ids(list(&["--older-than", "3h"])), Vec::<String>::new());
    assert_eq!(ids(list(&["--user", "bob"])), s(&[new_bob, old_bob]));
    assert_eq!(
        ids(list(&[
            "--status",
            "pending",
            "--older-than",
            "90m",
            "--user",
            "bob"
        ])),
        s(&[old_bob])
    );
    assert_eq!(ids(list(&["--limit", "1"])), s(&[new_bob]));
    let out = qrun(&db, &["run", "list", "--user", "nobody"]);
    assert_eq!(
        (out.status.code(), stderr(&out).trim()),
        (Some(2), "qrun: no user `nobody`")
    );
    let out = qrun(&db, &["run", "list", "--older-than", "ten minutes"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// `qrun run cancel` while the service runs: the lifecycle's guarded cancel, audited as an
/// operator's, seen by the service (its API and its run page) at once; a second cancel or an
/// unknown id is one line, exit 1; the invariants hold.
async fn run_cancel_records_an_operator_while_the_service_runs(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, alice) = app.user("alice").await;
    let circuit = app.create_circuit(&alice, "bell", "public").await;
    let submit = || async {
        let response = app
            .submit_http(
                &alice,
                circuit["id"].as_str().unwrap(),
                &[("X-Analytics-Consent", "granted")],
            )
            .await;
        assert_eq!(response.status(), 201);
        response.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .parse::<Uuid>()
            .unwrap()
    };
    let running = submit().await;
    app.start_run(running).await;
    let pending = submit().await;

    refused(
        &qrun(
            &app.db,
            &["run", "cancel", &pending.to_string(), "--reason", " "],
        ),
        "qrun: a reason is required: 1–500 characters without control characters other than \
         newlines",
    );
    for (id, was, reason) in [
        (pending, "pending", Some("stuck behind a dead backend")),
        (running, "running", None),
    ] {
        let id_text = id.to_string();
        let mut args = vec!["run", "cancel", &id_text];
        args.extend(reason.iter().flat_map(|r| ["--reason", r]));
        let out = qrun(&app.db, &args);
        assert!(out.status.success(), "{out:?}");
        assert_eq!(stdout(&out), format!("cancelled run {id} (it was {was})\n"));
        assert_eq!(app.run_json(id).await["status"], "cancelled");
        let audit = app.store().audit_timeline(id).await.unwrap();
        let entry = audit.last().unwrap();
        assert_eq!(entry.action, "run.cancelled");
        assert_eq!(entry.metadata["by"], "operator");
        assert_eq!(entry.metadata["from"], was);
        assert_eq!(entry.metadata.get("reason").and_then(Value::as_str), reason);
        assert!(
            entry.metadata.get("cancelled_by").is_none(),
            "{}",
            entry.metadata
        );
        let events: Vec<String> = app
            .store()
            .outbox_for_run(id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event)
            .collect();
        assert!(events.contains(&"run_cancelled".to_owned()), "{events:?}");
    }
    let (_, page) = app
        .page(&format!("/alice/bell/runs/{pending}"), None, None)
        .await;
    assert!(page.contains(" by an operator."), "{page}");
    assert!(page.contains("stuck behind a dead backend"), "{page}");
    let shown = stdout(&qrun(&app.db, &["run", "show", &running.to_string()]));
    assert!(
        shown.contains("run.cancelled") && shown.contains("running → cancelled  by operator"),
        "{shown}"
    );

    refused(
        &qrun(&app.db, &["run", "cancel", &running.to_string()]),
        &format!("qrun: run {running} is already cancelled; nothing changed"),
    );
    let unknown = Uuid::now_v7();
    refused(
        &qrun(&app.db, &["run", "cancel", &unknown.to_string()]),
        &format!("qrun: no run {unknown}"),
    );
    let report = app.store().verify().await.unwrap();
    assert_eq!(report.violations, Vec::<String>::new());
    app.stop().await;
}

on_both_databases!(
    run_show_tells_what_happened_to_a_run,
    run_show_escapes_controls_and_bidi_overrides,
    run_list_filters_by_status_age_and_user,
    run_cancel_records_an_operator_while_the_service_runs,
    migrate_then_user_create_prints_only_the_token,
    verify_passes_a_clean_database_and_finds_a_planted_violation,
);

#[test]
fn exec_prints_results_and_reports_source_errors_with_their_position() {
    let dir = tempfile::tempdir().unwrap();
    let run = |file: &str, source: &str, extra: &[&str]| {
        let path = dir.path().join(file);
        std::fs::write(&path, source).unwrap();
        Command::new(env!("CARGO_BIN_EXE_qrun"))
            .arg("exec")
            .arg(&path)
            .args(extra)
            .env_clear()
            .env("QRUN__LOGGING__LEVEL", "warn")
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let ghz = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[3];\ncreg c[3];\nh q[0];\ncx q[0],q[1];\ncx q[1],q[2];\nmeasure q -> c;\n";
    let first = run("ghz.qasm", ghz, &["--shots", "2000", "--seed", "42"]);
    assert!(first.status.success(), "{first:?}");
    let result: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(result["shots"], 2000);
    assert_eq!(result["unique_states"], 2);
    assert_eq!(result["method"], "stabilizer", "GHZ is Clifford");
    let counts = result["counts"].as_object().unwrap();
    assert_eq!(counts.keys().collect::<Vec<_>>(), ["000", "111"]);
    assert!(result["execution_time"].as_f64().unwrap() >= 0.0);
    let again = run("ghz.qasm", ghz, &["--shots", "2000", "--seed", "42"]);
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(
        again["counts"], result["counts"],
        "a seed makes a run reproducible"
    );

    let bad = run("bad.qasm", "OPENQASM 2.0;\nqreg q[2];\nh q[0]\n", &[]);
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    let path = dir.path().join("bad.qasm");
    assert!(
        stderr
            .trim()
            .starts_with(&format!("{}:4:1: ", path.display())),
        "{stderr}"
    );
    assert!(bad.stdout.is_empty());

    // Not Clifford and wider than the state vector's 24 qubits.
    let wide = run(
        "wide.qasm",
        "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[40];\nt q[0];\n",
        &[],
    );
    assert_eq!(
        wide.status.code(),
        Some(1),
        "a resource limit is not a source error"
    );
    assert!(
        String::from_utf8_lossy(&wide.stderr).contains("4:1: 't' is not a Clifford gate"),
        "{wide:?}"
    );
    // A Clifford circuit of 1,000 qubits, on the stabilizer method.
    let mut ghz1000 = String::from(
        "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[1000];\ncreg c[1000];\nh q[0];\n",
    );
    for i in 1..1000 {
        ghz1000.push_str(&format!("cx q[{}],q[{i}];\n", i - 1));
    }
    ghz1000.push_str("measure q -> c;\n");
    let ghz1000 = run("ghz1000.qasm", &ghz1000, &["--shots", "100", "--seed", "1"]);
    assert!(ghz1000.status.success(), "{ghz1000:?}");
    let result: serde_json::Value = serde_json::from_slice(&ghz1000.stdout).unwrap();
    assert_eq!(result["method"], "stabilizer");
    let keys: Vec<&String> = result["counts"].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["0".repeat(1000), "1".repeat(1000)]
            .iter()
            .collect::<Vec<_>>()
    );

    // OpenQASM 3, told by its header, with an input bound by --param.
    let rotation = "OPENQASM 3.0;\ninclude \"stdgates.inc\";\ninput float[64] theta;\nqubit q;\nbit c;\nry(theta) q;\nc = measure q;\n";
    let flipped = run(
        "rotation.qasm",
        rotation,
        &["--shots", "30", "--param", "theta=3.141592653589793"],
    );
    assert!(flipped.status.success(), "{flipped:?}");
    let result: serde_json::Value = serde_json::from_slice(&flipped.stdout).unwrap();
    assert_eq!(result["counts"], serde_json::json!({"1": 30}));
    assert_eq!(result["method"], "statevector", "ry is not Clifford");
    let missing = run("rotation.qasm", rotation, &[]);
    assert_eq!(missing.status.code(), Some(2), "{missing:?}");
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("theta"), "{stderr}");
    let bad3 = run(
        "bad3.qasm",
        "OPENQASM 3.0;\nqubit q;\nextern f(int) -> int;\n",
        &[],
    );
    assert_eq!(bad3.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad3.stderr);
    let path = dir.path().join("bad3.qasm");
    assert!(
        stderr
            .trim()
            .starts_with(&format!("{}:3:1: ", path.display())),
        "{stderr}"
    );
}

/// A command backend whose sandbox cannot run its program stops start-up: exit 2, one line
/// naming the backend, before anything listens.
#[test]
fn serve_refuses_to_start_when_a_backend_sandbox_cannot_be_set_up() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("backend.sh");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let serve = |sandbox: &str| {
        let config = dir.path().join("qrun.toml");
        std::fs::write(
            &config,
            format!(
                "[server]\nbind = \"127.0.0.1:0\"\n[database]\nurl = \"sqlite://{}/qrun.db?mode=rwc\"\n\
                 [[backends]]\ntype = \"command\"\nname = \"hidden\"\nprogram = \"{}\"\ntimeout_s = 5\n\
                 [backends.sandbox]\n{sandbox}\n",
                dir.path().display(),
                script.display()
            ),
        )
        .unwrap();
        Command::new(env!("CARGO_BIN_EXE_qrun"))
            .args(["--config", config.to_str().unwrap(), "serve"])
            .env_clear()
            .env("QRUN__LOGGING__LEVEL", "error")
            .output()
            .unwrap()
    };
    // The script's directory is not visible inside.
    let hidden = serve("");
    assert_eq!(hidden.status.code(), Some(2), "{hidden:?}");
    let stderr = String::from_utf8_lossy(&hidden.stderr);
    assert_eq!(
        stderr.trim(),
        format!(
            "qrun: backend command/hidden: {} is not an executable file inside the sandbox \
             (is its directory in read_only_paths, and can the sandbox's user read it?)",
            script.display()
        )
    );
    // A read-only path that does not exist.
    let missing = serve("read_only_paths = [\"/nonexistent/venv\"]");
    assert_eq!(missing.status.code(), Some(2), "{missing:?}");
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr).trim(),
        "qrun: backend command/hidden: read-only path /nonexistent/venv is not an existing absolute path"
    );
    // A root service runs programs as `user`: one that does not exist, or is root too.
    if std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap()) == 0 {
        for (user, why) in [
            (
                "qrun-no-such-user",
                "user \"qrun-no-such-user\" does not exist on this host (a root service runs \
                 programs as it)",
            ),
            (
                "root",
                "user \"root\" is uid 0: a root service's programs must run as an unprivileged \
                 user",
            ),
        ] {
            let refused = serve(&format!("user = \"{user}\""));
            assert_eq!(refused.status.code(), Some(2), "{refused:?}");
            assert_eq!(
                String::from_utf8_lossy(&refused.stderr).trim(),
                format!("qrun: backend command/hidden: {why}")
            );
        }
    }
}
