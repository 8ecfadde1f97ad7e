//! Where a pending run stands (issue 28): its `queue_position` in the API's run, the run page,
//! `qrun run show` and its event stream, predicted from the queues (not by counting the pending
//! runs) and checked here against the order the claims then really start the runs in.

use std::time::Duration;

use qrun::domain::{RunResults, RunStatus};
use qrun::store::{Canceller, Change};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::*;
use crate::on_both_databases;

async fn position(app: &TestApp, run: Uuid) -> Value {
    app.get_json(&format!("/api/runs/{run}")).await["queue_position"].clone()
}

/// Alice has 2 runs executing and 3 waiting, Bob none executing and 2 waiting: the claims
/// will start Bob's 2, then Alice's 3 (shares 0, 1, then 2, 3, 4: no ties). Every position is
/// exact, and each start moves every other pending run up by exactly one.
async fn positions_are_exact_for_a_known_queue(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let alice = app.circuit_of("alice").await;
    let bob = app.circuit_of("bob").await;
    let alices = app.burst(&alice, 5).await;
    for run in &alices[..2] {
        app.start_run(*run).await;
    }
    let bobs = app.burst(&bob, 2).await;
    let order = [bobs[0], bobs[1], alices[2], alices[3], alices[4]];
    for turn in 0..order.len() {
        for (place, run) in order.iter().enumerate().skip(turn) {
            assert_eq!(
                position(&app, *run).await,
                (place - turn + 1) as u64,
                "before start {}",
                turn + 1
            );
        }
        let started = app.claim("node-a", 1, 300).await;
        assert_eq!(started[0].run.id, order[turn], "start {}", turn + 1);
        assert_eq!(position(&app, order[turn]).await, Value::Null, "running");
    }
    app.stop().await;
}

/// With ties (Alice's 5 and Bob's 3 waiting, nothing running: the claims alternate between
/// them), the run at position 1 is always the one the next claim starts, every position is
/// one of 1..=n, and no pending run's position ever grows as runs start.
async fn positions_lead_to_the_next_start_and_never_grow(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let alice = app.circuit_of("alice").await;
    let bob = app.circuit_of("bob").await;
    let mut pending = app.burst(&alice, 5).await;
    pending.extend(app.burst(&bob, 3).await);
    let mut last = std::collections::BTreeMap::new();
    while !pending.is_empty() {
        let mut positions = Vec::new();
        for run in &pending {
            let now = position(&app, *run).await.as_u64().unwrap();
            if let Some(before) = last.insert(*run, now) {
                assert!(now <= before, "run {run} moved back from {before} to {now}");
            }
            positions.push((now, *run));
        }
        positions.sort();
        let places: Vec<u64> = positions.iter().map(|(p, _)| *p).collect();
        assert_eq!(places, (1..=pending.len() as u64).collect::<Vec<_>>());
        let started = app.claim("node-a", 1, 300).await;
        assert_eq!(started[0].run.id, positions[0].1, "{positions:?}");
        pending.retain(|run| *run != started[0].run.id);
    }
    app.stop().await;
}

/// The estimate is null before the backend has a completed run, and after one it is a time
/// no earlier than the database's now.
async fn the_estimate_comes_with_history(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let fixture = app.circuit().await;
    let runs = app.burst(&fixture, 3).await;
    let run = app.get_json(&format!("/api/runs/{}", runs[2])).await;
    assert_eq!(run["queue_position"], 3);
    assert_eq!(run["estimated_start_at"], Value::Null, "no history yet");
    let first = app.start_run(runs[0]).await;
    app.transition(
        first.run.id,
        Change::Complete {
            results: RunResults {
                counts: [("00".to_owned(), 10)].into(),
                shots: 10,
                execution_time: 0.5,
                unique_states: 1,
                method: None,
                precision: None,
            },
            memory: None,
        },
    )
    .await
    .unwrap();
    let before = app.store().now().await.unwrap();
    let run = app.get_json(&format!("/api/runs/{}", runs[2])).await;
    assert_eq!(run["queue_position"], 2);
    let estimate: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(run["estimated_start_at"].clone()).expect("an estimate");
    assert!(estimate >= before, "{estimate} < {before}");
    app.stop().await;
}

/// The run page and `qrun run show` say where a pending run stands; the event stream sends a
/// `queue` event when it moves.
async fn the_page_the_cli_and_the_stream_say_where_a_run_stands(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let fixture = app.circuit_of("alice").await;
    let runs = app.burst(&fixture, 3).await;
    let last = runs[2];
    let (status, html) = app
        .page(&format!("/alice/bell/runs/{last}"), None, None)
        .await;
    assert_eq!(status, 200);
    assert!(
        html.contains(r#"<dt>queue position</dt><dd id="queue-position">3"#),
        "{html}"
    );

    let mut stream = http()
        .get(app.url(&format!("/api/runs/{last}/events")))
        .send()
        .await
        .unwrap();
    let mut text = String::new();
    read_until(&mut stream, "event:status", &mut text).await;
    assert!(text.contains(r#""queue_position":3"#), "{text}");
    app.transition(
        runs[0],
        Change::Cancel {
            by: Canceller::Operator,
        },
    )
    .await
    .unwrap();
    read_until(&mut stream, "event:queue", &mut text).await;
    read_until(&mut stream, r#""queue_position":2"#, &mut text).await;
    drop(stream);

    let db = app.into_db().await;
    let out = crate::cli::qrun(&db, &["run", "show", &last.to_string()]);
    let shown = String::from_utf8(out.stdout).unwrap();
    assert!(shown.contains("queue         position 2"), "{shown}");
    let out = crate::cli::qrun(&db, &["run", "show", "--json", &last.to_string()]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["run"]["queue_position"], 2);
    assert_eq!(json["run"]["status"], RunStatus::Pending.as_str(), "{json}");
}

/// A run read pending that has started since (a submission's answer, a stream's read) has no
/// standing, and is no error: its user's queue may be empty by then.
async fn a_run_read_pending_that_started_since_has_no_standing(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let fixture = app.circuit().await;
    let stale = app.submit(&fixture, Some(false)).await;
    assert_eq!(stale.status, RunStatus::Pending);
    app.start_run(stale.id).await;
    assert_eq!(app.store().queue_standing(&stale).await.unwrap(), None);
    app.stop().await;
}

/// Reads `stream` into `text` until it holds `needle` (20 s at most).
async fn read_until(stream: &mut reqwest::Response, needle: &str, text: &mut String) {
    tokio::time::timeout(Duration::from_secs(20), async {
        while !text.contains(needle) {
            let chunk = stream.chunk().await.unwrap().expect("the stream goes on");
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {needle:?} in {text}"));
}

on_both_databases!(
    positions_are_exact_for_a_known_queue,
    positions_lead_to_the_next_start_and_never_grow,
    the_estimate_comes_with_history,
    the_page_the_cli_and_the_stream_say_where_a_run_stands,
    a_run_read_pending_that_started_since_has_no_standing,
);
