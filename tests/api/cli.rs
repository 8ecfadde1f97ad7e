//! The command line as operators use it: the real binary, on both databases.

use std::process::{Command, Output};

use qrun::store::users::hash_token;

use crate::helpers::{TestApp, TestDb};
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

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
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

    let out = qrun(&db, &["verify"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out).trim(), "verified 3 runs: 0 violations");

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
    let db = app.into_db().await;

    let out = qrun(&db, &["verify"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.last(),
        Some(&"verified 3 runs: 2 violations"),
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
}

on_both_databases!(
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

    let wide = run("wide.qasm", "OPENQASM 2.0;\nqreg q[40];\n", &[]);
    assert_eq!(
        wide.status.code(),
        Some(1),
        "a resource limit is not a source error"
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
             (is its directory in read_only_paths?)",
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
}
