//! What a real `qrun serve` logs (docs/DESIGN.md §9, §11): the access line a client's
//! `X-Request-Id` finds, run lines with their error class, stage and durations, `RUST_LOG`
//! over `logging.level`, and no colour codes in a file.

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::helpers::{Api, BELL, SIMULATOR, circuit_body, run_body, wait_until};
use testkit::Served;

/// `qrun serve` on a fresh SQLite database in `dir`, nothing inherited but `env`; every line
/// it logs is collected in the answer's list.
fn serve_logged(dir: &std::path::Path, env: &[(&str, &str)]) -> (Served, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let mut command = Command::new(env!("CARGO_BIN_EXE_qrun"));
    command
        .arg("serve")
        .current_dir(dir)
        .env_clear()
        .env("QRUN__SERVER__BIND", "127.0.0.1:0")
        .envs(env.iter().copied());
    let sink = Box::new(move |line: &str| sink.lock().unwrap().push(line.to_owned()));
    let served = Served::start(command, Some(sink)).unwrap_or_else(|e| panic!("qrun serve: {e}"));
    (served, lines)
}

/// The user `alice` on the SQLite database of `dir`, as an operator makes her; her token.
fn alice(dir: &std::path::Path) -> String {
    let qrun = || {
        let mut qrun = Command::new(env!("CARGO_BIN_EXE_qrun"));
        qrun.env_clear()
            .env("QRUN__LOGGING__LEVEL", "warn")
            .current_dir(dir);
        qrun
    };
    testkit::create_user(qrun, "alice").unwrap_or_else(|e| panic!("{e}"))
}

/// The first line of `lines` with every one of `parts`, waiting for it.
async fn logged(lines: &Mutex<Vec<String>>, parts: &[&str]) -> String {
    let find = || {
        lines
            .lock()
            .unwrap()
            .iter()
            .find(|line| parts.iter().all(|p| line.contains(p)))
            .cloned()
    };
    wait_until(
        Duration::from_secs(30),
        &format!("a line with {parts:?}"),
        || async { find().is_some() },
    )
    .await;
    find().unwrap()
}

#[tokio::test]
async fn a_clients_request_id_finds_its_access_line_and_the_run_finished_line() {
    let dir = tempfile::tempdir().unwrap();
    let token = alice(dir.path());
    let (served, lines) = serve_logged(dir.path(), &[]);
    let api = Api::new(&served.base);
    api.upload(&token, &circuit_body("bell", "public", "openqasm2", BELL))
        .await
        .unwrap();
    let me = api
        .http()
        .get(api.url("/api/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let me: serde_json::Value = me.json().await.unwrap();
    let user_id = me["id"].as_str().unwrap().to_owned();

    let request_id = "support-ticket-4711";
    let response = api
        .post_run(
            &token,
            &run_body("alice/bell", SIMULATOR, 100),
            &[("X-Request-Id", request_id)],
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-request-id"], request_id);
    let run: serde_json::Value = response.json().await.unwrap();
    let run_id = run["id"].as_str().unwrap().to_owned();

    // One line at info, in the request's span: its id, method, route template, user and run,
    // status and duration.
    let access = logged(&lines, &[request_id, " request "]).await;
    for part in [
        " INFO ",
        "method=POST",
        "route=/api/runs",
        &format!("user_id={user_id}"),
        &format!("run_id={run_id}"),
        "status=201",
        "ms=",
    ] {
        assert!(access.contains(part), "{part:?} not in {access}");
    }
    let finished = logged(&lines, &[&run_id, "run finished"]).await;
    for part in [
        "status=completed",
        "queue_ms=",
        "execution_ms=",
        "backend=simulator/statevector",
    ] {
        assert!(finished.contains(part), "{part:?} not in {finished}");
    }

    // A request with no id of its own gets one, the one its answer carries; a path with an id
    // is logged under its template, never as the raw path.
    let unknown = uuid::Uuid::now_v7();
    let response = api
        .http()
        .get(api.url(&format!("/api/runs/{unknown}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let given = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let access = logged(&lines, &[&given, " request "]).await;
    assert!(access.contains("route=/api/runs/{id}"), "{access}");
    assert!(access.contains("status=404"), "{access}");
    assert!(
        !access.contains(&format!("/api/runs/{unknown}")),
        "{access}"
    );
}

/// `RUST_LOG` wins over `logging.level` (here from `QRUN__LOGGING__LEVEL`); a file gets no
/// ANSI colour codes; an invalid `RUST_LOG` stops start-up with one line, exit 2.
#[tokio::test]
async fn rust_log_overrides_the_configured_level_and_a_file_gets_no_colour() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("qrun.log");
    let run = |rust_log: &str| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_qrun"));
        command
            .arg("serve")
            .current_dir(dir.path())
            .env_clear()
            .env("QRUN__SERVER__BIND", "127.0.0.1:0")
            .env("QRUN__LOGGING__LEVEL", "error")
            .env("RUST_LOG", rust_log)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        command
    };
    let mut node = run("info").spawn().unwrap();
    // At `error` the node would never say it listens: RUST_LOG=info must have won.
    wait_until(
        Duration::from_secs(60),
        "the listening line in the file",
        || async {
            std::fs::read_to_string(&log).is_ok_and(|text| text.contains("listening on http://"))
        },
    )
    .await;
    let _ = Command::new("kill")
        .args(["-TERM", &node.id().to_string()])
        .status();
    node.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains(" INFO "), "{text}");
    assert!(!text.contains('\u{1b}'), "ANSI codes in a file:\n{text:?}");

    let out = run("qrun=nonsense[").output().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.starts_with("qrun: RUST_LOG: "), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
}
