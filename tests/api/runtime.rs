//! The actor runtime: claiming, executing, failing, cancelling, recovering, draining.

use qrun::app::Hooks;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};
use qrun::domain::{ManualClock, RunResults, RunStatus};
use qrun::execution::{Backend, ExecError, Executed, Job};
use qrun::store::{Change, Command};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{
    TestApp, TestDb, clock_hooks, executing, http, process_alive, sleepy_backend, wait_until,
};
use crate::on_both_databases;

/// A backend that panics while executing: a bug in a backend must not take the executor down.
struct Panicking;

impl Backend for Panicking {
    fn execute(
        &self,
        _: Job,
        _: qrun_engine::CancellationToken,
    ) -> BoxFuture<'static, Result<Executed, ExecError>> {
        async { panic!("the test backend panics") }.boxed()
    }
}

async fn executing_app(db: TestDb, adjust: impl FnOnce(&mut qrun::config::Config)) -> TestApp {
    let hooks = Hooks {
        backends: vec![("test".into(), "panic".into(), Arc::new(Panicking))],
        ..Hooks::default()
    };
    TestApp::spawn_with(
        db,
        |config| {
            executing(config);
            adjust(config);
        },
        hooks,
    )
    .await
}

async fn a_thousand_concurrent_submissions_all_complete(db: TestDb) {
    let app = Arc::new(executing_app(db, |c| c.executor.max_active_runs_per_user = 10_000).await);
    let (_, token) = app.user("alice").await;
    app.create_circuit(&token, "bell", "public").await;
    let started = std::time::Instant::now();
    let accepted = futures_util::stream::iter(0..1000)
        .map(|_| {
            let (app, token) = (app.clone(), token.clone());
            async move {
                app.submit_run(&token, "alice/bell", ("simulator", "statevector"), 100)
                    .await
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    assert_eq!(accepted.len(), 1000);
    wait_until(Duration::from_secs(120), "1000 runs completed", || async {
        app.store().run_counts().await.unwrap()[&RunStatus::Completed] == 1000
    })
    .await;
    let elapsed = started.elapsed();
    eprintln!(
        "1000 runs submitted (32 clients) and completed in {elapsed:?}: {:.0} runs/s",
        1000.0 / elapsed.as_secs_f64()
    );
    let report = app.store().verify().await.unwrap();
    assert_eq!(
        (report.runs, report.violations.len()),
        (1000, 0),
        "{:?}",
        report.violations
    );
    let sample = app.run_json(accepted[0]).await;
    let counts = sample["results"]["counts"].as_object().unwrap();
    assert!(counts.keys().all(|k| k == "00" || k == "11"), "{counts:?}");
    Arc::into_inner(app).unwrap().stop().await;
}

async fn a_panicking_run_fails_with_internal_error_and_the_executor_goes_on(db: TestDb) {
    let app = executing_app(db, |_| {}).await;
    let (_, token) = app.user("alice").await;
    app.create_circuit(&token, "bell", "public").await;
    // The backend must be in the configuration for submissions to accept it.
    let panicked = {
        let fx = app
            .store()
            .circuit_by_name("alice", "bell")
            .await
            .unwrap()
            .unwrap();
        let user = app.store().user_by_handle("alice").await.unwrap().unwrap();
        app.apply(Command::Create(qrun::domain::NewRun {
            traceparent: None,
            user_id: user.id,
            idempotency_key: None,
            spec: qrun::domain::RunSpec {
                circuit_id: fx.id,
                circuit_version: 1,
                backend_type: "test".into(),
                backend_name: "panic".into(),
                framework: "qiskit".into(),
                shots: 10,
                analytics_consent: Some(true),
                parameters: Default::default(),
                seed: None,
                memory: false,
                options: Default::default(),
            },
        }))
        .await
        .unwrap()
        .run
        .id
        .to_string()
    };
    let run = app.wait_terminal(panicked).await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["error_class"], "internal_error");
    assert_eq!(run["error_stage"], "execute");
    // The executor survived: the next run completes.
    let next = app
        .submit_run(&token, "alice/bell", ("simulator", "statevector"), 100)
        .await;
    assert_eq!(app.wait_terminal(next).await["status"], "completed");
    assert!(app.app.service().readiness().await.actors);
    assert!(app.store().verify().await.unwrap().violations.is_empty());
    app.stop().await;
}

async fn cancelling_pending_and_running_runs_stops_them(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let slow = sleepy_backend(dir.path(), "slow", 30.0);
    let app = executing_app(db, |c| {
        c.executor.max_concurrent_runs = 1;
        c.backends.push(slow);
    })
    .await;
    let (_, token) = app.user("alice").await;
    app.create_circuit(&token, "bell", "public").await;
    let running = app
        .submit_run(&token, "alice/bell", ("command", "slow"), 100)
        .await;
    wait_until(Duration::from_secs(10), "the slow run starts", || async {
        app.run_json(running).await["status"] == "running"
    })
    .await;
    // The one slot is taken: this one waits.
    let pending = app
        .submit_run(&token, "alice/bell", ("command", "slow"), 100)
        .await;
    let cancel = |id: Uuid| {
        let request = http()
            .post(app.url(&format!("/api/runs/{id}/cancel")))
            .bearer_auth(&token);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(cancel(pending).await, 200);
    let run = app.run_json(pending).await;
    assert_eq!(
        (run["status"].as_str(), &run["started_at"]),
        (Some("cancelled"), &Value::Null)
    );

    let pid_file = dir.path().join("slow.pids");
    wait_until(
        Duration::from_secs(10),
        "the child wrote its pid",
        || async { pid_file.exists() },
    )
    .await;
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(process_alive(pid));
    let cancelled_at = std::time::Instant::now();
    assert_eq!(cancel(running).await, 200);
    wait_until(
        Duration::from_secs(5),
        "the child process is gone",
        || async { !process_alive(pid) },
    )
    .await;
    eprintln!("cancel → child gone in {:?}", cancelled_at.elapsed());
    let run = app.wait_terminal(running).await;
    assert_eq!(run["status"], "cancelled");
    assert_eq!(run["results"], Value::Null, "never completed");
    assert!(app.store().verify().await.unwrap().violations.is_empty());
    app.stop().await;
}

async fn the_watchdog_fails_a_stranded_run_exactly_once(db: TestDb) {
    let clock = ManualClock::new(Utc::now());
    let app = TestApp::spawn_with(db, |_| {}, clock_hooks(Arc::new(clock.clone()))).await;
    let fx = app.circuit().await;
    for round in 0..10 {
        let run = app.submit(&fx, Some(true)).await;
        clock.advance(TimeDelta::milliseconds(1)); // claims wait for the clock to pass creation
        assert_eq!(app.claim("dead-node", 1, 30).await[0].run.id, run.id);
        // Not stranded yet: the sweep leaves it alone.
        assert_eq!(app.app.sweep().await.unwrap(), 0, "round {round}");
        clock.advance(TimeDelta::hours(2));
        // The sweep and the executor's completion race; exactly one terminal write wins.
        let complete = app.transition(
            run.id,
            Change::Complete {
                results: RunResults {
                    counts: [("0".to_string(), 100)].into(),
                    shots: 100,
                    execution_time: 0.1,
                    unique_states: 1,
                    method: None,
                    precision: None,
                },
                memory: None,
            },
        );
        let (swept, completed) = tokio::join!(app.app.sweep(), complete);
        let swept = swept.unwrap();
        assert_eq!(
            swept + u64::from(completed.is_ok()),
            1,
            "round {round}: swept {swept}, completed {completed:?}"
        );
        let audit = app.store().audit_timeline(run.id).await.unwrap();
        let terminal: Vec<_> = audit
            .iter()
            .filter(|a| a.action == "run.completed" || a.action == "run.failed")
            .collect();
        assert_eq!(terminal.len(), 1, "round {round}: {audit:?}");
        let done = app.store().run(run.id).await.unwrap().unwrap();
        if swept == 1 {
            assert_eq!(done.status, RunStatus::Failed);
            assert_eq!(done.error_class.map(|c| c.as_str()), Some("internal_error"));
            assert_eq!(done.error_stage.map(|s| s.as_str()), Some("recovery"));
            assert_eq!(terminal[0].metadata["by"], "watchdog");
        }
    }
    assert!(app.store().verify().await.unwrap().violations.is_empty());
    app.stop().await;
}

async fn an_expired_lease_is_recovered_before_the_ttl(db: TestDb) {
    let clock = ManualClock::new(Utc::now());
    let app = TestApp::spawn_with(db, |_| {}, clock_hooks(Arc::new(clock.clone()))).await;
    let fx = app.circuit().await;
    let run = app.submit(&fx, None).await;
    clock.advance(TimeDelta::milliseconds(1)); // claims wait for the clock to pass creation
    assert_eq!(app.claim("dead-node", 1, 30).await[0].run.id, run.id);
    clock.advance(TimeDelta::seconds(31)); // lease expired; the 1-hour TTL is far away
    assert_eq!(app.app.sweep().await.unwrap(), 1);
    let audit = app.store().audit_timeline(run.id).await.unwrap();
    assert_eq!(audit.last().unwrap().metadata["reason"], "lease_expired");
    app.stop().await;
}

async fn submissions_past_the_caps_get_429_and_503_with_retry_after(db: TestDb) {
    let app = TestApp::spawn_with(
        db,
        |c| {
            c.executor.max_active_runs_per_user = 2;
            c.executor.max_pending_runs = 3;
        },
        Hooks::default(),
    )
    .await;
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let circuit = app.create_circuit(&alice, "bell", "public").await;
    let cid = circuit["id"].as_str().unwrap();
    for _ in 0..2 {
        assert_eq!(app.submit_http(&alice, cid, &[]).await.status(), 201);
    }
    let response = app.submit_http(&alice, cid, &[]).await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_runs");
    assert_eq!(app.submit_http(&bob, cid, &[]).await.status(), 201);
    let response = app.submit_http(&bob, cid, &[]).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "overloaded");
    assert_eq!(
        app.store().run_counts().await.unwrap()[&RunStatus::Pending],
        3
    );
    app.stop().await;
}

async fn submitting_faster_than_the_rate_gets_429_with_retry_after(db: TestDb) {
    let app = TestApp::spawn_with(
        db,
        |c| {
            c.executor.user_submissions_per_s = 1;
            c.executor.user_submission_burst = 3;
        },
        Hooks::default(),
    )
    .await;
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let circuit = app.create_circuit(&alice, "bell", "public").await;
    let cid = circuit["id"].as_str().unwrap();
    for _ in 0..3 {
        assert_eq!(app.submit_http(&alice, cid, &[]).await.status(), 201);
    }
    let response = app.submit_http(&alice, cid, &[]).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    // Another user's bucket is their own; the refusal created nothing.
    assert_eq!(app.submit_http(&bob, cid, &[]).await.status(), 201);
    assert_eq!(
        app.store().run_counts().await.unwrap()[&RunStatus::Pending],
        4
    );
    app.stop().await;
}

async fn shutdown_lets_short_runs_finish_and_hands_back_what_outlives_the_grace(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (short, long) = (
        sleepy_backend(dir.path(), "short", 0.5),
        sleepy_backend(dir.path(), "long", 60.0),
    );
    let app = executing_app(db, |c| {
        c.server.shutdown_grace_s = 3;
        c.backends.push(short);
        c.backends.push(long);
    })
    .await;
    let (_, token) = app.user("alice").await;
    app.create_circuit(&token, "bell", "public").await;
    let quick = app
        .submit_run(&token, "alice/bell", ("command", "short"), 100)
        .await;
    let slow = app
        .submit_run(&token, "alice/bell", ("command", "long"), 100)
        .await;
    wait_until(Duration::from_secs(10), "both running", || async {
        app.run_json(quick).await["status"] == "running"
            && app.run_json(slow).await["status"] == "running"
    })
    .await;
    let store = app.store().clone();
    let stopping = std::time::Instant::now();
    let db = app.into_db().await;
    let took = stopping.elapsed();
    // Within the grace (3 s), and a moment to stop the actors.
    assert!(
        took < Duration::from_millis(3500),
        "the shutdown took {took:?}"
    );
    let quick = store.run(quick).await.unwrap().unwrap();
    let handed = store.run(slow).await.unwrap().unwrap();
    assert_eq!(quick.status, RunStatus::Completed);
    // Handed back, not failed: pending again, its lease given up, its start undone.
    assert_eq!(handed.status, RunStatus::Pending);
    assert_eq!(handed.started_at, None);
    assert_eq!(handed.claimed_by, None);
    assert!(handed.error_class.is_none());
    let audit = store.audit_timeline(slow).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["run.requested", "run.started", "run.handed_back"]);
    let handed_back = &audit[2].metadata;
    assert_eq!(handed_back["by"], "executor");
    assert_eq!(handed_back["reason"], "shutdown");
    assert_eq!(
        (&handed_back["from"], &handed_back["to"]),
        (&"running".into(), &"pending".into())
    );
    assert_eq!(handed.lease_expires_at, Some(audit[2].created_at));
    assert!(store.verify().await.unwrap().violations.is_empty());
    // The next node to run claims it and runs it to the end (here "long" is quick).
    let dir = tempfile::tempdir().unwrap();
    let long = sleepy_backend(dir.path(), "long", 0.1);
    let app = executing_app(db, |c| c.backends.push(long)).await;
    assert_eq!(app.wait_terminal(slow).await["status"], "completed");
    let audit = app.store().audit_timeline(slow).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "run.requested",
            "run.started",
            "run.handed_back",
            "run.started",
            "run.completed"
        ]
    );
    let report = app.store().verify().await.unwrap();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    app.stop().await;
}

async fn a_killed_recorder_is_restarted_and_the_service_goes_on(db: TestDb) {
    let app = executing_app(db, |_| {}).await;
    let (_, token) = app.user("alice").await;
    app.create_circuit(&token, "bell", "public").await;
    let recorder = app.recorder().clone();
    let first = recorder.actor_cell().expect("a recorder");
    first.kill();
    wait_until(Duration::from_secs(10), "a new recorder", || async {
        recorder
            .actor_cell()
            .is_some_and(|c| c.get_id() != first.get_id())
    })
    .await;
    let run = app
        .submit_run(&token, "alice/bell", ("simulator", "statevector"), 100)
        .await;
    assert_eq!(app.wait_terminal(run).await["status"], "completed");
    assert!(app.app.service().readiness().await.actors);
    app.stop().await;
}

on_both_databases!(
    a_killed_recorder_is_restarted_and_the_service_goes_on,
    a_thousand_concurrent_submissions_all_complete,
    a_panicking_run_fails_with_internal_error_and_the_executor_goes_on,
    cancelling_pending_and_running_runs_stops_them,
    the_watchdog_fails_a_stranded_run_exactly_once,
    an_expired_lease_is_recovered_before_the_ttl,
    submissions_past_the_caps_get_429_and_503_with_retry_after,
    submitting_faster_than_the_rate_gets_429_with_retry_after,
    shutdown_lets_short_runs_finish_and_hands_back_what_outlives_the_grace,
);
