//! Stopping a node (docs/DESIGN.md §4): SIGTERM with event streams open and runs executing
//! ends within `server.shutdown_grace_s`, and what the node could not finish is handed back to
//! another node, not failed.

use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::cli::assert_verified;
use crate::helpers::{TestDb, wait_until};
use crate::nodes::{create_bell, setup, start_node_with, statuses, submit, write_config};
use crate::on_both_databases;

/// The grace the stopping node is given.
const GRACE_S: u64 = 4;

/// Reads a `text/event-stream` answer to its end (or for at most `within`): what it sent.
async fn read_stream(mut response: reqwest::Response, within: Duration) -> String {
    let mut body = String::new();
    let deadline = tokio::time::Instant::now() + within;
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, response.chunk()).await {
        body.push_str(&String::from_utf8_lossy(&chunk));
    }
    body
}

async fn sigterm_with_open_streams_ends_in_the_grace_and_hands_back_its_runs(db: TestDb) {
    let a_dir = tempfile::tempdir().unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    // A's command runs take far longer than its grace; B's are quick. Leases of 2 s and a 1 s
    // watchdog: a run A left running instead of handing it back would be failed at once.
    let a_config = write_config(a_dir.path(), "a", 120.0);
    let b_config = write_config(b_dir.path(), "b", 0.2);
    let token = setup(a_dir.path(), &db, &a_config);
    let grace = GRACE_S.to_string();
    let mut a = start_node_with(
        a_dir.path(),
        &db,
        &a_config,
        &[("QRUN__SERVER__SHUTDOWN_GRACE_S", &grace)],
    );
    create_bell(&a.base, &token).await;
    // Three slow runs fill A's three slots; two more wait behind them.
    let mut runs: Vec<Uuid> = Vec::new();
    for _ in 0..5 {
        runs.push(submit(&a.base, &token, "slow").await.expect("accepted"));
    }
    wait_until(
        Duration::from_secs(30),
        "A executing three runs",
        || async { crate::nodes::count(&statuses(&a.base, &runs).await, "running") == 3 },
    )
    .await;
    let on_a: Vec<Uuid> = statuses(&a.base, &runs)
        .await
        .iter()
        .filter(|r| r["status"] == "running")
        .map(|r| r["id"].as_str().unwrap().parse().unwrap())
        .collect();

    // Ten streams open on A: two on each run.
    let client = crate::helpers::http();
    let mut streams = Vec::new();
    for id in runs.iter().chain(&runs) {
        let response = client
            .get(format!("{}/api/runs/{id}/events", a.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        streams.push(tokio::spawn(read_stream(response, Duration::from_secs(60))));
    }
    // On PostgreSQL a second node is up already, and takes what A hands back at once.
    let postgres = db.postgres_database().is_some();
    let b_early = postgres.then(|| start_node_with(b_dir.path(), &db, &b_config, &[]));

    // A request in flight across the signal: its head and half its body sent before SIGTERM,
    // the rest once A is draining. It is answered (201), not cut.
    let in_flight = {
        use tokio::io::AsyncWriteExt;
        let body =
            crate::helpers::run_body("alice/bell", ("simulator", "statevector"), 10).to_string();
        let mut socket = tokio::net::TcpStream::connect(a.base.trim_start_matches("http://"))
            .await
            .unwrap();
        let head = format!(
            "POST /api/runs HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let (first, rest) = body.split_at(body.len() / 2);
        socket.write_all(head.as_bytes()).await.unwrap();
        socket.write_all(first.as_bytes()).await.unwrap();
        (socket, rest.to_owned())
    };

    let signalled = Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &a.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // Not ready first, while it still answers (once the signal is handled).
    let readiness = std::sync::Mutex::new(serde_json::Value::Null);
    wait_until(
        Duration::from_secs(2),
        "/readyz 503 while A drains",
        || async {
            let readyz = client
                .get(format!("{}/readyz", a.base))
                .send()
                .await
                .unwrap();
            let status = readyz.status();
            *readiness.lock().unwrap() = readyz.json().await.unwrap();
            status == 503
        },
    )
    .await;
    let readiness = readiness.into_inner().unwrap();
    assert_eq!(readiness["stopping"], true, "{readiness}");
    let (mut socket, rest) = in_flight;
    let answer = {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        socket.write_all(rest.as_bytes()).await.unwrap();
        let mut answer = String::new();
        socket.read_to_string(&mut answer).await.unwrap();
        answer
    };
    assert!(
        answer.starts_with("HTTP/1.1 201"),
        "the request in flight at SIGTERM is answered: {answer}"
    );
    let exited = tokio::task::spawn_blocking(move || {
        let status = a.wait().unwrap();
        (status, a)
    });
    let (status, _a) = exited.await.unwrap();
    let took = signalled.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(
        took < Duration::from_millis(GRACE_S * 1000 + 500),
        "SIGTERM to exit took {took:?} (grace {GRACE_S} s)"
    );
    for stream in streams {
        let body = stream.await.unwrap();
        let last = body.trim_end().rsplit("\n\n").next().unwrap_or_default();
        assert!(
            last.contains("event:shutdown") || last.contains("event: shutdown"),
            "the stream ends with a shutdown event: {body:?}"
        );
        assert!(last.contains("retry:"), "{last:?}");
    }

    // SQLite is one node: the next one starts once A is gone.
    let b = b_early.unwrap_or_else(|| start_node_with(b_dir.path(), &db, &b_config, &[]));
    wait_until(
        Duration::from_secs(60),
        "every run terminal on B",
        || async {
            statuses(&b.base, &runs)
                .await
                .iter()
                .all(|r| r["status"] == "completed" || r["status"] == "failed")
        },
    )
    .await;
    let ended = statuses(&b.base, &runs).await;
    assert!(
        ended.iter().all(|r| r["status"] == "completed"),
        "no run lost or failed: {ended:#?}"
    );
    // Who started what, as the owner sees it: A stopped claiming at the signal; what it held it
    // handed back, and B ran it.
    for id in &runs {
        let audit: serde_json::Value = client
            .get(format!("{}/api/runs/{id}/audit", b.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let steps: Vec<(&str, &str)> = audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let node = e["metadata"]["node"].as_str().unwrap_or("-");
                (e["action"].as_str().unwrap(), node)
            })
            .collect();
        let want: &[(&str, &str)] = if on_a.contains(id) {
            &[
                ("run.requested", "-"),
                ("run.started", "a"),
                ("run.handed_back", "a"),
                ("run.started", "b"),
                ("run.completed", "-"),
            ]
        } else {
            &[
                ("run.requested", "-"),
                ("run.started", "b"),
                ("run.completed", "-"),
            ]
        };
        assert_eq!(steps, want, "run {id}");
    }
    drop(b);
    // And the run the request in flight made.
    assert_verified(&db, runs.len() + 1);
}

on_both_databases!(sigterm_with_open_streams_ends_in_the_grace_and_hands_back_its_runs);
