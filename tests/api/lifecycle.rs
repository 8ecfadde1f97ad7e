//! The lifecycle core: every edge writes one audit row and, with consent only, one outbox
//! row, atomically; non-edges and races are conflicts that write nothing.

use chrono::{TimeDelta, Utc};
use qrun::actors::recorder::RecorderError;
use qrun::domain::{Action, ErrorClass, ErrorStage, Failure, RunResults, RunStatus};
use qrun::store::{Applied, Canceller, Change, Command, FailCause, WriteError};
use uuid::Uuid;

use crate::helpers::{TestApp, TestDb, clock_hooks};
use crate::on_both_databases;

/// One step of a run's path: claimed (the only way into running), or a transition.
#[derive(Clone)]
enum Step {
    Claim,
    Take(Change),
}

impl Step {
    fn target(&self) -> RunStatus {
        match self {
            Step::Claim => RunStatus::Running,
            Step::Take(change) => change.edge().target(),
        }
    }

    /// Takes the step on `run_id`, the only pending run when the step is a claim.
    async fn take(&self, app: &TestApp, run_id: Uuid) -> Applied {
        match self {
            Step::Claim => app.start_run(run_id).await,
            Step::Take(change) => app
                .transition(run_id, change.clone())
                .await
                .expect("an edge"),
        }
    }
}

fn complete() -> Change {
    Change::Complete {
        results: RunResults {
            counts: [("00".to_string(), 52), ("11".to_string(), 48)].into(),
            shots: 100,
            execution_time: 0.001,
            unique_states: 2,
            method: None,
            precision: None,
        },
        memory: None,
    }
}

fn fail() -> Change {
    Change::Fail {
        failure: Failure::new(
            ErrorClass::BackendError,
            ErrorStage::Execute,
            "the backend crashed",
        ),
        cause: FailCause::Executor,
    }
}

fn cancel(by: Uuid) -> Change {
    Change::Cancel {
        by: Canceller::User(by),
    }
}

/// Asserts the run's audit and outbox rows are exactly `actions` (outbox only with consent).
async fn assert_records(app: &TestApp, run_id: Uuid, consent: Option<bool>, actions: &[Action]) {
    let audit = app.store().audit_timeline(run_id).await.unwrap();
    let got: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    let want: Vec<&str> = actions.iter().map(|a| a.audit_action()).collect();
    assert_eq!(got, want, "audit of run {run_id} (consent {consent:?})");
    for entry in &audit {
        assert_eq!(entry.resource_id, run_id);
        assert_eq!(entry.metadata["framework"], "qiskit");
    }
    let outbox = app.store().outbox_for_run(run_id).await.unwrap();
    if consent == Some(true) {
        let events: Vec<&str> = outbox.iter().map(|e| e.event.as_str()).collect();
        let want: Vec<&str> = actions.iter().filter_map(|a| a.event()).collect();
        assert_eq!(events, want, "outbox of consented run {run_id}");
        for event in &outbox {
            assert_eq!(event.properties["run_id"], run_id.to_string());
            assert_eq!(event.properties["backend_class"], "simulator");
            assert_eq!(event.properties["backend_name"], "statevector");
        }
    } else {
        assert!(
            outbox.is_empty(),
            "consent {consent:?} must write no event: {outbox:?}"
        );
    }
}

async fn every_edge_writes_one_audit_row_and_an_event_only_with_consent(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let fx = app.circuit().await;
    use Action::*;
    for consent in [Some(true), Some(false), None] {
        // (edges to take, the actions they record)
        let (claim, take) = (Step::Claim, Step::Take);
        let paths: [(&[Step], &[Action]); 4] = [
            (
                &[claim.clone(), take(complete())],
                &[Requested, Started, Completed],
            ),
            (
                &[claim.clone(), take(fail())],
                &[Requested, Started, Failed],
            ),
            (&[take(cancel(fx.user_id))], &[Requested, Cancelled]),
            (
                &[claim.clone(), take(cancel(fx.user_id))],
                &[Requested, Started, Cancelled],
            ),
        ];
        for (steps, actions) in paths {
            let run = app.submit(&fx, consent).await;
            assert_eq!(run.status, RunStatus::Pending);
            assert_eq!(run.spec.analytics_consent, consent);
            assert_records(&app, run.id, consent, &actions[..1]).await;
            for (i, step) in steps.iter().enumerate() {
                let applied = step.take(&app, run.id).await;
                assert_eq!(applied.run.status, step.target());
                assert_records(&app, run.id, consent, &actions[..i + 2]).await;
            }
            let done = app.store().run(run.id).await.unwrap().unwrap();
            assert!(done.status.is_terminal());
            assert!(done.completed_at.is_some());
            // A terminal run refuses every edge and nothing is written: no claim takes it,
            // and every transition is a conflict.
            assert!(app.claim("node-a", 10, 30).await.is_empty());
            for change in [complete(), fail(), cancel(fx.user_id)] {
                let edge = change.edge();
                match app.transition(run.id, change).await {
                    Err(RecorderError::Write(WriteError::Conflict { current, .. })) => {
                        assert_eq!(current, done.status, "{edge:?}")
                    }
                    other => panic!("{edge:?} on a {} run: {other:?}", done.status),
                }
                assert_eq!(app.store().run(run.id).await.unwrap().unwrap(), done);
                assert_records(&app, run.id, consent, actions).await;
            }
        }
    }
    app.stop().await;
}

async fn non_edges_from_live_states_are_conflicts_that_write_nothing(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let fx = app.circuit().await;
    let run = app.submit(&fx, Some(true)).await;
    for change in [complete(), fail()] {
        let edge = change.edge();
        let err = app
            .transition(run.id, change)
            .await
            .expect_err("not an edge from pending");
        assert!(
            matches!(
                err,
                RecorderError::Write(WriteError::Conflict {
                    current: RunStatus::Pending,
                    ..
                })
            ),
            "{edge:?}: {err:?}"
        );
    }
    assert_records(&app, run.id, Some(true), &[Action::Requested]).await;
    app.start_run(run.id).await;
    assert!(
        app.claim("node-b", 10, 30).await.is_empty(),
        "a running run is claimed once"
    );
    assert_records(
        &app,
        run.id,
        Some(true),
        &[Action::Requested, Action::Started],
    )
    .await;

    let missing = Uuid::now_v7();
    let err = app
        .transition(missing, complete())
        .await
        .expect_err("no such run");
    assert!(matches!(err, RecorderError::Write(WriteError::NotFound(id)) if id == missing));
    app.stop().await;
}

async fn a_failed_audit_or_outbox_insert_leaves_the_status_unchanged(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let fx = app.circuit().await;
    let run = app.submit(&fx, Some(true)).await;
    app.start_run(run.id).await;
    let before = app.store().run(run.id).await.unwrap().unwrap();

    // The outbox insert fails inside the transaction: the run stays running, no audit row.
    app.store()
        .execute_raw("DROP TABLE analytics_outbox")
        .await
        .unwrap();
    let err = app
        .transition(run.id, complete())
        .await
        .expect_err("the outbox is gone");
    assert!(
        matches!(err, RecorderError::Write(WriteError::Store(_))),
        "{err:?}"
    );
    assert_eq!(app.store().run(run.id).await.unwrap().unwrap(), before);
    let audit = app.store().audit_timeline(run.id).await.unwrap();
    assert_eq!(audit.len(), 2, "{audit:?}");

    // The audit insert fails: same.
    app.store()
        .execute_raw("DROP TABLE audit_logs")
        .await
        .unwrap();
    let err = app
        .transition(run.id, cancel(fx.user_id))
        .await
        .expect_err("the audit log is gone");
    assert!(
        matches!(err, RecorderError::Write(WriteError::Store(_))),
        "{err:?}"
    );
    assert_eq!(app.store().run(run.id).await.unwrap().unwrap(), before);

    // A creation whose audit row cannot be written leaves no run behind.
    let runs_before = app.store().run_counts().await.unwrap();
    let new = fx.new_run(10, Some(false));
    assert!(app.apply(Command::Create(new)).await.is_err());
    let runs_after = app.store().run_counts().await.unwrap();
    assert_eq!(runs_before, runs_after);
    app.stop().await;
}

fn terminal_change(i: usize, user: Uuid) -> Change {
    match i % 4 {
        0 => complete(),
        1 => fail(),
        2 => cancel(user),
        _ => Change::Fail {
            failure: Failure::new(ErrorClass::InternalError, ErrorStage::Recovery, "stranded"),
            cause: FailCause::Watchdog {
                started_before: Utc::now() + TimeDelta::hours(1),
                lease_expired_before: Utc::now() + TimeDelta::hours(1),
            },
        },
    }
}

/// Checks that of 50 racing terminal transitions, given as (applied, refused by the guard),
/// exactly one won and wrote its rows.
async fn count_terminal_wins(app: &TestApp, run_id: Uuid, results: Vec<(bool, bool)>) {
    let wins = results.iter().filter(|(won, _)| *won).count();
    let conflicts = results.iter().filter(|(_, conflict)| *conflict).count();
    assert_eq!((wins, conflicts), (1, 49), "{results:?}");
    let audit = app.store().audit_timeline(run_id).await.unwrap();
    let terminal = audit
        .iter()
        .filter(|a| ["run.completed", "run.failed", "run.cancelled"].contains(&a.action.as_str()))
        .count();
    assert_eq!(terminal, 1, "{audit:?}");
    assert_eq!(app.store().outbox_for_run(run_id).await.unwrap().len(), 3);
}

async fn fifty_racing_terminal_transitions_have_exactly_one_winner(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let fx = app.circuit().await;

    // Through the Recorder (the production path).
    let run = app.submit(&fx, Some(true)).await;
    app.start_run(run.id).await;
    let recorder = app.recorder().clone();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let recorder = recorder.clone();
            let change = terminal_change(i, fx.user_id);
            tokio::spawn(async move {
                let outcome = recorder
                    .apply(Command::Transition {
                        run_id: run.id,
                        change,
                    })
                    .await;
                let conflict = matches!(
                    outcome,
                    Err(RecorderError::Write(WriteError::Conflict { .. }))
                );
                (outcome.is_ok(), conflict)
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    count_terminal_wins(&app, run.id, results).await;

    // Straight at the database from 50 tasks at once: the guard alone must hold.
    let run = app.submit(&fx, Some(true)).await;
    app.start_run(run.id).await;
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = app.store().clone();
            let change = terminal_change(i, fx.user_id);
            tokio::spawn(async move {
                let outcome = store
                    .apply_one(Command::Transition {
                        run_id: run.id,
                        change,
                    })
                    .await;
                let conflict = matches!(outcome, Err(WriteError::Conflict { .. }));
                (outcome.is_ok(), conflict)
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    count_terminal_wins(&app, run.id, results).await;
    app.stop().await;
}

async fn the_watchdog_guard_spares_a_run_that_is_not_stranded(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let fx = app.circuit().await;
    let run = app.submit(&fx, None).await;
    app.start_run(run.id).await;
    // A sweep whose horizon is before the run started and whose lease is still valid.
    let sweep = Change::Fail {
        failure: Failure::new(ErrorClass::InternalError, ErrorStage::Recovery, "stranded"),
        cause: FailCause::Watchdog {
            started_before: Utc::now() - TimeDelta::hours(1),
            lease_expired_before: Utc::now() - TimeDelta::hours(1),
        },
    };
    let err = app
        .transition(run.id, sweep)
        .await
        .expect_err("not stranded");
    assert!(matches!(
        err,
        RecorderError::Write(WriteError::Conflict {
            current: RunStatus::Running,
            ..
        })
    ));
    assert_eq!(
        app.store().run(run.id).await.unwrap().unwrap().status,
        RunStatus::Running
    );
    app.stop().await;
}

async fn the_same_idempotency_key_returns_the_original_run(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let fx = app.circuit().await;
    let new = qrun::domain::NewRun {
        traceparent: None,
        user_id: fx.user_id,
        idempotency_key: Some("key-1".into()),
        spec: qrun::domain::RunSpec {
            circuit_id: fx.circuit_id,
            circuit_version: fx.version,
            backend_type: "simulator".into(),
            backend_name: "statevector".into(),
            framework: "qiskit".into(),
            shots: 10,
            analytics_consent: Some(true),
            parameters: Default::default(),
            seed: None,
            memory: false,
            options: Default::default(),
        },
    };
    let first = app.apply(Command::Create(new.clone())).await.unwrap();
    assert!(first.created);
    let again = app.apply(Command::Create(new)).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.run.id, first.run.id);
    assert_records(&app, first.run.id, Some(true), &[Action::Requested]).await;
    app.stop().await;
}

async fn timelines_strictly_increase_even_when_the_clock_does_not(db: TestDb) {
    let clock = qrun::domain::ManualClock::new(Utc::now());
    let app =
        TestApp::spawn_with(db, |_| {}, clock_hooks(std::sync::Arc::new(clock.clone()))).await;
    let fx = app.circuit().await;
    let run = app.submit(&fx, Some(true)).await;
    // A claim waits for its clock to pass the run's creation (a stalled clock claims later,
    // never backwards); the completion below reads the same instant and moves just past it.
    clock.advance(TimeDelta::milliseconds(1));
    app.start_run(run.id).await;
    app.transition(run.id, complete()).await.unwrap();
    let done = app.store().run(run.id).await.unwrap().unwrap();
    let (started, completed) = (done.started_at.unwrap(), done.completed_at.unwrap());
    assert!(done.created_at < started && started < completed, "{done:?}");
    let stamps: Vec<_> = app
        .store()
        .audit_timeline(run.id)
        .await
        .unwrap()
        .iter()
        .map(|a| a.created_at)
        .collect();
    assert_eq!(stamps, [done.created_at, started, completed]);
    // A clock behind the run (another node's, say) cannot send its timeline backwards.
    let other = app.submit(&fx, None).await;
    clock.advance(TimeDelta::seconds(-60));
    app.transition(other.id, cancel(fx.user_id)).await.unwrap();
    let cancelled = app.store().run(other.id).await.unwrap().unwrap();
    assert!(cancelled.completed_at.unwrap() > cancelled.created_at);
    assert!(app.store().verify().await.unwrap().violations.is_empty());
    app.stop().await;
}

async fn the_database_itself_refuses_to_rewrite_a_terminal_run(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let fx = app.circuit().await;
    let run = app.submit(&fx, Some(true)).await;
    app.start_run(run.id).await;
    app.transition(run.id, complete()).await.unwrap();
    let done = app.store().run(run.id).await.unwrap().unwrap();
    // Straight SQL, past every guard in the code.
    for sql in [
        "UPDATE runs SET status = 'running' WHERE status = 'completed'",
        "UPDATE runs SET results = NULL, status = 'failed', error_class = 'timeout', error_stage = 'execute', error_message = 'x' WHERE status = 'completed'",
        "UPDATE runs SET completed_at = started_at WHERE status = 'completed'",
        "UPDATE runs SET shots = 1 WHERE status = 'completed'",
    ] {
        let err = app.store().execute_raw(sql).await.expect_err(sql);
        assert!(
            err.to_string().contains("terminal runs are immutable"),
            "{sql}: {err}"
        );
    }
    assert_eq!(app.store().run(run.id).await.unwrap().unwrap(), done);
    // Bookkeeping stays writable.
    assert_eq!(
        app.store()
            .execute_raw(
                "UPDATE runs SET outbox_pruned_at = completed_at WHERE status = 'completed'"
            )
            .await
            .unwrap(),
        1
    );
    // Live runs are untouched by the trigger.
    let live = app.submit(&fx, None).await;
    assert_eq!(
        app.store()
            .execute_raw("UPDATE runs SET shots = 5 WHERE status = 'pending'")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        app.store().run(live.id).await.unwrap().unwrap().spec.shots,
        5
    );
    app.stop().await;
}

/// A batch the database refuses because of one command's values is applied again command by
/// command: the others take effect, and only the guilty one fails.
async fn one_bad_command_does_not_sink_its_batch(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let fx = app.circuit().await;
    let live = app.submit(&fx, Some(true)).await;
    // More shots than the column holds: the store refuses it inside the transaction.
    let commands = [
        Command::Create(fx.new_run(7, Some(false))),
        Command::Create(fx.new_run(u64::MAX, Some(false))),
        Command::Transition {
            run_id: live.id,
            change: cancel(fx.user_id),
        },
    ];
    let mut outcomes = app.store().apply(&commands).await.into_iter();
    let created = outcomes.next().unwrap().expect("the good creation");
    assert!(created.created);
    assert_eq!(created.run.spec.shots, 7);
    match outcomes.next().unwrap() {
        Err(WriteError::Store(err)) => assert!(!err.is_transient(), "{err}"),
        other => panic!("the bad creation: {other:?}"),
    }
    let cancelled = outcomes.next().unwrap().expect("the transition");
    assert_eq!(cancelled.run.status, RunStatus::Cancelled);
    assert_records(
        &app,
        live.id,
        Some(true),
        &[Action::Requested, Action::Cancelled],
    )
    .await;
    let counts = app.store().run_counts().await.unwrap();
    assert_eq!(counts.values().sum::<u64>(), 2, "{counts:?}");
    app.stop().await;
}

/// A batch's completions (one statement on PostgreSQL) each keep their own guard and rows:
/// a cancelled, a pending and a twice-named run are conflicts in their turn, a run another
/// command of the batch names is decided by the batch's order, and a clock behind the runs'
/// stamps moves just past them instead of missing.
async fn a_batch_of_completions_keeps_each_runs_guard_and_order(db: TestDb) {
    let clock = qrun::domain::ManualClock::new(Utc::now());
    let app =
        TestApp::spawn_with(db, |_| {}, clock_hooks(std::sync::Arc::new(clock.clone()))).await;
    let fx = app.circuit().await;
    let mut runs = Vec::new();
    for _ in 0..7 {
        runs.push(app.submit(&fx, Some(true)).await.id);
        clock.advance(TimeDelta::milliseconds(1));
    }
    assert_eq!(app.claim("node-a", 5, 300).await.len(), 5);
    clock.advance(TimeDelta::milliseconds(1));
    app.transition(runs[1], cancel(fx.user_id)).await.unwrap();
    clock.advance(TimeDelta::milliseconds(1));
    let take = |i: usize, change: Change| Command::Transition {
        run_id: runs[i],
        change,
    };
    let commands = [
        take(0, complete()),
        take(1, complete()), // cancelled
        take(5, complete()), // still pending
        take(2, complete()),
        take(3, fail()),
        take(3, complete()), // failed just before, in the batch's order
        take(4, complete()),
        take(4, complete()), // completed just before
    ];
    let outcomes = app.store().apply(&commands).await;
    let got: Vec<String> = outcomes
        .iter()
        .map(|o| match o {
            Ok(applied) => applied.run.status.as_str().to_owned(),
            Err(WriteError::Conflict { current, .. }) => {
                format!("conflict: {}", current.as_str())
            }
            Err(other) => format!("{other}"),
        })
        .collect();
    assert_eq!(
        got,
        [
            "completed",
            "conflict: cancelled",
            "conflict: pending",
            "completed",
            "failed",
            "conflict: failed",
            "completed",
            "conflict: completed",
        ]
    );
    for (i, ending) in [
        (0, Action::Completed),
        (2, Action::Completed),
        (3, Action::Failed),
        (4, Action::Completed),
    ] {
        assert_records(
            &app,
            runs[i],
            Some(true),
            &[Action::Requested, Action::Started, ending],
        )
        .await;
        let run = app.store().run(runs[i]).await.unwrap().unwrap();
        assert!(
            run.completed_at.unwrap() > run.started_at.unwrap(),
            "{run:?}"
        );
    }

    // A clock behind the runs' stamps (another node's, say): the completions miss their time
    // guard together, then each moves just past its run's last stamp.
    assert_eq!(app.claim("node-a", 2, 300).await.len(), 2);
    clock.advance(TimeDelta::seconds(-60));
    let outcomes = app
        .store()
        .apply(&[take(5, complete()), take(6, complete())])
        .await;
    for (outcome, i) in outcomes.into_iter().zip([5, 6]) {
        let run = outcome.expect("completed").run;
        assert_eq!(run.id, runs[i]);
        assert!(
            run.completed_at.unwrap() > run.started_at.unwrap(),
            "{run:?}"
        );
    }
    let report = app.store().verify().await.unwrap();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    app.stop().await;
}

/// A claim takes at most its limit, the oldest first, on a fresh database too (where
/// PostgreSQL, without statistics, once planned the claim so that it took every pending run).
async fn a_claim_takes_at_most_its_limit_oldest_first(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let fx = app.circuit().await;
    let mut runs = Vec::new();
    for _ in 0..12 {
        runs.push(app.submit(&fx, Some(false)).await.id);
    }
    let first: Vec<Uuid> = app
        .claim("node-a", 3, 30)
        .await
        .iter()
        .map(|a| a.run.id)
        .collect();
    assert_eq!(first, runs[..3]);
    let second: Vec<Uuid> = app
        .claim("node-b", 4, 30)
        .await
        .iter()
        .map(|a| a.run.id)
        .collect();
    assert_eq!(second, runs[3..7]);
    assert_eq!(app.claim("node-c", 100, 30).await.len(), 5);
    assert!(app.claim("node-c", 100, 30).await.is_empty());
    app.stop().await;
}

on_both_databases!(
    a_batch_of_completions_keeps_each_runs_guard_and_order,
    a_claim_takes_at_most_its_limit_oldest_first,
    one_bad_command_does_not_sink_its_batch,
    the_database_itself_refuses_to_rewrite_a_terminal_run,
    timelines_strictly_increase_even_when_the_clock_does_not,
    every_edge_writes_one_audit_row_and_an_event_only_with_consent,
    non_edges_from_live_states_are_conflicts_that_write_nothing,
    a_failed_audit_or_outbox_insert_leaves_the_status_unchanged,
    fifty_racing_terminal_transitions_have_exactly_one_winner,
    the_watchdog_guard_spares_a_run_that_is_not_stranded,
    the_same_idempotency_key_returns_the_original_run,
);
